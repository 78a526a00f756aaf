// Scalar: the element types of the fast path — Float (f32) and Double (f64) —
// and, for each, the entry points the generic Swift code calls: OpenBLAS
// (cblas_sgemm/sgemv or cblas_dgemm/dgemv) and the C kernels (the float
// entry points of include/hxa079_kernels.h or their `_f64` twins, one C body
// each, compiled for both element types).
//
// Contract: every Swift function of the fast path is written once, generic
// over `T: FastScalar`, and reaches BLAS and the C kernels only through
// `T.fastKernels`; the public entry points carry `@_specialize` for Float and
// Double so their callers (other modules) run code specialized for the
// element type (an unspecialized SIMD loop is ~100× slower). Only Float and
// Double conform: `FastKernelTable` has no public initializer.

import CHxa079Kernels
import COpenBLAS

/// An element type of the fast engine: `Float` (the f32 path) or `Double` (the f64 path).
public protocol FastScalar: BinaryFloatingPoint, SIMDScalar, Codable {
    /// The BLAS and C-kernel entry points for this type (opaque; Float and Double only).
    static var fastKernels: FastKernelTable<Self> { get }
}

/// The BLAS calls and C kernels of one element type (see `FastScalar`).
/// Pointer shapes and contracts: Blas.swift and include/hxa079_kernels.h.
public struct FastKernelTable<T>: Sendable {
    typealias P = UnsafePointer<T>
    typealias M = UnsafeMutablePointer<T>
    /// Row-major GEMM: C [m][n] (ldc) = A [m][k] (lda) · (B [n][k] ᵀ when transB, else B [k][n]) (ldb) + beta·C.
    let gemm: @Sendable (_ transB: Bool, _ m: Int, _ n: Int, _ k: Int, P, _ lda: Int, P, _ ldb: Int, M, _ ldc: Int, _ beta: T) -> Void
    /// Row-major GEMV: y = W·x (trans false) or y = Wᵀ·x, W [rows][cols] (ldw) + beta·y.
    let gemv: @Sendable (_ trans: Bool, _ rows: Int, _ cols: Int, P, _ ldw: Int, P, M, _ beta: T) -> Void
    let unary: @Sendable (hxa_unary_op, P, M, Int) -> Void
    let wkvRecurrentT: @Sendable (WKVArgs<T>, M, Int, Int) -> Void
    let wkvStepCanonical: @Sendable (WKVArgs<T>, M, Int, Int) -> Void
    /// Elements of scratch for chunks of up to L steps (L, K, V).
    let wkvChunkedScratch: @Sendable (Int, Int, Int) -> Int
    let wkvChunkedT: @Sendable (WKVArgs<T>, Int, M, Int, Int, M) -> Void
    let gemvRows: @Sendable (P, Int, Int, P, M, Int, Int) -> Void
    let gemvRowsBF16: @Sendable (UnsafePointer<UInt16>, Int, Int, P, M, Int, Int) -> Void
    let gemvCols: @Sendable (P, Int, Int, P, M, Int, Int) -> Void
    let siluMul: @Sendable (P, P, M, Int) -> Void
    let softmaxRow: @Sendable (M, Int, Int, T) -> Void
    let decayIclrRow: @Sendable (P, P, M, M, Int) -> Void
    let wkvInputs: @Sendable (P, P, P, T, M, M, M, M, M, M, Int) -> Void
    let residualMix: @Sendable (P, P, P, P, M, Int) -> Void
}

@inline(__always) private func blasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: FastScalar {
    public static var fastKernels: FastKernelTable<Float> { floatKernels }
}

extension Double: FastScalar {
    public static var fastKernels: FastKernelTable<Double> { doubleKernels }
}

