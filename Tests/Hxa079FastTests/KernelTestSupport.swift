// KernelTestSupport: what the kernel tests of this target share — seeded
// inputs, poisoned (NaN-filled) output buffers, element-wise error metrics —
// and the kernel levels they run at.
//
// Contract: every kernel test runs once per level this CPU supports
// (`FastKernels.supported`: portable everywhere, avx2 and avx512 where the
// CPU has them), each inside `FastKernels.withLevel`, so one `swift test`
// checks the code every CPU gets. Outputs are POISONED before the kernel
// runs, so an element it forgets to write fails the comparison. References
// run in Float64 on the same Float inputs. Bounds are set from measured
// values (beside each).

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

/// max over elements of |c − r| in units of the last place of r rounded to
/// Float (`Float(r).ulp`), r the exact (Float64) reference: a correctly
/// rounded result scores ≤ 0.5. Below the normal range the unit is
/// `Float.leastNormalMagnitude` (a result flushed to zero scores ≤ 1; the
/// kernels do not promise gradual underflow). NaN must match NaN, an
/// infinity itself.
func maxElementULPs(_ ref: [Double], _ c: [Float]) -> Double {
    var worst = 0.0
    for (r, x) in zip(ref, c) {
        if r.isNaN { if !x.isNaN { return .infinity }; continue }
        if r.isInfinite || Float(r).isInfinite { if Double(x) != Double(Float(r)) { return .infinity }; continue }
        let unit = abs(r) < Double(Float.leastNormalMagnitude) ? Double(Float.leastNormalMagnitude) : Double(Float(r).ulp)
        worst = max(worst, abs(Double(x) - r) / unit)
    }
    return worst
}

/// The builds of the float/double kernel bodies this CPU runs (test
/// arguments): every supported level up to avx512 — level avx512bf16 runs the
/// avx512 builds of those bodies (it adds only the bf16 matrix products, which
/// `bf16KernelLevels` covers).
let kernelLevels = FastKernels.supported.filter { $0 <= .avx512 }
/// Every level this CPU runs (the bf16 engine's tests: its products differ at avx512bf16).
let bf16KernelLevels = FastKernels.supported
