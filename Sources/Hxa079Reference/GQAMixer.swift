// GQAMixer: grouped-query softmax attention without positional encoding
// (SPEC.md (25)–(31)).
//
// Contract: readable reference, strict arithmetic. No RoPE. The KV cache is
// kept whole (no eviction); a query at absolute position p sees every cached
// position ≤ p, including those written by earlier calls. With
// `ForwardOptions.kvWindow` (RWKV-Infer's rule, SPEC.md (27a)) the oldest
// rows are evicted once per call before the call's rows are appended, and
// every query of the call sees the kept rows plus the call's rows up to its own.
//
// Index conventions: t token of the call, h query head, g = ⌊h/G⌋ its KV
// head, j cache row (row j = absolute position base + j, base = 0 without a
// window), n channel within a head.

import Hxa079
import RealModule

extension GQAWeights where T: ReferenceScalar {
    /// Runs the attention on the normed input of one call.
    ///
    /// - Parameters:
    ///   - x: x̂ [T][C], the block's RMSNorm(x; ln1).
    ///   - position: absolute position of the call's first token (= cache.count on
    ///     entry; ≥ cache.count with a KV window).
    ///   - cache: K and V [P][Hkv][N], extended by the call's T positions (after
    ///     the eviction of (27a) when `options.kvWindow` is set).
    /// - Returns: the mixer output [T][C] (SPEC.md (31)).
    func forward(_ x: [T], tokens: Int, layer: Int, config: ModelConfig, position: Int,
                 cache: inout KVCache<T>, options: ForwardOptions = .init(), observer: (any CheckpointObserver)?) throws -> [T] {
        let mutant = options.mutant, profile = options.profile
        let C = config.hiddenSize, H = config.numHeads, N = config.headDim, Hkv = config.numKVHeads
        let G = config.groupSize
        let eps = T(config.rmsNormEps)
        let name = { (leaf: String) in CheckpointName.gqa(layer, leaf) }

        // (25) projections: q [T][H][N], k [T][Hkv][N], v [T][Hkv][N]
        var q = query.applyRows(x, rows: tokens)
        var k = key.applyRows(x, rows: tokens)
        var v = value.applyRows(x, rows: tokens)
        if qNorm != nil { profile.storeIntermediate(&q) }
        if kNorm != nil { profile.storeIntermediate(&k) }
        // (26) optional per-head RMSNorm of q and k; no RoPE
        if let qNorm { rmsNormPerHead(&q, rows: tokens, heads: H, headDim: N, weight: qNorm, eps: eps) }
        if let kNorm { rmsNormPerHead(&k, rows: tokens, heads: Hkv, headDim: N, weight: kNorm, eps: eps) }
        if mutant == .ropeInGQA {   // MUTANT rope_in_gqa
            let invFreq = ropeInverseFrequencies(headDim: N, theta: T(config.ropeTheta))
            for t in 0..<tokens {
                applyRoPE(&q, offset: t * H * N, heads: H, headDim: N, position: position + t, inverseFrequencies: invFreq, profile: profile)
                applyRoPE(&k, offset: t * Hkv * N, heads: Hkv, headDim: N, position: position + t, inverseFrequencies: invFreq, profile: profile)
            }
        }
        profile.store(&q)
        profile.store(&k)   // stored: the cache rows (27) are in the format
        profile.store(&v)
        try observer.record(name("q"), shape: [tokens, H, N], &q)
        try observer.record(name("k"), shape: [tokens, Hkv, N], &k)
        try observer.record(name("v"), shape: [tokens, Hkv, N], &v)

        // (27a) RWKV-Infer's window (off by default): evict the oldest rows once, before the call's rows
        if let window = options.kvWindow { cache.evictOldest(window: window, tokens: tokens) }
        let kept = cache.count   // P' rows from earlier calls: = position without a window
        // (27) append the call's keys and values to the cache
        cache.keys += k
        cache.values += v

        // (28)–(30) causal softmax attention over every cached position ≤ p: rows 0…kept + t
        let scale: T = inverseSquareRoot(N)   // c_N, SPEC.md (21a)
        var attn = [T](repeating: 0, count: tokens * H * N)     // [T][H][N]
        for t in 0..<tokens {
            let p = kept + t   // the query's own row (= its absolute position without a window)
            for h in 0..<H {
                let g = mutant == .kvHeadsTiled ? h % Hkv : h / G   // MUTANT kv_heads_tiled: h mod Hkv
                let qo = (t * H + h) * N
                // (28) s_j = (q · k_j)·N^−½ for rows j = 0…p
                var scores = [T](repeating: 0, count: p + 1)
                for j in 0...p {
                    let ko = (j * Hkv + g) * N
                    var dot: T = 0
                    for n in 0..<N { dot += q[qo + n] * cache.keys[ko + n] }
                    scores[j] = dot * scale
                }
                // (29) softmax with the maximum subtracted
                var m = scores[0]
                for j in 1..<(p + 1) { m = max(m, scores[j]) }
                var sum: T = 0
                for j in 0...p {
                    scores[j] = T.exp(scores[j] - m)
                    sum += scores[j]
                }
                for j in 0...p { scores[j] = scores[j] / sum }
                // (30) o = Σ_j p_j·v_j
                for n in 0..<N {
                    var acc: T = 0
                    for j in 0...p { acc += scores[j] * cache.values[(j * Hkv + g) * N + n] }
                    attn[qo + n] = acc
                }
            }
        }
        profile.store(&attn)
        try observer.record(name("attn"), shape: [tokens, H, N], &attn)

        // (31) out = concat_h(o_h)·Woᵀ (+ bo)
        var out = output.applyRows(attn, rows: tokens)
        profile.store(&out)
        try observer.record(name("mixer_out"), shape: [tokens, C], &out)
        return out
    }
}
