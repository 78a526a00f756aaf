// WKVRecurrent: the token-by-token WKV recurrence (SPEC.md (18)–(20)).
//
// Contract: readable reference, strict IEEE arithmetic in the stated order,
// no SIMD, no BLAS, no reassociation. Works for any number of heads and any
// key size K and value size V (the model uses K = V = N). The chunked form
// (WKVChunked.swift) computes the same function; the property suite holds
// the two together. The optimized twin lives in Hxa079Fast.

import RealModule

/// The per-step inputs of the WKV recurrence for every head of a call.
///
/// Layout: activations are [T][H][K] or [T][H][V], row-major: element
/// (t, h, j) of a key-sized array is at (t·H + h)·K + j.
public struct WKVInput<T: Real & BinaryFloatingPoint> {
    /// T: number of steps.
    public var steps: Int
    /// H: number of heads.
    public var heads: Int
    /// K: key size (columns of the state).
    public var keySize: Int
    /// V: value size (rows of the state).
    public var valueSize: Int
    /// r [T][H][K]: receptance (after RoPE), unscaled.
    public var r: [T]
    /// g [T][H][K]: log-decay g = −exp(w) ≤ 0, so the decay is d = exp(g) (SPEC.md (17)).
    public var logDecay: [T]
    /// k̃ [T][H][K]: the scaled key written into the state (SPEC.md (15)).
    public var k: [T]
    /// v [T][H][V]: the value written into the state.
    public var v: [T]
    /// α [T][H][K] = −kk (SPEC.md (16)).
    public var alpha: [T]
    /// β [T][H][K] = kk ⊙ a (SPEC.md (16)).
    public var beta: [T]

    public init(steps: Int, heads: Int, keySize: Int, valueSize: Int,
                r: [T], logDecay: [T], k: [T], v: [T], alpha: [T], beta: [T]) {
        self.steps = steps
        self.heads = heads
        self.keySize = keySize
        self.valueSize = valueSize
        self.r = r
        self.logDecay = logDecay
        self.k = k
        self.v = v
        self.alpha = alpha
        self.beta = beta
    }
}

public enum WKV {
    /// Runs the recurrence step by step.
    ///
    /// - Parameter state: S [H][V][K] (row = value index i, column = key
    ///   index j), the state before the first step; on return, after the last.
    /// - Returns: o [T][H][V], the read-out of the NEW state at every step
    ///   (SPEC.md (20)), unscaled (the N^−½ of (21) is applied by the caller).
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public static func recurrent<T>(_ x: WKVInput<T>, state: inout [T]) -> [T] {
        let H = x.heads, K = x.keySize, V = x.valueSize
        var o = [T](repeating: 0, count: x.steps * H * V)
        var sa = [T](repeating: 0, count: V)
        var d = [T](repeating: 0, count: K)
        for t in 0..<x.steps {
            for h in 0..<H {
                let key = (t * H + h) * K        // offset of (t, h, ·) in key-sized arrays
                let val = (t * H + h) * V        // offset of (t, h, ·) in value-sized arrays
                let s0 = h * V * K               // offset of S_h
                // (17) d_j = exp(g_j)
                for j in 0..<K { d[j] = T.exp(x.logDecay[key + j]) }
                // (18) sa_i = Σ_j S[i,j]·α_j  — from the OLD state
                for i in 0..<V {
                    var acc: T = 0
                    for j in 0..<K { acc += state[s0 + i * K + j] * x.alpha[key + j] }
                    sa[i] = acc
                }
                // (19) S[i,j] = S[i,j]·d_j + sa_i·β_j + v_i·k̃_j
                for i in 0..<V {
                    for j in 0..<K {
                        let idx = s0 + i * K + j
                        state[idx] = state[idx] * d[j] + sa[i] * x.beta[key + j] + x.v[val + i] * x.k[key + j]
                    }
                }
                // (20) o_i = Σ_j S[i,j]·r_j  — from the NEW state
                for i in 0..<V {
                    var acc: T = 0
                    for j in 0..<K { acc += state[s0 + i * K + j] * x.r[key + j] }
                    o[val + i] = acc
                }
            }
        }
        return o
    }
}
