// StreamingTests: the reference on streamed weights (StreamedWeights: each
// layer read from the model files when it runs, embedding rows per token, the
// head in blocks) against the same model loaded whole into memory
// (ModelDirectory.load), in float64 and float32.
//
// Contract: logits and states are equal bit for bit, for every model of
// `streamingCases` (committed tiny fixture, small preset, medium-ish models
// in bf16/f16/f64, HF- and RWKV-style names, shards), every plan of
// `streamingPlans` (one call, state carried over calls, chunked WKV), with
// the default head block and with blocks of 7 rows (a partial last block).
// A streamed call whose layer cannot be read throws and leaves the state as
// it was.

import Foundation
import Testing
import Hxa079
import Hxa079Reference
import Hxa079TestSupport

private let referencePackageRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite struct ReferenceStreamingTests {
    @Test(arguments: streamingCases)
    func streamedEqualsInMemoryBitwise(_ c: StreamingCase) throws {
        let (directory, keep) = try c.directory(packageRoot: referencePackageRoot)
        try check(Double.self, directory, c)
        try check(Float.self, directory, c)
        withExtendedLifetime(keep) {}
    }

    func check<T: ReferenceScalar>(_: T.Type, _ directory: ModelDirectory, _ c: StreamingCase) throws {
        let (inMemory, _) = try directory.load(as: T.self)
        let V = directory.config.vocabSize
        for blockRows in [nil, 7] {
            let streamed = try StreamedWeights<T>(directory: directory, headBlockRows: blockRows)
            #expect(streamed.layerKinds == inMemory.layerKinds)
            for plan in streamingPlans {
                let tokens = tokenSequence(plan.calls.reduce(0, +), vocab: V, seed: c.seed)
                var a = ModelState(for: inMemory), b = a
                var start = 0
                for n in plan.calls {
                    let call = Array(tokens[start..<(start + n)])
                    start += n
                    let options = ForwardOptions(chunkSize: plan.chunk)
                    let x = try Reference.forward(model: inMemory, tokens: call, state: &a, options: options)
                    let y = try Reference.forward(weights: streamed, tokens: call, state: &b, options: options)
                    #expect(mismatches(bitPatterns(x), bitPatterns(y)) == 0, "\(c) \(T.self) blocks \(blockRows ?? streamed.headBlockRows) plan \(plan.calls): logits differ")
                    #expect(mismatches(bitPatterns(a), bitPatterns(b)) == 0, "\(c) \(T.self) plan \(plan.calls): states differ")
                }
            }
        }
    }

    /// Every checkpoint of a streamed call equals the in-memory one.
    @Test func checkpointsEqualInMemory() throws {
        let (directory, keep) = try streamingCases[2].directory(packageRoot: referencePackageRoot)
        let (inMemory, _) = try directory.load(as: Double.self)
        let streamed = try StreamedWeights<Double>(directory: directory, headBlockRows: 100)
        let tokens = tokenSequence(5, vocab: directory.config.vocabSize, seed: 3)
        let x = CheckpointCollector(filter: { _ in true }), y = CheckpointCollector(filter: { _ in true })
        var a = ModelState(for: inMemory), b = a
        _ = try Reference.forward(model: inMemory, tokens: tokens, state: &a, observer: x)
        _ = try Reference.forward(weights: streamed, tokens: tokens, state: &b, observer: y)
        #expect(x.checkpoints.count > 40)
        #expect(x.checkpoints.map(\.name) == y.checkpoints.map(\.name))
        for (p, q) in zip(x.checkpoints, y.checkpoints) {
            #expect(p.shape == q.shape && mismatches(bitPatterns(p.values), bitPatterns(q.values)) == 0, "\(p.name)")
        }
        withExtendedLifetime(keep) {}
    }

    /// The model files vanish after opening: the call throws, the state is unchanged.
    @Test func unreadableLayerLeavesStateUnchanged() throws {
        let tmp = try TempDir("stream-gone")
        _ = try writeModelDirectory(ModelWeights<Double>.random(shape: Preset.tiny.shape, seed: 2), to: tmp.path, dtype: .F32)
        let streamed = try StreamedWeights<Double>(directory: try ModelDirectory(path: tmp.path))
        var state = ModelState<Double>(config: streamed.config, layerKinds: streamed.layerKinds)
        _ = try Reference.forward(weights: streamed, tokens: [1, 2], state: &state)
        let before = state
        try FileManager.default.removeItem(atPath: tmp.sub("model.safetensors"))
        #expect(throws: Hxa079Error.self) { _ = try Reference.forward(weights: streamed, tokens: [3], state: &state) }
        #expect(mismatches(bitPatterns(state), bitPatterns(before)) == 0)
    }
}

func tokenSequence(_ n: Int, vocab: Int, seed: UInt64) -> [Int] {
    var rng = SeededRNG(seed: seed, label: "streaming tokens")
    return (0..<n).map { _ in rng.int(below: vocab) }
}
