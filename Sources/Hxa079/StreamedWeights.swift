// StreamedWeights: a model's parameters read from its files when an engine
// asks for them (SPEC.md §2.8), the `WeightProvider` the CLI runs by default.
//
// Contract:
// - `init` validates the whole model first (`ModelWeights.validate`: names,
//   shapes, dtypes and, with `checkFinite`, the stored bits for NaN/Inf — a
//   read of every byte before the run), keeping no values; structural
//   problems throw `Hxa079Error.invalidModel`.
// - With a `nonFinite` handler instead, values are checked as they are read:
//   each tensor holding NaN/±Inf is reported once, when a pass first reads it
//   (layer tensors whole; the embedding and head for the rows read), so a
//   model larger than the page cache is read once per pass, not twice
//   (`forward` and `step` run this way; `fixtures make` and `inspect` scan first).
// - `layer(i)` reads layer i's tensors with `ModelWeights.readLayer` — the
//   function `ModelDirectory.load` uses for every layer — converting each to
//   `T` as it is read (`pread`, 4 MiB chunks, SafeTensorsSource.swift). The
//   caller holds the result while the layer runs and drops it after: memory
//   then holds one layer in T at a time. `layer(i, readElsewhere:)` leaves
//   the named tensors empty (the fast path reads them in place from the
//   mapping; the handler still sees their stored bits). Each `layer(i)`
//   also asks the kernel to read layer i + 1 ahead (`SafeTensorsSource.prefetch`,
//   POSIX_FADV_WILLNEED), so the disk works while layer i computes.
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

    /// Reports a tensor with non-finite values (checked as read); nil: not checked.
    package let nonFinite: ((String) -> Void)?
    /// Tensors already reported by `nonFinite`.
    private var reported = Set<String>()
    /// Layers and head blocks (by first row) already checked: a later pass
    /// reads the same bytes, so only the first pays for the check.
    private var checkedLayers = Set<Int>(), checkedHeadBlocks = Set<Int>()

    /// Validates `directory`'s model and prepares to stream it.
    /// `checkFinite`: scan every stored value for NaN/±Inf now (into `report`).
    /// `nonFinite`: check values as they are read instead, reporting each such tensor once.
    /// `headBlockRows`: nil = `defaultHeadBlockRows` (tests pass small blocks).
    package init(directory: ModelDirectory, checkFinite: Bool = true, headBlockRows: Int? = nil,
                 nonFinite: ((String) -> Void)? = nil) throws {
        config = directory.config
        source = directory.source
        report = ModelWeights<T>.validate(config: config, source: source, checkFinite: checkFinite)
        if !report.problems.isEmpty { throw Hxa079Error.invalidModel(report.problems) }
        layerKinds = ModelWeights<T>.detectLayerKinds(config: config, source: source)
        headName = source.shape(of: TensorName.lmHead) != nil ? TensorName.lmHead : TensorName.embedding
        self.headBlockRows = max(1, headBlockRows ?? defaultHeadBlockRows(config: config, scalarBytes: MemoryLayout<T>.size))
        self.nonFinite = nonFinite
    }

    package func embeddingRows(_ tokens: [Int]) throws -> [T] {
        var x = [T](); x.reserveCapacity(tokens.count * config.hiddenSize)
        for token in tokens { x += try source.values(TensorName.embedding, rows: token..<(token + 1), as: T.self) }
        if nonFinite != nil { check(TensorName.embedding, x, rows: "the rows of the call's tokens") { tokens[$0 / config.hiddenSize] * config.hiddenSize + $0 % config.hiddenSize } }
        return x
    }

    package func layer(_ i: Int) throws -> LayerWeights<T> { try layer(i, readElsewhere: []) }

    /// Layer `i` with the tensors of `readElsewhere` (internal names) left empty.
    package func layer(_ i: Int, readElsewhere: Set<String>) throws -> LayerWeights<T> {
        prefetch(layer: i)
        if i + 1 < layerKinds.count { prefetch(layer: i + 1) }   // read ahead while layer i runs
        let tensors: TensorSource = readElsewhere.isEmpty ? source : SkippingSource(base: source, skipped: readElsewhere)
        let checking = nonFinite != nil && !checkedLayers.contains(i)
        let reader = WeightReader<T>(source: tensors, loadValues: true, checkFinite: checking)
        let layer = ModelWeights<T>.readLayer(i, kinds: layerKinds, config: config, reader: reader)
        // validated at init: only a file changed or unreadable since gets here
        if !reader.report.problems.isEmpty { throw Hxa079Error.invalidModel(reader.report.problems) }
        if checking, let nonFinite {
            checkedLayers.insert(i)
            for t in reader.report.nonFinite where !reported.contains(t.name) {
                reported.insert(t.name)
                nonFinite(ValidationReport.nonFiniteText(name: t.name, count: t.count, firstIndex: t.firstIndex))
            }
            for name in readElsewhere.sorted() {
                let shown = source.displayName(name)
                guard !reported.contains(shown) else { continue }
                let (n, first) = try source.scanNonFinite(name)
                if n > 0 {
                    reported.insert(shown)
                    nonFinite(ValidationReport.nonFiniteText(name: shown, count: n, firstIndex: first))
                }
            }
        }
        return layer
    }

    /// Tensors of each layer (by layer index), for `prefetch`.
    private lazy var layerTensors: [Int: [String]] = Dictionary(grouping: source.tensorNames.compactMap { name in
        TensorName.layerIndex(of: name).map { ($0, name) } }, by: { $0.0 }).mapValues { $0.map(\.1) }
    /// Layers already handed to `SafeTensorsSource.prefetch` in this pass.
    private var prefetched = Set<Int>()

    /// Starts reading layer `i`'s bytes into the page cache (once per pass: layer 0 starts a pass).
    private func prefetch(layer i: Int) {
        if i == 0 { prefetched.removeAll() }
        guard !prefetched.contains(i) else { return }
        prefetched.insert(i)
        source.prefetch(layerTensors[i] ?? [])
    }

    package func finalNormWeights() throws -> [T] {
        let g = try source.values(TensorName.finalNorm, as: T.self)
        if nonFinite != nil { check(TensorName.finalNorm, g, rows: nil) { $0 } }
        return g
    }

    package func headRows(_ rows: Range<Int>) throws -> [T] {
        let w = try source.values(headName, rows: rows, as: T.self)
        if nonFinite != nil && !checkedHeadBlocks.contains(rows.lowerBound) {
            checkedHeadBlocks.insert(rows.lowerBound)
            check(headName, w, rows: "rows \(rows.lowerBound)..<\(rows.upperBound)") { rows.lowerBound * config.hiddenSize + $0 }
        }
        return w
    }

    /// Checks head rows `rows` that the caller reads in place from the mapping
    /// (their stored bits; the first pass only), as `headRows` checks the rows it reads.
    package func checkHeadRowsInPlace(_ rows: Range<Int>) throws {
        guard let nonFinite, !checkedHeadBlocks.contains(rows.lowerBound) else { return }
        checkedHeadBlocks.insert(rows.lowerBound)
        let shown = source.displayName(headName)
        guard !reported.contains(shown) else { return }
        let C = config.hiddenSize
        let (n, first) = try source.scanNonFinite(headName, elements: (rows.lowerBound * C)..<(rows.upperBound * C))
        guard n > 0 else { return }
        reported.insert(shown)
        nonFinite(ValidationReport.nonFiniteText(name: shown, count: n, firstIndex: rows.lowerBound * C + first,
                                                 part: "rows \(rows.lowerBound)..<\(rows.upperBound)"))
    }

    /// (number of NaN/±Inf values, index of the first or -1); concrete for
    /// Float and Double (this generic class is not specialized across modules).
    private func nonFiniteCount(_ values: [T]) -> (count: Int, first: Int) {
        var count = 0, first = -1
        if T.self == Float.self {
            for (k, v) in unsafeBitCast(values, to: [Float].self).enumerated() where !v.isFinite { if first < 0 { first = k }; count += 1 }
        } else if T.self == Double.self {
            for (k, v) in unsafeBitCast(values, to: [Double].self).enumerated() where !v.isFinite { if first < 0 { first = k }; count += 1 }
        } else {
            for (k, v) in values.enumerated() where !v.isFinite { if first < 0 { first = k }; count += 1 }
        }
        return (count, first)
    }

    /// Reports `name` once if `values` (the part of it described by `rows`,
    /// nil = whole) hold NaN/±Inf; `flat` maps an index of `values` to the tensor's flat index.
    private func check(_ name: String, _ values: [T], rows: String?, flat: (Int) -> Int) {
        guard let nonFinite else { return }
        let shown = source.displayName(name)
        guard !reported.contains(shown) else { return }
        let (count, first) = nonFiniteCount(values)
        guard count > 0 else { return }
        reported.insert(shown)
        nonFinite(ValidationReport.nonFiniteText(name: shown, count: count, firstIndex: flat(first), part: rows))
    }
}
