// OracleReport: what checking a candidate against a fixture found.
//
// Contract: `OracleFixture.check` compares every checkpoint the candidate
// holds with the fixture's float64 truth for one plan, exactly as
// `hxa079 compare` does (Hxa079Fixtures `compare`, the one comparison shared
// with `hxa079 step --compare`; each checkpoint's outcome: compared, non-finite,
// shape mismatch or refused dtype): per checkpoint max abs,
// max rel, NMSE, the tolerance of its budget class widened by the tolerance
// scale, pass/fail, and the worst element labelled by token/head/channel.
// The report names the first failing checkpoint in execution order; its
// `failureMessage` is the text the assertion helpers (Hxa079OracleTesting)
// fail with: checkpoint, metrics against budget, worst element, and how many
// other checkpoints fail. A report passes when at least one checkpoint was
// compared and every compared one passes; checkpoints the candidate lacks
// fail it only when asked (`requireAllCheckpoints`).

import Hxa079
import Hxa079Fixtures

/// The result of checking one candidate against one plan of a fixture.
public struct OracleReport: Sendable, CustomStringConvertible {
    /// The full comparison (what `hxa079 compare` prints).
    public var comparison: ComparisonReport

    /// The fixture's name.
    public var fixture: String { comparison.fixture }
    /// The plan whose truth was used.
    public var plan: String { comparison.plan }
    /// The tolerance scale applied (max rel × s, NMSE × s²).
    public var toleranceScale: Double { comparison.toleranceScale }
    /// One result per compared checkpoint, in execution order: metrics,
    /// tolerance, pass/fail, worst element (`worstLocation`, e.g.
    /// `token 3, head 1, channel 7`, `worstCandidate`, `worstTruth`).
    public var results: [CheckpointComparison] { comparison.results }
    /// Fixture checkpoints the candidate did not provide, in execution order.
    public var missing: [String] { comparison.missing }
    /// Candidate checkpoints of the fixture's model outside its checkpoint
    /// selection (`Manifest.checkpointSelection`): not compared, not a failure.
    public var notInFixture: [String] { comparison.notInFixture }
    /// Candidate names the fixture does not know (ignored).
    public var unknown: [String] { comparison.unknown }
    /// The first failing checkpoint in execution order, nil when none fails.
    public var firstFailure: CheckpointComparison? { comparison.firstFailure }
    /// Every failing checkpoint, in execution order.
    public var failures: [CheckpointComparison] { comparison.failures }
    /// The result for checkpoint `name`, if it was compared.
    public func result(_ name: String) -> CheckpointComparison? { comparison.results.first { $0.name == name } }

    /// True when at least one checkpoint was compared and all compared ones pass.
    public var passed: Bool { comparison.passed }

    /// `passed`, and with `requireAllCheckpoints` also no fixture checkpoint missing.
    public func passed(requireAllCheckpoints: Bool) -> Bool {
        passed && (!requireAllCheckpoints || missing.isEmpty)
    }

    /// The aligned table `hxa079 compare` prints (`verbose: false`: failing rows only).
    public func text(verbose: Bool = true) -> String { comparison.text(verbose: verbose) }

    /// The table with failing rows only.
    public var description: String { text(verbose: false) }

    /// One line: `fixture tiny, plan one_call: all 76 checkpoints pass` or the first failure.
    public var summary: String {
        let head = "fixture \(fixture), plan \(plan)"
        if let f = firstFailure { return "\(head): \(failures.count) of \(results.count) checkpoints fail, first \(f.name)" }
        if results.isEmpty { return "\(head): no checkpoint compared" }
        return "\(head): all \(results.count) compared checkpoints pass" + (missing.isEmpty ? "" : " (\(missing.count) not provided)")
    }

