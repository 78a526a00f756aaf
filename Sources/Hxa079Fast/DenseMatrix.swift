// DenseMatrix: a weight matrix W [rows][cols] (PyTorch [out][in]) with an
// optional bias, stored as Float32 or as bfloat16 bits, applied to T rows.
//
// Contract: `apply` computes Y [T][rows] = X [T][cols]·Wᵀ (+ b), the twin of
// Hxa079Reference `Linear.apply` / `applyRows` (reassociated sums, FMA inside
// OpenBLAS — allowed in the fast path only):
// - Float32, T = 1: our SIMD GEMV (Gemv.swift: OpenBLAS's threaded sgemv costs
//   more than it saves on the many small products of a decode step); T > 1:
//   cblas_sgemm.
// - bfloat16, T = 1: our own SIMD gemv that widens each weight on the fly
//   (bits << 16; half the bytes per decode step), rows split over the cores;
//   T > 1: blocks of rows widened into a Float32 scratch, then cblas_sgemm.
// The bias is added after the product, as in the reference.

final class DenseMatrix {
    enum Storage {
        case f32([Float])
        case bf16([UInt16])
    }

    let rows: Int
    let cols: Int
    let storage: Storage
    let bias: [Float]?

    init(rows: Int, cols: Int, storage: Storage, bias: [Float]?) {
        self.rows = rows
        self.cols = cols
        self.storage = storage
        self.bias = bias
    }

    var isBF16: Bool { if case .bf16 = storage { return true } else { return false } }

    /// Bytes of the weights (read once per decode step).
    var weightBytes: Int { rows * cols * (isBF16 ? 2 : 4) }

    /// Row `r` widened to Float into dst [cols] (embedding lookups).
    func copyRow(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f32(let w):
            w.withUnsafeBufferPointer { wp in
                guard let base = wp.baseAddress else { return }
                dst.update(from: base + r * cols, count: cols)
            }
        case .bf16(let w):
            w.withUnsafeBufferPointer { wp in
                guard let base = wp.baseAddress else { return }
                widenBF16(base + r * cols, dst, cols)
            }
        }
    }

    /// Y [T][rows] (ldy) = X [T][cols] (ldx) · Wᵀ (+ b). `scratch` holds at
    /// least `DenseMatrix.scratchFloats(cols:)` floats (bf16 prefill only).
    func apply(_ x: UnsafePointer<Float>, ldx: Int, count T: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
               scratch: UnsafeMutablePointer<Float>) {
        guard T > 0, rows > 0 else { return }
        switch storage {
        case .f32(let w):
            w.withUnsafeBufferPointer { wp in
                guard let wb = wp.baseAddress else { return }
                if T == 1 {
                    gemvRows(wb, ldw: cols, rows: rows, cols: cols, x: x, y: y)
                } else {
                    Blas.gemmNT(m: T, n: rows, k: cols, a: x, lda: ldx, b: wb, ldb: cols, c: y, ldc: ldy)
                }
            }
        case .bf16(let w):
            w.withUnsafeBufferPointer { wp in
                guard let wb = wp.baseAddress else { return }
                if T == 1 {
                    bf16Gemv(wb, x: x, y: y)
                } else {
                    let block = DenseMatrix.blockRows(cols: cols)
                    var r0 = 0
                    while r0 < rows {
                        let rb = min(block, rows - r0)
                        widenBF16(wb + r0 * cols, scratch, rb * cols)
                        Blas.gemmNT(m: T, n: rb, k: cols, a: x, lda: ldx, b: scratch, ldb: cols, c: y + r0, ldc: ldy)
                        r0 += rb
                    }
                }
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { bp in
                guard let b = bp.baseAddress else { return }
                for t in 0..<T { addInPlace(y + t * ldy, b, rows) }
            }
        }
    }

    /// Rows widened per block in bf16 prefill: about 1 Mi floats (4 MiB) of scratch.
    static func blockRows(cols: Int) -> Int { max(16, ((1 << 20) / max(cols, 1)) & ~15) }
    static func scratchFloats(cols: Int) -> Int { blockRows(cols: cols) * cols }

    /// y = W·x for bf16 W, two rows at a time, rows split over the cores when big.
    private func bf16Gemv(_ w: UnsafePointer<UInt16>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let R = rows, C = cols
        let ways = R * C >= 1 << 20 ? workerCount : 1
        parallelFor(ways) { part in
            let r0 = R * part / ways, r1 = R * (part + 1) / ways
            var r = r0
            while r + 1 < r1 {
                let (a, b) = dotBF16Pair(w + r * C, w + (r + 1) * C, x, C)
                y[r] = a
                y[r + 1] = b
                r += 2
            }
            if r < r1 { y[r] = dotBF16Pair(w + r * C, w + r * C, x, C).0 }
        }
    }
}

/// bf16 bits → Float for 16 lanes.
@inline(__always) func widen16(_ p: UnsafePointer<UInt16>, _ i: Int) -> F16 {
    let h = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt16>.self)
    return unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16, to: F16.self)
}

/// dst[0..<n] = Float(bf16 src[0..<n]).
func widenBF16(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(dst, i, widen16(src, i)); i += 16 }
    while i < n { dst[i] = Float(bitPattern: UInt32(src[i]) << 16); i += 1 }
}

/// (a·x, b·x) for two bf16 rows a, b of length n.
@inline(__always)
func dotBF16Pair(_ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, _ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
    var acc0 = F16(), acc1 = F16(), acc2 = F16(), acc3 = F16()
    var i = 0
    while i + 32 <= n {
        let x0 = load16(x, i), x1 = load16(x, i + 16)
        acc0 = acc0 + widen16(a, i) * x0
        acc1 = acc1 + widen16(b, i) * x0
        acc2 = acc2 + widen16(a, i + 16) * x1
        acc3 = acc3 + widen16(b, i + 16) * x1
        i += 32
    }
    var sa = hsum(acc0 + acc2), sb = hsum(acc1 + acc3)
    while i < n {
        sa = sa + Float(bitPattern: UInt32(a[i]) << 16) * x[i]
        sb = sb + Float(bitPattern: UInt32(b[i]) << 16) * x[i]
        i += 1
    }
    return (sa, sb)
}

/// Round-to-nearest-even Float → bf16 bits; NaN stays a (quiet) NaN.
@inline(__always) func roundToBF16(_ x: Float) -> UInt16 {
    let u = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (u >> 16) | 0x0040) }
    let rounding = UInt32(0x7FFF) &+ ((u >> 16) & 1)
    return UInt16(truncatingIfNeeded: (u &+ rounding) >> 16)
}

/// y[0..<n] += b[0..<n].
@inline(__always) func addInPlace(_ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(y, i, load16(y, i) + load16(b, i)); i += 16 }
    while i < n { y[i] = y[i] + b[i]; i += 1 }
}
