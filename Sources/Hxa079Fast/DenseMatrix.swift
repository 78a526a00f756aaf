// DenseMatrix: a weight matrix W [rows][cols] (PyTorch [out][in]) with an
// optional bias, stored in the element type T (Float or Double: `values`) or
// as bfloat16 bits, applied to T rows. `FastMatrix<T>` is the type;
// `DenseMatrix` is its Float32 name.
//
// Contract: `apply` computes Y [T][rows] = X [T][cols]·Wᵀ (+ b), the twin of
// Hxa079Reference `Linear.apply` / `applyRows` (reassociated sums, FMA inside
// OpenBLAS — allowed in the fast path only):
// - values, T = 1: cblas_sgemv/dgemv for matrices of 64 Ki ..< 1 Mi weights, our
//   GEMV otherwise (Gemv.swift: single-thread below 64 Ki, no thread wake-up
//   for tiny products; split over the cores from 1 Mi, streams DRAM faster);
//   T > 1: cblas_sgemm/dgemm.
// - bfloat16, T = 1: our own GEMV that widens each weight on the fly
//   (bits << 16; half the bytes per decode step; the C kernel
//   `hxa_gemv_rows_bf16`), rows split over the cores;
//   T > 1: blocks of rows widened into a scratch of T, then GEMM (Float
//   and Double alike).
// - bf16 engine (`apply(…, bf16Bits:)`, SPEC.md §4.7 storage model): X holds
//   bf16 values (the engine rounded it: a storage point), packed once into
//   bits, and Y = X·Wᵀ with float accumulation: at kernel level avx512bf16
//   vdpbf16ps on both operands in place (`hxa_gemm_bf16`, T > 1;
//   `hxa_gemv_bf16`, T = 1; isa_avx512bf16.c); below it the widening paths
//   above on the same bf16 values — the same products, exact, summed in
//   float in another order.
// - mapped: either of the two read in place from a memory-mapped model file
//   (streamed fast path, SPEC.md §2.8): the same kernels on the same bits as
//   the owned arrays, so results equal those of the model held in memory
//   with its bf16 matrices kept as bf16 (`keepBF16`) bit for bit.
// The bias is added after the product, as in the reference.

import CHxa079Kernels

/// The Float32 weight matrix (the name the f32 code and its tests use).
typealias DenseMatrix = FastMatrix<Float>

final class FastMatrix<T: FastScalar> {
    enum Storage {
        /// Weights in the element type (Float32 or Float64).
        case values([T])
        case bf16([UInt16])
        /// Weights in a memory-mapped file, read in place (values in T or bf16 bits).
        case mapped(MappedWeights<T>)
        /// Stacked matrices kept apart (`stacking` of big matrices): part p
        /// writes output columns [Σ rows of the parts before p, + its rows).
        case group([FastMatrix<T>])
    }

    let rows: Int
    let cols: Int
    let storage: Storage
    let bias: [T]?

    init(rows: Int, cols: Int, storage: Storage, bias: [T]?) {
        self.rows = rows
        self.cols = cols
        self.storage = storage
        self.bias = bias
    }

    var isBF16: Bool {
        switch storage {
        case .values: return false
        case .bf16: return true
        case .mapped(let m): return m.isBF16
        case .group(let parts): return parts.allSatisfy { $0.isBF16 }
        }
    }

    /// True when this matrix or one of its parts holds bf16 (its prefill needs
    /// the widening scratch).
    var containsBF16: Bool {
        switch storage {
        case .values: return false
        case .bf16: return true
        case .mapped(let m): return m.isBF16
        case .group(let parts): return parts.contains { $0.containsBF16 }
        }
    }

    /// True when this matrix or one of its parts is read in place from a mapped file.
    var containsMapped: Bool {
        switch storage {
        case .values, .bf16: return false
        case .mapped: return true
        case .group(let parts): return parts.contains { $0.containsMapped }
        }
    }

    /// The weights of a matrix that is not a group, owned or mapped alike.
    enum Weights {
        case values(UnsafePointer<T>)
        case bf16(UnsafePointer<UInt16>)
    }

