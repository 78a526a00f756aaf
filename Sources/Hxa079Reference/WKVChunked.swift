// WKVChunked: the chunked (parallel-within-chunk, WY) form of the WKV
// recurrence (SPEC.md (40)–(49)).
//
// Contract: computes the same function as `WKV.recurrent` (SPEC.md (17)–(20))
// — same input, same state layout S [H][V][K] in and out, same unscaled
// outputs o [T][H][V] — up to rounding. The steps are cut into chunks of L
// consecutive steps (the last one may be shorter; L ≥ T is one chunk; L = 1
// is the recurrence step by step, (48)); inside a chunk every step is
// expressed through the state at the start of the chunk, S_0, plus n×n
// lower-triangular interaction matrices, and the n removal vectors
// sa_i = S_{i−1}·α_i are found by forward substitution of a unit lower
// triangular system (44).
//
// Readable reference style, like WKVRecurrent.swift: strict IEEE arithmetic,
// plain `+` and `*`, every sum accumulated left to right from 0 over its
// index in increasing order, no SIMD, no BLAS, no Relaxed. Heads are
// independent and are processed one after the other.
//
// Stability (47): the only exponentials evaluated are of relative decays
// G_i − G_j with i ≥ j (and G_{i−1} − G_j with i > j, and G_n − G_j, and G_i
// itself), all ≤ 0, so every factor is in [0, 1]: nothing is ever divided by
// a cumulative decay and the upper triangles are never touched. Strong decays
// can only underflow to 0, where the true value is equally negligible.
//
// Local indexing: inside a chunk that starts at step c0 and holds n steps,
// local step s = 0..<n is global step c0 + s and is the SPEC's step i = s + 1.
// The cumulative log decays are stored with one extra leading row,
// G[0] = G_0 = 0 and G[s + 1] = G_{s+1}, so local step s has inclusive decay
// G[s + 1] and exclusive decay G[s].

import RealModule

/// Everything (40)–(43) and the decayed operands of (44)–(46) for one head and
/// one chunk. All arrays are row-major; "row i" / "column j" are local steps.
struct WKVChunkTerms<T: Real & BinaryFloatingPoint> {
    /// n: number of steps in the chunk.
    var count: Int
    /// K: key size.
    var keySize: Int
    /// G [(n + 1)][K]: cumulative log decay (40); row 0 is G_0 = 0, row s + 1
    /// is the inclusive sum over local steps 0...s, i.e. G_{s+1}.
    var cumulativeLogDecay: [T]
    /// A_qk [n][n] (41): [i][j] = Σ_d r_i[d]·k̃_j[d]·exp(G_{i+1}[d] − G_{j+1}[d]) for j ≤ i, else 0.
    var aqk: [T]
    /// A_qb [n][n] (42): as A_qk with β_j in place of k̃_j, j ≤ i, else 0.
    var aqb: [T]
    /// A_ak [n][n] (43): [i][j] = Σ_d α_i[d]·k̃_j[d]·exp(G_i[d] − G_{j+1}[d]) for j < i, else 0.
    var aak: [T]
    /// A_ab [n][n] (43): as A_ak with β_j in place of k̃_j, j < i, else 0.
    var aab: [T]
    /// Qd [n][K] (45): row i = r_i ⊙ exp(G_{i+1}).
    var qd: [T]
    /// Ad [n][K] (44): row i = α_i ⊙ exp(G_i)  (exclusive decay).
    var ad: [T]
    /// Kt [n][K] (46): row j = k̃_j ⊙ exp(G_n − G_{j+1}).
    var kt: [T]
    /// Bt [n][K] (46): row j = β_j ⊙ exp(G_n − G_{j+1}).
    var bt: [T]
    /// exp(G_n) [K] (46): the decay of the whole chunk.
    var chunkDecay: [T]
}

