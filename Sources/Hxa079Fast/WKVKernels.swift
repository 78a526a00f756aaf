// WKVKernels: the WKV recurrence (SPEC.md (17)–(20)) and its chunked form
// (SPEC.md (40)–(48)) as SIMD kernels.
//
// Contract: the same function as Hxa079Reference `WKV.recurrent` /
// `WKV.chunked` — same inputs r, g (log decay), k̃, v, α, β laid out
// [T][H][K] / [T][H][V], same outputs o [T][H][V] (unscaled), and the public
// entry points keep the canonical state layout S [H][V][K] (row = value
// index i, column = key index j) in and out. Reassociation is allowed here:
//
// - Inside the kernels the state is TRANSPOSED, St [H][K][V]
//   (St[j][i] = S[i][j]): every update and read-out is then a loop over rows j
//   of a vector over the value index i, with no horizontal reductions
//   (`transposeState` converts at the boundary).
// - `stepCanonical` (T = 1, decode) works on the canonical layout directly,
//   one value row at a time with two dot products, so a decode step needs no
//   transposition of the whole state.
// - The chunked kernel follows (40)–(46) with the running-product form of the
//   relative decays: exp(G_{i+1} − G_{j+1}) = Π_{m=j+1..i} d_m for i ≥ j,
//   built by multiplying by one step's decay per row; no cumulative decay is
//   ever divided by and no upper-triangle term is formed. The other
//   exponentials (exp(G_s), exp(G_n − G_{s+1}), both ≤ 1) are evaluated with
//   `vexp` as in the reference.
// - SIMD16 over the value (or step) index, `*` and `+` only (no FMA in the
//   default x86-64 build), scalar tails when V is not a multiple of 16.
// - With the C kernels (nativeKernelLevel > 0) the chunked branch runs
//   `hxa_wkv_chunked_t` (CHxa079Kernels/wkv_chunked_body.h) instead: per chunk
//   all the decays are running products of d (exp(G_i), exp(G_n − G_j) and
//   the relative decays of (41)–(43a) alike, so (47) holds for any g ≤ 0
//   without an exp), the interaction matrices are formed with lanes over the
//   earlier step, and the state enters through two register-blocked FMA
//   products: [R; O] = [Ad; Qd]·S_0ᵀ, then the forward substitution (44) and
//   the rest of (45), then (46) S_n = S_0·diag(exp G_n) + Vcᵀ·Kt + Saᵀ·Bt.
//   Those products are over half of its time and run near the FMA peak;
//   the rest is the intra-chunk work and memory: the per-step inputs of a group
//   of heads are gathered once per chunk (a step row of one array is one
//   page at H·K = 1024, so reading it head by head costs a TLB miss per row)
//   and the next block is prefetched while one computes. The heads are
//   split into one contiguous run per core for that reason.
// - Heads are independent: `parallelFor` splits them over the cores when the
//   call is big enough to pay for waking a second thread.

import CHxa079Kernels
import Hxa079

// MARK: - Inputs

/// Pointers to the per-step inputs of one WKV call; element (t, h, j) of a
/// key-sized array is at (t·H + h)·K + j, of a value-sized array (t·H + h)·V + i.
struct WKVArgs {
    var steps: Int
    var heads: Int
    var keySize: Int
    var valueSize: Int
    /// r [T][H][K].
    var r: UnsafePointer<Float>
    /// g [T][H][K]: log decay (≤ 0).
    var logDecay: UnsafePointer<Float>
    /// d = exp(g) [T][H][K], precomputed by the caller.
    /// nil: not precomputed — only the C kernels accept that (they evaluate
    /// exp(g) as they go); see `precomputedDecay`.
    var decay: UnsafePointer<Float>?
    /// k̃ [T][H][K].
    var k: UnsafePointer<Float>
    /// v [T][H][V].
    var v: UnsafePointer<Float>
    /// α [T][H][K].
    var alpha: UnsafePointer<Float>
    /// β [T][H][K].
    var beta: UnsafePointer<Float>
    /// o [T][H][V], written.
    var out: UnsafeMutablePointer<Float>
}