    /// Calls `body` with the weights [rows][cols] (nil for a group or an empty array).
    func withWeights<R>(_ body: (Weights) -> R) -> R? {
        switch storage {
        case .values(let w): return w.withUnsafeBufferPointer { $0.baseAddress.map { body(.values($0)) } }
        case .bf16(let w): return w.withUnsafeBufferPointer { $0.baseAddress.map { body(.bf16($0)) } }
        case .mapped(let m):
            switch m.pointer {
            case .values(let p): return withExtendedLifetime(m.owner) { body(.values(p)) }
            case .bf16(let p): return withExtendedLifetime(m.owner) { body(.bf16(p)) }
            }
        case .group: return nil
        }
    }

    /// Above this many weight bytes `stacking` keeps the parts apart instead of
    /// copying them: a real-size layer's gate/up would otherwise add ~1 GB per
    /// layer while the caller still holds the originals, and products that big
    /// gain nothing from being one call.
    static var stackCopyLimit: Int { 64 << 20 }

    /// The matrices' rows stacked into one [Σ rows][cols] matrix, so products
    /// with the same input (r/k/v, q/k/v, MLP gate/up) run as ONE GEMM/GEMV:
    /// fewer, wider calls (OpenBLAS splits wider products better over the
    /// cores; a decode step wakes the second core fewer times). Storage stays
    /// bf16 when every part is bf16, else T (bf16 widens exactly); a
    /// bias exists when any part has one (zeros for the others). Each output
    /// element is the same dot product as before the stacking.
    static func stacking(_ stacked: [FastMatrix<T>], copyLimit: Int = stackCopyLimit) -> FastMatrix<T> {
        // a group among the parts contributes its own parts (so no case below sees a group)
        let parts = stacked.flatMap { m -> [FastMatrix<T>] in if case .group(let g) = m.storage { return g } else { return [m] } }
        let cols = parts[0].cols
        precondition(parts.allSatisfy { $0.cols == cols }, "stacked matrices need the same input width")
        let rows = parts.reduce(0) { $0 + $1.rows }
        if parts.reduce(0, { $0 + $1.weightBytes }) > copyLimit {
            return FastMatrix(rows: rows, cols: cols, storage: .group(parts), bias: nil)
        }
        let bias: [T]? = parts.contains { $0.bias != nil }
            ? parts.flatMap { $0.bias ?? [T](repeating: 0, count: $0.rows) } : nil
        // (owned or mapped parts alike: the copy is what the model held in memory gets)
        if parts.allSatisfy({ $0.isBF16 }) {
            var bits: [UInt16] = []
            bits.reserveCapacity(rows * cols)
            adviseHugePagesBeforeFill(&bits)   // Gemv.swift
            for p in parts {
                _ = p.withWeights { if case .bf16(let b) = $0 { bits.append(contentsOf: UnsafeBufferPointer(start: b, count: p.rows * p.cols)) } }
            }
            return FastMatrix(rows: rows, cols: cols, storage: .bf16(bits), bias: bias)
        }
        var w: [T] = []
        w.reserveCapacity(rows * cols)
        adviseHugePagesBeforeFill(&w)   // Gemv.swift
        for p in parts {
            let n = p.rows * p.cols
            _ = p.withWeights {   // (groups were flattened above)
                switch $0 {
                case .values(let x): w.append(contentsOf: UnsafeBufferPointer(start: x, count: n))
                case .bf16(let x): w.append(contentsOf: UnsafeBufferPointer(start: x, count: n).map { T(Float(bitPattern: UInt32($0) << 16)) })
                }
            }
        }
        return FastMatrix(rows: rows, cols: cols, storage: .values(w), bias: bias)
    }

