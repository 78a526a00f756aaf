// KernelTests: every fast kernel against its reference twin, in isolation.
//
// Contract: seeded inputs at the scales the model produces; every output
// buffer is POISONED (NaN-filled) before the kernel runs, so an element it
// forgets to write fails the comparison. References run in Float64 on the
// same Float inputs. Bounds are set from measured values (beside each).

import Testing
#if canImport(Glibc)
import Glibc
#endif
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
import RealModule
@testable import Hxa079Fast

func normals(_ n: Int, seed: UInt64, std: Double = 1, label: String = "x") -> [Float] {
    var rng = SeededRNG(seed: seed, label: label)
    return rng.normals(n, std: std)
}

/// max over elements of |c − r| / |r|, where r is the reference rounded to
/// Float; where |r| < 1e-30 (Float underflow territory) |c − r| itself counts.
func maxElementRelative(_ ref: [Double], _ c: [Float]) -> Double {
    var worst = 0.0
    for (r0, x) in zip(ref, c) {
        let r = Double(Float(r0))
        if r.isNaN { if !x.isNaN { return .infinity }; continue }
        if r.isInfinite { if Double(x) != r { return .infinity }; continue }
        let d = abs(Double(x) - r)
        worst = max(worst, abs(r) < 1e-30 ? d : d / abs(r))
    }
    return worst
}

/// NaN-filled scratch of `n` floats, freed by the caller.
func poisoned(_ n: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: n + 16)
    p.initialize(repeating: .nan, count: n + 16)
    return p
}

@Suite struct MathTests {
    /// Inputs: a dense sweep plus extremes.
    static let inputs: [Float] = {
        var x: [Float] = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) }
        x += normals(4000, seed: 1, std: 3)
        x += [0, -0.0, 1e-8, -1e-8, 1e-3, 88.5, 89, -87, -103, -110, 200, -200, .infinity, -.infinity]
        return x
    }()

    @Test func expMatchesLibm() {
        let y = FastMath.exp(MathTests.inputs)
        let ref = MathTests.inputs.map { Double.exp(Double($0)) }.map { Double(Float($0)) }
        // compare where the Float result is a normal number
        let mask = ref.map { $0 == 0 || $0.isInfinite || abs($0) >= Double(Float.leastNormalMagnitude) }
        let e = measured("vexp max rel", maxElementRelative(zip(ref, mask).map { $1 ? $0 : .nan },
                                                          zip(y, mask).map { $1 ? $0 : .nan }))
        #expect(e < 3e-7)   // measured 1.17e-7 (≈ 1 ulp); bound 3e-7
        #expect(FastMath.exp([.nan])[0].isNaN)
    }

    @Test func sigmoidSiluSoftplusTanhMatchReference() {
        let x = MathTests.inputs.filter { $0.isFinite }
        let xd = x.map { Double($0) }
        let es = measured("vsigmoid max rel", maxElementRelative(xd.map { sigmoid($0) }, FastMath.sigmoid(x)))
        let el = measured("vsilu max rel", maxElementRelative(xd.map { silu($0) }, FastMath.silu(x)))
        let ep = measured("vsoftplus max rel", maxElementRelative(xd.map { softplus($0) }, FastMath.softplus(x)))
        let et = measured("vtanh max rel", maxElementRelative(xd.map { Double.tanh($0) }, FastMath.tanh(x)))
        // measured: sigmoid 1.3e-7, silu 1.7e-7, softplus 1.9e-7, tanh 1.2e-7; bounds 1e-6
        #expect(es < 1e-6); #expect(el < 1e-6); #expect(ep < 1e-6); #expect(et < 1e-6)
    }
}

@Suite struct RowKernelTests {
    @Test(arguments: [(5, 256), (3, 80), (7, 24), (1, 6144)])
    func rmsNormMatchesReference(rows: Int, count: Int) throws {
        let x = normals(rows * count, seed: 2, std: 2)
        let g = normals(count, seed: 3, std: 0.1).map { 1 + $0 }
        let ref = rmsNormRows(x.map { Double($0) }, rows: rows, count: count, weight: g.map { Double($0) }, eps: 1e-5)
        let y = try FastNorms.rmsNorm(x, rows: rows, count: count, weight: g, eps: 1e-5)
        let e = measured("rmsNorm \(rows)×\(count)", maxRelativeError(ref, y))
        #expect(e < 1e-6)   // measured ≤ 1.7e-7 (1×6144); bound 1e-6
    }

