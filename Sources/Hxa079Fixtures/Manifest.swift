// Manifest: `manifest.json` of a fixture directory (SPEC.md §4.6).
//
// Contract: a plain description any language can read: format version,
// conventions, provenance (the exact command, package version, weight
// hashes), the token inputs and split plans, every checkpoint in execution
// order with its dtype, shape and error budgets (f32, f64, and per plan the
// bf16/f16 global and local and the f32 local ones; `logits` also its logits
// metrics' budgets), and the mutants with their
// measured distance from the truth. Serialised deterministically (no
// timestamps), so regenerating a fixture is byte-identical.

import Hxa079
import SafeTensors

package let fixtureFormatVersion = 1
package let packageVersion = "0.1.0"

public struct Manifest: Sendable {
    /// The fixture's name (its directory name by default).
    public var name: String
    /// The `hxa079 fixtures make …` command that regenerates it.
    public var command: String
    /// What the fixture was made from.
    public var model: ModelRecord
    /// The token sequence; positions are `startPosition + index`.
    public var tokens: [Int]
    public var startPosition: Int
    public var plans: [SplitPlan]
    /// Every checkpoint (activations then state tensors) the truth holds, in execution order.
    public var checkpoints: [CheckpointRecord]
    /// The globs that chose `checkpoints` among the model's checkpoint names
    /// (`fixtures make --checkpoints`, or the large-model default); nil = every
    /// checkpoint. A valid name outside it is "not in this fixture" to `compare`.
    public var checkpointSelection: [String]? = nil
    public var mutants: [MutantRecord]
    /// Shipped mutants that cannot change anything on this model, these tokens and plans.
    public var skippedMutants: [SkippedMutant] = []
    /// Shipped mutants whose effect stays inside the float64 tolerance at every checkpoint.
    public var undetectableMutants: [UndetectableMutant] = []
    /// Engine that produced `f32.safetensors` (`reference` or `fast`).
    public var float32Engine: String
    /// Engine that produced the truth, `f64.safetensors`: `reference` (the
    /// readable reference), or `fast f64` (`fixtures make --engine fast`), then
    /// checked by the reference on a prefix (`referenceCrossCheck`).
    public var truthEngine = "reference"
    /// The reference's check of a truth it did not produce (nil for a reference truth).
    public var referenceCrossCheck: CrossCheckRecord? = nil

    public struct ModelRecord: Sendable {
        /// `preset` or `directory`.
        public var source: String
        public var preset: String?
        public var seed: UInt64?
        /// Stored dtype of the weights.
        public var dtype: String
        /// Where the model directory is: relative to the fixture directory
        /// (`model` when bundled, e.g. `../models/m` for `--model`), or absolute;
        /// never relative to the working directory of the command that made
        /// it. For a preset model that is not bundled, a note on how it is
        /// regenerated. Resolved by `Fixture.modelDirectory`.
        public var path: String
        /// True when the model files are inside the fixture directory.
        public var bundled: Bool
        /// file name → SHA-256 of the model files.
        public var files: [(String, String)]
        public var config: ModelConfig
        public var layerMap: String
    }

    public struct CheckpointRecord: Sendable {
        public var name: String
        public var shape: [Int]
        /// dtype in f64.safetensors (F64) — the truth.
        public var dtype: String
        /// The float32 budget (nil for `state.position`, compared exactly).
        public var budget: Budget?
        /// The per-plan budgets of the other profiles: bf16 and f16 global and
        /// local, f32 local (SPEC.md §4.6, §4.8); empty in a fixture made without them.
        public var profiles: [BudgetClass: ProfileBudget] = [:]
        /// `logits` only: the budgets of the logits metrics per profile and plan (SPEC.md §4.6).
        public var logitsBudgets: [BudgetClass: [String: LogitsBudget]] = [:]
    }

