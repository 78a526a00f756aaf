// ReferenceCrossCheck: the readable reference re-runs a prefix of a fixture
// whose truth came from another float64 engine (`fixtures make --engine
// fast`: FastModel64), and every checkpoint of that prefix is held against
// the truth (SPEC.md §4.6, "Truth from the fast engine").
//
// Contract: the reference runs the first K tokens of the fixture in one
// recurrent call (from the zero state, as every plan starts). Causality makes
// the first K rows of every checkpoint on the token axis — the activations
// of §4.3 [T, …] and the GQA caches `state.layers.{i}.k|v` [P, Hkv, N], whose
// row p is the key/value of token p, never changed later — the same function
// of those K tokens in every plan, so they are compared with the first K rows
// of every plan's truth. The WKV states and `state.position` summarise the
// whole sequence: compared only when K = T, listed as not compared otherwise.
// Metric: the package's max relative difference (`maxRelativeError`,
// ErrorMetrics.swift: max|truth − reference| / max|reference|), the worst
// over the plans, per checkpoint; above `bound` (1e-12) the fixture is refused
// (`CrossCheckDisagreement`). K follows a cost rule that depends only on the
// plans and T (no wall time, so regeneration is byte-identical), see
// `defaultTokens`.

import Hxa079

package enum ReferenceCrossCheck {
    /// The largest max relative difference admitted between the truth and the
    /// reference (issue 18; the fast f64 engine measures ≤ 8.0e-15, SPEC.md §7).
    package static let bound = 1e-12

    /// The throughput of the fast f64 engine over the readable f64 reference
    /// on one call of n tokens: prefill (n > 1) and decode (n = 1), the
    /// medium preset of BENCHMARKS.md run F (2026-12-02: 50.7× prefill T = 512,
    /// 2.88× decode), rounded to 50 and 3. The larger model's ratios are the
    /// ones that matter (the small preset's prefill: 24×, where K is cheap).
    package static let prefillSpeedup = 50.0
    package static let decodeSpeedup = 3.0

    /// The cost rule for K: the reference's time for K tokens (≈ K token-times
    /// of the reference) is at most the fast truth's estimated time over every
    /// plan, Σ_plans Σ_calls n / R(n) (R(1) = 3, R(n > 1) = 50), so
    /// K = clamp(⌊Σ_plans Σ_calls n / R(n)⌋, 1, T).
    package static func defaultTokens(plans: [SplitPlan], tokens T: Int) -> Int {
        var fastCost = 0.0   // in reference token-times
        for plan in plans {
            for n in plan.calls { fastCost += Double(n) / (n > 1 ? prefillSpeedup : decodeSpeedup) }
        }
        return min(max(Int(fastCost.rounded(.down)), 1), max(T, 1))
    }

    /// True when the first K rows of `name` depend only on the first K tokens
    /// (the activations and the GQA caches); false for the WKV states and
    /// `state.position`, which hold the whole sequence.
    package static func isOnTokenAxis(_ name: String) -> Bool {
        guard name.hasPrefix("state.") else { return true }
        guard let i = CheckpointName.layerIndex(of: name) else { return false }
        return name == CheckpointName.stateKeys(i) || name == CheckpointName.stateValues(i)
    }

    /// Compares the reference's run of the first `prefix` tokens (`reference`,
    /// activations then the state after them) with the truth of every plan
    /// (`truthByPlan`, over all T tokens), in the order of `order`.
    ///
    /// - Throws: `CrossCheckDisagreement` for the first checkpoint (in `order`)
    ///   whose difference exceeds `bound` (or is not finite), naming the plan.
    package static func compare(reference: [Checkpoint], prefix K: Int, tokens T: Int, order: [String],
                                plans: [String], truthByPlan: [String: [Checkpoint]],
                                bound: Double = bound) throws -> Manifest.CrossCheckRecord {
        let referenceByName = Dictionary(reference.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var record = Manifest.CrossCheckRecord(tokens: K, bound: bound, plans: plans, maxRelative: [], notCompared: [])
        for name in order {
            guard let r = referenceByName[name] else { continue }
            let rowsOnly = K < T
            if rowsOnly && !isOnTokenAxis(name) {
                record.notCompared.append(name)
                continue
            }
            var worst = 0.0, worstPlan = plans.first ?? ""
            for plan in plans {
                guard let t = truthByPlan[plan]?.first(where: { $0.name == name }) else { continue }
                // r: [K, …]; t: [T, …] (rows of the token axis), or equal shapes when K = T.
                guard let rows = r.shape.first, let truthRows = t.shape.first, rows <= truthRows,
                      t.shape.dropFirst() == r.shape.dropFirst(), t.values.count >= r.values.count else {
                    throw Hxa079Error.invalidArgument("cross-check: \(name) has shape \(shapeDescription(r.shape)) in the reference and \(shapeDescription(t.shape)) in the truth of plan \(plan)")
                }
                let e = maxRelativeError(r.values, t.values.prefix(r.values.count))
                if !(e <= worst) { worst = e; worstPlan = plan }   // a NaN is the worst
            }
            record.maxRelative.append((name, worst))
            if !(worst <= bound) {
                throw CrossCheckDisagreement(checkpoint: name, plan: worstPlan, tokens: K, maxRelative: worst, bound: bound)
            }
        }
        return record
    }
}

/// The truth and the readable reference disagree beyond the bound on a
/// checkpoint of the cross-checked prefix: the fixture is not written.
package struct CrossCheckDisagreement: Error, CustomStringConvertible {
    package var checkpoint: String
    package var plan: String
    package var tokens: Int
    package var maxRelative: Double
    package var bound: Double

    package var description: String {
        "the float64 truth disagrees with the readable reference at \(checkpoint) (plan \(plan), first \(tokens) token\(tokens == 1 ? "" : "s")): "
            + "max relative difference \(formatNumber(maxRelative)) > \(bound); no fixture written"
    }
}
