// ElementwiseKernelTests: the element-wise C kernels (`hxa_unary`: exp,
// sigmoid, silu, softplus, tanh) against libm / the reference scalars, at
// every kernel level, errors in ulps of the correctly rounded Float result.

import Testing
#if canImport(Glibc)
import Glibc
#endif
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
import RealModule
@testable import Hxa079Fast

@Suite struct ElementwiseKernelTests {
    /// Inputs: a dense sweep plus extremes.
    static let inputs: [Float] = {
        var x: [Float] = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) }
        x += normals(4000, seed: 1, std: 3)
        x += [0, -0.0, 1e-8, -1e-8, 1e-3, 88.5, 89, -87, -103, -110, 200, -200, .infinity, -.infinity]
        return x
    }()

    @Test(arguments: kernelLevels)
    func expMatchesLibm(_ level: FastKernels.Level) throws {
        let (y, nan) = try FastKernels.withLevel(level) { (FastMath.exp(Self.inputs), FastMath.exp([.nan])[0]) }
        let ref = Self.inputs.map { Double.exp(Double($0)) }
        // compare where the Float result is a normal number (or 0 / inf)
        let mask = ref.map { Float($0) == 0 || Float($0).isInfinite || abs($0) >= Double(Float.leastNormalMagnitude) }
        let e = measured("exp \(level) max ulps", maxElementULPs(zip(ref, mask).map { $1 ? $0 : .nan },
                                                              zip(y, mask).map { $1 ? $0 : .nan }))
        #expect(e < 2)   // measured 0.86 ulp (portable), 0.91 (avx2+fma, avx512f), 2026-12-02; bound 2 ulps
        #expect(nan.isNaN)
    }

    @Test(arguments: kernelLevels)
    func sigmoidSiluSoftplusTanhMatchReference(_ level: FastKernels.Level) throws {
        let x = Self.inputs.filter { $0.isFinite }
        let xd = x.map { Double($0) }
        let (s, l, p, t) = try FastKernels.withLevel(level) {
            (FastMath.sigmoid(x), FastMath.silu(x), FastMath.softplus(x), FastMath.tanh(x))
        }
        let es = measured("sigmoid \(level) max ulps", maxElementULPs(xd.map { sigmoid($0) }, s))
        let el = measured("silu \(level) max ulps", maxElementULPs(xd.map { silu($0) }, l))
        let ep = measured("softplus \(level) max ulps", maxElementULPs(xd.map { softplus($0) }, p))
        let et = measured("tanh \(level) max ulps", maxElementULPs(xd.map { Double.tanh($0) }, t))
        // measured at every level (2026-12-02): sigmoid 1.93 ulps, silu 1.95, softplus 1.67, tanh 1.11; bounds 4 ulps
        #expect(es < 4); #expect(el < 4); #expect(ep < 4); #expect(et < 4)
    }
}