    public struct MutantRecord: Sendable {
        public var name: String
        public var summary: String
        public var plan: String
        /// First checkpoint in execution order where the mutant differs from the truth at all
        /// (from the reference's own run of `plan` when the truth came from another engine).
        public var firstAffected: String
        /// Its distance there.
        public var distance: ErrorMetrics
        /// First checkpoint outside the float64 tolerance, and outside the float32 budget.
        public var firstOutsideFloat64: String?
        public var firstOutsideFloat32: String?
        /// The checkpoints stored in mutants.safetensors, in execution order: from
        /// `firstAffected` through the later of the two first-outside checkpoints
        /// (SPEC.md §4.6). Every earlier checkpoint equals the truth of `plan` bit
        /// for bit (a truth from another engine: the reference's run of `plan`,
        /// which the truth matches to rounding); later ones are not stored. Nil in a fixture that stores every checkpoint.
        public var storedCheckpoints: [String]? = nil
    }

    /// How the readable reference re-ran the first `tokens` tokens in one
    /// call and held every checkpoint of them against the truth of every plan
    /// (SPEC.md §4.6; ReferenceCrossCheck.swift).
    public struct CrossCheckRecord: Sendable {
        /// K, the tokens the reference ran (the cost rule, or `--cross-check-tokens`).
        public var tokens: Int
        /// The largest admitted max relative difference (1e-12).
        public var bound: Double
        /// The plans whose truth was compared.
        public var plans: [String]
        /// checkpoint → max relative difference (max|truth − reference| / max|reference|)
        /// on its first K rows, the worst over `plans`, in execution order.
        public var maxRelative: [(String, Double)]
        /// Checkpoints of the truth not on the token axis (WKV states,
        /// `state.position`), not compared because K < T.
        public var notCompared: [String]
    }

    public struct SkippedMutant: Sendable {
        public var name: String
        /// Why it cannot change anything, e.g. "every query head has its own KV head …".
        public var reason: String
    }

    public struct UndetectableMutant: Sendable {
        public var name: String
        public var summary: String
        public var plan: String
        /// First checkpoint where it differs from the truth at all.
        public var firstAffected: String
        /// The largest distance from the truth over every checkpoint (max rel and NMSE each at its worst).
        public var worstDistance: ErrorMetrics
    }
}

// MARK: - JSON

private func toleranceJSON(_ t: Tolerance) -> JSONValue {
    .object([("max_rel", .number(t.maxRel)), ("nmse", .number(t.nmse))])
}

private func derivedJSON(_ d: DerivedTolerance) -> JSONValue {
    .object([("measured", .object([("max_rel", .number(d.measuredMaxRel)), ("nmse", .number(d.measuredNMSE))])),
             ("tolerance", toleranceJSON(d.tolerance))])
}

private func derivedTolerance(_ j: JSONValue?) -> DerivedTolerance? {
    guard let j, let t = j["tolerance"], let mr = t["max_rel"]?.doubleValue, let nm = t["nmse"]?.doubleValue else { return nil }
    return DerivedTolerance(measuredMaxRel: j["measured"]?["max_rel"]?.doubleValue ?? 0, measuredNMSE: j["measured"]?["nmse"]?.doubleValue ?? 0,
                            tolerance: Tolerance(maxRel: mr, nmse: nm))
}

private func logitsMeasureJSON(_ m: LogitsMeasure) -> JSONValue {
    .object([("mean_kl", .number(m.meanKL)), ("max_kl", .number(m.maxKL)), ("max_dp", .number(m.maxDeltaP)), ("max_abs", .number(m.maxAbs))])
}

private func logitsMeasure(_ j: JSONValue?) -> LogitsMeasure? {
    guard let j, let a = j["mean_kl"]?.doubleValue, let b = j["max_kl"]?.doubleValue, let c = j["max_dp"]?.doubleValue,
          let d = j["max_abs"]?.doubleValue else { return nil }
    return LogitsMeasure(meanKL: a, maxKL: b, maxDeltaP: c, maxAbs: d)
}