extension WKV {
    /// Runs the recurrence chunk by chunk (SPEC.md (40)–(48)).
    ///
    /// - Parameters:
    ///   - x: the inputs, exactly as for `recurrent`.
    ///   - chunkSize: L, the number of steps per chunk. The last chunk holds
    ///     the remaining T mod L steps if L does not divide T; L ≥ T runs a
    ///     single chunk. L ≤ 0 is a programmer error the caller prevents; it
    ///     does not trap here but is treated as L = 1.
    ///   - state: S [H][V][K] (row = value index i, column = key index j), the
    ///     state before the first step; on return, after the last.
    /// - Returns: o [T][H][V], the read-out of the new state at every step,
    ///   unscaled (as `recurrent`).
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public static func chunked<T>(_ x: WKVInput<T>, chunkSize: Int, state: inout [T]) -> [T] {
        let H = x.heads, K = x.keySize, V = x.valueSize
        let L = max(chunkSize, 1)
        /// o [T][H][V]: the outputs, filled chunk by chunk.
        var o = [T](repeating: 0, count: x.steps * H * V)
        for h in 0..<H {
            let s0 = h * V * K                   // offset of S_h in `state`
            var c0 = 0                           // first global step of the chunk
            while c0 < x.steps {
                let n = min(L, x.steps - c0)     // (48) the last chunk may be shorter
                let c = chunkTerms(x, head: h, start: c0, count: n)

                /// Vc [n][V]: row i = v_i, the values of the chunk.
                var vc = [T](repeating: 0, count: n * V)
                // (44)–(46) Vc, stacked as rows
                for i in 0..<n {
                    let val = ((c0 + i) * H + h) * V
                    for p in 0..<V { vc[i * V + p] = x.v[val + p] }
                }

                // (44) right-hand side: rhs = A_ak·Vc + Ad·S_0ᵀ
                /// rhs [n][V]: row i = Σ_{j<i} A_ak[i,j]·v_j + S_0·(α_i ⊙ exp(G_i)).
                var rhs = [T](repeating: 0, count: n * V)
                for i in 0..<n {
                    for p in 0..<V {
                        var acc: T = 0
                        for j in 0..<i { acc += c.aak[i * n + j] * vc[j * V + p] }
                        var fromState: T = 0
                        for d in 0..<K { fromState += c.ad[i * K + d] * state[s0 + p * K + d] }
                        rhs[i * V + p] = acc + fromState
                    }
                }
                // (44) (I − A_ab)·Sa = rhs, by forward substitution.
                /// Sa [n][V]: row i = sa_i = S_{i−1}·α_i, the removal vector of local step i.
                let sa = solveUnitLowerTriangular(strictlyLower: c.aab, count: n, rhs: rhs, columns: V)

                // (45) O = Qd·S_0ᵀ + A_qk·Vc + A_qb·Sa
                for i in 0..<n {
                    let val = ((c0 + i) * H + h) * V
                    for p in 0..<V {
                        var fromState: T = 0
                        for d in 0..<K { fromState += c.qd[i * K + d] * state[s0 + p * K + d] }
                        var fromValues: T = 0
                        for j in 0...i { fromValues += c.aqk[i * n + j] * vc[j * V + p] }
                        var fromRemovals: T = 0
                        for j in 0...i { fromRemovals += c.aqb[i * n + j] * sa[j * V + p] }
                        o[val + p] = fromState + fromValues + fromRemovals
                    }
                }

                // (46) S_n = S_0·diag(exp(G_n)) + Vcᵀ·Kt + Saᵀ·Bt  (in place: entry
                // [p][d] of S_n reads only entry [p][d] of S_0)
                for p in 0..<V {
                    for d in 0..<K {
                        var written: T = 0
                        for j in 0..<n { written += vc[j * V + p] * c.kt[j * K + d] }
                        var removed: T = 0
                        for j in 0..<n { removed += sa[j * V + p] * c.bt[j * K + d] }
                        let idx = s0 + p * K + d
                        state[idx] = state[idx] * c.chunkDecay[d] + written + removed
                    }
                }
                c0 += n
            }
        }
        return o
    }

    /// The cumulative decays (40), the four interaction matrices (41)–(43) and
    /// the decayed operands of (44)–(46) for head `head` and the `count` steps
    /// starting at global step `start`.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    static func chunkTerms<T>(_ x: WKVInput<T>, head h: Int, start c0: Int, count n: Int) -> WKVChunkTerms<T> {
        let H = x.heads, K = x.keySize
        /// Offset of (global step c0 + s, head h, ·) in the key-sized arrays.
        func key(_ s: Int) -> Int { ((c0 + s) * H + h) * K }

        // (40) G_0 = 0, G_{s+1} = G_s + g_s (left to right)
        /// G [(n + 1)][K]: row m = G_m, the log decay accumulated over the first m steps.
        var G = [T](repeating: 0, count: (n + 1) * K)
        for s in 0..<n {
            for d in 0..<K { G[(s + 1) * K + d] = G[s * K + d] + x.logDecay[key(s) + d] }
        }

