// FixtureMaker: writes one fixture directory (`hxa079 fixtures make`).
//
// Contract: from a model (a preset + seed, or a model directory), a token
// list and split plans, writes inputs, the float64 truth of every checkpoint
// (or of the selected ones, `FixtureSpec.checkpoints`) for every plan, the
// float32 values of this package (reference or fast engine) with the budget
// derived from them, the mutants with their distance from the truth, and
// manifest.json. The truth comes from the float64 reference, or from another
// float64 engine (`truthEngine`: FastModel64 for `--engine fast`); then the
// reference re-runs the first K tokens and every checkpoint of them is held
// against the truth of every plan (ReferenceCrossCheck.swift): a difference
// above 1e-12 throws `CrossCheckDisagreement` before any file is written (the
// mutants, which only the reference can run, then find their first affected
// checkpoint against a reference run of their plan: a bitwise question).
// Every engine streams the model (SPEC.md §2.8: a layer is read
// from the files when it runs and released after it), so peak memory does
// not grow with depth; the values equal those of the model held in memory
// bit for bit. Deterministic: the same arguments give byte-identical files on
// the same machine. Above `largeModelParameterThreshold` the CLI applies the
// large-model defaults (`FixtureDefaults`). Works on every model that loads:
// a mutant that cannot act here is skipped with its reason, one inside the
// float64 tolerance is recorded as undetectable (MutantApplicability.swift);
// only with `explicitMutants` is a mutant that cannot act an error. The
// output directory follows `prepareOutputDirectory` (absent, empty or
// `force`), and is touched only once the model and tokens are known usable.

import Hxa079
import Hxa079Reference
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The seed of a preset model when none is given: the one default of
/// `hxa079 init-model` and `hxa079 fixtures make --preset`.
package let defaultPresetSeed: UInt64 = 0

package struct FixtureSpec {
    public enum ModelSource {
        /// A preset model, generated and written in `dtype`; bundled in the fixture when `bundle`.
        case preset(Preset, seed: UInt64, dtype: DType, layers: Int?, bundle: Bool)
        /// An existing model directory (referenced by path and hashes, not copied).
        case directory(String)
    }

    public var name: String
    public var model: ModelSource
    public var tokens: [Int]
    public var plans: [SplitPlan]
    public var mutants: [Mutant]
    /// Globs over the checkpoint names (SPEC.md §4.3, §4.4) the truth holds;
    /// nil = every checkpoint. Recorded in the manifest (`checkpoint_selection`).
    public var checkpoints: [String]?
    /// The command line recorded as provenance.
    public var command: String
    /// The profiles whose budgets the fixture holds beside the f32 global one
    /// (SPEC.md §4.6): `.float32` = the f32 local budgets, `.bfloat16`/`.float16`
    /// = that profile's global and local budgets; `.float64` is ignored (fixed).
    public var profiles: [BudgetClass]

    /// Every profile: the default of `fixtures make` below the large-model threshold.
    public static let allProfiles: [BudgetClass] = [.float32, .bfloat16, .float16]

    public init(name: String, model: ModelSource, tokens: [Int], plans: [SplitPlan], mutants: [Mutant],
                checkpoints: [String]? = nil, command: String, profiles: [BudgetClass] = FixtureSpec.allProfiles) {
        self.profiles = profiles.filter { $0 != .float64 }
        self.name = name
        self.model = model
        self.tokens = tokens
        self.plans = plans
        self.mutants = mutants
        self.checkpoints = checkpoints
        self.command = command
    }
}

// MARK: - Large models

/// Models with more parameters than this get the large-model defaults of
/// `hxa079 fixtures make` (SPEC.md §4.6, `FixtureDefaults`): 10⁹, between the
/// largest test preset (medium: 0.22 × 10⁹) and one real-size Reka layer with
/// its embedding and head (1.7 × 10⁹). Everything at or below it keeps the
/// full defaults.
package let largeModelParameterThreshold = 1_000_000_000

/// What the defaults of `fixtures make` depend on, known before anything is run.
package struct FixtureModelSize: Sendable {
    /// Every stored parameter (the total `hxa079 inspect` prints).
    package var parameters: Int
    package var layerKinds: [LayerKind]
}