extension Manifest {
    /// `f32_local`, `bf16`, `f16` of a checkpoint's `budget` object, plans in manifest order.
    fileprivate static func profileJSON(_ c: CheckpointRecord, plans: [String]) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        if let f32 = c.profiles[.float32], !f32.local.isEmpty {
            out.append(("f32_local", .object(plans.compactMap { p in f32.local[p].map { (p, derivedJSON($0)) } })))
        }
        for profile in [BudgetClass.bfloat16, .float16] {
            guard let b = c.profiles[profile], !b.global.isEmpty else { continue }
            out.append((profile.rawValue, .object(plans.compactMap { p in
                guard let g = b.global[p] else { return nil }
                return (p, .object([("global", derivedJSON(g))] + (b.local[p].map { [("local", derivedJSON($0))] } ?? [])))
            })))
        }
        return out
    }

    fileprivate static func logitsJSON(_ c: CheckpointRecord, plans: [String]) -> JSONValue {
        .object(BudgetClass.allCases.compactMap { profile in
            guard let byPlan = c.logitsBudgets[profile] else { return nil }
            return (profile.rawValue, .object(plans.compactMap { p in
                byPlan[p].map { (p, .object([("measured", logitsMeasureJSON($0.measured)), ("tolerance", logitsMeasureJSON($0.tolerance))])) }
            }))
        })
    }

    /// Reads what `profileJSON` and `logitsJSON` wrote.
    fileprivate static func readProfiles(_ c: JSONValue) -> ([BudgetClass: ProfileBudget], [BudgetClass: [String: LogitsBudget]]) {
        var profiles: [BudgetClass: ProfileBudget] = [:]
        if let local = c["budget"]?["f32_local"]?.objectValue {
            var b = ProfileBudget()
            for (plan, v) in local { b.local[plan] = derivedTolerance(v) }
            profiles[.float32] = b
        }
        for profile in [BudgetClass.bfloat16, .float16] {
            guard let byPlan = c["budget"]?[profile.rawValue]?.objectValue else { continue }
            var b = ProfileBudget()
            for (plan, v) in byPlan {
                b.global[plan] = derivedTolerance(v["global"])
                b.local[plan] = derivedTolerance(v["local"])
            }
            profiles[profile] = b
        }
        var logits: [BudgetClass: [String: LogitsBudget]] = [:]
        for profile in BudgetClass.allCases {
            guard let byPlan = c["logits_budget"]?[profile.rawValue]?.objectValue else { continue }
            var m: [String: LogitsBudget] = [:]
            for (plan, v) in byPlan {
                if let measured = logitsMeasure(v["measured"]), let tolerance = logitsMeasure(v["tolerance"]) {
                    m[plan] = LogitsBudget(measured: measured, tolerance: tolerance)
                }
            }
            logits[profile] = m
        }
        return (profiles, logits)
    }
}

private func metricsJSON(_ m: ErrorMetrics) -> JSONValue {
    .object([("max_abs", .number(m.maxAbs)), ("max_rel", .number(m.maxRel)), ("nmse", .number(m.nmse)),
             ("max_ulp", .number(m.maxULP)), ("count", .number(Double(m.count)))])
}

private func num(_ x: Int) -> JSONValue { .number(Double(x)) }

extension Manifest {
    public static let conventions: JSONValue = .object([
        ("w", .string("log-log: w = -softplus(-(w0 + tanh(x·w1)·w2)) - 0.5 < -0.5; decay d = exp(-exp(w)); log-decay g = -exp(w) (SPEC.md (14), (17))")),
        ("k_scaling", .string("k_scaled = k * (1 - w + a) with the pre-exp w (SPEC.md (15), D1)")),
        ("state_layout", .string("state.layers.{i}.wkv [H][N value][N key] (S[i][j]: row = value channel, column = key channel)")),
        ("wkv_update", .string("sa = S_old·alpha; S = S_old·diag(d) + sa·beta^T + v·k_scaled^T; o = S_new·r (SPEC.md (18)-(20))")),
        ("kv_expansion", .string("repeat_interleave: head h reads KV head floor(h / G), G = H / Hkv (SPEC.md (11))")),
        ("rope", .object([("rwkv", .string("rotate-half on r (H heads) and k (Hkv heads), absolute positions continuing across calls, no clamp; inv_freq_j = theta^(-2j/N)")),
                          ("gqa", .string("none"))])),
        ("wkv_scale", .string("o·N^-1/2 after the WKV read-out, before adding the bonus; the WKV itself runs with scale 1 (SPEC.md (21)-(22))")),
        ("first_layer_values", .string("k_first/v_first from the first RWKV layer in layer order, k after norm and RoPE, mixed in KV-head space before expansion (SPEC.md (8)-(10))")),
        ("epsilons", .object([("rms_norm", .string("config rms_norm_eps, inside the square root")),
                              ("kk_l2norm", .string("1e-12, as max(norm, eps)"))])),
        ("kv_cache", .string("full, no eviction; keys cached after the optional k norm, no RoPE")),
        ("checkpoint_axes", .string("activations [T, ...] concatenated over the calls of a plan; [T,H,N] = token, head, channel")),
    ])

