// Budget: the error budget of one checkpoint, and the pass/fail rule.
//
// Contract (SPEC.md §4.6): a fixture's truth is the float64 reference. For
// float32 engines the budget of a checkpoint is derived from what this
// package's float32 reference measurably does on the same fixture:
//   tolerance.maxRel = max(safety · measured.maxRel, floor.maxRel)
//   tolerance.nmse   = max(safety² · measured.nmse, floor.nmse)
// with safety = 10 (headroom for other summation orders, FMA, blocking) and
// floors of 2⁻²² relative and 2⁻⁴⁴ NMSE (a few float32 roundings), because a
// checkpoint the float32 reference happens to get exactly must still admit
// honest float32 rounding. Float64 engines get fixed tolerances of 1e-10
// (max rel) and 1e-20 (NMSE): the independent NumPy check agrees to 1e-14.
// A candidate passes a checkpoint iff maxRel ≤ tolerance.maxRel and
// nmse ≤ tolerance.nmse, both after multiplying by the user's
// `--tolerance-scale` (maxRel by s, NMSE by s²). A checkpoint without a
// budget (`state.position`) passes iff every value is equal. `BudgetRule` is
// the one place this rule is applied (compare, step --compare, the Oracle).

import Hxa079
import SafeTensors

/// Tolerances a candidate must meet.
public struct Tolerance: Sendable, Equatable {
    public var maxRel: Double
    public var nmse: Double

    public init(maxRel: Double, nmse: Double) {
        self.maxRel = maxRel
        self.nmse = nmse
    }

    /// Both tolerances widened by `scale` (NMSE by scale²).
    public func scaled(_ scale: Double) -> Tolerance { Tolerance(maxRel: maxRel * scale, nmse: nmse * scale * scale) }

    /// True when `metrics` are within the tolerance.
    public func admits(_ metrics: ErrorMetrics) -> Bool {
        metrics.nonFiniteMismatches == 0 && metrics.maxRel <= maxRel && metrics.nmse <= nmse
    }

    /// Float64 engines (SPEC.md §4.6).
    public static let float64 = Tolerance(maxRel: 1e-10, nmse: 1e-20)
}

/// The float32 budget of one checkpoint.
public struct Budget: Sendable, Equatable {
    /// This package's float32 reference against the float64 truth (worst over the plans).
    public var measured: ErrorMetrics
    public var safetyFactor: Double
    public var tolerance: Tolerance

    public static let safety = 10.0
    /// 2⁻²² relative: a few float32 roundings.
    public static let floorMaxRel = 0x1p-22
    /// 2⁻⁴⁴ NMSE.
    public static let floorNMSE = 0x1p-44

    public init(measured: ErrorMetrics, safetyFactor: Double, tolerance: Tolerance) {
        self.measured = measured
        self.safetyFactor = safetyFactor
        self.tolerance = tolerance
    }

    /// The budget derived from a measurement.
    public init(deriving measured: ErrorMetrics) {
        self.measured = measured
        self.safetyFactor = Budget.safety
        self.tolerance = Tolerance(maxRel: max(Budget.safety * measured.maxRel, Budget.floorMaxRel),
                                   nmse: max(Budget.safety * Budget.safety * measured.nmse, Budget.floorNMSE))
    }
}

/// Which budget a candidate tensor is held to.
public enum BudgetClass: String, Sendable {
    case float64 = "f64"
    case float32 = "f32"

    /// F64 tensors are held to the float64 tolerance, every other dtype to the float32 budget.
    public init(dtype: DType) { self = dtype == .F64 ? .float64 : .float32 }
}

/// The pass/fail rule for one checkpoint and one candidate dtype.
public struct BudgetRule: Sendable {
    /// The scaled tolerance; nil: compared exactly.
    public let tolerance: Tolerance?

    /// - Parameters:
    ///   - budget: the checkpoint's float32 budget (nil: compared exactly).
    ///   - candidateDType: F64 picks the float64 tolerance, any other dtype the float32 budget.
    public init(budget: Budget?, candidateDType: DType, toleranceScale: Double) {
        guard let budget else { tolerance = nil; return }
        tolerance = (BudgetClass(dtype: candidateDType) == .float64 ? Tolerance.float64 : budget.tolerance).scaled(toleranceScale)
    }

    /// The verdict for `metrics` (`candidate` and `truth` for exact comparisons).
    public func admits(_ metrics: ErrorMetrics, candidate: [Double], truth: [Double]) -> Bool {
        tolerance.map { $0.admits(metrics) } ?? (candidate == truth)
    }

    /// `f64`, `f32` or `exact` for a candidate of `dtype`.
    public func label(_ dtype: DType) -> String { tolerance == nil ? "exact" : BudgetClass(dtype: dtype).rawValue }
}
