// Budget: the error budgets of one checkpoint, and the pass/fail rule.
//
// Contract (SPEC.md §4.6): a fixture's truth is the float64 reference. A
// candidate is held to the budgets of one *profile* (`BudgetClass`): f64,
// f32, bf16 or f16, named by the caller (`--profile`) or chosen by the
// candidate tensor's dtype (F64 → f64, BF16 → bf16, F16 → f16, else f32).
//   * f64: fixed tolerances of 1e-10 (max rel) and 1e-20 (NMSE): the
//     independent NumPy check agrees to 1e-14.
//   * f32: derived per checkpoint from what this package's float32 reference
//     measurably does on the same fixture (worst over the plans):
//       tolerance.maxRel = max(10 · measured.maxRel, 2⁻²²)
//       tolerance.nmse   = max(100 · measured.nmse, 2⁻⁴⁴)
//   * bf16, f16: derived per checkpoint *and plan* from the reference's
//     emulation of the profile (SPEC.md §4.7) in its honest variants, the
//     worst over the variants (`ReducedPrecisionRule`):
//       tolerance.maxRel = max(4 · measured.maxRel, 2u)
//       tolerance.nmse   = max(4 · measured.nmse, u²)    u = 2⁻⁹ (bf16), 2⁻¹¹ (f16)
// Each profile also has *local* budgets (SPEC.md §4.8), per checkpoint and
// plan, for the distance between a candidate's stage output and the float64
// stage re-run on the candidate's own inputs (stage-local replay), derived by
// the same rule from the same runs (f32: the f32 rule; f64: the f64
// tolerance). A candidate passes a checkpoint iff it is within the global
// tolerance and, where the replay applies, within the local one; both after
// the user's `--tolerance-scale` s (max rel × s, NMSE × s²). A checkpoint
// without a budget (`state.position`) passes iff every value is equal.
// `BudgetRule` is the one place this rule is applied (compare, step
// --compare, the Oracle).

import Hxa079
import Hxa079Reference
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        self.tolerance = Budget.tolerance(maxRel: measured.maxRel, nmse: measured.nmse)
    }

    /// The f32 rule: max(safety · max rel, 2⁻²²), max(safety² · NMSE, 2⁻⁴⁴).
    public static func tolerance(maxRel: Double, nmse: Double) -> Tolerance {
        Tolerance(maxRel: max(safety * maxRel, floorMaxRel), nmse: max(safety * safety * nmse, floorNMSE))
    }
}

/// Which budgets a candidate tensor is held to: the comparison profile
/// (`--profile`; SPEC.md §4.6, §4.7).
public enum BudgetClass: String, Sendable, CaseIterable, Hashable {
    case float64 = "f64"
    case float32 = "f32"
    case bfloat16 = "bf16"
    case float16 = "f16"

    /// Chosen by the candidate tensor's dtype: F64 → f64, BF16 → bf16, F16 → f16, any other → f32.
    public init(dtype: DType) {
        switch dtype {
        case .F64: self = .float64
        case .BF16: self = .bfloat16
        case .F16: self = .float16
        default: self = .float32
        }
    }

    /// The storage format a reduced-precision profile emulates (nil for f64, f32).
    public var reducedFormat: StorageFormat? {
        switch self {
        case .bfloat16: return .bf16
        case .float16: return .f16
        default: return nil
        }
    }
}

/// A tolerance with the worst honest figure it was derived from.
public struct DerivedTolerance: Sendable, Equatable {
    public var measuredMaxRel: Double
    public var measuredNMSE: Double
    public var tolerance: Tolerance

    public init(measuredMaxRel: Double, measuredNMSE: Double, tolerance: Tolerance) {
        self.measuredMaxRel = measuredMaxRel
        self.measuredNMSE = measuredNMSE
        self.tolerance = tolerance
    }
}

/// One checkpoint's budgets under one profile, per plan (SPEC.md §4.6).
public struct ProfileBudget: Sendable, Equatable {
    /// plan → against the truth (bf16 and f16; f32's global budget is `Budget`, over every plan).
    public var global: [String: DerivedTolerance] = [:]
    /// plan → against the stage-local replay (SPEC.md §4.8); absent for checkpoints without stage inputs.
    public var local: [String: DerivedTolerance] = [:]

    public init(global: [String: DerivedTolerance] = [:], local: [String: DerivedTolerance] = [:]) {
        self.global = global
        self.local = local
    }
}

/// How a reduced-precision budget is derived from the honest variants (SPEC.md §4.6).
public enum ReducedPrecisionRule {
    /// Headroom on the worst honest variant's max rel.
    public static let safetyMaxRel = 4.0
    /// Headroom on the worst honest variant's NMSE (a mean over the tensor, far
    /// steadier between engines than a maximum).
    public static let safetyNMSE = 4.0