    public func json() -> JSONValue {
        var modelFields: [(String, JSONValue)] = [("source", .string(model.source))]
        if let p = model.preset { modelFields.append(("preset", .string(p))) }
        if let s = model.seed { modelFields.append(("seed", .number(Double(s)))) }
        modelFields += [
            ("dtype", .string(model.dtype)), ("path", .string(model.path)), ("bundled", .bool(model.bundled)),
            ("sha256", .object(model.files.map { ($0.0, .string($0.1)) })),
            ("config", model.config.json(layerKinds: layerKinds)),
            ("layer_map", .string(model.layerMap)),
        ]
        let plansJSON: [JSONValue] = plans.map { p in
            .object([("name", .string(p.name)), ("calls", .array(p.calls.map(num))),
                     ("chunk_sizes", .array(p.chunkSizes.map(num))), ("restore_after", .array(p.restoreAfter.map(num)))])
        }
        let checkpointsJSON: [JSONValue] = checkpoints.map { c in
            var fields: [(String, JSONValue)] = [("name", .string(c.name)), ("dtype", .string(c.dtype)), ("shape", .array(c.shape.map(num)))]
            if let b = c.budget {
                fields.append(("budget", .object([
                    ("f32", .object([("measured", metricsJSON(b.measured)), ("safety_factor", .number(b.safetyFactor)),
                                     ("tolerance", .object([("max_rel", .number(b.tolerance.maxRel)), ("nmse", .number(b.tolerance.nmse))]))])),
                    ("f64", .object([("tolerance", .object([("max_rel", .number(Tolerance.float64.maxRel)), ("nmse", .number(Tolerance.float64.nmse))]))])),
                ] + Manifest.profileJSON(c, plans: plans.map { $0.name }))))
                if !c.logitsBudgets.isEmpty { fields.append(("logits_budget", Manifest.logitsJSON(c, plans: plans.map { $0.name }))) }
            } else {
                fields.append(("budget", .object([("exact", .bool(true))])))
            }
            return .object(fields)
        }
        let mutantsJSON: [JSONValue] = mutants.map { m in
            .object([("name", .string(m.name)), ("summary", .string(m.summary)), ("plan", .string(m.plan)),
                     ("first_affected", .string(m.firstAffected)), ("distance_at_first_affected", metricsJSON(m.distance)),
                     ("first_outside_f64_tolerance", m.firstOutsideFloat64.map { .string($0) } ?? .null),
                     ("first_outside_f32_budget", m.firstOutsideFloat32.map { .string($0) } ?? .null)]
                    + (m.storedCheckpoints.map { [("stored_checkpoints", JSONValue.array($0.map { .string($0) }))] } ?? []))
        }
        // Absent when empty (so fixtures where every mutant applies keep their bytes); readers take absent as none.
        var mutantLists: [(String, JSONValue)] = []
        if !skippedMutants.isEmpty {
            mutantLists.append(("skipped_mutants", .array(skippedMutants.map { .object([("name", .string($0.name)), ("reason", .string($0.reason))]) })))
        }
        if !undetectableMutants.isEmpty {
            mutantLists.append(("undetectable_mutants", .array(undetectableMutants.map { u in
                .object([("name", .string(u.name)), ("summary", .string(u.summary)), ("plan", .string(u.plan)),
                         ("first_affected", .string(u.firstAffected)), ("worst_distance", metricsJSON(u.worstDistance)),
                         ("reason", .string("inside the float64 tolerance at every checkpoint (max_rel ≤ \(Tolerance.float64.maxRel), nmse ≤ \(Tolerance.float64.nmse))"))])
            })))
        }
        return .object([
            ("format_version", num(fixtureFormatVersion)),
            ("name", .string(name)),
            ("provenance", .object([("command", .string(command)), ("package_version", .string(packageVersion))] + truthProvenance + [
                                    ("float32", .string("\(float32Engine) in float32 (f32.safetensors)"))])),
            ("model", .object(modelFields)),
            ("conventions", Manifest.conventions),
            ("inputs", .object([("file", .string("inputs.safetensors")), ("tokens", .array(tokens.map(num))),
                                ("start_position", num(startPosition))])),
            ("files", .object([("truth", .string("f64.safetensors")), ("float32", .string("f32.safetensors")),
                               ("mutants", .string("mutants.safetensors")),
                               ("naming", .string("<plan>/<checkpoint>, e.g. one_call/layers.0.out; mutants: <mutant>/<checkpoint>"))])),
            ("budget_rule", .string("pass iff max_rel <= tolerance.max_rel and nmse <= tolerance.nmse, against the truth and, where the candidate holds the stage's inputs, against the stage-local replay (local budgets); the profile is --profile or the candidate dtype's (F64 f64, BF16 bf16, F16 f16, else f32); f32 tolerance = max(10·measured.max_rel, 2^-22), max(100·measured.nmse, 2^-44); bf16/f16 per plan: worst honest variant (stage_outputs, every_intermediate, binary64_arithmetic, chunked_16), max(4·max_rel, 2u), max(4·nmse, u^2) with u = 2^-9 (bf16), 2^-11 (f16); f64 tolerance 1e-10 / 1e-20; logits: mean/max KL, max |dp| within the logits_budget, a top-1 disagreement fails where the truth's top-1/top-2 gap exceeds 2·logits_budget.tolerance.max_abs")),
            ("plans", .array(plansJSON)),
        ] + (checkpointSelection.map { [("checkpoint_selection", JSONValue.array($0.map { .string($0) }))] } ?? [])
          + (referenceCrossCheck.map { [("reference_cross_check", Manifest.json($0))] } ?? []) + [
            ("checkpoints", .array(checkpointsJSON)),
            ("mutants", .array(mutantsJSON)),
        ] + mutantLists)
    }

