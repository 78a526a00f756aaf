// DebuggerComparison: `step --compare FILE` — holds each checkpoint of the
// run against the same tensor of another engine's dump.
//
// Contract: the dump is a safetensors file with checkpoint names (what
// `hxa079 forward --dump` writes; any float dtype, any subset). For each
// checkpoint of the run the dump's tensor of the same name is looked up and
// measured with `ErrorMetrics` (max abs, max rel, NMSE) against a reference
// side:
//   * with --fixture and the fixture's own tokens: the fixture's float64
//     truth of plan one_call, and the result is marked pass/FAIL by the
//     checkpoint's budget, the budget class chosen by the dump's dtype
//     exactly as `hxa079 compare` does (F64: the float64 tolerance, other
//     dtypes: the checkpoint's float32 budget; no budget: exact equality);
//   * otherwise: this run's values, with no mark.
// A missing tensor or a shape mismatch is reported, never an error.

import Hxa079
import Hxa079Fixtures
import SafeTensors

/// The verdict of one checkpoint.
enum ComparisonVerdict: Equatable {
    case pass
    case fail
    /// No budget applies (no fixture, or tokens not the fixture's).
    case unmarked
}

/// What the dump says about one checkpoint.
enum DumpOutcome {
    case missing
    case shapeMismatch(dump: [Int], run: [Int])
    case compared(DumpDifference)
}

struct DumpDifference {
    var dump: CandidateTensor
    var metrics: ErrorMetrics
    var verdict: ComparisonVerdict
    /// `f64` / `f32` / `exact`, when marked.
    var budgetLabel: String?
    var tolerance: Tolerance?
    /// Index and values of the worst element (dump, reference side).
    var worstIndex: Int
    var worstDump: Double
    var worstReference: Double
}

/// The dump and what it is measured against.
struct DumpComparator {
    let path: String
    let tensors: [String: CandidateTensor]
    /// Present when the fixture's truth and budgets apply.
    let fixture: Fixture?
    let records: [String: Manifest.CheckpointRecord]
    static let plan = "one_call"

    init(path: String, fixture: Fixture?) throws {
        self.path = path
        tensors = try CandidateTensor.load(path: path)
        self.fixture = fixture
        var records: [String: Manifest.CheckpointRecord] = [:]
        for r in fixture?.manifest.checkpoints ?? [] { records[r.name] = r }
        self.records = records
    }

    /// "measured against …" for the session header.
    var referenceDescription: String {
        fixture == nil ? "this run" : "the fixture's float64 truth (plan \(Self.plan)), budgets by the dump's dtype"
    }

    /// The dtypes present in the dump, e.g. `F32`.
    var dtypes: String {
        Set(tensors.values.map { $0.dtype.rawValue }).sorted().joined(separator: "/")
    }

    func compare(_ c: Checkpoint) -> DumpOutcome {
        guard let d = tensors[c.name] else { return .missing }
        guard d.shape == c.shape else { return .shapeMismatch(dump: d.shape, run: c.shape) }
        var reference = c.values
        var record: Manifest.CheckpointRecord? = nil
        if let fixture, let r = records[c.name], let truth = try? fixture.truth(plan: Self.plan, name: c.name),
           truth.count == d.values.count {
            reference = truth
            record = r
        }
        let metrics = ErrorMetrics(reference: reference, candidate: d.values)
        var verdict = ComparisonVerdict.unmarked
        var label: String? = nil
        var tolerance: Tolerance? = nil
        if let record {
            if let budget = record.budget {
                let cls = BudgetClass(dtype: d.dtype)
                let t = cls == .float64 ? Tolerance.float64 : budget.tolerance
                tolerance = t
                label = cls.rawValue
                verdict = t.admits(metrics) ? .pass : .fail
            } else {
                label = "exact"
                verdict = reference == d.values ? .pass : .fail
            }
        }
        let worst = min(metrics.worstIndex, max(reference.count - 1, 0))
        return .compared(DumpDifference(
            dump: d, metrics: metrics, verdict: verdict, budgetLabel: label, tolerance: tolerance, worstIndex: worst,
            worstDump: d.values.isEmpty ? .nan : d.values[worst], worstReference: reference.isEmpty ? .nan : reference[worst]))
    }
}
