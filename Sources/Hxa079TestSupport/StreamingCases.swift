// StreamingCases: the model directories on which streamed weights are held
// against the same model in memory (reference and fast path tests), and the
// call plans run on each.
//
// Contract: each case writes its model into a fresh `TempDir` (the committed
// tiny fixture's model is used where it lies); `plans` are token counts per
// call with the state carried between calls, plus a WKV chunk size. Equality
// is bitwise: `bitPatterns` maps values to the bits of their Double widening
// (exact for Float, keeps −0 apart from +0).

import Foundation
import Hxa079
import SafeTensors

package struct StreamingCase: CustomStringConvertible, Sendable {
    package var label: String
    /// nil: the committed Fixtures/tiny model.
    package var shape: ModelShape?
    package var options = RandomModelOptions()
    package var dtype: DType = .F32
    package var naming: TensorNaming = .hf
    package var shards = 1
    package var seed: UInt64 = 1
    package var description: String { label }

    /// Writes the model (or finds the committed one); the TempDir keeps it alive.
    package func directory(packageRoot: String) throws -> (ModelDirectory, TempDir?) {
        guard let shape else { return (try ModelDirectory(path: packageRoot + "/Fixtures/tiny/model"), nil) }
        let tmp = try TempDir("stream-\(label)")
        _ = try writeModelDirectory(ModelWeights<Double>.random(shape: shape, options: options, seed: seed),
                                    to: tmp.path, dtype: dtype, naming: naming, shards: shards)
        return (try ModelDirectory(path: tmp.path), tmp)
    }
}

/// A medium-ish model whose widths are not multiples of 16 anywhere that
/// matters and whose vocabulary is not a multiple of the test head block.
package let streamingMediumShape = ModelShape(
    config: ModelConfig(hiddenSize: 320, numHeads: 5, headDim: 64, numKVHeads: 1, intermediateSize: 864,
                        vocabSize: 3001, numLayers: 5, rmsNormEps: 1e-5, ropeTheta: 1_000_000),
    gqaLayers: [0, 3], ranks: (24, 16, 16, 16, 32))

package let streamingCases: [StreamingCase] = [
    StreamingCase(label: "Fixtures/tiny", shape: nil),
    StreamingCase(label: "small preset f32", shape: Preset.small.shape),
    StreamingCase(label: "medium-ish bf16 RWKV-style 3 shards", shape: streamingMediumShape,
                  options: RandomModelOptions(biases: true, rkNorms: true, qkNorms: true, tiedHead: true),
                  dtype: .BF16, naming: .rwkv, shards: 3, seed: 5),
    StreamingCase(label: "medium-ish f64 untied", shape: streamingMediumShape, dtype: .F64, seed: 6),
    StreamingCase(label: "medium-ish f16 2 shards", shape: streamingMediumShape,
                  options: RandomModelOptions(biases: true), dtype: .F16, shards: 2, seed: 7),
]

/// Call plans: tokens per call (state carried), WKV chunk size (0 = recurrent).
package let streamingPlans: [(calls: [Int], chunk: Int)] = [([7], 0), ([4, 1, 3], 0), ([9, 2], 4)]

/// The bits of each value widened to Double.
package func bitPatterns<T: BinaryFloatingPoint>(_ values: [T]) -> [UInt64] { values.map { Double($0).bitPattern } }

/// The bits of every value of a state, layer by layer, and its position.
package func bitPatterns<T: BinaryFloatingPoint>(_ state: ModelState<T>) -> [UInt64] {
    var out = [UInt64(state.position)]
    for layer in state.layers {
        switch layer {
        case .rwkv(let s): out += bitPatterns(s.values)
        case .gqa(let c): out += bitPatterns(c.keys) + bitPatterns(c.values)
        }
    }
    return out
}

/// Number of positions where `a` and `b` differ (plus the length difference):
/// what the tests assert on, so a failure prints a count, not two huge arrays.
package func mismatches(_ a: [UInt64], _ b: [UInt64]) -> Int {
    zip(a, b).reduce(abs(a.count - b.count)) { $0 + ($1.0 == $1.1 ? 0 : 1) }
}
