// Gemv: matrix–vector products for decode (T = 1), Float32 or Float64 weights.
//
// Contract: y = W·x (`gemvRows`) and y = x·W (`gemvCols`, W stored
// [rows][cols] and read row by row), the T = 1 twins of Hxa079Reference
// `Linear.apply` and `LowRank.down`/`up`, with reassociated sums (SIMD
// partial sums): row/column ranges of the C kernels `hxa_gemv_rows_f32`,
// `hxa_gemv_cols_f32` (`_f64` for Double; one row at a time, see gemv_body.h; at the level
// NativeKernels.swift selects). Policy for full-precision projections (`useOpenBLASGemv`,
// thresholds in weights for both element types; measured in Float32):
// - < 64 Ki weights (LoRA, small projections, attention over a short cache):
//   ours on the calling thread — OpenBLAS threads every sgemv above ~10k
//   elements and its wake-up/spin cost exceeds such a product here;
// - 64 Ki ..< 1 Mi weights (cache-resident; small preset): cblas_sgemv, whose
//   spinning threads hand off faster than a Dispatch wake-up (small f32
//   decode, interleaved A/B: 1013 tok/s vs 866 with ours);
// - ≥ 1 Mi weights (4 MiB, streamed from DRAM; every medium projection and
//   head): ours split over the cores, which streams faster than OpenBLAS
//   (medium f32 decode, interleaved A/B with huge pages: 42.5 tok/s median vs
//   39.8 with cblas_sgemv for these; 39.4 vs 31.0 in a busier minute).
// `gemvCols` (x·W, LoRA) and the bf16 GEMV split products of ≥ 64 Ki weights
// over the cores with Dispatch, dynamically (`gemvParts`).
// The streamed weight matrices are put on transparent huge pages when packed
// (`adviseHugePages`, Linux).

import CHxa079Kernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
/// Which GEMV a Float32 decode projection of `weights` uses: cblas_sgemv for
/// 64 Ki ..< 1 Mi weights, ours otherwise (policy above).
/// `HXA079_FAST_GEMV=openblas|own` forces one for every size (read once; for
/// the A/B figures in BENCHMARKS.md).
let gemvPolicy: String = {
    guard let v = getenv("HXA079_FAST_GEMV") else { return "auto" }
    return String(cString: v)
}()

@inline(__always) func useOpenBLASGemv(_ weights: Int) -> Bool {
    switch gemvPolicy {
    case "openblas": return true
    case "own": return false
    default: return weights >= gemvParallelThreshold && weights < ownStreamThreshold
    }
}

/// Weights from which a Float32 decode product runs on our GEMV again
/// (4 MiB: streamed from DRAM, where the one-row kernel streams faster).
let ownStreamThreshold = 1 << 20

/// Parts of a bf16 decode GEMV (dynamic, as `gemvParts`; a static one-block-
/// per-core split measured the same).
@inline(__always) func bf16Parts(_ weights: Int, rows: Int) -> Int {
    min(gemvParts(weights), max(rows / 4, 1))
}

/// Weights above which a GEMV is split over the cores.
let gemvParallelThreshold = 1 << 16

/// Number of parts a product of `weights` is split into: parts of at least
/// 32 Ki weights, at most 16, handed out dynamically by Dispatch so a core
/// that another process is using does not hold up the whole product.
@inline(__always) func gemvParts(_ weights: Int) -> Int {
    weights >= gemvParallelThreshold && workerCount > 1 ? min(16, max(2, weights >> 15)) : 1
}

/// Runs body(r0, r1) over `ways` row ranges covering 0..<R, split on
/// multiples of 4 rows, in parallel.
@inline(__always)
func forRowBlocks(_ R: Int, ways: Int, _ body: (Int, Int) -> Void) {
    parallelFor(ways) { part in
        body((R * part / ways) & ~3, part == ways - 1 ? R : (R * (part + 1) / ways) & ~3)
    }
}

/// y [rows] = W [rows][cols] (ldw) · x [cols].
func gemvRows<T: FastScalar>(_ w: UnsafePointer<T>, ldw: Int, rows R: Int, cols C: Int, x: UnsafePointer<T>,
                             y: UnsafeMutablePointer<T>) {
    let kernel = T.fastKernels.gemvRows
    forRowBlocks(R, ways: min(gemvParts(R * C), max(R / 4, 1))) { r0, r1 in
        kernel(w, ldw, C, x, y, r0, r1)
    }
}

