// DebuggerComparison: `step --compare FILE` — holds each checkpoint of the
// run against the same tensor of another engine's dump.
//
// Contract: the dump is read by `CandidateTensor.load` and every tensor goes
// through Hxa079Fixtures' `compareCheckpoint` — the comparison `hxa079
// compare` and the Oracle use, with the same outcomes (compared, non-finite,
// shape mismatch with a batch of one accepted, refused integer dtype) and
// the same budget rule. The reference side is
//   * with --fixture and the fixture's own tokens: the fixture's float64
//     truth of plan one_call, judged by the checkpoint's budget of the
//     profile (--profile, else the tensor's dtype) and, where the dump holds
//     the stage's inputs, against the stage-local replay (SPEC.md §4.8),
//     computed once when the comparator is made;
//   * otherwise: this run's values, unmarked (only the outcomes that cannot
//     be measured fail).
// A tensor the dump lacks is `nil` (reported as missing, never an error).

import Hxa079
import Hxa079Fixtures
import SafeTensors

/// The dump and what it is measured against.
struct DumpComparator {
    let path: String
    let tensors: [String: CandidateTensor]
    /// Present when the fixture's truth and budgets apply.
    let fixture: Fixture?
    let records: [String: Manifest.CheckpointRecord]
    static let plan = "one_call"

    /// The budgets applied (`--profile`); nil: each tensor's dtype chooses.
    let profile: BudgetClass?

    /// - Throws: when the fixture lacks the budgets of the profile a dump tensor is held to.
    init(path: String, fixture: Fixture?, profile: BudgetClass? = nil, model: String? = nil, ignoreModelHash: Bool = false) throws {
        self.path = path
        tensors = try CandidateTensor.load(path: path)
        self.fixture = fixture
        self.profile = profile
        var records: [String: Manifest.CheckpointRecord] = [:]
        for r in fixture?.manifest.checkpoints ?? [] { records[r.name] = r }
        self.records = records
        for (name, t) in tensors.sorted(by: { $0.key < $1.key }) {
            guard let r = records[name] else { continue }
            _ = try r.rule(profile: profile ?? BudgetClass(dtype: t.dtype), plan: Self.plan, toleranceScale: 1)
        }
        // Stage-local replay (SPEC.md §4.8): once, for every stage whose inputs the dump holds.
        replay = try fixture?.stageReplay(plan: Self.plan, candidate: tensors, model: model, ignoreModelHash: ignoreModelHash)
    }

    /// name → the float64 stage on the dump's own inputs (nil: no fixture, or nothing to replay).
    private(set) var replay: [String: [Double]]? = nil

    /// "measured against …" for the session header.
    var referenceDescription: String {
        fixture == nil ? "this run" : "the fixture's float64 truth (plan \(Self.plan)), "
            + (profile.map { "\($0.rawValue) budgets" } ?? "budgets by the dump's dtype")
    }

    /// The dtypes present in the dump, e.g. `F32`.
    var dtypes: String {
        Set(tensors.values.map { $0.dtype.rawValue }).sorted().joined(separator: "/")
    }

    /// True when the comparison of `c` is against the fixture's truth (else against the run).
    func judgedByFixture(_ c: Checkpoint) -> Bool { fixture != nil && records[c.name] != nil }

    /// The dump's values of checkpoint `c` in the run's shape: nil when the dump
    /// lacks it or its outcome (dtype, shape) leaves nothing to show.
    func values(_ c: Checkpoint) -> [Double]? {
        guard let result = compare(c), let d = tensors[c.name] else { return nil }
        switch result.outcome {
        case .compared, .nonFinite: return d.values
        case .shapeMismatch, .refusedDType: return nil
        }
    }

    /// The outcome of checkpoint `c`; nil when the dump lacks it.
    func compare(_ c: Checkpoint) -> CheckpointComparison? {
        guard let d = tensors[c.name] else { return nil }
        if let fixture, let r = records[c.name],   // init checked that every budget exists
           let result = try? Hxa079Fixtures.compare(record: r, candidate: d, fixture: fixture, plan: Self.plan, profile: profile,
                                                    toleranceScale: 1, replay: replay) {
            return result
        }
        return compareCheckpoint(name: c.name, candidate: d, reference: c.values, referenceShape: c.shape, judge: .unmarked)
    }
}
