// RowKernelTests: the row-wise fast kernels against the reference — RMSNorm
// and RoPE (Swift loops, one implementation, no kernel level) and the causal
// softmax row (C kernel, every level).

import Testing
#if canImport(Glibc)
import Glibc
#endif
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
import RealModule
@testable import Hxa079Fast

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

    @Test(arguments: kernelLevels, [5, 37, 300])
    func softmaxMatchesReference(_ level: FastKernels.Level, count: Int) throws {
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
        try FastKernels.withLevel(level) { softmaxRow(row, valid: valid, total: count, scale: Float(scale)) }
        let got = Array(UnsafeBufferPointer(start: row, count: count))
        let err = measured("softmax \(level) \(count)", maxRelativeError(ref, got))
        #expect(err < 1e-6)   // measured ≤ 1.3e-7; bound 1e-6
    }
}