extension WKVArgs {
    /// d [T][H][K]; the Swift kernels need it precomputed.
    var precomputedDecay: UnsafePointer<Float> {
        guard let decay else { preconditionFailure("WKV: the Swift kernels need the decay d = exp(g) precomputed") }
        return decay
    }

    /// True when the kernels `runWKV` picks compute d = exp(g) themselves
    /// (every C kernel does when `decay` is nil).
    static var kernelsComputeDecay: Bool { nativeKernelLevel > 0 }
}

/// Work (multiply-adds) above which a WKV call is split over the cores.
let wkvParallelThreshold = 1 << 18

// MARK: - Layout

/// Transposes every head's N×M block: dst[h][c][r] = src[h][r][c] for src [H][rows][cols].
func transposeState(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, heads: Int, rows: Int, cols: Int) {
    let block = 16
    for h in 0..<heads {
        let s = src + h * rows * cols, d = dst + h * rows * cols
        var r0 = 0
        while r0 < rows {
            let r1 = min(r0 + block, rows)
            var c0 = 0
            while c0 < cols {
                let c1 = min(c0 + block, cols)
                for r in r0..<r1 {
                    for c in c0..<c1 { d[c * rows + r] = s[r * cols + c] }
                }
                c0 = c1
            }
            r0 = r1
        }
    }
}

// MARK: - Recurrent, transposed state

/// Runs all T steps for heads h0..<h1 on the transposed state St [H][K][V].
///
/// Lane blocks of 8 value rows (SIMD8 = two SSE registers, so sa, v, o and
/// the new column stay in registers without spills on the baseline target);
/// the five per-key scalars of a step are splatted once into a table of
/// 4-wide vectors, so the inner loop loads them instead of shuffling.
func wkvRecurrentTransposed(_ a: WKVArgs, state st: UnsafeMutablePointer<Float>, heads h0: Int, _ h1: Int) {
    typealias F8 = SIMD8<Float>
    typealias F4 = SIMD4<Float>
    let H = a.heads, K = a.keySize, V = a.valueSize
    let vFull = V & ~7
    // splat table: per key j, 5 vectors of 4 lanes: α, d, β, k̃, r
    let table = UnsafeMutablePointer<F4>.allocate(capacity: 5 * max(K, 1))
    defer { table.deallocate() }
    @inline(__always) func l8(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> F8 { UnsafeRawPointer(p + i).loadUnaligned(as: F8.self) }
    @inline(__always) func l8c(_ p: UnsafePointer<Float>, _ i: Int) -> F8 { UnsafeRawPointer(p + i).loadUnaligned(as: F8.self) }
    @inline(__always) func s8(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ v: F8) { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: F8.self) }
    @inline(__always) func sp(_ i: Int) -> F8 { let q = table[i]; return F8(lowHalf: q, highHalf: q) }
    for t in 0..<a.steps {
        for h in h0..<h1 {
            let ko = (t * H + h) * K, vo = (t * H + h) * V
            let s = st + h * K * V
            let al = a.alpha + ko, be = a.beta + ko, de = a.precomputedDecay + ko, kk = a.k + ko, rr = a.r + ko
            let vv = a.v + vo, oo = a.out + vo
            for j in 0..<K {
                table[5 * j] = F4(repeating: al[j])
                table[5 * j + 1] = F4(repeating: de[j])
                table[5 * j + 2] = F4(repeating: be[j])
                table[5 * j + 3] = F4(repeating: kk[j])
                table[5 * j + 4] = F4(repeating: rr[j])
            }
            var i0 = 0
            while i0 < vFull {
                // (18) sa = S·α over this block of value rows, from the OLD state
                var sa0 = F8(), sa1 = F8()
                var j = 0
                while j &+ 1 < K {
                    sa0 = sa0 + l8(s, j &* V &+ i0) * sp(5 &* j)
                    sa1 = sa1 + l8(s, (j &+ 1) &* V &+ i0) * sp(5 &* j &+ 5)
                    j &+= 2
                }
                if j < K { sa0 = sa0 + l8(s, j &* V &+ i0) * sp(5 &* j) }
                let sa = sa0 + sa1
                let vb = l8c(vv, i0)
                // (19) S[:, j] = S[:, j]·d_j + sa·β_j + v·k̃_j ; (20) o += S_new[:, j]·r_j
                var ob = F8()
                for j in 0..<K {
                    let p = j &* V &+ i0, q = 5 &* j
                    let n = l8(s, p) * sp(q &+ 1) + sa * sp(q &+ 2) + vb * sp(q &+ 3)
                    s8(s, p, n)
                    ob = ob + n * sp(q &+ 4)
                }
                s8(oo, i0, ob)
                i0 &+= 8
            }
            // scalar tail rows (V not a multiple of 8)
            for i in vFull..<V {
                var sa: Float = 0
                for j in 0..<K { sa = sa + s[j * V + i] * al[j] }
                var o: Float = 0
                for j in 0..<K {
                    let n = s[j * V + i] * de[j] + sa * be[j] + vv[i] * kk[j]
                    s[j * V + i] = n
                    o = o + n * rr[j]
                }
                oo[i] = o
            }
        }
    }
}

