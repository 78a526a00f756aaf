// WeightProvider: where an engine reads a model's parameters from, one part
// at a time (SPEC.md §2.8 "Streamed weights").
//
// Contract: an engine asks for the embedding rows of the call's tokens, then
// for each layer's `LayerWeights` when that layer runs (and lets it go after),
// then for the final norm and for the head in blocks of `headBlockRows` rows.
// Two conformers: `ModelWeights` (everything already in memory: tests, random
// models, fixtures) and `StreamedWeights` (read from the model files when
// asked, the default of the CLI). Both give the same values bit for bit:
// `ModelDirectory.load` reads every layer with the same function
// (`ModelWeights.readLayer`) that `StreamedWeights.layer` uses.

package protocol WeightProvider<Scalar> {
    associatedtype Scalar: BinaryFloatingPoint
    var config: ModelConfig { get }
    /// The kind of every layer, in order.
    var layerKinds: [LayerKind] { get }
    /// E[token] for each token, concatenated: [T][C]. Tokens are in range.
    func embeddingRows(_ tokens: [Int]) throws -> [Scalar]
    /// The parameters of layer `i` in the run precision.
    func layer(_ i: Int) throws -> LayerWeights<Scalar>
    /// Final norm γ [C].
    func finalNormWeights() throws -> [Scalar]
    /// Rows `rows` of W_head [V][C] (E when tied, SPEC.md (36)), row-major
    /// [rows.count][C]. The head has no bias (SPEC.md §2.3).
    func headRows(_ rows: Range<Int>) throws -> [Scalar]
    /// Rows of W_head an engine applies at a time (≥ 1).
    var headBlockRows: Int { get }
}

/// Bytes of one head block in the run precision: the head of the real model
/// (100352 × 6144) would be 4.9 GB in f64; blocks of at most this size keep
/// it out of the peak (SPEC.md §2.8).
package let headBlockBytes = 256 << 20

/// Rows per head block for `config` with `scalarBytes`-byte values: as many
/// as fit in `headBlockBytes`, at least 1, at most V.
package func defaultHeadBlockRows(config: ModelConfig, scalarBytes: Int) -> Int {
    let perRow = max(1, config.hiddenSize * scalarBytes)
    return max(1, min(config.vocabSize, headBlockBytes / perRow))
}

extension ModelWeights: WeightProvider {
    package typealias Scalar = T

    package func embeddingRows(_ tokens: [Int]) throws -> [T] {
        let C = config.hiddenSize
        var x = [T](); x.reserveCapacity(tokens.count * C)
        for token in tokens { x += embedding[(token * C)..<((token + 1) * C)] }
        return x
    }

    package func layer(_ i: Int) throws -> LayerWeights<T> { layers[i] }

    package func finalNormWeights() throws -> [T] { finalNorm }

    package func headRows(_ rows: Range<Int>) throws -> [T] {
        let C = config.hiddenSize
        return Array((lmHead?.weight ?? embedding)[(rows.lowerBound * C)..<(rows.upperBound * C)])
    }

    package var headBlockRows: Int { defaultHeadBlockRows(config: config, scalarBytes: MemoryLayout<T>.size) }
}