    /// The unit roundoff u of the format: 2⁻⁹ (bfloat16, 8 significand bits), 2⁻¹¹ (binary16, 11).
    public static func unitRoundoff(_ format: StorageFormat) -> Double {
        switch format {
        case .bf16: return 0x1p-9
        case .f16: return 0x1p-11
        case .f32: return 0x1p-24
        }
    }

    /// The floors: 2u relative (two roundings to the format) and u² NMSE (about
    /// three: one rounding of uniformly spread values gives NMSE ≈ u²/3) —
    /// so that a checkpoint an emulation happens to get exactly (e.g. `embed`
    /// of a checkpoint stored in the format) still admits honest rounding.
    public static func floor(_ format: StorageFormat) -> Tolerance {
        let u = unitRoundoff(format)
        return Tolerance(maxRel: 2 * u, nmse: u * u)
    }

    /// The tolerance for a worst honest measurement (max rel, NMSE) in `format`.
    public static func derive(maxRel: Double, nmse: Double, format: StorageFormat) -> DerivedTolerance {
        let f = floor(format)
        return DerivedTolerance(measuredMaxRel: threeDigits(maxRel), measuredNMSE: threeDigits(nmse),
                                tolerance: Tolerance(maxRel: threeDigits(max(safetyMaxRel * maxRel, f.maxRel), up: true),
                                                     nmse: threeDigits(max(safetyNMSE * nmse, f.nmse), up: true)))
    }

    /// The f32 rule of `Budget(deriving:)` for a local f32 measurement.
    public static func deriveFloat32(maxRel: Double, nmse: Double) -> DerivedTolerance {
        let t = Budget.tolerance(maxRel: maxRel, nmse: nmse)
        return DerivedTolerance(measuredMaxRel: threeDigits(maxRel), measuredNMSE: threeDigits(nmse),
                                tolerance: Tolerance(maxRel: threeDigits(t.maxRel, up: true), nmse: threeDigits(t.nmse, up: true)))
    }

    /// `x` to 3 significant decimal digits (rounded up with `up`, so a
    /// tolerance only ever widens, by < 1 %): the manifest stays readable and small.
    public static func threeDigits(_ x: Double, up: Bool = false) -> Double {
        guard x.isFinite, x > 0 else { return x }
        let e = Int((log10(x)).rounded(.down)) - 2
        let scaled = x / pow(10, Double(e))
        let digits = up ? scaled.rounded(.up) : scaled.rounded()
        return Double("\(Int(digits))e\(e)") ?? x
    }
}

/// Why a checkpoint cannot be judged under a profile: the fixture has no such budget.
public struct MissingBudget: Error, CustomStringConvertible, Sendable {
    public var checkpoint: String
    public var profile: BudgetClass
    public var plan: String
    public var description: String {
        "the fixture has no \(profile.rawValue) budget for \(checkpoint) on plan \(plan) (made without \(profile.rawValue) budgets: "
            + "regenerate it with `fixtures make --profiles \(profile.rawValue)`, or compare with --profile f32 and a --tolerance-scale)"
    }
}

/// The pass/fail rule for one checkpoint under one profile and plan.
public struct BudgetRule: Sendable {
    /// The scaled tolerance against the truth; nil: compared exactly.
    public let tolerance: Tolerance?
    /// The scaled tolerance against the stage-local replay; nil: none (no stage inputs, or exact).
    public let local: Tolerance?

    /// - Parameters:
    ///   - budget: the checkpoint's float32 budget (nil: compared exactly).
    ///   - profiles: its per-profile budgets (bf16/f16 global and local, f32 local).
    /// - Throws: `MissingBudget` when a bf16/f16 profile has no budget for this plan.
    public init(checkpoint: String, budget: Budget?, profiles: [BudgetClass: ProfileBudget], profile: BudgetClass,
                plan: String, toleranceScale: Double) throws {
        guard let budget else { tolerance = nil; local = nil; return }
        switch profile {
        case .float64:
            tolerance = Tolerance.float64.scaled(toleranceScale)
            local = Tolerance.float64.scaled(toleranceScale)
        case .float32:
            tolerance = budget.tolerance.scaled(toleranceScale)
            local = profiles[.float32]?.local[plan]?.tolerance.scaled(toleranceScale)
        case .bfloat16, .float16:
            guard let g = profiles[profile]?.global[plan] else { throw MissingBudget(checkpoint: checkpoint, profile: profile, plan: plan) }
            tolerance = g.tolerance.scaled(toleranceScale)
            local = profiles[profile]?.local[plan]?.tolerance.scaled(toleranceScale)
        }
    }

    /// The verdict for `metrics` (`candidate` and `truth` for exact comparisons).
    public func admits(_ metrics: ErrorMetrics, candidate: [Double], truth: [Double]) -> Bool {
        tolerance.map { $0.admits(metrics) } ?? (candidate == truth)
    }
}