    /// What produced the truth. A reference truth keeps the one field of
    /// earlier fixtures (so they regenerate byte for byte).
    private var truthProvenance: [(String, JSONValue)] {
        if truthEngine == "reference" { return [("truth", .string("Hxa079Reference in float64 (f64.safetensors)"))] }
        return [("truth", .string("\(truthEngine) in float64 (f64.safetensors), checked by Hxa079Reference in float64 on the first tokens (reference_cross_check)")),
                ("truth_engine", .string(truthEngine))]
    }

    private static func json(_ c: CrossCheckRecord) -> JSONValue {
        .object([
            ("engine", .string("Hxa079Reference in float64, one recurrent call of the first `tokens` tokens")),
            ("tokens", num(c.tokens)),
            ("rule", .string("tokens = clamp(floor(sum over plans and calls of n / R(n)), 1, T), R(1) = \(ReferenceCrossCheck.decodeSpeedup), R(n > 1) = \(ReferenceCrossCheck.prefillSpeedup) (fast f64 over reference f64, BENCHMARKS.md run F), unless --cross-check-tokens")),
            ("metric", .string("max|truth - reference| / max|reference| over the first `tokens` rows, the worst over `plans`")),
            ("bound", .number(c.bound)),
            ("plans", .array(c.plans.map { .string($0) })),
            ("max_relative", .object(c.maxRelative.map { ($0.0, .number($0.1)) })),
            ("not_compared", .array(c.notCompared.map { .string($0) })),
        ])
    }