// MARK: - One step, canonical state (decode)

/// One step (T = 1) for heads h0..<h1 on the canonical state S [H][V][K].
func wkvStepCanonical(_ a: WKVArgs, state st: UnsafeMutablePointer<Float>, heads h0: Int, _ h1: Int) {
    let K = a.keySize, V = a.valueSize
    let kFull = K & ~15
    for h in h0..<h1 {
        let ko = h * K, vo = h * V
        let s = st + h * V * K
        let al = a.alpha + ko, be = a.beta + ko, de = a.precomputedDecay + ko, kk = a.k + ko, rr = a.r + ko
        for i in 0..<V {
            let row = s + i * K
            // (18) sa_i = S[i,:]·α
            var acc = F16()
            var j = 0
            while j < kFull { acc = acc + load16(row, j) * load16(al, j); j &+= 16 }
            var sa = hsum(acc)
            for jj in kFull..<K { sa = sa + row[jj] * al[jj] }
            // (19) S[i,:] = S[i,:]⊙d + sa_i·β + v_i·k̃ ; (20) o_i = S_new[i,:]·r
            let vi = a.v[vo + i]
            let saV = splat(sa), viV = splat(vi)
            var oacc = F16()
            j = 0
            while j < kFull {
                let n = load16(row, j) * load16(de, j) + saV * load16(be, j) + viV * load16(kk, j)
                store16(row, j, n)
                oacc = oacc + n * load16(rr, j)
                j &+= 16
            }
            var o = hsum(oacc)
            for jj in kFull..<K {
                let n = row[jj] * de[jj] + sa * be[jj] + vi * kk[jj]
                row[jj] = n
                o = o + n * rr[jj]
            }
            a.out[vo + i] = o
        }
    }
}

// MARK: - Chunked, transposed state

/// Scratch of one worker for chunks of up to `maxChunk` steps.
final class ChunkScratch {
    let maxChunk: Int, keySize: Int, valueSize: Int
    /// Lanes over the steps of a chunk, rounded up to 16.
    let lanes: Int
    let buffer: UnsafeMutablePointer<Float>
    let count: Int
    // Views into `buffer`.
    let cum: UnsafeMutablePointer<Float>        // G_s [K] running
    let qd: UnsafeMutablePointer<Float>         // [n][K]
    let ad: UnsafeMutablePointer<Float>         // [n][K]
    let kt: UnsafeMutablePointer<Float>         // [n][K]
    let bt: UnsafeMutablePointer<Float>         // [n][K]
    let expIncl: UnsafeMutablePointer<Float>    // [n][K] exp(G_{s+1})
    let chunkDecay: UnsafeMutablePointer<Float> // [K]
    let kE: UnsafeMutablePointer<Float>         // [K][lanes]
    let bE: UnsafeMutablePointer<Float>         // [K][lanes]
    let aqk: UnsafeMutablePointer<Float>        // [n][lanes]
    let aqb: UnsafeMutablePointer<Float>        // [n][lanes]
    let aak: UnsafeMutablePointer<Float>        // [n][lanes]
    let aab: UnsafeMutablePointer<Float>        // [n][lanes]
    let sa: UnsafeMutablePointer<Float>         // [n][V]
    let suffix: UnsafeMutablePointer<Float>     // [K]