    @Test(arguments: [(64, 4, 0), (96, 3, 100_000), (16, 2, 7), (24, 1, 8191)])
    func ropeMatchesReference(headDim: Int, heads: Int, start: Int) throws {
        let rows = 5
        let x = normals(rows * heads * headDim, seed: 4)
        var ref = x.map { Double($0) }
        let inv = ropeInverseFrequencies(headDim: headDim, theta: 500_000.0)
        for t in 0..<rows {
            applyRoPE(&ref, offset: t * heads * headDim, heads: heads, headDim: headDim, position: start + t, inverseFrequencies: inv)
        }
        let y = try FastNorms.rope(x, rows: rows, heads: heads, headDim: headDim, start: start, theta: 500_000)
        let e = measured("rope N \(headDim) p \(start)", maxRelativeError(ref, y))
        #expect(e < 1e-6)   // measured ≤ 8.7e-8 (angles in Double); bound 1e-6
    }

    @Test(arguments: [5, 37, 300])
    func softmaxMatchesReference(count: Int) {
        let valid = count - count / 3
        let x = normals(count, seed: 5, std: 4)
        var ref = [Double](repeating: 0, count: count)
        let scale = 0.125
        let s = x.prefix(valid).map { Double($0) * Double(Float(scale)) }
        let m = s.max() ?? 0
        let e = s.map { Double.exp($0 - m) }
        let sum = e.reduce(0, +)
        for j in 0..<valid { ref[j] = e[j] / sum }
        let row = poisoned(count)
        defer { row.deallocate() }
        for j in 0..<count { row[j] = x[j] }
        softmaxRow(row, valid: valid, total: count, scale: Float(scale))
        let got = Array(UnsafeBufferPointer(start: row, count: count))
        let err = measured("softmax \(count)", maxRelativeError(ref, got))
        #expect(err < 1e-6)   // measured ≤ 1.3e-7; bound 1e-6
    }
}

@Suite struct MatrixTests {
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

    @Test(arguments: [(1, 704, 256, true), (6, 256, 704, false), (1, 37, 45, true), (9, 45, 37, true), (1, 2048, 600, false)])
    func linearMatchesReference(rows T: Int, out: Int, inF: Int, bias: Bool) {
        let l = MatrixTests.linear(out: out, in: inF, bias: bias, seed: 6)
        let x = normals(T * inF, seed: 7)
        let ld = l.converted(to: Double.self)
        let ref = ld.applyRows(x.map { Double($0) }, rows: T)
        for bf16 in [false, true] {
            let storage: DenseMatrix.Storage = bf16 ? .bf16(l.weight.map(roundToBF16)) : .f32(l.weight)
            let m = DenseMatrix(rows: out, cols: inF, storage: storage, bias: l.bias)
            let y = MatrixTests.run(m, x, rows: T)
            let r: [Double]
            if bf16 {
                var lb = ld
                lb.weight = l.weight.map { Double(Float(bitPattern: UInt32(roundToBF16($0)) << 16)) }
                r = lb.applyRows(x.map { Double($0) }, rows: T)
            } else { r = ref }
            let e = measured("linear T \(T) \(out)×\(inF) bf16 \(bf16)", maxRelativeError(r, y))
            #expect(e < 2e-6, "bf16 \(bf16): \(e)")   // measured ≤ 5.1e-7; bound 2e-6
        }
    }

