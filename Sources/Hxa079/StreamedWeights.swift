// StreamedWeights: a model's parameters read from its files when an engine
// asks for them (SPEC.md §2.8), the `WeightProvider` the CLI runs by default.
//
// Contract:
// - `init` validates the whole model first (`ModelWeights.validate`: names,
//   shapes, dtypes and, with `checkFinite`, the stored bits for NaN/Inf),
//   keeping no values; structural problems throw `Hxa079Error.invalidModel`.
// - `layer(i)` reads layer i's tensors with `ModelWeights.readLayer` — the
//   function `ModelDirectory.load` uses for every layer — converting each to
//   `T` as it is read (`pread`, 4 MiB chunks, SafeTensorsSource.swift). The
//   caller holds the result while the layer runs and drops it after: memory
//   then holds one layer in T at a time.
// - `embeddingRows` reads only the rows of the call's tokens; `headRows`
//   reads only the requested rows of `lm_head.weight` (of the embedding when
//   tied). Nothing is cached: every forward call reads the layers again (from
//   the page cache when it holds them).
// - Values equal those of `ModelDirectory.load(as: T.self)` bit for bit (same
//   reader, same dtype decoder, whole tensors or row ranges alike).

import SafeTensors

package final class StreamedWeights<T: BinaryFloatingPoint>: WeightProvider {
    package typealias Scalar = T
    package let config: ModelConfig
    package let layerKinds: [LayerKind]
    package let source: SafeTensorsSource
    package let headBlockRows: Int
    /// What validation found besides structure (non-finite tensors, when checked).
    package let report: ValidationReport
    /// `lm_head.weight`, or the embedding when the head is tied.
    package let headName: String

    /// Validates `directory`'s model and prepares to stream it.
    /// `headBlockRows`: nil = `defaultHeadBlockRows` (tests pass small blocks).
    package init(directory: ModelDirectory, checkFinite: Bool = true, headBlockRows: Int? = nil) throws {
        config = directory.config
        source = directory.source
        report = ModelWeights<T>.validate(config: config, source: source, checkFinite: checkFinite)
        if !report.problems.isEmpty { throw Hxa079Error.invalidModel(report.problems) }
        layerKinds = ModelWeights<T>.detectLayerKinds(config: config, source: source)
        headName = source.shape(of: TensorName.lmHead) != nil ? TensorName.lmHead : TensorName.embedding
        self.headBlockRows = max(1, headBlockRows ?? defaultHeadBlockRows(config: config, scalarBytes: MemoryLayout<T>.size))
    }

    package func embeddingRows(_ tokens: [Int]) throws -> [T] {
        var x = [T](); x.reserveCapacity(tokens.count * config.hiddenSize)
        for token in tokens { x += try source.values(TensorName.embedding, rows: token..<(token + 1), as: T.self) }
        return x
    }

    package func layer(_ i: Int) throws -> LayerWeights<T> {
        let reader = WeightReader<T>(source: source, loadValues: true, checkFinite: false)
        let layer = ModelWeights<T>.readLayer(i, kinds: layerKinds, config: config, reader: reader)
        // validated at init: only a file changed or unreadable since gets here
        if !reader.report.problems.isEmpty { throw Hxa079Error.invalidModel(reader.report.problems) }
        return layer
    }

    package func finalNormWeights() throws -> [T] { try source.values(TensorName.finalNorm, as: T.self) }

    package func headRows(_ rows: Range<Int>) throws -> [T] { try source.values(headName, rows: rows, as: T.self) }
}