    /// This matrix as a `.group` of consecutive blocks of `blockRows` rows
    /// (copies), or itself when it has at most that many rows: W_head is
    /// applied in blocks, in memory as when streamed (PackedModel), so both
    /// run the same products. Bias-free matrices only (the head has none).
    func rowBlocks(_ blockRows: Int) -> FastMatrix<T> {
        guard rows > blockRows, bias == nil else { return self }
        var parts: [FastMatrix<T>] = []
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + blockRows), range = (r0 * cols)..<(r1 * cols)
            switch storage {
            case .values(let w): parts.append(FastMatrix(rows: r1 - r0, cols: cols, storage: .values(Array(w[range])), bias: nil))
            case .bf16(let w): parts.append(FastMatrix(rows: r1 - r0, cols: cols, storage: .bf16(Array(w[range])), bias: nil))
            case .mapped(let m): parts.append(FastMatrix(rows: r1 - r0, cols: cols, storage: .mapped(m.advanced(by: range.lowerBound)), bias: nil))
            case .group: return self   // not built for the head
            }
            r0 = r1
        }
        return FastMatrix(rows: rows, cols: cols, storage: .group(parts), bias: nil)
    }

    /// Bytes of the weights (read once per decode step).
    var weightBytes: Int {
        switch storage {
        case .values: return rows * cols * MemoryLayout<T>.size
        case .bf16: return rows * cols * 2
        case .mapped(let m): return rows * cols * (m.isBF16 ? 2 : MemoryLayout<T>.size)
        case .group(let parts): return parts.reduce(0) { $0 + $1.weightBytes }
        }
    }

    /// Row `r` (widened to T) into dst [cols] (embedding lookups).
    func copyRow(_ r: Int, into dst: UnsafeMutablePointer<T>) {
        if case .group(let parts) = storage {
            var r0 = 0
            for p in parts {
                if r < r0 + p.rows { p.copyRow(r - r0, into: dst); return }
                r0 += p.rows
            }
            return
        }
        _ = withWeights {
            switch $0 {
            case .values(let base): dst.update(from: base + r * cols, count: cols)
            case .bf16(let base): widenBF16(base + r * cols, dst, cols)
            }
        }
    }

    /// Y [n][rows] (ldy) = X [n][cols] (ldx) · Wᵀ (+ b). `scratch` holds at
    /// least `scratchFloats(cols:)` elements (bf16 prefill only). `bf16Bits`
    /// (the bf16 engine: X holds bf16 values, W is bf16; scratch of n·cols):
    /// the bf16 products of `applyBF16` where the kernel level has them.
    func apply(_ x: UnsafePointer<T>, ldx: Int, count n: Int, into y: UnsafeMutablePointer<T>, ldy: Int,
               scratch: UnsafeMutablePointer<T>, bf16Bits: UnsafeMutablePointer<UInt16>? = nil) {
        guard n > 0, rows > 0 else { return }
        if let bits = bf16Bits, T.self == Float.self, isBF16, bf16DotProducts {
            packBF16(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), ldx: ldx, rows: n, cols: cols, into: bits, ldb: cols)
            applyBF16(bits, count: n, into: UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), ldy: ldy)
            return
        }
        if case .group(let parts) = storage {
            var r0 = 0
            for p in parts {
                p.apply(x, ldx: ldx, count: n, into: y + r0, ldy: ldy, scratch: scratch)
                r0 += p.rows
            }
        } else {
            _ = withWeights {
                switch $0 {
                case .values(let wb):
                    if n == 1 {
                        if useOpenBLASGemv(rows * cols) { Blas.gemv(rows: rows, cols: cols, w: wb, ldw: cols, x: x, y: y) }
                        else { gemvRows(wb, ldw: cols, rows: rows, cols: cols, x: x, y: y) }
                    } else {
                        Blas.gemmNT(m: n, n: rows, k: cols, a: x, lda: ldx, b: wb, ldb: cols, c: y, ldc: ldy)
                    }
                case .bf16(let wb):
                    if n == 1 {
                        bf16Gemv(wb, x: x, y: y)
                    } else {
                        let block = Self.blockRows(cols: cols)
                        var r0 = 0
                        while r0 < rows {
                            let rb = min(block, rows - r0)
                            widenBF16(wb + r0 * cols, scratch, rb * cols)
                            Blas.gemmNT(m: n, n: rb, k: cols, a: x, lda: ldx, b: scratch, ldb: cols, c: y + r0, ldc: ldy)
                            r0 += rb
                        }
                    }
                }
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { bp in
                guard let b = bp.baseAddress else { return }
                for t in 0..<n { addInPlace(y + t * ldy, b, rows) }
            }
        }
    }

    /// Y [n][rows] (ldy) = A·Wᵀ (+ b) for A [n][cols] bf16 bits (row stride
    /// cols) and this bf16 matrix (every part bf16): `gemmBF16` (BF16Products.swift).
    private func applyBF16(_ a: UnsafePointer<UInt16>, count n: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        if case .group(let parts) = storage {
            var r0 = 0
            for p in parts {
                p.applyBF16(a, count: n, into: y + r0, ldy: ldy)
                r0 += p.rows
            }
        } else {
            let R = rows, C = cols
            _ = withWeights {
                guard case .bf16(let wb) = $0 else { return }
                gemmBF16(a, lda: C, wb, ldw: C, k: C, y, ldc: ldy, m: n, n: R)
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { bp in
                guard let b = bp.baseAddress else { return }
                let bf = UnsafeRawPointer(b).assumingMemoryBound(to: Float.self)
                for t in 0..<n { addInPlace(y + t * ldy, bf, rows) }
            }
        }
    }

    /// Rows widened per block in bf16 prefill: about 1 Mi elements of scratch.
    static func blockRows(cols: Int) -> Int { max(16, ((1 << 20) / max(cols, 1)) & ~15) }
    static func scratchFloats(cols: Int) -> Int { blockRows(cols: cols) * cols }

    /// y = W·x for bf16 W (`hxa_gemv_rows_bf16`), rows split over the cores when big.
    private func bf16Gemv(_ w: UnsafePointer<UInt16>, x: UnsafePointer<T>, y: UnsafeMutablePointer<T>) {
        let R = rows, C = cols, kernel = T.fastKernels.gemvRowsBF16
        forRowBlocks(R, ways: bf16Parts(R * C, rows: R)) { r0, r1 in
            kernel(w, C, C, x, y, r0, r1)
        }
    }
}

