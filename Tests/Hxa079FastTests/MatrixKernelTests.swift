// MatrixKernelTests: the fast matrix products against the reference —
// DenseMatrix.apply (own GEMV at T = 1, Float32 and bf16; OpenBLAS GEMM
// above), the LoRA column GEMV, the SwiGLU MLP and stacked matrices — at
// every kernel level.

import Testing
#if canImport(Glibc)
import Glibc
#endif
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
import RealModule
@testable import Hxa079Fast

@Suite struct MatrixKernelTests {
    static func linear(out: Int, in inF: Int, bias: Bool, seed: UInt64) -> Linear<Float> {
        Linear(outFeatures: out, inFeatures: inF, weight: normals(out * inF, seed: seed, std: 1 / Double(inF).squareRoot()),
               bias: bias ? normals(out, seed: seed + 1, std: 0.05) : nil)
    }

    /// Runs DenseMatrix.apply on T rows into a poisoned buffer.
    static func run(_ m: DenseMatrix, _ x: [Float], rows T: Int) -> [Float] {
        let y = poisoned(T * m.rows), scratch = poisoned(DenseMatrix.scratchFloats(cols: m.cols))
        defer { y.deallocate(); scratch.deallocate() }
        x.withUnsafeBufferPointer { xp in
            if let xb = xp.baseAddress { m.apply(xb, ldx: m.cols, count: T, into: y, ldy: m.rows, scratch: scratch) }
        }
        return Array(UnsafeBufferPointer(start: y, count: T * m.rows))
    }

    @Test(arguments: kernelLevels, [(1, 704, 256, true), (6, 256, 704, false), (1, 37, 45, true), (9, 45, 37, true), (1, 2048, 600, false)])
    func linearMatchesReference(_ level: FastKernels.Level, _ shape: (Int, Int, Int, Bool)) throws {
        let (T, out, inF, bias) = shape
        let l = MatrixKernelTests.linear(out: out, in: inF, bias: bias, seed: 6)
        let x = normals(T * inF, seed: 7)
        let ld = l.converted(to: Double.self)
        let ref = ld.applyRows(x.map { Double($0) }, rows: T)
        for bf16 in [false, true] {
            let storage: DenseMatrix.Storage = bf16 ? .bf16(l.weight.map(roundToBF16)) : .f32(l.weight)
            let m = DenseMatrix(rows: out, cols: inF, storage: storage, bias: l.bias)
            let y = try FastKernels.withLevel(level) { MatrixKernelTests.run(m, x, rows: T) }
            let r: [Double]
            if bf16 {
                var lb = ld
                lb.weight = l.weight.map { Double(Float(bitPattern: UInt32(roundToBF16($0)) << 16)) }
                r = lb.applyRows(x.map { Double($0) }, rows: T)
            } else { r = ref }
            let e = measured("linear \(level) T \(T) \(out)×\(inF) bf16 \(bf16)", maxRelativeError(r, y))
            #expect(e < 2e-6, "bf16 \(bf16): \(e)")   // measured ≤ 5.1e-7; bound 2e-6
        }
    }

    @Test(arguments: kernelLevels, [(256, 32, 256), (96, 160, 40), (6144, 8, 70)])
    func lowRankColumnsMatchReference(_ level: FastKernels.Level, _ shape: (Int, Int, Int)) throws {
        let (inF, rank, out) = shape
        // gemvCols computes x·W1 (down) and u·W2 (up), the T = 1 LoRA products.
        let lr = LowRank(inFeatures: inF, rank: rank, outFeatures: out,
                         down: normals(inF * rank, seed: 8, std: 1 / Double(inF).squareRoot()),
                         up: normals(rank * out, seed: 9, std: 0.1))
        let x = normals(inF, seed: 10)
        let ld = lr.converted(to: Double.self)
        let refDown = ld.down(x.map { Double($0) })
        let refUp = ld.up(refDown)
        let u = poisoned(rank), y = poisoned(out)
        defer { u.deallocate(); y.deallocate() }
        try FastKernels.withLevel(level) {
            x.withUnsafeBufferPointer { xp in lr.down.withUnsafeBufferPointer { dp in lr.up.withUnsafeBufferPointer { up in
                guard let xb = xp.baseAddress, let db = dp.baseAddress, let ub = up.baseAddress else { return }
                gemvCols(db, ldw: rank, rows: inF, cols: rank, x: xb, y: u)
                gemvCols(ub, ldw: out, rows: rank, cols: out, x: u, y: y)
            }}}
        }
        let ed = measured("lora \(level) down \(inF)×\(rank)", maxRelativeError(refDown, Array(UnsafeBufferPointer(start: u, count: rank))))
        let eu = measured("lora \(level) up \(rank)×\(out)", maxRelativeError(refUp, Array(UnsafeBufferPointer(start: y, count: out))))
        #expect(ed < 5e-6 && eu < 5e-6, "\(ed) \(eu)")   // measured ≤ 1.7e-6 (6144-long sums, avx512f; 1.35e-6 portable, avx2+fma), 2026-12-02; bound 5e-6
    }