    init(maxChunk: Int, keySize K: Int, valueSize V: Int) {
        self.maxChunk = maxChunk
        self.keySize = K
        self.valueSize = V
        let lanes = (maxChunk + 15) & ~15
        self.lanes = lanes
        let n = maxChunk
        let sizes = [K, n * K, n * K, n * K, n * K, n * K, K, K * lanes, K * lanes,
                     n * lanes, n * lanes, n * lanes, n * lanes, n * V, K]
        // each view padded to 16 floats so SIMD tails never cross into the next
        let padded = sizes.map { ($0 + 31) & ~15 }
        count = padded.reduce(0, +)
        buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: 0, count: count)
        var views: [UnsafeMutablePointer<Float>] = []
        var off = 0
        for p in padded { views.append(buffer + off); off += p }
        cum = views[0]; qd = views[1]; ad = views[2]; kt = views[3]; bt = views[4]; expIncl = views[5]
        chunkDecay = views[6]; kE = views[7]; bE = views[8]
        aqk = views[9]; aqb = views[10]; aak = views[11]; aab = views[12]; sa = views[13]; suffix = views[14]
    }

    deinit { buffer.deallocate() }
}

/// Largest chunk the kernel runs; a larger L is run as chunks of this size
/// (the same function, only the rounding differs).
let maxKernelChunk = 128