extension FixtureSpec.ModelSource {
    /// The model's parameter count and layer kinds, from the headers of a
    /// model directory or from a preset's shape; nothing is read or written.
    package func size() throws -> FixtureModelSize {
        switch self {
        case .preset(let preset, let seed, _, let layers, _):
            var shape = preset.shape
            if let layers, layers < shape.config.numLayers { shape = shape.truncated(toLayers: layers) }
            return FixtureModelSize(parameters: RandomModelPlan(shape: shape, seed: seed).parameterCount, layerKinds: shape.layerKinds)
        case .directory(let path):
            guard isDirectory(path) else { throw Hxa079Error.io(path: path, message: "no such model directory") }
            let directory = try ModelDirectory(path: path)
            return FixtureModelSize(parameters: directory.summary().totalParameters,
                                    layerKinds: ModelWeights<Double>.detectLayerKinds(config: directory.config, source: directory.source))
        }
    }
}

/// The defaults of `fixtures make` for a model of a given size (SPEC.md §4.6).
package enum FixtureDefaults {
    /// True when `parameters` exceeds `threshold`: then the large-model defaults apply.
    package static func isLarge(_ size: FixtureModelSize, threshold: Int = largeModelParameterThreshold) -> Bool {
        size.parameters > threshold
    }

    /// The checkpoints a large model's truth holds by default: every checkpoint
    /// (and state tensor) of the first and the last layer, `embed`,
    /// `layers.*.out`, `final_norm`, `logits` and `state.position`.
    package static func largeModelCheckpoints(layers: Int) -> [String] {
        var globs = ["embed", "layers.0.*"]
        if layers > 1 { globs.append("layers.\(layers - 1).*") }
        globs += ["layers.*.out", "final_norm", "logits", "state.position", "state.layers.0.*"]
        if layers > 1 { globs.append("state.layers.\(layers - 1).*") }
        return globs
    }

    /// The standard plans a large model gets by default: one forward call
    /// (every further call streams every layer again).
    package static let largeModelPlans = ["one_call"]
}

/// Every name a fixture of a model with these layers can hold, in the truth's
/// order: the activation checkpoints (SPEC.md §4.3), then the state tensors (§4.4).
package func fixtureCheckpointNames(layerKinds: [LayerKind]) -> [String] {
    CheckpointName.all(layerKinds: layerKinds) + CheckpointName.stateNames(layerKinds: layerKinds)
}

/// The globs of a checkpoint selection that match no name of this model.
package func unmatchedCheckpointGlobs(_ globs: [String], layerKinds: [LayerKind]) -> [String] {
    let names = fixtureCheckpointNames(layerKinds: layerKinds)
    return globs.filter { g in !names.contains { globMatches(g, $0) } }
}

/// Makes a temporary directory and returns its path.
package func makeTemporaryDirectory(prefix: String = "hxa079") throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let made: String? = template.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress, let p = mkdtemp(base) else { return nil }
        return String(cString: p)
    }
    guard let made else { throw Hxa079Error.io(path: "/tmp", message: "cannot create a temporary directory") }
    return made
}

