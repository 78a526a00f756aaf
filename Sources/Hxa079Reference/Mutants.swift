// Mutants: known-wrong variants of the model, for fixtures that prove a
// comparison can tell right from wrong (issue: golden fixtures).
//
// Contract: NOT part of the model. Each case is one bug that ports of hxa079
// make or could make; the reference applies it only when
// `ForwardOptions.mutant` is set (the one way a mutant reaches a mixer: both
// mixers take the call's `ForwardOptions`), at the sites marked `// MUTANT
// <name>` below. With no mutant set no mutant-only work is done: the two
// values a mutant needs besides the model's own (k before RoPE, the decay
// pre-activation z) are kept only when that mutant is set. The WKV kernels of
// the two state-update mutants live here, away from the reference kernels.
//
// Every site (`grep -n "MUTANT" Sources/Hxa079Reference` lists them):
//   k_scaled_with_decay          RWKVMixer.swift, (15) k̃ after its model line
//   transposed_state             RWKVMixer.swift, before the WKV call (the carried state)
//   k_first_before_rope          RWKVMixer.swift, kBeforeRoPE before (7), read at (8)
//   kv_heads_tiled               RWKVMixer.swift (11) expansion; GQAMixer.swift (28) head map
//   rope_in_gqa                  GQAMixer.swift, after (26)
//   wkv_scale_missing            RWKVMixer.swift, (21) scale c_N
//   truncated_exp_half           RWKVMixer.swift, zForMutant in (14), read at (17)
//   removal_from_decayed_state   RWKVMixer.swift, WKV call → MutantWKV.recurrent (this file)
//   readout_from_old_state       RWKVMixer.swift, WKV call → MutantWKV.recurrent (this file)

/// One known-wrong variant.
public enum Mutant: String, CaseIterable, Sendable, Codable {
    /// k̃ = k ⊙ (1 − d + a) with the decay d instead of the pre-exp w (SPEC.md D1).
    case kScaledWithDecay = "k_scaled_with_decay"
    /// The carried WKV state read as [key][value] instead of [value][key].
    case transposedState = "transposed_state"
    /// k_first captured before RoPE instead of after.
    case kFirstBeforeRoPE = "k_first_before_rope"
    /// KV heads tiled (h mod Hkv) instead of repeated (⌊h/G⌋).
    case kvHeadsTiled = "kv_heads_tiled"
    /// RoPE applied to q and k in the GQA layers.
    case ropeInGQA = "rope_in_gqa"
    /// The N^−½ scale of the WKV output missing.
    case wkvScaleMissing = "wkv_scale_missing"
    /// exp(−0.5) typed as the truncated literal 0.606531 in the log-decay −exp(−0.5)·σ(z).
    case truncatedExpHalf = "truncated_exp_half"
    /// The removal term sa read from the decayed state S·diag(d) instead of the old state.
    case removalFromDecayedState = "removal_from_decayed_state"
    /// The output read from the old state S_{t−1} instead of the new one.
    case readoutFromOldState = "readout_from_old_state"

    /// One line saying what is wrong.
    public var summary: String {
        switch self {
        case .kScaledWithDecay: return "k scaled by (1 − decay + a) instead of (1 − w + a) with the pre-exp w"
        case .transposedState: return "carried WKV state read as [head][key][value] instead of [head][value][key]"
        case .kFirstBeforeRoPE: return "k_first captured before RoPE"
        case .kvHeadsTiled: return "KV heads tiled (h mod Hkv) instead of repeated (h / G)"
        case .ropeInGQA: return "RoPE applied in the GQA layers"
        case .wkvScaleMissing: return "N^-1/2 scale of the WKV output missing"
        case .truncatedExpHalf: return "exp(-0.5) typed as 0.606531 in the log decay"
        case .removalFromDecayedState: return "removal term read from the decayed state"
        case .readoutFromOldState: return "output read from the state before the update"
        }
    }

    /// True when the mutant changes nothing in a call that starts from the zero state.
    public var needsCarriedState: Bool { self == .transposedState }
}

enum MutantWKV {
    /// The recurrence with one of the two state-update mutants (compare WKV.recurrent).
    static func recurrent<T: ReferenceScalar>(_ x: WKVInput<T>, state: inout [T], mutant: Mutant) -> [T] {
        let H = x.heads, K = x.keySize, V = x.valueSize
        var o = [T](repeating: 0, count: x.steps * H * V)
        var sa = [T](repeating: 0, count: V)
        for t in 0..<x.steps {
            for h in 0..<H {
                let key = (t * H + h) * K, val = (t * H + h) * V, s0 = h * V * K
                if mutant == .readoutFromOldState {
                    for i in 0..<V {
                        var acc: T = 0
                        for j in 0..<K { acc += state[s0 + i * K + j] * x.r[key + j] }
                        o[val + i] = acc
                    }
                }
                if mutant == .removalFromDecayedState {
                    for i in 0..<V { for j in 0..<K { state[s0 + i * K + j] = state[s0 + i * K + j] * T.exp(x.logDecay[key + j]) } }
                }
                for i in 0..<V {
                    var acc: T = 0
                    for j in 0..<K { acc += state[s0 + i * K + j] * x.alpha[key + j] }
                    sa[i] = acc
                }
                for i in 0..<V {
                    for j in 0..<K {
                        let idx = s0 + i * K + j
                        let decayed = mutant == .removalFromDecayedState ? state[idx] : state[idx] * T.exp(x.logDecay[key + j])
                        state[idx] = decayed + sa[i] * x.beta[key + j] + x.v[val + i] * x.k[key + j]
                    }
                }
                if mutant != .readoutFromOldState {
                    for i in 0..<V {
                        var acc: T = 0
                        for j in 0..<K { acc += state[s0 + i * K + j] * x.r[key + j] }
                        o[val + i] = acc
                    }
                }
            }
        }
        return o
    }

    /// Transposes every head's N×N block of a [H][N][N] state.
    static func transposeHeads<T>(_ s: inout [T], heads: Int, size n: Int) {
        for h in 0..<heads {
            for i in 0..<n {
                for j in (i + 1)..<max(n, i + 1) where j < n {
                    let a = h * n * n + i * n + j, b = h * n * n + j * n + i
                    s.swapAt(a, b)
                }
            }
        }
    }
}