/// Runs all T steps for heads h0..<h1 chunk by chunk on St [H][K][V].
func wkvChunkedTransposed(_ a: WKVArgs, chunkSize: Int, state st: UnsafeMutablePointer<Float>,
                          heads h0: Int, _ h1: Int, scratch w: ChunkScratch) {
    let H = a.heads, K = a.keySize, V = a.valueSize
    let L = min(max(chunkSize, 1), w.maxChunk)
    let lanes = w.lanes
    let vFull = V & ~15
    for h in h0..<h1 {
        let s = st + h * K * V
        var c0 = 0
        while c0 < a.steps {
            let n = min(L, a.steps - c0)
            @inline(__always) func key(_ i: Int) -> Int { ((c0 + i) * H + h) * K }
            @inline(__always) func val(_ i: Int) -> Int { ((c0 &+ i) &* H &+ h) &* V }

            // (40) G_{s+1} = G_s + g_s; exp(G_{s+1}) per step; Qd = r⊙exp(G_{s+1}), Ad = α⊙exp(G_s)
            for d in 0..<K { w.cum[d] = 0 }
            for i in 0..<n {
                let g = a.logDecay + key(i)
                let row = w.expIncl + i * K
                for d in 0..<K { w.cum[d] = w.cum[d] + g[d] }
                mapVector(w.cum, row, K) { vexp($0) }
                let r = a.r + key(i), al = a.alpha + key(i)
                for d in 0..<K {
                    w.qd[i * K + d] = r[d] * row[d]
                    w.ad[i * K + d] = al[d] * (i == 0 ? 1 : w.expIncl[(i - 1) * K + d])
                }
            }
            // (46) chunk decay exp(G_n); toEnd_s = exp(G_n − G_{s+1}) = exp(Σ_{m=s+1..n−1} g_m) ≤ 1,
            // the suffix sum accumulated from the end of the chunk; Kt = k̃⊙toEnd, Bt = β⊙toEnd.
            for d in 0..<K { w.chunkDecay[d] = w.expIncl[(n - 1) * K + d] }
            for d in 0..<K { w.suffix[d] = 0 }
            var i = n - 1
            while i >= 0 {
                let kk = a.k + key(i), be = a.beta + key(i)
                let ktRow = w.kt + i * K, btRow = w.bt + i * K
                mapVector(w.suffix, ktRow, K) { vexp($0) }
                for d in 0..<K {
                    let e = ktRow[d]
                    ktRow[d] = kk[d] * e
                    btRow[d] = be[d] * e
                }
                let g = a.logDecay + key(i)
                for d in 0..<K { w.suffix[d] = w.suffix[d] + g[d] }
                i -= 1
            }

            // (41)–(43) interaction matrices, lanes over the earlier step j, with the
            // relative decays E_{i,j} = Π_{m=j+1..i} d_m carried in kE = k̃_j⊙E, bE = β_j⊙E.
            for e in 0..<(K * lanes) { w.kE[e] = 0; w.bE[e] = 0 }
            for i in 0..<n {
                let gi = i / 16 + 1
                let al = a.alpha + key(i), de = a.precomputedDecay + key(i), r = a.r + key(i)
                for grp in 0..<gi {
                    var accK = F16(), accB = F16()
                    for d in 0..<K {
                        let p = d &* lanes &+ grp &* 16
                        let ke = load16(w.kE, p), bee = load16(w.bE, p)
                        let av = splat(al[d])
                        accK = accK + ke * av            // (43) A_ak[i][j], j < i, uses E_{i−1,j}
                        accB = accB + bee * av           // (43) A_ab[i][j]
                        let dv = splat(de[d])
                        store16(w.kE, p, ke * dv)        // E_{i,j} = E_{i−1,j}·d_i
                        store16(w.bE, p, bee * dv)
                    }
                    store16(w.aak, i * lanes + grp * 16, accK)
                    store16(w.aab, i * lanes + grp * 16, accB)
                }
                let kk = a.k + key(i), be = a.beta + key(i)
                for d in 0..<K {                         // E_{i,i} = 1
                    w.kE[d * lanes + i] = kk[d]
                    w.bE[d * lanes + i] = be[d]
                }
                for grp in 0..<gi {
                    var accK = F16(), accB = F16()
                    for d in 0..<K {
                        let p = d &* lanes &+ grp &* 16
                        let rv = splat(r[d])
                        accK = accK + load16(w.kE, p) * rv     // (41) A_qk[i][j], j ≤ i
                        accB = accB + load16(w.bE, p) * rv     // (42) A_qb[i][j]
                    }
                    store16(w.aqk, i * lanes + grp * 16, accK)
                    store16(w.aqb, i * lanes + grp * 16, accB)
                }
                // lanes above the diagonal must read as 0 (they are never formed)
                for j in (i + 1)..<(gi * 16) {
                    w.aqk[i * lanes + j] = 0; w.aqb[i * lanes + j] = 0
                }
                for j in i..<(gi * 16) {
                    w.aak[i * lanes + j] = 0; w.aab[i * lanes + j] = 0
                }
            }

            // (44) rhs_i = Ad_i·S_0ᵀ + Σ_{j<i} A_ak[i,j]·v_j ; (45) O_i = Qd_i·S_0ᵀ + …
            // both products read the OLD state; rows i and the read-out share its loads.
            var p0 = 0
            while p0 < vFull {
                var i2 = 0
                while i2 < n {
                    let two = i2 + 1 < n
                    var ra = F16(), rb = F16(), qa = F16(), qb = F16()
                    let adA = w.ad + i2 * K, qdA = w.qd + i2 * K
                    let adB = two ? adA + K : adA, qdB = two ? qdA + K : qdA
                    for d in 0..<K {
                        let sv = load16(s, d &* V &+ p0)
                        ra = ra + sv * splat(adA[d])
                        qa = qa + sv * splat(qdA[d])
                        rb = rb + sv * splat(adB[d])
                        qb = qb + sv * splat(qdB[d])
                    }
                    store16(w.sa, i2 * V + p0, ra)
                    store16(a.out, val(i2) + p0, qa)
                    if two {
                        store16(w.sa, (i2 + 1) * V + p0, rb)
                        store16(a.out, val(i2 + 1) + p0, qb)
                    }
                    i2 += 2
                }
                p0 += 16
            }
            for p in vFull..<V {
                for i in 0..<n {
                    var ra: Float = 0, qa: Float = 0
                    for d in 0..<K {
                        ra = ra + w.ad[i * K + d] * s[d * V + p]
                        qa = qa + w.qd[i * K + d] * s[d * V + p]
                    }
                    w.sa[i * V + p] = ra
                    a.out[val(i) + p] = qa
                }
            }
            // (44) Sa_i = rhs_i + Σ_{j<i} A_ab[i,j]·Sa_j  (forward substitution), with the
            // A_ak·V part of rhs added on the way; then (45) O_i += Σ_{j≤i} A_qk·v_j + A_qb·Sa_j.
            for i in 0..<n {
                let row = w.sa + i * V
                let aak = w.aak + i * lanes, aab = w.aab + i * lanes
                let aqk = w.aqk + i * lanes, aqb = w.aqb + i * lanes
                var p = 0
                while p < vFull {
                    var acc = load16(row, p)
                    for j in 0..<i {
                        acc = acc + splat(aak[j]) * load16(a.v, val(j) &+ p) + splat(aab[j]) * load16(w.sa, j &* V &+ p)
                    }
                    store16(row, p, acc)
                    var o = load16(a.out, val(i) + p)
                    for j in 0...i {
                        o = o + splat(aqk[j]) * load16(a.v, val(j) &+ p) + splat(aqb[j]) * load16(w.sa, j &* V &+ p)
                    }
                    store16(a.out, val(i) + p, o)
                    p += 16
                }
                for p in vFull..<V {
                    var acc = row[p]
                    for j in 0..<i { acc = acc + aak[j] * a.v[val(j) + p] + aab[j] * w.sa[j * V + p] }
                    row[p] = acc
                    var o = a.out[val(i) + p]
                    for j in 0...i { o = o + aqk[j] * a.v[val(j) + p] + aqb[j] * w.sa[j * V + p] }
                    a.out[val(i) + p] = o
                }
            }
            // (46) S_n = S_0·diag(exp(G_n)) + Vcᵀ·Kt + Saᵀ·Bt, i.e. St[d] = St[d]·e_d + Σ_j Kt[j][d]·v_j + Bt[j][d]·Sa_j
            var d0 = 0
            while d0 < K {
                let two = d0 + 1 < K
                let d1 = two ? d0 + 1 : d0
                var p = 0
                while p < vFull {
                    var x0 = load16(s, d0 * V + p) * splat(w.chunkDecay[d0])
                    var x1 = load16(s, d1 * V + p) * splat(w.chunkDecay[d1])
                    for j in 0..<n {
                        let vj = load16(a.v, val(j) &+ p), sj = load16(w.sa, j &* V &+ p)
                        x0 = x0 + vj * splat(w.kt[j &* K &+ d0]) + sj * splat(w.bt[j &* K &+ d0])
                        x1 = x1 + vj * splat(w.kt[j &* K &+ d1]) + sj * splat(w.bt[j &* K &+ d1])
                    }
                    store16(s, d0 * V + p, x0)
                    if two { store16(s, d1 * V + p, x1) }
                    p += 16
                }
                for p in vFull..<V {
                    for d in d0...d1 {
                        var x = s[d * V + p] * w.chunkDecay[d]
                        for j in 0..<n { x = x + a.v[val(j) + p] * w.kt[j * K + d] + w.sa[j * V + p] * w.bt[j * K + d] }
                        s[d * V + p] = x
                    }
                }
                d0 += 2
            }
            c0 += n
        }
    }
}