/// A matrix's weights inside a memory-mapped model file (SPEC.md §2.8):
/// bf16 bits or values in T, aligned for their type; `owner` (the
/// SafeTensorsFile) keeps the mapping alive while the matrix lives.
struct MappedWeights<T: FastScalar> {
    enum Pointer {
        case values(UnsafePointer<T>)
        case bf16(UnsafePointer<UInt16>)
    }
    let pointer: Pointer
    let owner: AnyObject

    var isBF16: Bool { if case .bf16 = pointer { return true } else { return false } }

    /// The weights from element `n` on.
    func advanced(by n: Int) -> MappedWeights {
        switch pointer {
        case .values(let p): return MappedWeights(pointer: .values(p + n), owner: owner)
        case .bf16(let p): return MappedWeights(pointer: .bf16(p + n), owner: owner)
        }
    }
}

extension FastMatrix.Storage where T == Float {
    /// Float32 weights (the f32 spelling of `.values`).
    static func f32(_ w: [Float]) -> Self { .values(w) }
}

/// bf16 bits → Float for 16 lanes.
@inline(__always) func widen16(_ p: UnsafePointer<UInt16>, _ i: Int) -> SIMD16<Float> {
    let h = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt16>.self)
    return unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD16<Float>.self)
}

/// dst[0..<n] = T(bf16 src[0..<n]) (exact for Float and Double).
func widenBF16<T: FastScalar>(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<T>, _ n: Int) {
    var i = 0
    if T.self == Float.self {
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self)
        while i + 16 <= n { store16(d, i, widen16(src, i)); i += 16 }
    }
    while i < n { dst[i] = T(Float(bitPattern: UInt32(src[i]) << 16)); i += 1 }
}

/// Round-to-nearest-even Float → bf16 bits; NaN stays a (quiet) NaN.
@inline(__always) func roundToBF16(_ x: Float) -> UInt16 {
    let u = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (u >> 16) | 0x0040) }
    let rounding = UInt32(0x7FFF) &+ ((u >> 16) & 1)
    return UInt16(truncatingIfNeeded: (u &+ rounding) >> 16)
}

/// y[0..<n] += b[0..<n].
@inline(__always) func addInPlace<T: FastScalar>(_ y: UnsafeMutablePointer<T>, _ b: UnsafePointer<T>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(y, i, load16(y, i) + load16(b, i)); i += 16 }
    while i < n { y[i] = y[i] + b[i]; i += 1 }
}
