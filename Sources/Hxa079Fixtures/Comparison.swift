// Comparison: holds another engine's tensors against a reference and says
// what came of each — the one comparison `hxa079 compare`, `hxa079 step
// --compare` and the Oracle API share.
//
// Contract (SPEC.md §4.6 "Comparing"): one candidate tensor against one
// reference tensor (the fixture's float64 truth, or in the debugger without
// a fixture the run's own values) has exactly one outcome, checked in this
// order:
//   1. refused dtype — an integer candidate (I64, I32) for a float
//      reference: fails, names the tensor and its dtype;
//   2. shape mismatch — fails, "candidate [a, b] vs truth [c, d]"; a
//      candidate whose shape is [1] + the reference's is accepted as a batch
//      of one (and the result says so);
//   3. non-finite — a NaN or ±Inf where the reference is finite: fails, with
//      the NaN and Inf counts and the first such element;
//   4. compared — max abs, max rel, NMSE against the reference, judged by the
//      budget rule (Budget.swift) of the comparison's profile (`--profile`,
//      else the candidate dtype's) or left unmarked. Then, where the
//      candidate also holds the stage's inputs, the local figures against the
//      stage-local replay (StageReplay.swift, SPEC.md §4.8) under the local
//      budget; for `logits` the logits metrics (LogitsMetrics.swift). A
//      checkpoint fails if any of them fails, and says which.
// Missing (in the fixture, not in the candidate), not in this fixture (a
// checkpoint name of the fixture's model that its checkpoint selection left
// out) and unknown (any other candidate name) are lists of the report; none
// of them fails. A report passes when at least one checkpoint was compared
// and none fails; a report with nothing compared cannot be judged (`compare`
// exits 2).

import Hxa079
import SafeTensors

/// The result of one checkpoint.
public struct CheckpointComparison: Sendable {
    /// What happened to the tensor (see the contract).
    public enum Outcome: Sendable, Equatable {
        case compared
        case nonFinite(nan: Int, inf: Int)
        case shapeMismatch(candidate: [Int], truth: [Int])
        case refusedDType(DType)
    }

    public var name: String
    /// The reference's shape (the candidate's after removing an accepted batch axis).
    public var shape: [Int]
    /// The shape the candidate was stored with.
    public var candidateShape: [Int]
    public var candidateDType: DType
    public var budgetClass: BudgetClass
    /// The tolerance applied (after the scale); nil for exact or unmarked comparisons.
    public var tolerance: Tolerance?
    public var metrics: ErrorMetrics
    public var outcome: Outcome
    public var verdict: Verdict
    /// True when a leading axis of size 1 was accepted as a batch of one.
    public var batchOfOne: Bool
    /// Flat index of the worst (or first non-finite) element; nil when none applies.
    public var worstIndex: Int?
    /// Coordinates of that element, labelled (e.g. `token 3, head 1, channel 7`), `-` when none.
    public var worstLocation: String
    public var worstCandidate: Double
    public var worstTruth: Double

    /// Against the stage-local replay (SPEC.md §4.8), where the candidate holds the stage's inputs.
    public var local: LocalComparison?
    /// `logits` only: the next-token distribution metrics (SPEC.md §4.6).
    public var logits: LogitsComparison?

    /// False when the global verdict fails, or the local one, or the logits metrics.
    public var passed: Bool { verdict != .fail && (local?.passed ?? true) && (logits?.passed ?? true) }

    /// Which figure failed first: `global` (against the truth), `local` (against the replay), `logits`; nil when passed.
    public var failedFigure: String? {
        if verdict == .fail { return "global" }
        if local?.passed == false { return "local" }
        if logits?.passed == false { return "logits" }
        return nil
    }