// MARK: - Driver

/// Reusable buffers of the WKV driver (one per model / per public call).
final class WKVWorkspace {
    private(set) var transposed: UnsafeMutablePointer<Float>? = nil
    private var transposedCount = 0
    private var chunkScratch: [ChunkScratch] = []

    /// Scratch of the C chunked kernel, one buffer per worker (pointer, floats).
    private var nativeScratch: [(UnsafeMutablePointer<Float>, Int)] = []

    deinit {
        transposed?.deallocate()
        for (p, _) in nativeScratch { p.deallocate() }
    }

    /// At least `floats` floats of scratch private to `worker`, for `hxa_wkv_chunked_t`.
    func nativeChunkScratch(worker: Int, floats: Int) -> UnsafeMutablePointer<Float> {
        while nativeScratch.count <= worker {
            nativeScratch.append((UnsafeMutablePointer<Float>.allocate(capacity: max(floats, 1)), max(floats, 1)))
        }
        if nativeScratch[worker].1 < floats {
            nativeScratch[worker].0.deallocate()
            nativeScratch[worker] = (UnsafeMutablePointer<Float>.allocate(capacity: floats), floats)
        }
        return nativeScratch[worker].0
    }

    func transposedState(count: Int) -> UnsafeMutablePointer<Float> {
        if let t = transposed, transposedCount >= count { return t }
        transposed?.deallocate()
        let t = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        transposed = t
        transposedCount = count
        return t
    }

