// GQA attention by hand (SPEC.md (25)–(31)).

import Testing
import Hxa079
@testable import Hxa079Reference

/// H = 2 query heads sharing Hkv = 1 KV head, N = 2, C = 2, identity k/v
/// projections, zero q projection (so every score is 0 and the softmax is
/// uniform), Wo sums the two heads.
private func handModel<T: ReferenceScalar>(_: T.Type) -> (GQAWeights<T>, ModelConfig) {
    let cfg = ModelConfig(hiddenSize: 2, numHeads: 2, headDim: 2, numKVHeads: 1, intermediateSize: 1,
                          vocabSize: 1, numLayers: 1, rmsNormEps: 1e-5, ropeTheta: 10_000)
    let w = GQAWeights<T>(query: Linear(outFeatures: 4, inFeatures: 2, weight: [T](repeating: 0, count: 8)),
                          key: Linear(outFeatures: 2, inFeatures: 2, weight: [1, 0, 0, 1]),
                          value: Linear(outFeatures: 2, inFeatures: 2, weight: [1, 0, 0, 1]),
                          output: Linear(outFeatures: 2, inFeatures: 4, weight: [1, 0, 1, 0, 0, 1, 0, 1]),
                          qNorm: nil, kNorm: nil)
    return (w, cfg)
}

func checkGQAByHand<T: ReferenceScalar>(_: T.Type) throws {
    let (w, cfg) = handModel(T.self)
    var cache = KVCache<T>(kvHeads: 1, headDim: 2)
    let seen = CheckpointCollector()
    // Call 1, one token x̂ = [2, 4]: the only cached position gets weight e^0/e^0 = 1,
    // so both heads output v = [2, 4] (30); Wo sums the heads: [4, 8] (31).
    let out1 = try w.forward([2, 4], tokens: 1, layer: 0, config: cfg, position: 0, cache: &cache, observer: seen)
    #expect(seen["layers.0.gqa.attn"]?.values == [2, 4, 2, 4])
    #expect(out1 == [4, 8])
    // Call 2, token x̂ = [6, 0] at p = 1 sees positions 0 and 1 (28): scores 0 and 0,
    // π = [1/2, 1/2] (29), o = 0.5·[2, 4] + 0.5·[6, 0] = [4, 2] per head (30); out = [8, 4].
    let out2 = try w.forward([6, 0], tokens: 1, layer: 0, config: cfg, position: 1, cache: &cache, observer: seen)
    #expect(seen["layers.0.gqa.attn"]?.values == [4, 2, 4, 2])
    #expect(out2 == [8, 4])
    #expect(cache.count == 2 && cache.keys == [2, 4, 6, 0])
    // The same two tokens in one call: the first query sees only position 0 (causal).
    var fresh = KVCache<T>(kvHeads: 1, headDim: 2)
    let both = try w.forward([2, 4, 6, 0], tokens: 2, layer: 0, config: cfg, position: 0, cache: &fresh, observer: nil)
    #expect(both == [4, 8, 8, 4])
}

@Test func gqaByHandFloatAndDouble() throws {
    try checkGQAByHand(Float.self)
    try checkGQAByHand(Double.self)
}

/// The softmax subtracts the maximum (29): scores of ±1000 would overflow
/// exp() without it. With q = k = [s, 0]·… the first position dominates.
@Test func gqaSoftmaxIsStableForLargeScores() throws {
    let cfg = ModelConfig(hiddenSize: 2, numHeads: 1, headDim: 2, numKVHeads: 1, intermediateSize: 1,
                          vocabSize: 1, numLayers: 1, rmsNormEps: 1e-5, ropeTheta: 10_000)
    // q = 1000·x̂, k = x̂, v = x̂ (identity); tokens x̂ = [1, 0] then [−1, 0].
    let w = GQAWeights<Double>(query: Linear(outFeatures: 2, inFeatures: 2, weight: [1000, 0, 0, 1000]),
                               key: Linear(outFeatures: 2, inFeatures: 2, weight: [1, 0, 0, 1]),
                               value: Linear(outFeatures: 2, inFeatures: 2, weight: [1, 0, 0, 1]),
                               output: Linear(outFeatures: 2, inFeatures: 2, weight: [1, 0, 0, 1]),
                               qNorm: nil, kNorm: nil)
    var cache = KVCache<Double>(kvHeads: 1, headDim: 2)
    let out = try w.forward([1, 0, -1, 0], tokens: 2, layer: 0, config: cfg, position: 0, cache: &cache, observer: nil)
    // Token 1: scores (q·k)/√2 = [−1000/√2, 1000/√2]; π ≈ [e^(−1414), 1] → o ≈ v_1 = [−1, 0].
    #expect(out.allSatisfy { $0.isFinite })
    #expect(out[2] == -1 && out[3] == 0)
}