    /// Why the tensor could not be compared by its metrics (nil for `.compared`).
    public var problem: String? {
        switch outcome {
        case .compared: return nil
        case .refusedDType(let d):
            return "dtype \(d.rawValue): an integer tensor cannot be held to a float checkpoint (dump it as F32 or F64)"
        case .shapeMismatch(let c, let t):
            var text = "shape: candidate \(shapeDescription(c)) vs truth \(shapeDescription(t))"
            if c.count == t.count, c.count >= 1, c.dropFirst() == t.dropFirst(), let a = c.first, let b = t.first {
                text += " (\(a) rows along the first axis, the truth has \(b))"
            } else if c.count != t.count, elementCount(c) == elementCount(t) {
                text += " (same number of elements: dump it with the checkpoint's shape)"
            }
            return text
        case .nonFinite(let nan, let inf):
            return "non-finite where the truth is finite: \(nan) NaN, \(inf) Inf; first at \(worstLocation)"
                + (worstIndex.map { " (flat index \($0))" } ?? "") + " = \(formatNumber(worstCandidate))"
        }
    }
}

/// A candidate's stage output against the float64 stage re-run on its own inputs.
public struct LocalComparison: Sendable {
    public var metrics: ErrorMetrics
    /// The scaled local budget; nil: reported, not judged (no local budget in the fixture).
    public var tolerance: Tolerance?
    public var passed: Bool { tolerance.map { $0.admits(metrics) } ?? true }
}

/// How a compared tensor is judged.
public enum Verdict: Sendable, Equatable {
    case pass
    case fail
    /// No budget applies (the debugger measuring against its own run).
    case unmarked
}

/// What a comparison measures against.
public enum ComparisonJudge: Sendable {
    /// The fixture's truth, judged by this rule (BudgetRule: the profile's global and local budgets).
    case rule(BudgetRule, profile: BudgetClass)
    /// Metrics only.
    case unmarked
}

/// `[12, 4, 16]`.
package func shapeDescription(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }


/// Names the axes of a checkpoint for reporting an element.
package func axisLabels(for name: String, rank: Int) -> [String] {
    if name.hasPrefix("state.") {
        if name.hasSuffix(".wkv") { return ["head", "value", "key"] }
        if name.hasSuffix(".k") || name.hasSuffix(".v") { return ["position", "kv head", "channel"] }
        return ["index"]
    }
    if name == CheckpointName.logits { return ["token", "vocab"] }
    switch rank {
    case 3:
        let kvSide = name.hasSuffix(".rwkv.k") || name.hasSuffix(".rwkv.v") || name.hasSuffix(".k_mixed")
            || name.hasSuffix(".v_mixed") || name.hasSuffix(".gqa.k") || name.hasSuffix(".gqa.v")
        return ["token", kvSide ? "kv head" : "head", "channel"]
    case 2: return ["token", "channel"]
    default: return (0..<rank).map { "axis \($0)" }
    }
}

/// `token 3, head 1, channel 7` for flat index `index` of checkpoint `name` of `shape`.
package func elementLocation(name: String, shape: [Int], index: Int) -> String {
    let labels = axisLabels(for: name, rank: shape.count)
    let coords = unravel(index, shape: shape)
    if coords.isEmpty { return "element \(index)" }
    return zip(labels, coords).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
}

