// DebuggerWKVState: the debugger's `s` — per-head WKV state statistics of an
// RWKV layer.
//
// Contract: the engines commit the state only when a call completes, and the
// checkpoint stream (the one observation mechanism) carries activations, not
// the state. So `s` rebuilds the layer's state after the call's last token
// from the layer's own checkpoints, by the recurrence SPEC (18)–(19) in
// Double, starting from the zero state (step always starts at position 0):
//   α = −kk,  β = kk ⊙ a,  sa_i = Σ_j S[i][j]·α_j,
//   S[i][j] ← ((S[i][j]·d_j) + (sa_i·β_j)) + (v̄_i·k̃_j)
// with kk, a, d (`rwkv.decay`), k̃ (`rwkv.k_scaled`) [T, H, N] and v̄ the
// `rwkv.v_mixed` [T, Hkv, N] row of KV head ⌊h/G⌋ (SPEC (11)). For a float64
// reference run this is the reference's own arithmetic, so the state is
// bitwise the one the call will carry; for float32 runs it is the float64
// evaluation of the float32 inputs. Per head it reports the Frobenius norm
// and max |S| of S [value][key], and the min / max of the layer's decay
// checkpoint over all tokens and channels of that head.

import Hxa079

/// Statistics of one head.
struct WKVHeadStats {
    var head: Int
    var frobenius: Double
    var maxAbs: Double
    var decayMin: Double
    var decayMax: Double
}

enum WKVStateStats {
    /// Checkpoint leaves the recomputation reads.
    static let leaves = ["kk", "a", "decay", "k_scaled", "v_mixed"]

    /// Per-head statistics of layer `layer` from its checkpoints (`lookup`
    /// returns a checkpoint seen in this run), or nil when one is missing or
    /// has an unexpected shape.
    static func compute(layer: Int, heads H: Int, kvHeads Hkv: Int, headDim N: Int,
                        lookup: (String) -> Checkpoint?) -> [WKVHeadStats]? {
        var tensors: [String: Checkpoint] = [:]
        for leaf in leaves {
            guard let c = lookup(CheckpointName.rwkv(layer, leaf)) else { return nil }
            tensors[leaf] = c
        }
        guard let kk = tensors["kk"], let a = tensors["a"], let d = tensors["decay"], let ks = tensors["k_scaled"],
              let v = tensors["v_mixed"], H > 0, Hkv > 0, H % Hkv == 0 else { return nil }
        let T = kk.shape.first ?? 0
        for c in [kk, a, d, ks] where c.shape != [T, H, N] { return nil }
        guard v.shape == [T, Hkv, N] else { return nil }
        let G = H / Hkv
        var out: [WKVHeadStats] = []
        var S = [Double](repeating: 0, count: N * N)
        var sa = [Double](repeating: 0, count: N)
        var beta = [Double](repeating: 0, count: N)
        for h in 0..<H {
            for e in 0..<S.count { S[e] = 0 }
            var dMin = Double.infinity, dMax = -Double.infinity
            for t in 0..<T {
                let base = (t * H + h) * N
                let vBase = (t * Hkv + h / G) * N
                for j in 0..<N {
                    beta[j] = kk.values[base + j] * a.values[base + j]
                    let dj = d.values[base + j]
                    if dj.isNaN || dj < dMin { dMin = dj }   // a NaN sticks
                    if dj.isNaN || dj > dMax { dMax = dj }
                }
                for i in 0..<N {   // (18) from the old state
                    var acc = 0.0
                    for j in 0..<N { acc += S[i * N + j] * (-kk.values[base + j]) }
                    sa[i] = acc
                }
                for i in 0..<N {   // (19)
                    let vi = v.values[vBase + i]
                    for j in 0..<N {
                        S[i * N + j] = ((S[i * N + j] * d.values[base + j]) + (sa[i] * beta[j])) + (vi * ks.values[base + j])
                    }
                }
            }
            var squares = 0.0, maxAbs = 0.0
            for x in S {
                squares += x * x
                if x.isNaN || abs(x) > maxAbs { maxAbs = abs(x) }
            }
            out.append(WKVHeadStats(head: h, frobenius: squares.squareRoot(), maxAbs: maxAbs,
                                    decayMin: T > 0 ? dMin : .nan, decayMax: T > 0 ? dMax : .nan))
        }
        return out
    }
}
