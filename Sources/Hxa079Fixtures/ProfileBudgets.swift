// ProfileBudgets: measures the per-profile budgets `fixtures make` writes
// beside the f32 one (SPEC.md §4.6): bf16 and f16 budgets against the truth
// and against the stage-local replay, per checkpoint and plan, and the f32
// local budgets.
//
// Contract: a reduced-precision profile's budgets come from the readable
// reference emulating it (SPEC.md §4.7) in every honest variant of
// `HonestVariant`, on every plan of the fixture, each run held against the
// truth of its plan (global) and against its own stage-local replay (local,
// StageReplay.swift); a checkpoint's budget on a plan is
// `ReducedPrecisionRule.derive` of the worst variant there. The f32 local
// budget comes from this package's float32 run of the plan (the one its f32
// budget is measured on) by the f32 rule. The logits budgets (LogitsMetrics.swift)
// come from the same runs. Deterministic: every run is the reference on fixed
// inputs, so a fixture regenerates byte for byte.

import Hxa079
import Hxa079Reference

/// The honest ways to store in a reduced format that the budgets are measured on (SPEC.md §4.6, §4.7).
package enum HonestVariant: String, CaseIterable, Sendable {
    /// (a) the profile itself: stage outputs and the listed kernel inputs rounded, each plan's WKV form.
    case stageOutputs = "stage_outputs"
    /// (b) every intermediate a stage materializes rounded too.
    case everyIntermediate = "every_intermediate"
    /// (d) the profile's storage rounding with binary64 arithmetic (wider accumulation than f32).
    case binary64Arithmetic = "binary64_arithmetic"
    /// (a) with every call in the chunked WKV form, L = `chunkedVariantSize`.
    case chunked = "chunked_16"

    /// L of the chunked variant: RWKV-Infer's and fla's chunk length of 16.
    package static let chunkedVariantSize = 16

    package func profile(_ format: StorageFormat) -> PrecisionProfile {
        PrecisionProfile(format: format, intermediates: self == .everyIntermediate ? .everyIntermediate : .stageOutputsOnly)
    }
}

/// The worst figures over runs, per checkpoint.
struct WorstFigures {
    var global: [String: (maxRel: Double, nmse: Double)] = [:]
    var local: [String: (maxRel: Double, nmse: Double)] = [:]
    var logits: LogitsMeasure?

    mutating func add(run: [Checkpoint], truth: [Checkpoint], replay: [String: [Double]], vocab: Int) {
        let byName = Dictionary(run.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for t in truth where t.name != CheckpointName.statePosition {
            guard let c = byName[t.name] else { continue }
            let m = ErrorMetrics(reference: t.values, candidate: c.values)
            global[t.name] = WorstFigures.worse(global[t.name], m)
            if let r = replay[t.name], r.count == c.values.count {
                local[t.name] = WorstFigures.worse(local[t.name], ErrorMetrics(reference: r, candidate: c.values))
            }
            if t.name == CheckpointName.logits {
                let l = LogitsComparison(truth: t.values, candidate: c.values, vocab: vocab, gaps: [], tolerance: nil).measure
                logits = logits.map { LogitsMeasure.worse($0, l) } ?? l
            }
        }
    }

    static func worse(_ a: (maxRel: Double, nmse: Double)?, _ m: ErrorMetrics) -> (maxRel: Double, nmse: Double) {
        guard let a else { return (m.maxRel, m.nmse) }
        return (max(a.maxRel, m.maxRel), max(a.nmse, m.nmse))
    }
}

/// What `fixtures make` needs to measure the profiles' budgets of one fixture.
struct ProfileBudgetRuns {
    let plans: [SplitPlan]
    let tokens: [Int]
    let keep: ((String) -> Bool)?
    let scratch: String
    let weights64: any WeightProvider<Double>
    let weights32: any WeightProvider<Float>
    let vocab: Int

    /// The runs `measure` makes, for the progress count.
    static func runCount(plans: Int, profiles: [BudgetClass]) -> Int {
        profiles.reduce(0) { n, p in n + plans * (p == .float32 ? 1 : 2 * HonestVariant.allCases.count) }
    }

    /// name → profile → budgets, and the logits budgets, for `profiles`
    /// (`.float32`: the local budgets from `float32ByPlan`; bf16, f16: everything).
    func measure(profiles: [BudgetClass], truthByPlan: [String: [Checkpoint]], float32ByPlan: [String: [Checkpoint]],
                 tracker: inout ProgressTracker) throws
        -> (budgets: [String: [BudgetClass: ProfileBudget]], logits: [BudgetClass: [String: LogitsBudget]]) {
        var budgets: [String: [BudgetClass: ProfileBudget]] = [:]
        var logits: [BudgetClass: [String: LogitsBudget]] = [:]
        for profile in profiles {
            for plan in plans {
                guard let truth = truthByPlan[plan.name] else { continue }
                var worst = WorstFigures()
                let runs: [(String, EngineRunner)]
                if let format = profile.reducedFormat {
                    runs = HonestVariant.allCases.map { v in
                        let p = v.profile(format), chunk = v == .chunked ? HonestVariant.chunkedVariantSize : nil
                        let engine: EngineRunner = v == .binary64Arithmetic
                            ? .reference(weights: StoredWeights(weights64, in: p), profile: p, chunkSize: chunk)
                            : .reference(weights: StoredWeights(weights32, in: p), profile: p, chunkSize: chunk)
                        return ("\(profile.rawValue) \(v.rawValue)", engine)
                    }
                } else {
                    runs = []
                }
                var emulated: [(String, [Checkpoint])] = []
                for (label, engine) in runs {
                    emulated.append((label, try tracker.run("emulated \(label)", plan: plan.name) { report in
                        try runPlan(plan, tokens: tokens, engine: engine, scratchDirectory: scratch, keep: keep, progress: report)
                    }))
                }
                if profile == .float32, let f32 = float32ByPlan[plan.name] { emulated.append(("f32", f32)) }
                for (label, run) in emulated {
                    let candidate = Dictionary(run.map { ($0.name, CandidateTensor(dtype: .F32, shape: $0.shape, values: $0.values)) },
                                               uniquingKeysWith: { a, _ in a })
                    let replay = try tracker.run("stage-local replay of \(label)", plan: plan.name) { _ in
                        try stageReplay(plan: plan, tokens: tokens, weights: weights64, candidate: candidate, scratchDirectory: scratch)
                    }
                    worst.add(run: run, truth: truth, replay: replay, vocab: vocab)
                }
                for (name, g) in worst.global {
                    var b = budgets[name, default: [:]][profile, default: ProfileBudget()]
                    if let format = profile.reducedFormat {
                        b.global[plan.name] = ReducedPrecisionRule.derive(maxRel: g.maxRel, nmse: g.nmse, format: format)
                        if let l = worst.local[name] { b.local[plan.name] = ReducedPrecisionRule.derive(maxRel: l.maxRel, nmse: l.nmse, format: format) }
                    } else if let l = worst.local[name] {
                        b.local[plan.name] = ReducedPrecisionRule.deriveFloat32(maxRel: l.maxRel, nmse: l.nmse)
                    }
                    budgets[name, default: [:]][profile] = b
                }
                if let l = worst.logits {
                    let reduced = profile.reducedFormat != nil
                    logits[profile, default: [:]][plan.name] = LogitsBudget(
                        deriving: l, linear: reduced ? ReducedPrecisionRule.safetyMaxRel : Budget.safety,
                        quadratic: reduced ? ReducedPrecisionRule.safetyNMSE : Budget.safety * Budget.safety)
                }
            }
        }
        return (budgets, logits)
    }
}