/// Holds one candidate tensor against its reference (the contract's four outcomes).
///
/// - Parameters:
///   - reference: row-major values of shape `referenceShape`.
///   - referenceIsInteger: true for an integer checkpoint (`state.position`), which
///     accepts integer candidates.
package func compareCheckpoint(name: String, candidate: CandidateTensor, reference: [Double], referenceShape: [Int],
                              referenceIsInteger: Bool = false, judge: ComparisonJudge) -> CheckpointComparison {
    var cls = BudgetClass(dtype: candidate.dtype)
    if case .rule(_, let profile) = judge { cls = profile }
    var result = CheckpointComparison(
        name: name, shape: referenceShape, candidateShape: candidate.shape, candidateDType: candidate.dtype, budgetClass: cls,
        tolerance: nil, metrics: ErrorMetrics(reference: [Double](), candidate: [Double]()), outcome: .compared, verdict: .fail,
        batchOfOne: false, worstIndex: nil, worstLocation: "-", worstCandidate: .nan, worstTruth: .nan)
    func infiniteMetrics() -> ErrorMetrics { ErrorMetrics(reference: [Double.infinity], candidate: [0.0]) }
    // 1. dtype
    if !candidate.dtype.isFloatingPoint && !referenceIsInteger {
        result.outcome = .refusedDType(candidate.dtype)
        result.metrics = infiniteMetrics()
        return result
    }
    // 2. shape (a leading batch axis of one is accepted)
    if candidate.shape != referenceShape {
        if candidate.shape.count == referenceShape.count + 1, candidate.shape.first == 1,
           Array(candidate.shape.dropFirst()) == referenceShape {
            result.batchOfOne = true
        } else {
            result.outcome = .shapeMismatch(candidate: candidate.shape, truth: referenceShape)
            result.metrics = infiniteMetrics()
            return result
        }
    }
    let values = candidate.values
    guard values.count == reference.count else {   // a shape that disagrees with its own values (API callers)
        result.outcome = .shapeMismatch(candidate: [values.count], truth: referenceShape)
        result.metrics = infiniteMetrics()
        return result
    }
    // 3. non-finite where the reference is finite
    var nan = 0, inf = 0, first: Int? = nil
    for (i, (c, r)) in zip(values, reference).enumerated() where r.isFinite && !c.isFinite {
        if c.isNaN { nan += 1 } else { inf += 1 }
        if first == nil { first = i }
    }
    let metrics = ErrorMetrics(reference: reference, candidate: values)
    result.metrics = metrics
    var rule: BudgetRule? = nil
    if case .rule(let r, _) = judge {
        rule = r
        result.tolerance = r.tolerance
    }
    if let first {
        result.outcome = .nonFinite(nan: nan, inf: inf)
        result.setWorst(first, values, reference)
        return result
    }
    // 4. compared
    if let rule {
        result.verdict = rule.admits(metrics, candidate: values, truth: reference) ? .pass : .fail
    } else {
        result.verdict = .unmarked
    }
    if !reference.isEmpty { result.setWorst(min(metrics.worstIndex, reference.count - 1), values, reference) }
    return result
}

extension CheckpointComparison {
    fileprivate mutating func setWorst(_ i: Int, _ values: [Double], _ reference: [Double]) {
        worstIndex = i
        worstLocation = elementLocation(name: name, shape: shape, index: i)
        worstCandidate = values[i]
        worstTruth = reference[i]
    }
}

/// Everything a comparison with a fixture found.
public struct ComparisonReport: Sendable {
    public var fixture: String
    public var plan: String
    public var toleranceScale: Double
    /// The profile named by the caller; nil: each tensor's dtype chose.
    public var profile: BudgetClass? = nil
    /// Why the stage-local replay did not run (nil when it ran or nothing had its inputs).
    public var replayNote: String? = nil
    /// Checkpoints judged against the replay too.
    public var locallyCompared: Int { results.filter { $0.local != nil }.count }
    /// Checkpoints present in the candidate, in execution order.
    public var results: [CheckpointComparison]
    /// Fixture checkpoints the candidate did not provide.
    public var missing: [String]
    /// Candidate tensors that are checkpoints of the fixture's model but outside
    /// its checkpoint selection (`Manifest.checkpointSelection`): not compared, not a failure.
    public var notInFixture: [String] = []
    /// Candidate tensors the fixture does not know (no checkpoint name of its model).
    public var unknown: [String]

    /// True when at least one checkpoint was compared and none fails.
    public var passed: Bool { results.allSatisfy { $0.passed } && !results.isEmpty }
    /// False when nothing could be judged (no fixture checkpoint in the candidate).
    public var comparable: Bool { !results.isEmpty }
    /// The first failing checkpoint in execution order.
    public var firstFailure: CheckpointComparison? { results.first { !$0.passed } }
    /// Every failing checkpoint, in execution order.
    public var failures: [CheckpointComparison] { results.filter { !$0.passed } }
}

