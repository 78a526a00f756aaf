// BF16Products: the bf16 engine's matrix products on bf16 operands with float
// accumulation (vdpbf16ps, `hxa_gemm_bf16` / `hxa_gemv_bf16`, isa_avx512bf16.c),
// used at kernel level avx512bf16 only (`bf16DotProducts`): the big matrices
// (DenseMatrix.swift `applyBF16`), the LoRA paths and causal attention of
// prefill. Below that level the bf16 engine runs the f32 engine's products
// (sgemm / our GEMV) on the same bf16 values: the same function, summed in
// another order.
//
// Why not OpenBLAS for the small products: OpenBLAS's pool threads spin
// (sched_yield) for about 2^28 cycles after each threaded call; our bf16
// products run on Dispatch's threads, and on 2 cores the two pools then
// take turns through the scheduler. Measured (medium, T = 512, bf16 engine
// with the LoRA and attention products still on sgemm): 735 tok/s, and 1048
// tok/s with the spin cut short (OPENBLAS_THREAD_TIMEOUT=4, which this
// process cannot set after OpenBLAS has started). So in the bf16 engine at
// this level no product goes through OpenBLAS.
//
// Contract (shapes row major, strides in elements):
// - `gemmBF16`: C [M][N] (ldc) (+)= A [M][K] · W [N][K]ᵀ, A and W bf16 bits.
// - `packBF16`: bits of X [rows][cols] (ldx), rounded to nearest even (exact
//   when X holds bf16 values: the engine's storage points).
// - `attentionBF16`: (28)–(30) for the T query rows of a call against the
//   cache rows 0..<P: scores q·kᵀ exactly as sgemm on the same bf16 values
//   (exact products, float sums); softmax in float; P·V with P carried as the
//   pair hi = bf16(P), lo = bf16(P − hi) (two products into one sum): P to 16
//   significant bits, |P − hi − lo| ≤ 2⁻¹⁷·|P|, against the 2⁻⁹ to which the
//   `attn` checkpoint is then rounded (the "bf16x2" split of oneDNN/cuBLAS).

import CHxa079Kernels
import Hxa079

/// True when the bf16 engine's products run on vdpbf16ps (kernel level avx512bf16).
var bf16DotProducts: Bool { FastKernels.level >= .avx512bf16 }

/// bits [rows][cols] (ldb) = the bf16 bits of X [rows][cols] (ldx); rows split over the cores when large.
func packBF16(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, cols: Int, into bits: UnsafeMutablePointer<UInt16>, ldb: Int) {
    parallelRows(rows, perRow: cols) { t0, t1 in
        for t in t0..<t1 { hxa_bf16_pack(x + t * ldx, bits + t * ldb, cols) }
    }
}

/// C [M][N] (ldc) = A [M][K] (lda) · W [N][K]ᵀ (ldw), or C + that with
/// `accumulate`: `hxa_gemv_bf16` split by rows for M = 1 (a GEMV never
/// accumulates here), else `hxa_gemm_bf16` split by output columns (blocks of
/// 16) into parts of ≥ 2^20 multiply-adds, at most 4 per core, handed out dynamically.
func gemmBF16(_ a: UnsafePointer<UInt16>, lda: Int, _ w: UnsafePointer<UInt16>, ldw: Int, k K: Int,
              _ c: UnsafeMutablePointer<Float>, ldc: Int, m M: Int, n N: Int, accumulate: Bool = false) {
    guard M > 0, N > 0 else { return }
    if M == 1 && !accumulate {
        forRowBlocks(N, ways: bf16Parts(N * K, rows: N)) { r0, r1 in hxa_gemv_bf16(w, ldw, K, a, c, r0, r1) }
        return
    }
    let ways = max(1, min(4 * workerCount, (M * N * K) >> 20, N / 16))
    parallelFor(ways) { part in
        let c0 = (N * part / ways) & ~15, c1 = part == ways - 1 ? N : (N * (part + 1) / ways) & ~15
        if c1 > c0 { hxa_gemm_bf16(a, lda, w, ldw, K, c, ldc, M, c0, c1, accumulate ? 1 : 0) }
    }
}

