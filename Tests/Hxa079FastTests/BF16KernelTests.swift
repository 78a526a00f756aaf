// BF16KernelTests: the bf16 engine's C kernels (include/hxa079_kernels.h) at
// every level this CPU runs (`bf16KernelLevels`: the products use vdpbf16ps
// at avx512bf16, the scalar twins below it):
// - `hxa_bf16_round` / `hxa_bf16_pack` equal Swift's `roundToBF16` bit for bit
//   on ties, NaN, ±inf, overflow, subnormals and zeros, lengths off the lanes;
// - `hxa_gemm_bf16` / `hxa_gemv_bf16` against the exact float64 sum of the
//   same bf16 products, within the worst-case bound of float summation
//   (Higham, *Accuracy and Stability*, (3.5): |ŝ − s| ≤ γ_K·Σ|a·w|, γ_K ≈ K·2⁻²⁴),
//   writing exactly the columns asked for, accumulating when asked, at row
//   and column strides that are not the widths, with k tiles (K > 2048) and
//   every register-block edge (M and N not multiples of 4, K of 32).

import Testing
import Hxa079
import CHxa079Kernels
import Hxa079TestSupport
@testable import Hxa079Fast

@Suite struct BF16KernelTests {
    /// Bit patterns that exercise the rounding: ties to even both ways, carries
    /// into the exponent, overflow to inf, NaNs, inf, subnormals, zeros, and
    /// seeded random floats of many magnitudes.
    static let patterns: [UInt32] = {
        var p: [UInt32] = [0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x3F80_8001, 0x3FFF_FFFF, 0x7F7F_FFFF, 0xFF7F_FFFF,
                           0x7F7F_8000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFF81_2345, 0x7FFF_FFFF,
                           0x0000_0001, 0x8000_8000, 0x0001_8000, 0x007F_FFFF, 0x0000_0000, 0x8000_0000]
        var rng = SeededRNG(seed: 5, label: "bf16 patterns")
        for _ in 0..<2000 { p.append(UInt32(truncatingIfNeeded: rng.int(below: 1 << 32))) }
        for _ in 0..<37 { p.append(Float(rng.normal() * 1e3).bitPattern) }   // an odd tail
        return p
    }()

    @Test(arguments: bf16KernelLevels)
    func roundingEqualsSwiftBitForBit(_ level: FastKernels.Level) throws {
        let x = BF16KernelTests.patterns.map { Float(bitPattern: $0) }
        let expected = x.map(roundToBF16)
        try FastKernels.withLevel(level) {
            var rounded = x
            rounded.withUnsafeMutableBufferPointer { hxa_bf16_round($0.baseAddress, $0.count) }
            var bits = [UInt16](repeating: 0xDEAD, count: x.count)
            x.withUnsafeBufferPointer { xp in bits.withUnsafeMutableBufferPointer { hxa_bf16_pack(xp.baseAddress, $0.baseAddress, xp.count) } }
            for i in x.indices {
                #expect(bits[i] == expected[i], "pack \(level) \(String(x[i].bitPattern, radix: 16))")
                #expect(rounded[i].bitPattern == UInt32(expected[i]) << 16, "round \(level) \(String(x[i].bitPattern, radix: 16))")
            }
        }
    }

    /// (M, N, K, n0, accumulate): register-block edges, a K tail, two k tiles, a column range.
    static let shapes: [(Int, Int, Int, Int, Bool)] = [
        (1, 5, 7, 0, false), (3, 4, 32, 0, false), (4, 4, 33, 0, true), (5, 9, 100, 2, false),
        (7, 18, 96, 0, true), (13, 37, 2100, 5, false), (8, 64, 4500, 16, true), (20, 40, 384, 0, false),
    ]

    @Test(arguments: bf16KernelLevels, shapes)
    func gemmMatchesTheExactSum(_ level: FastKernels.Level, _ shape: (Int, Int, Int, Int, Bool)) throws {
        let (M, N, K, n0, accumulate) = shape
        let lda = K + 3, ldw = K + 5, ldc = N + 2   // strides that are not the widths
        let a = normals(M * lda, seed: 21, std: 0.5).map(roundToBF16)
        let w = normals(N * ldw, seed: 22, std: 0.05).map(roundToBF16)
        let start = normals(M * ldc, seed: 23)
        let value = { (b: UInt16) in Double(Float(bitPattern: UInt32(b) << 16)) }
        try FastKernels.withLevel(level) {
            var c = start
            a.withUnsafeBufferPointer { ap in w.withUnsafeBufferPointer { wp in c.withUnsafeMutableBufferPointer { cp in
                hxa_gemm_bf16(ap.baseAddress, lda, wp.baseAddress, ldw, K, cp.baseAddress, ldc, M, n0, N, accumulate ? 1 : 0)
            }}}
            var worst = 0.0
            for m in 0..<M {
                for n in 0..<N {
                    let got = Double(c[m * ldc + n])
                    if n < n0 { #expect(got == Double(start[m * ldc + n]), "column \(n) < n0 written"); continue }
                    var s = accumulate ? Double(start[m * ldc + n]) : 0, mag = abs(s)
                    for k in 0..<K {
                        let p = value(a[m * lda + k]) * value(w[n * ldw + k])
                        s += p
                        mag += abs(p)
                    }
                    let bound = Double(K + 2) * 0x1p-24 * mag   // γ_{K+1} with slack for the add into C
                    worst = max(worst, abs(got - s) / max(bound, .leastNormalMagnitude))
                }
                for n in N..<ldc { #expect(c[m * ldc + n] == start[m * ldc + n], "padding column \(n) written") }
            }
            // the error as a share of the worst-case bound: measured ≤ 0.015 at every level (2026-12-04)
            _ = measured("bf16 gemm \(level) \(M)×\(N)×\(K) error / bound", worst)
            #expect(worst <= 1, "\(level) \(M)×\(N)×\(K): error \(worst) × the bound")
        }
    }

    @Test(arguments: bf16KernelLevels, [(1, 7), (37, 96), (130, 1000), (64, 2049)])
    func gemvMatchesTheExactSum(_ level: FastKernels.Level, _ shape: (Int, Int)) throws {
        let (R, K) = shape
        let ldw = K + 1
        let w = normals(R * ldw, seed: 31, std: 0.05).map(roundToBF16)
        let x = normals(K, seed: 32).map(roundToBF16)
        let value = { (b: UInt16) in Double(Float(bitPattern: UInt32(b) << 16)) }
        try FastKernels.withLevel(level) {
            var y = [Float](repeating: .nan, count: R + 1)
            w.withUnsafeBufferPointer { wp in x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                hxa_gemv_bf16(wp.baseAddress, ldw, K, xp.baseAddress, yp.baseAddress, 0, R)
            }}}
            #expect(y[R].isNaN, "row \(R) written")
            for r in 0..<R {
                var s = 0.0, mag = 0.0
                for k in 0..<K { let p = value(w[r * ldw + k]) * value(x[k]); s += p; mag += abs(p) }
                #expect(abs(Double(y[r]) - s) <= Double(K + 1) * 0x1p-24 * mag, "\(level) row \(r): \(y[r]) vs \(s)")
            }
        }
    }
}