private let floatKernels = FastKernelTable<Float>(
    gemm: { tb, m, n, k, a, lda, b, ldb, c, ldc, beta in
        cblas_sgemm(CblasRowMajor, CblasNoTrans, blasTrans(tb), blasint(m), blasint(n), blasint(k),
                    1, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    },
    gemv: { t, rows, cols, w, ldw, x, y, beta in
        cblas_sgemv(CblasRowMajor, blasTrans(t), blasint(rows), blasint(cols), 1, w, blasint(ldw), x, 1, beta, y, 1)
    },
    unary: { op, x, y, n in hxa_unary(op, x, y, n) },
    wkvRecurrentT: { a, st, h0, h1 in var c = a.c; hxa_wkv_recurrent_t(&c, st, h0, h1) },
    wkvStepCanonical: { a, s, h0, h1 in var c = a.c; hxa_wkv_step_canonical(&c, s, h0, h1) },
    wkvChunkedScratch: { l, k, v in hxa_wkv_chunked_scratch_floats(l, k, v) },
    wkvChunkedT: { a, l, st, h0, h1, scratch in var c = a.c; hxa_wkv_chunked_t(&c, l, st, h0, h1, scratch) },
    gemvRows: { w, ldw, cols, x, y, r0, r1 in hxa_gemv_rows_f32(w, ldw, cols, x, y, r0, r1) },
    gemvRowsBF16: { w, ldw, cols, x, y, r0, r1 in hxa_gemv_rows_bf16(w, ldw, cols, x, y, r0, r1) },
    gemvCols: { w, ldw, rows, x, y, c0, c1 in hxa_gemv_cols_f32(w, ldw, rows, x, y, c0, c1) },
    siluMul: { g, u, y, n in hxa_silu_mul(g, u, y, n) },
    softmaxRow: { row, valid, total, scale in hxa_softmax_row(row, valid, total, scale) },
    decayIclrRow: { w0, a0, w, a, n in hxa_decay_iclr_row(w0, a0, w, a, n) },
    wkvInputs: { k, w, a, norm, kk, ks, g, d, al, be, n in hxa_wkv_inputs(k, w, a, norm, kk, ks, g, d, al, be, n) },
    residualMix: { raw, first, z, bias, out, n in hxa_residual_mix(raw, first, z, bias, out, n) })

private let doubleKernels = FastKernelTable<Double>(
    gemm: { tb, m, n, k, a, lda, b, ldb, c, ldc, beta in
        cblas_dgemm(CblasRowMajor, CblasNoTrans, blasTrans(tb), blasint(m), blasint(n), blasint(k),
                    1, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    },
    gemv: { t, rows, cols, w, ldw, x, y, beta in
        cblas_dgemv(CblasRowMajor, blasTrans(t), blasint(rows), blasint(cols), 1, w, blasint(ldw), x, 1, beta, y, 1)
    },
    unary: { op, x, y, n in hxa_unary_f64(op, x, y, n) },
    wkvRecurrentT: { a, st, h0, h1 in var c = a.c64; hxa_wkv_recurrent_t_f64(&c, st, h0, h1) },
    wkvStepCanonical: { a, s, h0, h1 in var c = a.c64; hxa_wkv_step_canonical_f64(&c, s, h0, h1) },
    wkvChunkedScratch: { l, k, v in hxa_wkv_chunked_scratch_f64(l, k, v) },
    wkvChunkedT: { a, l, st, h0, h1, scratch in var c = a.c64; hxa_wkv_chunked_t_f64(&c, l, st, h0, h1, scratch) },
    gemvRows: { w, ldw, cols, x, y, r0, r1 in hxa_gemv_rows_f64(w, ldw, cols, x, y, r0, r1) },
    gemvRowsBF16: { w, ldw, cols, x, y, r0, r1 in hxa_gemv_rows_bf16_f64(w, ldw, cols, x, y, r0, r1) },
    gemvCols: { w, ldw, rows, x, y, c0, c1 in hxa_gemv_cols_f64(w, ldw, rows, x, y, c0, c1) },
    siluMul: { g, u, y, n in hxa_silu_mul_f64(g, u, y, n) },
    softmaxRow: { row, valid, total, scale in hxa_softmax_row_f64(row, valid, total, scale) },
    decayIclrRow: { w0, a0, w, a, n in hxa_decay_iclr_row_f64(w0, a0, w, a, n) },
    wkvInputs: { k, w, a, norm, kk, ks, g, d, al, be, n in hxa_wkv_inputs_f64(k, w, a, norm, kk, ks, g, d, al, be, n) },
    residualMix: { raw, first, z, bias, out, n in hxa_residual_mix_f64(raw, first, z, bias, out, n) })

extension WKVArgs where T == Float {
    /// The same pointers as the C struct.
    var c: hxa_wkv_args {
        hxa_wkv_args(steps: steps, heads: heads, key_size: keySize, value_size: valueSize, r: r,
                     log_decay: logDecay, decay: decay, k: k, v: v, alpha: alpha, beta: beta, out: out)
    }
}

extension WKVArgs where T == Double {
    /// The same pointers as the C struct.
    var c64: hxa_wkv_args_f64 {
        hxa_wkv_args_f64(steps: steps, heads: heads, key_size: keySize, value_size: valueSize, r: r,
                         log_decay: logDecay, decay: decay, k: k, v: v, alpha: alpha, beta: beta, out: out)
    }
}