    @Test(arguments: kernelLevels, [1, 7])
    func mlpMatchesReference(_ level: FastKernels.Level, rows T: Int) throws {
        let C = 96, I = 200
        let w = MLPWeights(gate: MatrixKernelTests.linear(out: I, in: C, bias: true, seed: 11),
                           up: MatrixKernelTests.linear(out: I, in: C, bias: true, seed: 12),
                           down: MatrixKernelTests.linear(out: C, in: I, bias: true, seed: 13))
        let x = normals(T * C, seed: 14)
        let ref = MLPWeights(gate: w.gate.converted(to: Double.self), up: w.up.converted(to: Double.self),
                             down: w.down.converted(to: Double.self)).apply(x.map { Double($0) }, rows: T)
        func dm(_ l: Linear<Float>) -> DenseMatrix { DenseMatrix(rows: l.outFeatures, cols: l.inFeatures, storage: .f32(l.weight), bias: l.bias) }
        let gu = poisoned(T * 2 * I), out = poisoned(T * C), scratch = poisoned(16)
        defer { gu.deallocate(); out.deallocate(); scratch.deallocate() }
        try FastKernels.withLevel(level) {
            x.withUnsafeBufferPointer { xp in
                guard let xb = xp.baseAddress else { return }
                swiGLU(gateUp: DenseMatrix.stacking([dm(w.gate), dm(w.up)]), down: dm(w.down), x: xb, rows: T, gu: gu,
                       out: out, scratch: scratch)
            }
        }
        let e = measured("mlp \(level) T \(T)", maxRelativeError(ref, Array(UnsafeBufferPointer(start: out, count: T * C))))
        #expect(e < 2e-6)   // measured ≤ 2.8e-7; bound 2e-6
    }

    /// Stacked matrices compute every part's product: a Float32 part with a
    /// bias over a bf16 part without one (copied: the stack widens to Float32
    /// and gives the second part zero bias; kept apart: each part writes its
    /// own columns), T = 1 (GEMV) and T = 5 (GEMM).
    @Test(arguments: kernelLevels, [(1, false), (5, false), (1, true), (5, true)])
    func stackedMatrixComputesEachPart(_ level: FastKernels.Level, _ variant: (Int, Bool)) throws {
        let (T, keptApart) = variant
        let C = 72
        let a = MatrixKernelTests.linear(out: 40, in: C, bias: true, seed: 21)
        var b = MatrixKernelTests.linear(out: 24, in: C, bias: false, seed: 22)
        let bits = b.weight.map(roundToBF16)
        b.weight = bits.map { Float(bitPattern: UInt32($0) << 16) }   // the values the bf16 part holds
        let stacked = DenseMatrix.stacking([
            DenseMatrix(rows: 40, cols: C, storage: .f32(a.weight), bias: a.bias),
            DenseMatrix(rows: 24, cols: C, storage: .bf16(bits), bias: nil)], copyLimit: keptApart ? 0 : 1 << 30)
        #expect(stacked.rows == 64 && !stacked.isBF16)
        if case .group = stacked.storage { #expect(keptApart) } else { #expect(!keptApart && stacked.bias?.count == 64) }
        let x = normals(T * C, seed: 23)
        let xd = x.map { Double($0) }
        let ra = a.converted(to: Double.self).applyRows(xd, rows: T), rb = b.converted(to: Double.self).applyRows(xd, rows: T)
        var ref: [Double] = []
        for t in 0..<T {
            ref.append(contentsOf: ra[(t * 40)..<(t * 40 + 40)])
            ref.append(contentsOf: rb[(t * 24)..<(t * 24 + 24)])
        }
        let y = poisoned(T * 64), scratch = poisoned(DenseMatrix.scratchFloats(cols: C))   // bf16 prefill widens into it
        defer { y.deallocate(); scratch.deallocate() }
        try FastKernels.withLevel(level) {
            x.withUnsafeBufferPointer { xp in
                guard let xb = xp.baseAddress else { return }
                stacked.apply(xb, ldx: C, count: T, into: y, ldy: 64, scratch: scratch)
            }
        }
        let e = measured("stacked \(level) T \(T) apart \(keptApart)", maxRelativeError(ref, Array(UnsafeBufferPointer(start: y, count: T * 64))))
        #expect(e < 2e-6)   // measured ≤ 1.3e-7; bound 2e-6 as the other products
    }
}

