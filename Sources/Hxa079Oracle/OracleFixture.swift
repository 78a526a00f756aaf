// OracleFixture: the consumer-facing handle on one golden fixture.
//
// Contract: Hxa079Oracle is the product another Swift engine depends on (by
// version or path) to hold its own forward pass against this package's
// fixtures. It is a thin, documented layer over Hxa079Fixtures: it opens a
// fixture, lists its checkpoint names in execution order with their shapes
// and budgets, hands out the inputs, the truth and the mutants, runs the
// readable reference on a plan, and checks a candidate (OracleCandidate.swift)
// into an OracleReport (OracleReport.swift). It re-exports Hxa079 (checkpoint
// names, CheckpointObserver, ModelState, ModelDirectory, errors, metrics) and
// Hxa079Fixtures (Fixture, ComparisonReport, CheckpointComparison, Tolerance,
// SplitPlan, EngineRunner), so `import Hxa079Oracle` is the only import a
// consumer needs. It does not depend on Hxa079Fast or COpenBLAS and needs no
// compiler flags: nothing of the fast path's codegen reaches a consumer.
// Nothing here traps: every problem is a thrown Hxa079Error.

@_exported import Hxa079
@_exported import Hxa079Fixtures
import Hxa079Reference
import SafeTensors

/// One golden fixture, opened for checking engines against it.
///
/// ```swift
/// let oracle = try OracleFixture.committed("tiny")            // or OracleFixture(path: "…/Fixtures/tiny")
/// let report = try oracle.check(myCheckpoints, plan: "one_call")
/// print(report.text())
/// ```
public struct OracleFixture {
    /// The underlying fixture (manifest, truth, float32 values, mutants).
    public let fixture: Fixture

    /// Opens the fixture directory at `path` (made by `hxa079 fixtures make`).
    ///
    /// - Throws: `Hxa079Error.io` when the directory or one of its files is
    ///   missing, `.invalidArgument` for a malformed manifest.
    public init(path: String) throws {
        fixture = try Fixture(path: path)
    }

    /// Wraps an already opened fixture.
    public init(_ fixture: Fixture) {
        self.fixture = fixture
    }

    // MARK: - Committed fixtures