/// Compares `candidate` with the truth of `plan` in `fixture`.
///
/// - Parameters:
///   - profile: the budgets to apply (`--profile`); nil: each tensor's dtype chooses.
///   - replay: the stage-local replay of this candidate (`stageReplay`, name → the
///     float64 stage on the candidate's inputs); nil: global figures only.
/// - Throws: `Hxa079Error.invalidArgument` for an unknown plan, or when the fixture has
///   no budget of the profile (`MissingBudget`'s text); errors reading the fixture.
package func compare(fixture: Fixture, plan: String, candidate: [String: CandidateTensor],
                    profile: BudgetClass? = nil, toleranceScale: Double = 1,
                    replay: [String: [Double]]? = nil) throws -> ComparisonReport {
    guard fixture.manifest.plans.contains(where: { $0.name == plan }) else {
        throw Hxa079Error.invalidArgument("fixture \(fixture.manifest.name) has no plan \"\(plan)\" (plans: \(fixture.manifest.plans.map { $0.name }.joined(separator: ", ")))")
    }
    var results: [CheckpointComparison] = []
    var missing: [String] = []
    for record in fixture.manifest.checkpoints {
        guard let c = candidate[record.name] else { missing.append(record.name); continue }
        results.append(try compare(record: record, candidate: c, fixture: fixture, plan: plan, profile: profile,
                                   toleranceScale: toleranceScale, replay: replay))
    }
    let known = Set(fixture.manifest.checkpoints.map { $0.name })
    let unselected = fixture.manifest.unselectedCheckpointNames   // in execution order
    let others = candidate.keys.filter { !known.contains($0) }
    let outside = Set(others).intersection(unselected)
    var report = ComparisonReport(fixture: fixture.manifest.name, plan: plan, toleranceScale: toleranceScale,
                                  results: results, missing: missing, unknown: others.filter { !outside.contains($0) }.sorted())
    report.profile = profile
    report.notInFixture = unselected.filter { outside.contains($0) }
    return report
}

/// One fixture checkpoint of `plan` against one candidate tensor: the outcome
/// and global verdict by the profile's budget rule, then the local figures
/// against `replay` and, for `logits`, the logits metrics (the contract above).
/// `compare(fixture:…)` and `step --compare` both judge through this.
///
/// - Throws: `Hxa079Error.invalidArgument` when the fixture has no budget of the profile; read errors.
package func compare(record: Manifest.CheckpointRecord, candidate c: CandidateTensor, fixture: Fixture, plan: String,
                     profile: BudgetClass?, toleranceScale: Double, replay: [String: [Double]]?) throws -> CheckpointComparison {
    let truth = try fixture.truth(plan: plan, name: record.name)
    let chosen = profile ?? BudgetClass(dtype: c.dtype)
    let rule = try record.rule(profile: chosen, plan: plan, toleranceScale: toleranceScale)
    var result = compareCheckpoint(name: record.name, candidate: c, reference: truth, referenceShape: record.shape,
                                   referenceIsInteger: !(DType(rawValue: record.dtype)?.isFloatingPoint ?? true),
                                   judge: .rule(rule, profile: chosen))
    guard result.outcome == .compared else { return result }
    if let local = replay?[record.name], local.count == c.values.count, local.allSatisfy({ $0.isFinite }) {
        result.local = LocalComparison(metrics: ErrorMetrics(reference: local, candidate: c.values), tolerance: rule.local)
    }
    if record.name == CheckpointName.logits {
        let tolerance = record.logitsBudgets[chosen]?[plan]?.tolerance.scaled(toleranceScale)
        result.logits = LogitsComparison(truth: truth, candidate: c.values, vocab: fixture.manifest.model.config.vocabSize,
                                         gaps: try fixture.topLogitGaps(plan: plan), tolerance: chosen == .float64 ? nil : tolerance)
    }
    return result
}

extension Manifest.CheckpointRecord {
    /// This checkpoint's budget rule under `profile` on `plan`.
    ///
    /// - Throws: `Hxa079Error.invalidArgument` with `MissingBudget`'s text when the fixture has no such budget.
    package func rule(profile: BudgetClass, plan: String, toleranceScale: Double) throws -> BudgetRule {
        do {
            return try BudgetRule(checkpoint: name, budget: budget, profiles: profiles, profile: profile, plan: plan,
                                  toleranceScale: toleranceScale)
        } catch let e as MissingBudget {
            throw Hxa079Error.invalidArgument(e.description)
        }
    }
}