    func scratch(worker: Int, maxChunk: Int, keySize: Int, valueSize: Int) -> ChunkScratch {
        while chunkScratch.count <= worker {
            chunkScratch.append(ChunkScratch(maxChunk: maxChunk, keySize: keySize, valueSize: valueSize))
        }
        let s = chunkScratch[worker]
        if s.maxChunk < maxChunk || s.keySize != keySize || s.valueSize != valueSize {
            let fresh = ChunkScratch(maxChunk: maxChunk, keySize: keySize, valueSize: valueSize)
            chunkScratch[worker] = fresh
            return fresh
        }
        return s
    }
}

/// Runs one WKV call on the canonical state S [H][V][K] (updated in place).
/// chunkSize 0 (or T = 1): the recurrence; L ≥ 1: the chunked form.
/// T = 1 runs on the canonical layout; otherwise the state is transposed in
/// and out around the transposed-layout kernels.
func runWKV(_ a: WKVArgs, state: UnsafeMutablePointer<Float>, chunkSize: Int, workspace ws: WKVWorkspace) {
    let H = a.heads, K = a.keySize, V = a.valueSize, T = a.steps
    guard T > 0, H > 0 else { return }
    let work = T * H * K * V
    // more parts than cores (dynamic hand-out), so a busy core does not hold up the call
    let ways = work >= wkvParallelThreshold && workerCount > 1 ? min(H, 4 * workerCount) : 1
    @inline(__always) func range(_ w: Int) -> (Int, Int) { (H * w / ways, H * (w + 1) / ways) }
    var ca = a.c
    if T == 1 {
        parallelFor(ways) { w in
            let (h0, h1) = range(w)
            if nativeKernelLevel > 0 { hxa_wkv_step_canonical(&ca, state, h0, h1) }
            else { wkvStepCanonical(a, state: state, heads: h0, h1) }
        }
        return
    }
    let st = ws.transposedState(count: H * K * V)
    transposeState(state, st, heads: H, rows: V, cols: K)
    if chunkSize <= 0 {
        parallelFor(ways) { w in
            let (h0, h1) = range(w)
            if nativeKernelLevel > 0 { hxa_wkv_recurrent_t(&ca, st, h0, h1) }
            else { wkvRecurrentTransposed(a, state: st, heads: h0, h1) }
        }
    } else {
        let L = min(chunkSize, maxKernelChunk, T)
        if nativeKernelLevel > 0 {
            // one contiguous run of heads per core: the kernel gathers each step's inputs for
            // a group of heads at once, so larger runs read memory in longer stretches
            let parts = ways > 1 ? min(H, workerCount) : 1
            let floats = Int(hxa_wkv_chunked_scratch_floats(L, K, V))
            let scratch = (0..<parts).map { ws.nativeChunkScratch(worker: $0, floats: floats) }
            parallelFor(parts) { w in
                hxa_wkv_chunked_t(&ca, L, st, H * w / parts, H * (w + 1) / parts, scratch[w])
            }
        } else {
            let scratch = (0..<ways).map { ws.scratch(worker: $0, maxChunk: L, keySize: K, valueSize: V) }
            parallelFor(ways) { w in
                let (h0, h1) = range(w)
                wkvChunkedTransposed(a, chunkSize: L, state: st, heads: h0, h1, scratch: scratch[w])
            }
        }
    }
    transposeState(st, state, heads: H, rows: K, cols: V)
}