package struct FixtureMaker {
    /// Produces the float32 values of a plan from the model directory (streamed,
    /// e.g. `FastModel(streaming:)`); nil = the float32 reference, streamed.
    public var float32Engine: ((ModelDirectory) throws -> EngineRunner)?
    public var float32EngineName = "reference"
    /// Produces the float64 truth of a plan from the model directory (streamed,
    /// e.g. `FastModel64(streaming:)`); nil = the float64 reference, streamed.
    /// When set, the reference cross-checks a prefix (`crossCheckTokens`).
    public var truthEngine: ((ModelDirectory) throws -> EngineRunner)?
    /// Recorded as the manifest's `provenance.truth_engine`, e.g. `fast f64`.
    public var truthEngineName = "reference"
    /// K, the tokens the reference re-runs to check a truth it did not
    /// produce; nil = the cost rule (`ReferenceCrossCheck.defaultTokens`).
    public var crossCheckTokens: Int?
    /// Test only: hold the model in memory (`ModelDirectory.load`) instead of
    /// streaming it, to show the two give the same fixture byte for byte.
    package var weightsInMemory = false
    /// Called after every layer of every run (see `FixtureProgress`).
    public var progress: ((FixtureProgress) -> Void)?
    /// Replace a non-empty output directory (`--force`); see `prepareOutputDirectory`.
    public var force = false
    /// Mutants named explicitly (`--mutants LIST`): one that cannot apply is an error.
    public var explicitMutants = false

    public init() {}

    public func make(_ spec: FixtureSpec, out: String) throws -> Manifest {
        // Everything that can be checked before anything is written.
        let modelSourcePath: String?
        if case .directory(let path) = spec.model {
            guard isDirectory(path) else { throw Hxa079Error.io(path: path, message: "no such model directory") }
            if isDirectory(out), let inside = try? pathFromFixture(out, to: path), inside == "." || !inside.hasPrefix("..") && !inside.hasPrefix("/") {
                throw Hxa079Error.invalidArgument("the model directory \(path) is inside --out \(out); the fixture must be written elsewhere")
            }
            modelSourcePath = path
        } else {
            modelSourcePath = nil
        }
        for plan in spec.plans {
            let p = plan.problems(tokens: spec.tokens.count)
            if !p.isEmpty { throw Hxa079Error.invalidArgument(p.joined(separator: "; ")) }
        }
        if let dup = spec.plans.map({ $0.name }).firstDuplicate {
            throw Hxa079Error.invalidArgument("plan \(dup) is given twice; every plan needs its own name")
        }
        if spec.checkpoints?.isEmpty == true { throw Hxa079Error.invalidArgument("the checkpoint selection is empty") }
        if let k = crossCheckTokens, truthEngine != nil, !(1...max(spec.tokens.count, 1)).contains(k) {
            throw Hxa079Error.invalidArgument("the cross-check needs 1 to \(spec.tokens.count) tokens (the fixture's), not \(k)")
        }
        try prepareOutputDirectory(out, kind: .fixture, force: force, checkOnly: true)   // refuse before the long work
        let scratch = try makeTemporaryDirectory(prefix: "hxa079-fixture")
        defer { removeTree(scratch) }

        // 1. The model, as stored on disk.
        let modelDir: String
        var record: Manifest.ModelRecord
        switch spec.model {
        case .preset(let preset, let seed, let dtype, let layers, let bundle):
            modelDir = scratch + "/model"   // copied into the fixture below when bundled
            progress?(FixtureProgress(stage: "writing the preset model"))
            try writePresetModel(preset: preset, seed: seed, dtype: dtype, layers: layers, to: modelDir)
            record = Manifest.ModelRecord(source: "preset", preset: preset.rawValue, seed: seed, dtype: dtype.rawValue,
                                          path: bundle ? "model" : "(regenerated: hxa079 init-model --preset \(preset.rawValue) --seed \(seed) --dtype \(dtype.rawValue.lowercased())\(layers.map { " --layers \($0)" } ?? ""))",
                                          bundled: bundle, files: [], config: preset.shape.config, layerMap: "")
        case .directory(let path):
            modelDir = path
            record = Manifest.ModelRecord(source: "directory", preset: nil, seed: nil, dtype: "",
                                          path: path, bundled: false,   // made relative to the fixture below
                                          files: [], config: ModelConfig(hiddenSize: 0, numHeads: 0, headDim: 0, numKVHeads: 0,
                                                                         intermediateSize: 0, vocabSize: 0, numLayers: 0), layerMap: "")
        }
        let directory = try ModelDirectory(path: modelDir)
        progress?(FixtureProgress(stage: "checking the model (structure, NaN/Inf scan)"))
        // The truth and the float32 reference stream the model (SPEC.md §2.8).
        let weights64: any WeightProvider<Double>, weights32: any WeightProvider<Float>
        if weightsInMemory {
            let (model64, report) = try directory.load(as: Double.self)
            if !report.nonFinite.isEmpty { throw Hxa079Error.invalidModel(report.nonFiniteDescriptions) }
            weights64 = model64
            weights32 = model64.converted(to: Float.self)
        } else {
            let streamed = try StreamedWeights<Double>(directory: directory)
            if !streamed.report.nonFinite.isEmpty { throw Hxa079Error.invalidModel(streamed.report.nonFiniteDescriptions) }
            weights64 = streamed
            weights32 = try StreamedWeights<Float>(directory: directory, checkFinite: false)
        }
        let config = weights64.config, layerKinds = weights64.layerKinds
        if let globs = spec.checkpoints, let g = unmatchedCheckpointGlobs(globs, layerKinds: layerKinds).first {
            throw Hxa079Error.invalidArgument("checkpoint glob \"\(g)\" matches no checkpoint of this model")
        }
        let keep: ((String) -> Bool)? = spec.checkpoints.map { globs in { name in globs.contains { globMatches($0, name) } } }
        record.config = config
        record.layerMap = String(layerKinds.map { $0.letter })
        record.dtype = directory.source.dtype(of: TensorName.embedding)?.rawValue ?? record.dtype
        progress?(FixtureProgress(stage: "hashing the model files"))
        record.files = try modelFileHashes(directory)
        for (i, t) in spec.tokens.enumerated() where t < 0 || t >= config.vocabSize {
            throw Hxa079Error.tokenOutOfRange(token: t, index: i, vocabSize: config.vocabSize)
        }
        // Only now, with the model and tokens known to be usable, is --out touched
        // (emptied or made; the files follow once the truth is known good).
        try prepareOutputDirectory(out, kind: .fixture, force: force)
        if let modelSourcePath { record.path = try pathFromFixture(out, to: modelSourcePath) }

        // Which mutants can act here, from the structure (MutantApplicability.swift).
        let context = MutantContext(config: config, layerKinds: layerKinds, tokenCount: spec.tokens.count, plans: spec.plans)
        var skipped: [Manifest.SkippedMutant] = []
        var toRun: [(Mutant, SplitPlan)] = []
        for mutant in Mutant.allCases where spec.mutants.contains(mutant) {   // recorded in the shipped order
            if let reason = context.structuralReason(mutant) {
                skipped.append(.init(name: mutant.rawValue, reason: reason))
            } else if let plan = context.plan(for: mutant) {
                toRun.append((mutant, plan))
            }
        }
        if explicitMutants, let s = skipped.first {
            throw Hxa079Error.invalidArgument("--mutants \(s.name) cannot apply to this fixture: \(s.reason)")
        }

        // A truth from another engine: K tokens of reference for the cross-check, and
        // one reference run of each plan a mutant is measured on.
        let crossCheckK = truthEngine == nil ? nil
            : crossCheckTokens ?? ReferenceCrossCheck.defaultTokens(plans: spec.plans, tokens: spec.tokens.count)
        let baselinePlans = truthEngine == nil ? 0 : Set(toRun.map { $0.1.name }).count
        var tracker = ProgressTracker(tokens: spec.tokens.count, layers: config.numLayers,
                                      runs: 2 * spec.plans.count + toRun.count + baselinePlans + (crossCheckK == nil ? 0 : 1)
                                          + ProfileBudgetRuns.runCount(plans: spec.plans.count, profiles: spec.profiles),
                                      extraTokens: crossCheckK.map { $0 - spec.tokens.count } ?? 0, report: progress)

        // 2. Inputs.
        var inputs = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-inputs", "version": "\(fixtureFormatVersion)"])
        try inputs.add("tokens", shape: [spec.tokens.count], .i64(spec.tokens.map { Int64($0) }))
        try inputs.add("positions", shape: [spec.tokens.count], .i64((0..<spec.tokens.count).map { Int64($0) }))
        for plan in spec.plans {
            try inputs.add("plans.\(plan.name).calls", shape: [plan.calls.count], .i64(plan.calls.map { Int64($0) }))
            try inputs.add("plans.\(plan.name).chunk_sizes", shape: [plan.chunkSizes.count], .i64(plan.chunkSizes.map { Int64($0) }))
            try inputs.add("plans.\(plan.name).restore_after", shape: [plan.restoreAfter.count], .i64(plan.restoreAfter.map { Int64($0) }))
        }

        // 3. Every plan in float64 (truth) and float32; budgets from the worst plan.
        let referenceEngine = EngineRunner.reference(weights: weights64)
        let truthEngine = try self.truthEngine?(directory) ?? referenceEngine
        let f32Engine = try float32Engine?(directory) ?? EngineRunner.reference(weights: weights32)
        var truthWriter = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-truth", "version": "\(fixtureFormatVersion)"])
        var f32Writer = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-float32", "version": "\(fixtureFormatVersion)"])
        var order: [(String, [Int])] = []
        var worst: [String: ErrorMetrics] = [:]
        var truthByPlan: [String: [Checkpoint]] = [:]
        var float32ByPlan: [String: [Checkpoint]] = [:]
        for plan in spec.plans {
            let truth = try tracker.run(self.truthEngine == nil ? "float64 truth" : "float64 truth (\(truthEngineName))", plan: plan.name) { report in
                try runPlan(plan, tokens: spec.tokens, engine: truthEngine, scratchDirectory: scratch, keep: keep, progress: report)
            }
            let single = try tracker.run("float32 \(float32EngineName)", plan: plan.name) { report in
                try runPlan(plan, tokens: spec.tokens, engine: f32Engine, scratchDirectory: scratch, keep: keep, progress: report)
            }
            let f32ByName = Dictionary(single.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            if order.isEmpty { order = truth.map { ($0.name, $0.shape) } }
            truthByPlan[plan.name] = truth
            if spec.profiles.contains(.float32) { float32ByPlan[plan.name] = single }
            for c in truth {
                try truthWriter.add("\(plan.name)/\(c.name)", shape: c.shape, c.name == CheckpointName.statePosition
                                    ? .i64(c.values.map { Int64($0) }) : .f64(c.values))
                if c.name == CheckpointName.logits {   // the truth's top-1/top-2 gap per position (SPEC.md §4.6)
                    let gaps = topLogitGaps(c.values, vocab: config.vocabSize)
                    try truthWriter.add("\(plan.name)/logits_top_gap", shape: [gaps.count], .f64(gaps))
                }
                guard let f = f32ByName[c.name] else { continue }
                try f32Writer.add("\(plan.name)/\(c.name)", shape: f.shape, c.name == CheckpointName.statePosition
                                  ? .i64(f.values.map { Int64($0) }) : .f32(f.values.map { Float($0) }))
                let m = ErrorMetrics(reference: c.values, candidate: f.values)
                if let w = worst[c.name] {
                    worst[c.name] = ErrorMetrics.worse(w, m)
                } else {
                    worst[c.name] = m
                }
            }
        }
        // 3a. A truth the reference did not produce: the reference on the first K tokens.
        var crossCheck: Manifest.CrossCheckRecord? = nil
        if let k = crossCheckK {
            let prefixPlan = SplitPlan(name: "reference_cross_check", calls: [k])
            let prefix = Array(spec.tokens.prefix(k))
            let reference = try tracker.run("reference cross-check, first \(k) tokens", plan: prefixPlan.name, tokens: k) { report in
                try runPlan(prefixPlan, tokens: prefix, engine: referenceEngine, scratchDirectory: scratch, keep: keep, progress: report)
            }
            crossCheck = try ReferenceCrossCheck.compare(reference: reference, prefix: k, tokens: spec.tokens.count, order: order.map { $0.0 },
                                                         plans: spec.plans.map { $0.name }, truthByPlan: truthByPlan)
        }
        if case .preset(_, _, _, _, true) = spec.model {
            try makeDirectory(out + "/model")
            for f in try directoryEntries(modelDir) { try writeFileBytes(out + "/model/" + f, try readFileBytes(modelDir + "/" + f)) }
        }
        try inputs.write(to: out + "/inputs.safetensors")
        try truthWriter.write(to: out + "/f64.safetensors")
        try f32Writer.write(to: out + "/f32.safetensors")
        // 3b. The other profiles' budgets: bf16/f16 from the honest emulations, f32 local (ProfileBudgets.swift).
        let measured = try ProfileBudgetRuns(plans: spec.plans, tokens: spec.tokens, keep: keep, scratch: scratch,
                                             weights64: weights64, weights32: weights32, vocab: config.vocabSize)
            .measure(profiles: spec.profiles, truthByPlan: truthByPlan, float32ByPlan: float32ByPlan, tracker: &tracker)
        float32ByPlan = [:]
        let checkpoints = order.map { (name, shape) in
            var record = Manifest.CheckpointRecord(name: name, shape: shape, dtype: name == CheckpointName.statePosition ? "I64" : "F64",
                                                   budget: name == CheckpointName.statePosition ? nil : worst[name].map { Budget(deriving: $0) })
            if record.budget != nil { record.profiles = measured.budgets[name] ?? [:] }
            if name == CheckpointName.logits { record.logitsBudgets = measured.logits }
            return record
        }

        // 4. Mutants: run, find where they first differ and where they leave each budget;
        //    one that changes nothing is skipped, one inside the float64 tolerance everywhere is undetectable.
        var kept: [Manifest.MutantRecord] = []
        var undetectable: [Manifest.UndetectableMutant] = []
        var mutantWriter = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-mutants", "version": "\(fixtureFormatVersion)"])
        var baselineByPlan: [String: [Checkpoint]] = self.truthEngine == nil ? truthByPlan : [:]
        for (mutant, plan) in toRun {
            guard let truth = truthByPlan[plan.name] else { continue }
            if baselineByPlan[plan.name] == nil {
                baselineByPlan[plan.name] = try tracker.run("float64 reference (mutant baseline)", plan: plan.name) { report in
                    try runPlan(plan, tokens: spec.tokens, engine: referenceEngine, scratchDirectory: scratch, keep: keep, progress: report)
                }
            }
            let run = try tracker.run("mutant \(mutant.rawValue)", plan: plan.name) { report in
                try runPlan(plan, tokens: spec.tokens, engine: EngineRunner.reference(weights: weights64, mutant: mutant),
                            scratchDirectory: scratch, keep: keep, progress: report)
            }
            let measured = measureMutant(run: run, truth: truth, baseline: baselineByPlan[plan.name], checkpoints: checkpoints)
            guard let first = measured.firstAffected, let d = measured.distance, let w = measured.worst else {
                let which = spec.checkpoints == nil ? "no checkpoint" : "no selected checkpoint"
                skipped.append(.init(name: mutant.rawValue, reason: "changes \(which) of plan \(plan.name) on these tokens (measured: bitwise equal to \(self.truthEngine == nil ? "the truth" : "the reference's run"))"))
                if explicitMutants {
                    throw Hxa079Error.invalidArgument("--mutants \(mutant.rawValue) cannot apply to this fixture: it changes \(which) of plan \(plan.name) on these tokens")
                }
                continue
            }
            guard measured.outside64 != nil else {
                undetectable.append(.init(name: mutant.rawValue, summary: mutant.summary, plan: plan.name, firstAffected: first, worstDistance: w))
                continue
            }
            for c in measured.stored {
                try mutantWriter.add("\(mutant.rawValue)/\(c.name)", shape: c.shape, c.name == CheckpointName.statePosition
                                     ? .i64(c.values.map { Int64($0) }) : .f64(c.values))
            }
            kept.append(Manifest.MutantRecord(name: mutant.rawValue, summary: mutant.summary, plan: plan.name,
                                              firstAffected: first, distance: d,
                                              firstOutsideFloat64: measured.outside64, firstOutsideFloat32: measured.outside32,
                                              storedCheckpoints: measured.stored.map { $0.name }))
        }
        if !kept.isEmpty { try mutantWriter.write(to: out + "/mutants.safetensors") }
        // Skipped in the order of the shipped list, whichever way they were found.
        let rank = Dictionary(uniqueKeysWithValues: Mutant.allCases.enumerated().map { ($1.rawValue, $0) })
        skipped.sort { (rank[$0.name] ?? 0) < (rank[$1.name] ?? 0) }

        // 5. The manifest.
        var manifest = Manifest(name: spec.name, command: spec.command, model: record, tokens: spec.tokens, startPosition: 0,
                                plans: spec.plans, checkpoints: checkpoints, mutants: kept,
                                float32Engine: float32EngineName)
        manifest.checkpointSelection = spec.checkpoints
        if self.truthEngine != nil { manifest.truthEngine = truthEngineName }
        manifest.referenceCrossCheck = crossCheck
        manifest.skippedMutants = skipped
        manifest.undetectableMutants = undetectable
        try writeFileBytes(out + "/manifest.json", Array((manifest.json().serialized(pretty: true) + "\n").utf8))
        return manifest
    }

    /// What a mutant run did against the truth of its plan.
    struct MutantMeasurement {
        var firstAffected: String?
        var distance: ErrorMetrics?
        /// The worst distance over every checkpoint.
        var worst: ErrorMetrics?
        var outside64: String?
        var outside32: String?
        /// The checkpoints stored in mutants.safetensors (SPEC.md §4.6): from the
        /// first affected one through the last first-outside one, where a float64
        /// and a float32 comparison have both decided.
        var stored: [Checkpoint] = []
    }

    /// `baseline`: the unmutated reference on the same plan (the truth itself
    /// when the reference produced it): a checkpoint is affected iff the
    /// mutant's values differ from it at all; distances are from the truth.
    func measureMutant(run: [Checkpoint], truth: [Checkpoint], baseline: [Checkpoint]? = nil,
                       checkpoints: [Manifest.CheckpointRecord]) -> MutantMeasurement {
        let byName = Dictionary(run.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let baselineByName = Dictionary((baseline ?? truth).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var r = MutantMeasurement()
        var span: [Checkpoint] = []   // from the first affected checkpoint on
        for c in truth {
            guard let m = byName[c.name] else { continue }
            if r.firstAffected != nil { span.append(m) }
            if m.values == (baselineByName[c.name] ?? c).values { continue }
            let metrics = ErrorMetrics(reference: c.values, candidate: m.values)
            if r.firstAffected == nil { r.firstAffected = c.name; r.distance = metrics; span.append(m) }
            r.worst = r.worst.map { ErrorMetrics.worse($0, metrics) } ?? metrics
            guard let budget = checkpoints.first(where: { $0.name == c.name })?.budget else {
                if r.outside64 == nil { r.outside64 = c.name }   // state.position: compared exactly
                if r.outside32 == nil { r.outside32 = c.name }
                continue
            }
            if r.outside64 == nil && !Tolerance.float64.admits(metrics) { r.outside64 = c.name }
            if r.outside32 == nil && !budget.tolerance.admits(metrics) { r.outside32 = c.name }
        }
        // Stored: through the later of the checkpoints where the two comparisons first fail.
        let last = [r.outside64, r.outside32].compactMap { name in span.firstIndex { $0.name == name } }.max()
        if let last { r.stored = Array(span[...last]) }
        return r
    }
}

/// Where a `fixtures make` run is: at the start of every run and after every
/// layer of it, and once before each preparatory step (then `layers` is 0).
package struct FixtureProgress: Sendable {
    /// e.g. "float64 truth", "float32 reference", "mutant rope_in_gqa", "hashing the model files".
    public var stage: String
    /// The plan the run feeds, nil for a preparatory step.
    public var plan: String?
    /// This run (1-based) of `runs` plan runs in all; 0 before the first.
    public var run: Int
    public var runs: Int
    /// Layers finished in the current call, of `layers`.
    public var layer: Int
    public var layers: Int
    /// Work done and in all, in token·layers over every run of the fixture.
    public var done: Int
    public var total: Int

    /// A preparatory step, before any run.
    public init(stage: String) {
        self.init(stage: stage, plan: nil, run: 0, runs: 0, layer: 0, layers: 0, done: 0, total: 1)
    }

    public init(stage: String, plan: String?, run: Int, runs: Int, layer: Int, layers: Int, done: Int, total: Int) {
        self.stage = stage
        self.plan = plan
        self.run = run
        self.runs = runs
        self.layer = layer
        self.layers = layers
        self.done = done
        self.total = total
    }
}

/// Turns per-plan progress into fixture-wide progress.
struct ProgressTracker {
    let tokens: Int
    let layers: Int
    let runs: Int
    let total: Int
    let report: ((FixtureProgress) -> Void)?
    /// Work of the runs already finished.
    var base = 0
    var finished = 0

    /// `runs` plan runs of `tokens` tokens through `layers` layers, one of
    /// them `extraTokens` longer (shorter when negative: the cross-check's prefix).
    init(tokens: Int, layers: Int, runs: Int, extraTokens: Int = 0, report: ((FixtureProgress) -> Void)?) {
        self.tokens = tokens
        self.layers = layers
        self.runs = runs
        self.total = max((tokens * runs + extraTokens) * layers, 1)
        self.report = report
    }

    /// Runs one plan run (of the fixture's tokens, or of `tokens`), reporting its progress as part of the whole.
    mutating func run<R>(_ stage: String, plan: String, tokens runTokens: Int? = nil,
                         _ body: (((PlanProgress) -> Void)?) throws -> R) rethrows -> R {
        let start = base, layers = self.layers, total = self.total, run = finished + 1, runs = self.runs
        report?(FixtureProgress(stage: stage, plan: plan, run: run, runs: runs, layer: 0, layers: layers, done: start, total: total))
        let result = try body(report.map { report in
            { p in report(FixtureProgress(stage: stage, plan: plan, run: run, runs: runs, layer: p.layersDone, layers: layers,
                                          done: start + p.work(layers: layers), total: total)) }
        })
        base += (runTokens ?? tokens) * layers
        finished += 1
        return result
    }
}

extension Array where Element: Hashable {
    /// The first element that occurs a second time, if any.
    var firstDuplicate: Element? {
        var seen = Set<Element>()
        for e in self where !seen.insert(e).inserted { return e }
        return nil
    }
}

/// The path of `model` as the manifest records it: relative to the fixture
/// directory `out` (which exists), or absolute when the two share nothing
/// but the root.
func pathFromFixture(_ out: String, to model: String) throws -> String {
    func absolute(_ p: String) throws -> [String] {
        guard let r = realpath(p, nil) else { throw Hxa079Error.io(path: p, message: "cannot resolve the path (\(String(cString: strerror(errno))))") }
        defer { free(r) }
        return String(cString: r).split(separator: "/").map(String.init)
    }
    let from = try absolute(out), to = try absolute(model)
    var common = 0
    while common < min(from.count, to.count) && from[common] == to[common] { common += 1 }
    if common == 0 { return "/" + to.joined(separator: "/") }
    let up = [String](repeating: "..", count: from.count - common)
    let rest = up + to[common...]
    return rest.isEmpty ? "." : rest.joined(separator: "/")
}

extension ErrorMetrics {
    /// Element-wise worst of two measurements (for budgets over several plans).
    public static func worse(_ a: ErrorMetrics, _ b: ErrorMetrics) -> ErrorMetrics {
        var w = a.maxRel >= b.maxRel ? a : b
        w.maxAbs = max(a.maxAbs, b.maxAbs)
        w.nmse = max(a.nmse, b.nmse)
        w.maxULP = max(a.maxULP, b.maxULP)
        w.nonFiniteMismatches = max(a.nonFiniteMismatches, b.nonFiniteMismatches)
        return w
    }
}

extension FixtureSpec {
    /// The spec that regenerates a fixture from its manifest (same command string,
    /// so the regenerated manifest is byte-identical); `fixtureDirectory`
    /// resolves a model path recorded relative to the fixture.
    public init(manifest m: Manifest, fixtureDirectory: String? = nil) throws {
        let model: ModelSource
        if m.model.source == "preset", let name = m.model.preset, let preset = Preset(rawValue: name), let seed = m.model.seed,
           let dtype = DType(rawValue: m.model.dtype) {
            let layers = m.model.config.numLayers < preset.shape.config.numLayers ? m.model.config.numLayers : nil
            model = .preset(preset, seed: seed, dtype: dtype, layers: layers, bundle: m.model.bundled)
        } else {
            let p = m.model.path
            model = .directory(p.hasPrefix("/") ? p : (fixtureDirectory.map { $0 + "/" } ?? "") + p)
        }
        let mutants = try (m.mutants.map { $0.name } + m.skippedMutants.map { $0.name } + m.undetectableMutants.map { $0.name }).map { r in
            guard let mutant = Mutant(rawValue: r) else { throw Hxa079Error.invalidArgument("unknown mutant \(r) in the manifest") }
            return mutant
        }
        self.init(name: m.name, model: model, tokens: m.tokens, plans: m.plans, mutants: mutants,
                  checkpoints: m.checkpointSelection, command: m.command, profiles: m.budgetProfiles)
    }
}