/// y [cols] = x [rows] · W, W [rows][cols] (ldw): y = Σ_r x_r·W[r][:], big
/// products split over the cores by column blocks (no scratch: a decode step
/// allocates nothing; splitting by rows with partial sums measured the same).
func gemvCols<T: FastScalar>(_ w: UnsafePointer<T>, ldw: Int, rows R: Int, cols C: Int, x: UnsafePointer<T>,
                             y: UnsafeMutablePointer<T>) {
    let ways = min(gemvParts(R * C), max(C / 32, 1))
    parallelFor(ways) { part in
        let c0 = (C * part / ways) & ~15, c1 = part == ways - 1 ? C : (C * (part + 1) / ways) & ~15
        gemvColsRange(w, ldw: ldw, rows: R, x: x, y: y, c0: c0, c1: c1)
    }
}

/// y[c] = Σ_r x_r·W[r][c] for columns c0..<c1, on this thread.
@inline(__always)
func gemvColsRange<T: FastScalar>(_ w: UnsafePointer<T>, ldw: Int, rows R: Int, x: UnsafePointer<T>,
                                  y: UnsafeMutablePointer<T>, c0: Int, c1: Int) {
    T.fastKernels.gemvCols(w, ldw, R, x, y, c0, c1)
}

/// Whether big weight arrays are put on transparent huge pages
/// (`adviseHugePages`); `HXA079_FAST_HUGEPAGES=0` turns it off (A/B figures).
let hugePagesEnabled: Bool = {
    guard let v = getenv("HXA079_FAST_HUGEPAGES") else { return true }
    return String(cString: v) != "0"
}()

/// Asks Linux to back the 2 MiB-aligned middle of a weight array of `bytes`
/// bytes at `base` with transparent huge pages. `collapse` (for arrays whose
/// pages exist): MADV_COLLAPSE (Linux ≥ 6.1, synchronous: copies into huge pages, works
/// whatever the THP sysfs mode except `never`), else MADV_HUGEPAGE, which
/// makes the first touch of an untouched buffer fault in huge pages (and lets
/// khugepaged collapse it later). A hint only: contents never change, errors
/// are ignored, arrays under 4 MiB are left alone.
/// Why: a decode step streams every weight once; with 4 KiB pages every page
/// (one row of a 1024-wide Float32 matrix) costs a TLB miss, which in a VM is
/// a two-level page walk. Medium f32 decode, interleaved A/B on the 2-core VM
/// (own GEMV both sides): 30.8 → 35.0 tok/s median (HXA079_FAST_HUGEPAGES=0/1).
/// Cost: collapsing the arrays shared with the caller (medium: output, down,
/// head, ~320 MB) adds ~0.3–1 s to packing, about 2–4 s per GB, so packing
/// collapses only when the streamed matrices total ≤ `hugePageCollapseLimit`
/// (a real-size 2-layer slice, ~4.5 GB, took 19 s longer to run 8 tokens with
/// it); bigger models get the MADV_HUGEPAGE hint only. Fresh copies
/// (stacking) are advised before they are filled, which costs nothing.
func adviseHugePages(_ base: UnsafeRawPointer, bytes: Int, collapse: Bool) {
    #if os(Linux)
    let huge = 2 << 20
    guard hugePagesEnabled, bytes >= 2 * huge else { return }
    let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
    let end = (Int(bitPattern: base) + bytes) & ~(huge - 1)
    guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
    if !collapse || madvise(p, end - start, 25 /* MADV_COLLAPSE */) != 0 {
        _ = madvise(p, end - start, 14 /* MADV_HUGEPAGE */)
    }
    #endif
}

/// MADV_HUGEPAGE on the reserved, still untouched capacity of `a` (call right
/// after `reserveCapacity`, before appending).
func adviseHugePagesBeforeFill<T>(_ a: inout [T]) {
    let bytes = a.capacity * MemoryLayout<T>.stride
    a.withUnsafeMutableBufferPointer { if let b = $0.baseAddress { adviseHugePages(b, bytes: bytes, collapse: false) } }
}

/// Streamed weight bytes up to which packing collapses populated arrays into
/// huge pages synchronously (see `adviseHugePages`).
let hugePageCollapseLimit = 1 << 30

extension FastMatrix {
    /// `adviseHugePages` on the weights (every part of a group); `collapse`
    /// false: the MADV_HUGEPAGE hint only (no synchronous copy).
    func adviseHugePages(collapse: Bool) {
        switch storage {
        case .values(let w):
            w.withUnsafeBytes { if let b = $0.baseAddress { Hxa079Fast.adviseHugePages(b, bytes: $0.count, collapse: collapse) } }
        case .bf16(let w):
            w.withUnsafeBytes { if let b = $0.baseAddress { Hxa079Fast.adviseHugePages(b, bytes: $0.count, collapse: collapse) } }
        case .mapped: break   // file pages belong to the page cache
        case .group(let parts): for p in parts { p.adviseHugePages(collapse: collapse) }
        }
    }
}