    /// Reads a manifest; every missing or mistyped field is named.
    public init(json: JSONValue, source: String) throws {
        func fail(_ what: String) -> Hxa079Error { .invalidArgument("\(source): \(what)") }
        guard json["format_version"]?.intValue == fixtureFormatVersion else {
            throw fail("unsupported format_version \(json["format_version"].map { $0.serialized() } ?? "missing") (this package reads \(fixtureFormatVersion))")
        }
        guard let name = json["name"]?.stringValue, let command = json["provenance"]?["command"]?.stringValue,
              let m = json["model"], let inputs = json["inputs"], let tokens = inputs["tokens"]?.arrayValue,
              let plans = json["plans"]?.arrayValue, let cps = json["checkpoints"]?.arrayValue else {
            throw fail("missing name, provenance.command, model, inputs, plans or checkpoints")
        }
        self.name = name
        self.command = command
        self.float32Engine = json["provenance"]?["float32"]?.stringValue?.split(separator: " ").first.map(String.init) ?? "reference"
        self.truthEngine = json["provenance"]?["truth_engine"]?.stringValue ?? "reference"
        if let c = json["reference_cross_check"] {
            guard let k = c["tokens"]?.intValue, let bound = c["bound"]?.doubleValue, let values = c["max_relative"]?.objectValue else {
                throw fail("reference_cross_check lacks tokens, bound or max_relative")
            }
            self.referenceCrossCheck = CrossCheckRecord(
                tokens: k, bound: bound, plans: (c["plans"]?.arrayValue ?? []).compactMap { $0.stringValue },
                maxRelative: try values.map { (name, v) in
                    guard let x = v.doubleValue else { throw fail("reference_cross_check.max_relative.\(name) is not a number") }
                    return (name, x)
                },
                notCompared: (c["not_compared"]?.arrayValue ?? []).compactMap { $0.stringValue })
        }
        guard let configJSON = m["config"], let layerMap = m["layer_map"]?.stringValue else { throw fail("model.config or model.layer_map missing") }
        self.model = ModelRecord(source: m["source"]?.stringValue ?? "preset", preset: m["preset"]?.stringValue,
                                 seed: m["seed"]?.doubleValue.map { UInt64($0) }, dtype: m["dtype"]?.stringValue ?? "F32",
                                 path: m["path"]?.stringValue ?? "model", bundled: m["bundled"]?.boolValue ?? false,
                                 files: (m["sha256"]?.objectValue ?? []).map { ($0.0, $0.1.stringValue ?? "") },
                                 config: try ModelConfig(json: configJSON, source: source + " model.config"), layerMap: layerMap)
        self.tokens = try tokens.map { guard let t = $0.intValue else { throw fail("inputs.tokens holds a non-integer") }; return t }
        self.startPosition = inputs["start_position"]?.intValue ?? 0
        self.plans = try plans.map { p in
            guard let n = p["name"]?.stringValue, let calls = p["calls"]?.arrayValue?.compactMap({ $0.intValue }) else { throw fail("a plan lacks name or calls") }
            return SplitPlan(name: n, calls: calls, chunkSizes: p["chunk_sizes"]?.arrayValue?.compactMap { $0.intValue },
                             restoreAfter: p["restore_after"]?.arrayValue?.compactMap { $0.intValue } ?? [])
        }
        self.checkpoints = try cps.map { c in
            guard let n = c["name"]?.stringValue, let shape = c["shape"]?.arrayValue?.compactMap({ $0.intValue }) else {
                throw fail("a checkpoint lacks name or shape")
            }
            var budget: Budget? = nil
            if let f32 = c["budget"]?["f32"], let tol = f32["tolerance"], let mr = tol["max_rel"]?.doubleValue, let nm = tol["nmse"]?.doubleValue {
                let me = f32["measured"]
                var measured = ErrorMetrics(reference: [Double](), candidate: [Double]())
                measured.maxAbs = me?["max_abs"]?.doubleValue ?? 0
                measured.maxRel = me?["max_rel"]?.doubleValue ?? 0
                measured.nmse = me?["nmse"]?.doubleValue ?? 0
                measured.maxULP = me?["max_ulp"]?.doubleValue ?? 0
                measured.count = me?["count"]?.intValue ?? 0
                budget = Budget(measured: measured, safetyFactor: f32["safety_factor"]?.doubleValue ?? Budget.safety,
                                tolerance: Tolerance(maxRel: mr, nmse: nm))
            }
            var record = CheckpointRecord(name: n, shape: shape, dtype: c["dtype"]?.stringValue ?? "F64", budget: budget)
            (record.profiles, record.logitsBudgets) = Manifest.readProfiles(c)
            return record
        }
        if let selection = json["checkpoint_selection"] {
            guard let globs = selection.arrayValue?.compactMap({ $0.stringValue }), globs.count == selection.arrayValue?.count else {
                throw fail("checkpoint_selection is not an array of strings")
            }
            self.checkpointSelection = globs
        }
        self.mutants = (json["mutants"]?.arrayValue ?? []).compactMap { m in
            guard let n = m["name"]?.stringValue, let plan = m["plan"]?.stringValue, let first = m["first_affected"]?.stringValue else { return nil }
            var d = ErrorMetrics(reference: [Double](), candidate: [Double]())
            d.maxRel = m["distance_at_first_affected"]?["max_rel"]?.doubleValue ?? 0
            d.nmse = m["distance_at_first_affected"]?["nmse"]?.doubleValue ?? 0
            d.maxAbs = m["distance_at_first_affected"]?["max_abs"]?.doubleValue ?? 0
            return MutantRecord(name: n, summary: m["summary"]?.stringValue ?? "", plan: plan, firstAffected: first, distance: d,
                                firstOutsideFloat64: m["first_outside_f64_tolerance"]?.stringValue,
                                firstOutsideFloat32: m["first_outside_f32_budget"]?.stringValue,
                                storedCheckpoints: m["stored_checkpoints"]?.arrayValue?.compactMap { $0.stringValue })
        }
        self.skippedMutants = try (json["skipped_mutants"]?.arrayValue ?? []).map { m in
            guard let n = m["name"]?.stringValue, let reason = m["reason"]?.stringValue else { throw fail("a skipped mutant lacks name or reason") }
            return SkippedMutant(name: n, reason: reason)
        }
        self.undetectableMutants = try (json["undetectable_mutants"]?.arrayValue ?? []).map { m in
            guard let n = m["name"]?.stringValue, let plan = m["plan"]?.stringValue, let first = m["first_affected"]?.stringValue else {
                throw fail("an undetectable mutant lacks name, plan or first_affected")
            }
            var d = ErrorMetrics(reference: [Double](), candidate: [Double]())
            d.maxRel = m["worst_distance"]?["max_rel"]?.doubleValue ?? 0
            d.nmse = m["worst_distance"]?["nmse"]?.doubleValue ?? 0
            d.maxAbs = m["worst_distance"]?["max_abs"]?.doubleValue ?? 0
            return UndetectableMutant(name: n, summary: m["summary"]?.stringValue ?? "", plan: plan, firstAffected: first, worstDistance: d)
        }
    }

    /// The record of `name`, if any.
    public func checkpoint(_ name: String) -> CheckpointRecord? { checkpoints.first { $0.name == name } }

    /// Layer kinds in order, from the layer map (`R` RWKV, `A` GQA).
    public var layerKinds: [LayerKind] { model.layerMap.map { $0 == "A" ? .gqa : .rwkv } }

    /// The profiles whose budgets the checkpoints hold beside the f32 global
    /// one (what `fixtures make --profiles` gave), in `FixtureSpec.allProfiles` order.
    public var budgetProfiles: [BudgetClass] {
        FixtureSpec.allProfiles.filter { p in checkpoints.contains { $0.profiles[p] != nil } }
    }

    /// Checkpoint names of this fixture's model that the truth does not hold
    /// (outside `checkpointSelection`), in execution order; empty for a fixture of every checkpoint.
    public var unselectedCheckpointNames: [String] {
        guard checkpointSelection != nil else { return [] }
        let held = Set(checkpoints.map { $0.name })
        return fixtureCheckpointNames(layerKinds: layerKinds).filter { !held.contains($0) }
    }
}