    @Test(arguments: [(256, 32, 256), (96, 160, 40), (6144, 8, 70)])
    func lowRankColumnsMatchReference(inF: Int, rank: Int, out: Int) {
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
        x.withUnsafeBufferPointer { xp in lr.down.withUnsafeBufferPointer { dp in lr.up.withUnsafeBufferPointer { up in
            guard let xb = xp.baseAddress, let db = dp.baseAddress, let ub = up.baseAddress else { return }
            gemvCols(db, ldw: rank, rows: inF, cols: rank, x: xb, y: u)
            gemvCols(ub, ldw: out, rows: rank, cols: out, x: u, y: y)
        }}}
        let ed = measured("lora down \(inF)×\(rank)", maxRelativeError(refDown, Array(UnsafeBufferPointer(start: u, count: rank))))
        let eu = measured("lora up \(rank)×\(out)", maxRelativeError(refUp, Array(UnsafeBufferPointer(start: y, count: out))))
        #expect(ed < 5e-6 && eu < 5e-6, "\(ed) \(eu)")   // measured ≤ 1.7e-6 (6144-long sums, C kernels; 1.3e-6 Swift SIMD); bound 5e-6
    }

    @Test(arguments: [1, 7])
    func mlpMatchesReference(rows T: Int) {
        let C = 96, I = 200
        let w = MLPWeights(gate: MatrixTests.linear(out: I, in: C, bias: true, seed: 11),
                           up: MatrixTests.linear(out: I, in: C, bias: true, seed: 12),
                           down: MatrixTests.linear(out: C, in: I, bias: true, seed: 13))
        let x = normals(T * C, seed: 14)
        let ref = MLPWeights(gate: w.gate.converted(to: Double.self), up: w.up.converted(to: Double.self),
                             down: w.down.converted(to: Double.self)).apply(x.map { Double($0) }, rows: T)
        func dm(_ l: Linear<Float>) -> DenseMatrix { DenseMatrix(rows: l.outFeatures, cols: l.inFeatures, storage: .f32(l.weight), bias: l.bias) }
        let gu = poisoned(T * 2 * I), out = poisoned(T * C), scratch = poisoned(16)
        defer { gu.deallocate(); out.deallocate(); scratch.deallocate() }
        x.withUnsafeBufferPointer { xp in
            guard let xb = xp.baseAddress else { return }
            swiGLU(gateUp: DenseMatrix.stacking([dm(w.gate), dm(w.up)]), down: dm(w.down), x: xb, rows: T, gu: gu,
                   out: out, scratch: scratch)
        }
        let e = measured("mlp T \(T)", maxRelativeError(ref, Array(UnsafeBufferPointer(start: out, count: T * C))))
        #expect(e < 2e-6)   // measured ≤ 2.8e-7; bound 2e-6
    }

    /// Stacked matrices compute every part's product: a Float32 part with a
    /// bias over a bf16 part without one (copied: the stack widens to Float32
    /// and gives the second part zero bias; kept apart: each part writes its
    /// own columns), T = 1 (GEMV) and T = 5 (GEMM).
    @Test(arguments: [(1, false), (5, false), (1, true), (5, true)])
    func stackedMatrixComputesEachPart(rows T: Int, keptApart: Bool) {
        let C = 72
        let a = MatrixTests.linear(out: 40, in: C, bias: true, seed: 21)
        var b = MatrixTests.linear(out: 24, in: C, bias: false, seed: 22)
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
        x.withUnsafeBufferPointer { xp in
            guard let xb = xp.baseAddress else { return }
            stacked.apply(xb, ldx: C, count: T, into: y, ldy: 64, scratch: scratch)
        }
        let e = measured("stacked T \(T) apart \(keptApart)", maxRelativeError(ref, Array(UnsafeBufferPointer(start: y, count: T * 64))))
        #expect(e < 2e-6)   // measured ≤ 1.3e-7; bound 2e-6 as the other products
    }
}

/// The kernel set follows HXA079_FAST_KERNELS (scripts/test.sh runs this
/// target once per set), so a "swift" run really exercises the Swift SIMD
/// kernels and an "avx2" run never the AVX-512 build.
@Suite struct KernelChoiceTests {
    @Test func followsTheEnvironment() {
        let want = getenv("HXA079_FAST_KERNELS").map { String(cString: $0) }
        let name = FastKernels.name
        #expect(["swift", "avx2+fma", "avx512f"].contains(name))
        #expect(FastKernels.native == (name != "swift"))
        switch want {
        case "swift": #expect(name == "swift")
        case "avx2": #expect(name == "avx2+fma" || name == "swift")   // "swift" only on a CPU without AVX2+FMA
        default: break
        }
    }
}