    /// `Fixtures/` of the hxa079-oracle package this module was built from.
    ///
    /// Found from this source file's path at compile time, so it is right for
    /// the repository itself, for a `path:` dependency and for a versioned
    /// dependency's checkout (`.build/checkouts/…`), as long as the build
    /// directory has not been moved since it was built.
    public static var committedFixturesDirectory: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        // …/<package>/Sources/Hxa079Oracle/OracleFixture.swift → …/<package>
        parts.removeLast(min(3, parts.count))
        return parts.joined(separator: "/") + "/Fixtures"
    }

    /// Names of the fixtures committed in this package (e.g. `small`, `tiny`), sorted.
    public static var committedFixtureNames: [String] {
        let dir = committedFixturesDirectory
        let names = (try? directoryEntries(dir)) ?? []
        return names.filter { fileExists(dir + "/" + $0 + "/manifest.json") }.sorted()
    }

    /// Opens a fixture committed in this package, e.g. `committed("tiny")`.
    public static func committed(_ name: String) throws -> OracleFixture {
        try OracleFixture(path: committedFixturesDirectory + "/" + name)
    }

    // MARK: - What the fixture holds

    /// The fixture's name (e.g. `tiny`).
    public var name: String { fixture.manifest.name }

    /// The fixture's directory.
    public var path: String { fixture.path }

    /// The manifest (provenance, model, plans, checkpoints with budgets, mutants).
    public var manifest: Manifest { fixture.manifest }

    /// The model configuration the fixture was made with.
    public var config: ModelConfig { fixture.manifest.model.config }

    /// Layer kinds in order (`R` = RWKV, `A` = GQA attention in the layer map).
    public var layerKinds: [LayerKind] { fixture.manifest.layerKinds }

    /// The token sequence fed to the engine.
    public var tokens: [Int] { fixture.manifest.tokens }

    /// Absolute position of the first token (positions are `startPosition + index`).
    public var startPosition: Int { fixture.manifest.startPosition }

    /// The split plans (how the tokens are fed: calls, WKV chunk sizes, state save/restore points).
    public var plans: [SplitPlan] { fixture.manifest.plans }

    /// Names of the plans, e.g. `one_call`, `token_by_token`, `chunked_prefill`, `save_restore`.
    public var planNames: [String] { plans.map { $0.name } }

    /// The plan called `name`.
    ///
    /// - Throws: `Hxa079Error.invalidArgument` naming the plans the fixture has.
    public func plan(_ name: String) throws -> SplitPlan {
        guard let p = plans.first(where: { $0.name == name }) else {
            throw Hxa079Error.invalidArgument("fixture \(self.name) has no plan \"\(name)\" (plans: \(planNames.joined(separator: ", ")))")
        }
        return p
    }

    /// Every checkpoint name in execution order: the activations of a forward
    /// call (`embed`, `layers.0.norm1`, …, `logits`), then the state tensors
    /// (`state.position`, `state.layers.{i}.wkv|k|v`).
    public var checkpointNames: [String] { fixture.manifest.checkpoints.map { $0.name } }

    /// The activation checkpoints, in execution order (shapes `[T, …]`).
    public var activationNames: [String] { checkpointNames.filter { !$0.hasPrefix("state.") } }

    /// The state tensors after the last call of a plan.
    public var stateNames: [String] { checkpointNames.filter { $0.hasPrefix("state.") } }

    /// The shape of checkpoint `name` over the whole sequence, nil when the fixture has no such checkpoint.
    public func shape(of name: String) -> [Int]? { fixture.manifest.checkpoint(name)?.shape }

    /// The tolerance a candidate of profile `precision` is held to at `name`
    /// against the truth of `plan`, after `scale` (max rel × scale, NMSE ×
    /// scale²); nil when the checkpoint is compared exactly (`state.position`),
    /// unknown, or has no budget of that profile.
    public func tolerance(of name: String, precision: BudgetClass = .float32, plan: String = "one_call", scale: Double = 1) -> Tolerance? {
        guard let r = fixture.manifest.checkpoint(name) else { return nil }
        return (try? BudgetRule(checkpoint: name, budget: r.budget, profiles: r.profiles, profile: precision, plan: plan,
                                toleranceScale: scale))?.tolerance
    }

    // MARK: - Values

    /// The float64 truth of checkpoint `name` under `plan` (row-major).
    public func truth(plan: String = "one_call", name: String) throws -> [Double] {
        _ = try self.plan(plan)
        return try fixture.truth(plan: plan, name: name)
    }

    /// Every checkpoint's float64 truth under `plan`.
    public func truth(plan: String = "one_call") throws -> [String: [Double]] {
        _ = try self.plan(plan)
        var out: [String: [Double]] = [:]
        for name in checkpointNames { out[name] = try fixture.truth(plan: plan, name: name) }
        return out
    }

    /// The known-wrong variants recorded in the fixture (empty when it has no mutants).
    public var mutants: [Manifest.MutantRecord] { fixture.mutantsFile == nil ? [] : fixture.manifest.mutants }

    /// The checkpoints of mutant `name` (float64, on the plan recorded in its
    /// `MutantRecord.plan`) that a comparison needs: every checkpoint in
    /// execution order through the one where both a float64 and a float32
    /// comparison first fail (`MutantRecord.storedCheckpoints.last`); the
    /// checkpoints before its first affected one are the truth. Later
    /// checkpoints are not recorded (SPEC.md §4.6), so a check of these values
    /// reports them as not provided.
    ///
    /// - Throws: `Hxa079Error.invalidArgument` when the fixture has no such
    ///   mutant, `.io` when its mutants.safetensors is missing.
    public func mutantValues(_ name: String) throws -> [String: [Double]] {
        guard let names = fixture.mutantCheckpointNames(name) else {
            throw Hxa079Error.invalidArgument("fixture \(self.name) has no mutant \"\(name)\" (mutants: \(mutants.map { $0.name }.joined(separator: ", ")))")
        }
        var out: [String: [Double]] = [:]
        for c in names { out[c] = try fixture.mutant(name, name: c) }
        return out
    }

    // MARK: - Model

    /// Runs `body` with the directory of the fixture's model (config.json +
    /// model.safetensors), after checking every model file against the
    /// SHA-256 recorded in the manifest. A bundled model is passed in place; a
    /// model made from a preset is regenerated into a temporary directory and
    /// removed after `body`; a model referenced by path is found relative to
    /// the fixture directory (or at its absolute path).
    ///
    /// - Parameters:
    ///   - model: the fixture's model where it lives now, when it moved.
    ///   - ignoreModelHash: run a model whose files differ from the recorded
    ///     SHA-256 anyway (a warning says so on stderr).
    /// - Throws: `Hxa079Error.io` naming the model file that is missing or
    ///   differs from the manifest.
    ///
    /// ```swift
    /// let engine = try oracle.withModelDirectory { try MyEngine(directory: $0) }
    /// ```
    public func withModelDirectory<R>(model: String? = nil, ignoreModelHash: Bool = false, _ body: (String) throws -> R) throws -> R {
        let m = fixture.manifest.model
        if model != nil || m.bundled || m.source != "preset" {
            return try body(try fixture.modelDirectory(scratch: "", model: model, ignoreModelHash: ignoreModelHash))
        }
        let scratch = try makeTemporaryDirectory(prefix: "hxa079-oracle")
        defer { removeTree(scratch) }
        return try body(try fixture.modelDirectory(scratch: scratch))
    }

    /// Loads the fixture's model weights in `T` (Float or Double), checked as
    /// `withModelDirectory` says. The whole model is held in memory;
    /// `runReference` streams it instead (one layer at a time).
    public func loadModel<T: BinaryFloatingPoint>(as type: T.Type = T.self, model: String? = nil,
                                                  ignoreModelHash: Bool = false) throws -> ModelWeights<T> {
        try withModelDirectory(model: model, ignoreModelHash: ignoreModelHash) { dir in try ModelDirectory(path: dir).load(as: T.self).0 }
    }
}
