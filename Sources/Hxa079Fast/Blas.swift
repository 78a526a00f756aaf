// Blas: the few OpenBLAS calls of the fast path, and the 2-way parallel loop.
//
// Contract: thin row-major wrappers around cblas_sgemm / cblas_sgemv for
// Float and cblas_dgemm / cblas_dgemv for Double (`FastScalar`, Scalar.swift),
// which reassociate sums and use FMA internally — allowed in the fast path only.
// Shapes are in the doc comments; every leading dimension is explicit so
// strided column blocks (a slice of a fused LoRA output) need no copy.
//
// Threads: OpenBLAS runs its own pool (OPENBLAS_NUM_THREADS, default = all
// cores). Our own parallel sections (`parallelFor`) run on Dispatch's pool and
// never call OpenBLAS from inside, so the two pools never nest.

import COpenBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Blas {
    /// C [m][n] (ldc) = A [m][k] (lda) · Bᵀ, B [n][k] (ldb) + beta·C.
    @inline(__always)
    static func gemmNT<T: FastScalar>(m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                      c: UnsafeMutablePointer<T>, ldc: Int, beta: T = 0) {
        T.fastKernels.gemm(true, m, n, k, a, lda, b, ldb, c, ldc, beta)
    }

    /// C [m][n] (ldc) = A [m][k] (lda) · B, B [k][n] (ldb) + beta·C.
    @inline(__always)
    static func gemmNN<T: FastScalar>(m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                      c: UnsafeMutablePointer<T>, ldc: Int, beta: T = 0) {
        T.fastKernels.gemm(false, m, n, k, a, lda, b, ldb, c, ldc, beta)
    }

    /// y [rows] = W [rows][cols] (ldw) · x [cols] + beta·y.
    @inline(__always)
    static func gemv<T: FastScalar>(rows: Int, cols: Int, w: UnsafePointer<T>, ldw: Int, x: UnsafePointer<T>,
                                    y: UnsafeMutablePointer<T>, beta: T = 0) {
        T.fastKernels.gemv(false, rows, cols, w, ldw, x, y, beta)
    }

    /// y [cols] = Wᵀ·x for W [rows][cols] (ldw), x [rows]: y = x·W.
    @inline(__always)
    static func gemvT<T: FastScalar>(rows: Int, cols: Int, w: UnsafePointer<T>, ldw: Int, x: UnsafePointer<T>,
                                     y: UnsafeMutablePointer<T>, beta: T = 0) {
        T.fastKernels.gemv(true, rows, cols, w, ldw, x, y, beta)
    }
}

/// OpenBLAS facts for reports (bench, BENCHMARKS.md).
public enum BlasInfo {
    /// The kernel family OpenBLAS chose at run time (e.g. `Cooperlake`).
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }
    /// The build configuration string.
    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
    /// OpenBLAS's thread count.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
    /// C [n][n] = A·B with `cblas_sgemm` (Float) or `cblas_dgemm` (Double), for ceiling measurements.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func squareGemm<T: FastScalar>(_ a: [T], _ b: [T], n: Int, into c: inout [T]) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    guard let a = ap.baseAddress, let b = bp.baseAddress, let c = cp.baseAddress,
                          ap.count >= n * n, bp.count >= n * n, cp.count >= n * n else { return }
                    Blas.gemmNN(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
                }
            }
        }
    }
}

/// Number of workers for our own parallel sections: the machine's cores, at most 2
/// ways in practice here (the build machine has 2 vCPUs).
let workerCount: Int = {
    let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    return max(1, min(n, 8))
}()

/// Runs body(w) for w in 0..<ways, in parallel when ways > 1 and `parallel`.
@inline(__always)
func parallelFor(_ ways: Int, parallel: Bool = true, _ body: (Int) -> Void) {
    if ways <= 1 || !parallel {
        for w in 0..<max(ways, 0) { body(w) }
    } else {
        DispatchQueue.concurrentPerform(iterations: ways, execute: body)
    }
}

/// Elements (rows × values per row) above which a row-wise stage is split
/// over the cores: ≈ 16 Ki elements cost a few µs, the order of a Dispatch
/// wake-up. Decode steps (T = 1) always run on the calling thread.
let rowParallelThreshold = 1 << 14

/// Runs body(t0, t1) over contiguous row ranges covering 0..<T, one per core
/// when T·perRow ≥ `rowParallelThreshold`, else body(0, T) on this thread.
/// Row-wise stages (norms, RoPE, activations, softmax rows) have no
/// dependence between rows, so the split changes no result.
@inline(__always)
func parallelRows(_ T: Int, perRow: Int, _ body: (Int, Int) -> Void) {
    let ways = T >= 2 && T * perRow >= rowParallelThreshold ? min(workerCount, T) : 1
    if ways <= 1 { body(0, T); return }
    DispatchQueue.concurrentPerform(iterations: ways) { w in body(T * w / ways, T * (w + 1) / ways) }
}