        /// A_qk, A_qb, A_ak, A_ab [n][n]: zero above the diagonal (never evaluated there).
        var aqk = [T](repeating: 0, count: n * n)
        var aqb = [T](repeating: 0, count: n * n)
        var aak = [T](repeating: 0, count: n * n)
        var aab = [T](repeating: 0, count: n * n)
        for i in 0..<n {
            // (41), (42) j ≤ i: exp(G_{i+1} − G_{j+1}) ≤ 1 (47)
            for j in 0...i {
                var sumK: T = 0, sumB: T = 0
                for d in 0..<K {
                    let e = T.exp(G[(i + 1) * K + d] - G[(j + 1) * K + d])
                    sumK += x.r[key(i) + d] * x.k[key(j) + d] * e
                    sumB += x.r[key(i) + d] * x.beta[key(j) + d] * e
                }
                aqk[i * n + j] = sumK
                aqb[i * n + j] = sumB
            }
            // (43) j < i: exp(G_i − G_{j+1}) ≤ 1 (47), strictly lower
            for j in 0..<i {
                var sumK: T = 0, sumB: T = 0
                for d in 0..<K {
                    let e = T.exp(G[i * K + d] - G[(j + 1) * K + d])
                    sumK += x.alpha[key(i) + d] * x.k[key(j) + d] * e
                    sumB += x.alpha[key(i) + d] * x.beta[key(j) + d] * e
                }
                aak[i * n + j] = sumK
                aab[i * n + j] = sumB
            }
        }

        /// Qd, Ad, Kt, Bt [n][K]: the operands multiplied by S_0 or written into S_n.
        var qd = [T](repeating: 0, count: n * K)
        var ad = [T](repeating: 0, count: n * K)
        var kt = [T](repeating: 0, count: n * K)
        var bt = [T](repeating: 0, count: n * K)
        // (44)–(46) decayed operands; every exponent ≤ 0 (47)
        for s in 0..<n {
            for d in 0..<K {
                // (45) Qd rows r_i ⊙ exp(G_i) (inclusive), (44) Ad rows α_i ⊙ exp(G_{i−1}) (exclusive)
                qd[s * K + d] = x.r[key(s) + d] * T.exp(G[(s + 1) * K + d])
                ad[s * K + d] = x.alpha[key(s) + d] * T.exp(G[s * K + d])
                // (46) Kt, Bt rows ⊙ exp(G_n − G_j)
                let toEnd = T.exp(G[n * K + d] - G[(s + 1) * K + d])
                kt[s * K + d] = x.k[key(s) + d] * toEnd
                bt[s * K + d] = x.beta[key(s) + d] * toEnd
            }
        }
        /// exp(G_n) [K]: (46) decay of S_0 over the whole chunk.
        var chunkDecay = [T](repeating: 0, count: K)
        // (46) exp(G_n)
        for d in 0..<K { chunkDecay[d] = T.exp(G[n * K + d]) }

        return WKVChunkTerms(count: n, keySize: K, cumulativeLogDecay: G,
                             aqk: aqk, aqb: aqb, aak: aak, aab: aab,
                             qd: qd, ad: ad, kt: kt, bt: bt, chunkDecay: chunkDecay)
    }

    /// Solves (I − A)·X = B for X by forward substitution (44), where A [n][n]
    /// is strictly lower triangular (its diagonal and upper triangle are never
    /// read) and B, X are [n][columns]:
    /// X[i] = B[i] + Σ_{j<i} A[i,j]·X[j], rows in increasing i, sum over j
    /// left to right. I − A is unit lower triangular, so this always succeeds.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    static func solveUnitLowerTriangular<T: Real & BinaryFloatingPoint>(
        strictlyLower A: [T], count n: Int, rhs B: [T], columns m: Int
    ) -> [T] {
        /// X [n][m]: the solution, row i final once rows 0..<i are.
        var X = [T](repeating: 0, count: n * m)
        // (44) forward substitution, row by row
        for i in 0..<n {
            for p in 0..<m {
                var acc: T = 0
                for j in 0..<i { acc += A[i * n + j] * X[j * m + p] }
                X[i * m + p] = B[i * m + p] + acc
            }
        }
        return X
    }
}