/// The bf16 bits of W [rows][cols] transposed: [cols][rows] (a LoRA matrix
/// stored [in][out] becomes the [out][in] rows the bf16 products read).
func transposedBF16Bits<T: FastScalar>(_ w: [T], rows: Int, cols: Int) -> [UInt16] {
    var out = [UInt16](repeating: 0, count: rows * cols)
    for r in 0..<rows {
        for c in 0..<cols { out[c * rows + r] = roundToBF16(Float(w[r * cols + c])) }
    }
    return out
}

/// (28)–(30) for one call of T > 1 query rows (see the contract above): q [T][H·N]
/// (bf16 values), the cache keys/values [P][Hkv·N] (bf16 values; the call's rows
/// are the last T), out o [T][H·N]; query row t sees cache rows ≤ P − T + t.
/// Blocks of `block` query rows; `scores` holds block·P floats.
func attentionBF16(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rows T: Int,
                   cached P: Int, heads H: Int, kvHeads Hkv: Int, headDim N: Int, block: Int,
                   scores: UnsafeMutablePointer<Float>, out o: UnsafeMutablePointer<Float>) {
    let HN = H * N, KN = Hkv * N, G = H / Hkv, P0 = P - T
    let scale = 1 / Float(N).squareRoot()
    let rowsPerBlock = min(T, block)
    var kBits = [UInt16](repeating: 0, count: P * N)       // K_g [P][N]
    var vT = [UInt16](repeating: 0, count: N * P)          // V_gᵀ [N][P]
    var qBits = [UInt16](repeating: 0, count: rowsPerBlock * N)
    var hi = [UInt16](repeating: 0, count: rowsPerBlock * P), lo = hi
    var rest = [Float](repeating: 0, count: rowsPerBlock * P)
    kBits.withUnsafeMutableBufferPointer { kb in vT.withUnsafeMutableBufferPointer { vb in
    qBits.withUnsafeMutableBufferPointer { qb in hi.withUnsafeMutableBufferPointer { hb in
    lo.withUnsafeMutableBufferPointer { lb in rest.withUnsafeMutableBufferPointer { rb in
        guard let kBits = kb.baseAddress, let vT = vb.baseAddress, let qBits = qb.baseAddress,
              let hi = hb.baseAddress, let lo = lb.baseAddress, let rest = rb.baseAddress else { return }
        for g in 0..<Hkv {
            packBF16(keys + g * N, ldx: KN, rows: P, cols: N, into: kBits, ldb: N)
            parallelRows(N, perRow: P) { n0, n1 in
                for n in n0..<n1 {
                    for p in 0..<P { vT[n * P + p] = roundToBF16(values[p * KN + g * N + n]) }
                }
            }
            for h in (g * G)..<((g + 1) * G) {
                var b0 = 0
                while b0 < T {
                    let b1 = min(b0 + block, T), Pb = P0 + b1, R = b1 - b0
                    // (28) scores [R][Pb] (row stride P) = q_block · K[0..<Pb]ᵀ
                    packBF16(q + b0 * HN + h * N, ldx: HN, rows: R, cols: N, into: qBits, ldb: N)
                    gemmBF16(qBits, lda: N, kBits, ldw: N, k: N, scores, ldc: P, m: R, n: Pb)
                    // (29)–(30) softmax per row in float; then P split into hi + lo bf16
                    parallelRows(R, perRow: 4 * Pb) { r0, r1 in
                        for r in r0..<r1 {
                            let row = scores + r * P
                            hxa_softmax_row(row, P0 + b0 + r + 1, Pb, scale)
                            hxa_bf16_pack(row, hi + r * Pb, Pb)
                            for p in 0..<Pb { rest[r * Pb + p] = row[p] - Float(bitPattern: UInt32(hi[r * Pb + p]) << 16) }
                            hxa_bf16_pack(rest + r * Pb, lo + r * Pb, Pb)
                        }
                    }
                    // (30) o_block = hi·V + lo·V, V read as its transpose [N][Pb] (row stride P)
                    gemmBF16(hi, lda: Pb, vT, ldw: P, k: Pb, o + b0 * HN + h * N, ldc: HN, m: R, n: N)
                    gemmBF16(lo, lda: Pb, vT, ldw: P, k: Pb, o + b0 * HN + h * N, ldc: HN, m: R, n: N, accumulate: true)
                    b0 = b1
                }
            }
        }
    }}}}}}
}