    /// Why the candidate fails, for a test failure; nil when it passes.
    ///
    /// Names the first failing checkpoint in execution order, its metrics
    /// against its tolerance, the worst element (token/head/channel,
    /// candidate and truth), and the other failures.
    public func failureMessage(requireAllCheckpoints: Bool = false) -> String? {
        let head = "hxa079 oracle: fixture \(fixture), plan \(plan)"
            + (toleranceScale != 1 ? ", tolerance scale \(toleranceScale)" : "")
        if let f = firstFailure {
            var lines = ["\(head): checkpoint \(f.name) is the first to fail (\(budgetName(f)))"]
            if let problem = f.problem {
                lines.append("  \(f.name): \(problem)")
            } else if let t = f.tolerance {
                let m = f.metrics
                lines.append("  max rel \(formatNumber(m.maxRel)) (tolerance \(formatNumber(t.maxRel))\(m.maxRel > t.maxRel ? ", exceeded" : "")), "
                             + "NMSE \(formatNumber(m.nmse)) (tolerance \(formatNumber(t.nmse))\(m.nmse > t.nmse ? ", exceeded" : "")), "
                             + "max abs \(formatNumber(m.maxAbs))")
                if m.nonFiniteMismatches > 0 {
                    lines.append("  \(m.nonFiniteMismatches) non-finite value(s) where the truth is finite (or the reverse)")
                }
                lines.append("  worst element at \(f.worstLocation): " + pair(f.worstCandidate, f.worstTruth))
            } else {
                lines.append("  differs from the truth (compared exactly) at \(f.worstLocation): " + pair(f.worstCandidate, f.worstTruth))
            }
            let index = results.firstIndex { $0.name == f.name } ?? 0
            let later = results[(index + 1)...].filter { !$0.passed }.map { $0.name }
            var context = "  \(index) compared checkpoint(s) before it pass"
            if later.isEmpty {
                context += "; no later checkpoint fails"
            } else {
                context += "; \(later.count) of the \(results.count - index - 1) after it fail too: "
                    + later.prefix(6).joined(separator: ", ") + (later.count > 6 ? ", …" : "")
            }
            lines.append(context)
            if requireAllCheckpoints && !missing.isEmpty { lines.append("  " + missingLine) }
            return lines.joined(separator: "\n")
        }
        if results.isEmpty {
            let held = notInFixture + unknown
            return "\(head): no checkpoint compared: the candidate holds none of the fixture's \(missing.count) checkpoint names"
                + (held.isEmpty ? " (it is empty)" : " (it holds: " + held.prefix(6).joined(separator: ", ") + (held.count > 6 ? ", …" : "")
                   + (notInFixture.isEmpty ? ")" : "; \(notInFixture.count) of them are not in this fixture)"))
        }
        if requireAllCheckpoints && !missing.isEmpty {
            return "\(head): all \(results.count) compared checkpoints pass, but " + missingLine
        }
        return nil
    }

    /// `candidate …, truth …, difference …`, with every digit when three would not tell them apart.
    private func pair(_ candidate: Double, _ truth: Double) -> String {
        let (c, t) = (formatNumber(candidate), formatNumber(truth))
        let distinct = c != t || candidate == truth || !candidate.isFinite || !truth.isFinite
        return distinct ? "candidate \(c), truth \(t), difference \(formatNumber(candidate - truth))"
            : "candidate \(candidate), truth \(truth), difference \(formatNumber(candidate - truth))"
    }

    private var missingLine: String {
        "\(missing.count) checkpoint(s) not provided: " + missing.prefix(6).joined(separator: ", ") + (missing.count > 6 ? ", …" : "")
    }

    private func budgetName(_ r: CheckpointComparison) -> String {
        switch r.outcome {
        case .shapeMismatch, .refusedDType: return "not comparable"
        case .nonFinite: return "non-finite values"
        case .compared: break
        }
        if r.tolerance == nil { return "compared exactly" }
        return r.budgetClass == .float64 ? "float64 candidate, float64 tolerance" : "float32 candidate, float32 budget"
    }
}

// MARK: - Checking

extension OracleFixture {
    /// Checks `candidate` against the truth of `plan`.
    ///
    /// - Parameters:
    ///   - candidate: an `OracleCandidate`, an `OracleObserver`, or a
    ///     `[String: [Float]]` / `[String: [Double]]` of checkpoint values.
    ///   - plan: the split plan the engine ran (default `one_call`).
    ///   - toleranceScale: widens every tolerance (max rel × s, NMSE × s²), e.g. for bf16 engines.
    /// - Throws: `Hxa079Error.invalidArgument` for an unknown plan or a
    ///   non-positive scale; errors reading the fixture.
    ///   - profile: the budgets to apply (f64, f32, bf16, f16); nil: each tensor's precision class chooses.
    ///   - stageReplay: re-run each stage whose inputs the candidate holds in
    ///     float64 on them and hold it to the local budget too (SPEC.md §4.8;
    ///     streams the fixture's model once, found as `withModelDirectory` says).
    ///   - model: the fixture's model where it lives now, when it moved (for the replay).
    public func check(_ candidate: some OracleCandidateConvertible, plan: String = "one_call", profile: BudgetClass? = nil,
                      toleranceScale: Double = 1, stageReplay: Bool = true, model: String? = nil) throws -> OracleReport {
        guard toleranceScale > 0, toleranceScale.isFinite else {
            throw Hxa079Error.invalidArgument("tolerance scale must be a positive number, got \(toleranceScale)")
        }
        _ = try self.plan(plan)
        let tensors = try candidate.oracleCandidate().resolved(against: fixture)
        let replay = stageReplay ? try fixture.stageReplay(plan: plan, candidate: tensors, model: model) : nil
        return OracleReport(comparison: try compare(fixture: fixture, plan: plan, candidate: tensors, profile: profile,
                                                    toleranceScale: toleranceScale, replay: replay))
    }

    /// Checks a safetensors dump (checkpoint names, any float dtype, any subset), like `hxa079 compare`.
    public func check(dump path: String, plan: String = "one_call", profile: BudgetClass? = nil, toleranceScale: Double = 1,
                      stageReplay: Bool = true) throws -> OracleReport {
        try check(try OracleCandidate(dump: path), plan: plan, profile: profile, toleranceScale: toleranceScale, stageReplay: stageReplay)
    }
}