/// The WKV op on arrays, for tests and benchmarks (the model calls `runWKV`
/// on its own buffers).
public enum FastWKV {
    /// Runs the WKV of `steps` steps (SPEC.md (17)–(20)); the twin of
    /// `WKV.recurrent` (chunkSize 0) and `WKV.chunked` (chunkSize L ≥ 1).
    ///
    /// - Parameters: r, logDecay (g = −exp(w) ≤ 0), k (k̃), alpha, beta [T][H][K]; v [T][H][V].
    ///   state: S [H][V][K], updated in place.
    /// - Returns: o [T][H][V], unscaled.
    /// - Throws: `Hxa079Error.invalidArgument` when an array has the wrong length.
    public static func run(steps T: Int, heads H: Int, keySize K: Int, valueSize V: Int,
                           r: [Float], logDecay: [Float], k: [Float], v: [Float], alpha: [Float], beta: [Float],
                           state: inout [Float], chunkSize: Int = 0) throws -> [Float] {
        guard T >= 0, H >= 0, K >= 0, V >= 0 else { throw Hxa079Error.invalidArgument("WKV: negative size") }
        let kn = T * H * K, vn = T * H * V
        for (name, arr, n) in [("r", r, kn), ("logDecay", logDecay, kn), ("k", k, kn), ("alpha", alpha, kn),
                               ("beta", beta, kn), ("v", v, vn), ("state", state, H * V * K)] where arr.count != n {
            throw Hxa079Error.invalidArgument("WKV: \(name) has \(arr.count) values, expected \(n)")
        }
        if chunkSize < 0 { throw Hxa079Error.invalidArgument("WKV: chunk size must be ≥ 0, got \(chunkSize)") }
        var out = [Float](repeating: .nan, count: vn)
        if vn == 0 { return out }
        // d = exp(g), unless the kernel evaluates it per step (C recurrence)
        let inline = WKVArgs.kernelsComputeDecay
        var decay = [Float](repeating: 0, count: inline ? 0 : kn)
        let ws = WKVWorkspace()
        r.withUnsafeBufferPointer { rp in logDecay.withUnsafeBufferPointer { gp in k.withUnsafeBufferPointer { kp in
        v.withUnsafeBufferPointer { vp in alpha.withUnsafeBufferPointer { ap in beta.withUnsafeBufferPointer { bp in
        decay.withUnsafeMutableBufferPointer { dp in out.withUnsafeMutableBufferPointer { op in
        state.withUnsafeMutableBufferPointer { sp in
            guard let rb = rp.baseAddress, let gb = gp.baseAddress, let kb = kp.baseAddress, let vb = vp.baseAddress,
                  let ab = ap.baseAddress, let bb = bp.baseAddress, let ob = op.baseAddress,
                  let sb = sp.baseAddress else { return }
            let db = inline ? nil : dp.baseAddress
            if let db {
                parallelRows(T, perRow: 4 * H * K) { t0, t1 in
                    mapVector(gb + t0 * H * K, db + t0 * H * K, (t1 - t0) * H * K) { vexp($0) }
                }
            }
            let args = WKVArgs(steps: T, heads: H, keySize: K, valueSize: V, r: rb, logDecay: gb, decay: db.map { UnsafePointer($0) },
                               k: kb, v: vb, alpha: ab, beta: bb, out: ob)
            runWKV(args, state: sb, chunkSize: chunkSize, workspace: ws)
        }}}}}}}}}
        return out
    }
}
