// SplitPlan: how a fixture's token sequence is fed to an engine, and the
// runner that records every checkpoint of a plan.
//
// Contract: a plan splits the sequence into calls, each with its WKV form
// (0 = recurrent, L = chunked), and may save the state to a file and read it
// back after given calls. Every activation checkpoint of every call is
// concatenated along the token axis, so each plan yields tensors of the same
// shapes as one call over the whole sequence; the state after the last call
// is appended under the state tensor names (SPEC.md §4).

import Hxa079
import Hxa079Reference

public struct SplitPlan: Sendable, Equatable {
    /// Stable name, used by `compare --split`.
    public var name: String
    /// Tokens per call; sums to T.
    public var calls: [Int]
    /// WKV form per call: 0 recurrent, L ≥ 1 chunked with chunks of L.
    public var chunkSizes: [Int]
    /// Call indices after which the state is written to a file and read back.
    public var restoreAfter: [Int]

    public init(name: String, calls: [Int], chunkSizes: [Int]? = nil, restoreAfter: [Int] = []) {
        self.name = name
        self.calls = calls
        self.chunkSizes = chunkSizes ?? [Int](repeating: 0, count: calls.count)
        self.restoreAfter = restoreAfter
    }

    /// The standard plans for T tokens: one call; token by token; chunked
    /// prefill of T − 3 tokens at L then three single-token decodes; and two
    /// halves with the state saved and restored between them.
    public static func standard(tokens T: Int, chunkSize L: Int) -> [SplitPlan] {
        var plans = [SplitPlan(name: "one_call", calls: [T])]
        if T > 1 { plans.append(SplitPlan(name: "token_by_token", calls: [Int](repeating: 1, count: T))) }
        if T > 3 {
            plans.append(SplitPlan(name: "chunked_prefill", calls: [T - 3, 1, 1, 1], chunkSizes: [L, 0, 0, 0]))
        }
        if T > 1 { plans.append(SplitPlan(name: "save_restore", calls: [T / 2, T - T / 2], restoreAfter: [0])) }
        return plans
    }

    /// Problems with this plan for a sequence of `tokens` tokens.
    public func problems(tokens: Int) -> [String] {
        var out: [String] = []
        if calls.reduce(0, +) != tokens { out.append("plan \(name): calls sum to \(calls.reduce(0, +)), not \(tokens)") }
        if calls.contains(where: { $0 < 1 }) { out.append("plan \(name): every call needs at least one token") }
        if chunkSizes.count != calls.count { out.append("plan \(name): \(chunkSizes.count) chunk sizes for \(calls.count) calls") }
        if chunkSizes.contains(where: { $0 < 0 }) { out.append("plan \(name): negative chunk size") }
        if restoreAfter.contains(where: { $0 < 0 || $0 >= calls.count }) { out.append("plan \(name): restore point outside the calls") }
        return out
    }
}

/// An engine as the plan runner sees it: it keeps its own state.
public struct EngineRunner {
    /// e.g. `reference f64`.
    public var name: String
    /// Resets to the initial state.
    public var reset: () -> Void
    /// Runs one call, reporting checkpoints to the observer.
    public var run: (_ tokens: [Int], _ chunkSize: Int, _ observer: (any CheckpointObserver)?) throws -> Void
    /// Writes the state to `path` and replaces the live state by what is read back.
    public var saveAndRestore: (_ path: String) throws -> Void
    /// The state tensors (SPEC.md §4) with their shapes, as Double.
    public var stateTensors: () -> [Checkpoint]

    public init(name: String, reset: @escaping () -> Void,
                run: @escaping ([Int], Int, (any CheckpointObserver)?) throws -> Void,
                saveAndRestore: @escaping (String) throws -> Void, stateTensors: @escaping () -> [Checkpoint]) {
        self.name = name
        self.reset = reset
        self.run = run
        self.saveAndRestore = saveAndRestore
        self.stateTensors = stateTensors
    }

    /// The readable reference in `T`, optionally as a mutant.
    public static func reference<T: ReferenceScalar>(_ model: ModelWeights<T>, mutant: Mutant? = nil) -> EngineRunner {
        reference(weights: model, mutant: mutant)
    }

    /// The readable reference in `T` on the model `weights` provides
    /// (`StreamedWeights`: each layer read from the files when it runs,
    /// SPEC.md §2.8), optionally as a mutant.
    ///
    /// - Parameters:
    ///   - profile: the precision profile the run emulates (SPEC.md §4.7; the
    ///     weights must already be stored in it, `ModelWeights.stored(in:)`).
    ///   - chunkSize: nil: each call's WKV form from the plan; L: every call chunked at L
    ///     (0: every call recurrent).
    package static func reference<T: ReferenceScalar>(weights: any WeightProvider<T>, mutant: Mutant? = nil,
                                                     profile: PrecisionProfile = .f32, chunkSize: Int? = nil) -> EngineRunner {
        let config = weights.config, kinds = weights.layerKinds
        let box = StateBox(ModelState<T>(config: config, layerKinds: kinds))
        let dtype: SafeTensorsDTypeName = T.self == Double.self ? .f64 : .f32
        return EngineRunner(
            name: "reference \(dtype.rawValue)" + (mutant.map { " mutant \($0.rawValue)" } ?? "")
                + (profile.rounds ? " profile \(profile.format.rawValue)" : ""),
            reset: { box.state = ModelState(config: config, layerKinds: kinds) },
            run: { tokens, chunk, observer in
                _ = try Reference.forward(weights: weights, tokens: tokens, state: &box.state,
                                          options: ForwardOptions(chunkSize: chunkSize ?? chunk, mutant: mutant, profile: profile),
                                          observer: observer)
            },
            saveAndRestore: { path in
                try box.state.write(to: path, dtype: dtype == .f64 ? .F64 : .F32)
                box.state = try ModelState<T>(path: path, config: config, layerKinds: kinds)
            },
            stateTensors: { box.state.checkpoints() })
    }
}

enum SafeTensorsDTypeName: String { case f64, f32 }

/// A mutable holder so closures share one live state.
public final class StateBox<T: BinaryFloatingPoint> {
    public var state: ModelState<T>
    public init(_ state: ModelState<T>) { self.state = state }
}

extension ModelState {
    /// The state tensors under their names (SPEC.md §4), as Double.
    public func checkpoints() -> [Checkpoint] {
        var out = [Checkpoint(name: CheckpointName.statePosition, shape: [1], values: [Double(position)])]
        for (i, layer) in layers.enumerated() {
            switch layer {
            case .rwkv(let s):
                out.append(Checkpoint(name: CheckpointName.stateWKV(i), shape: [s.heads, s.headDim, s.headDim], values: s.values.map { Double($0) }))
            case .gqa(let c):
                out.append(Checkpoint(name: CheckpointName.stateKeys(i), shape: [c.count, c.kvHeads, c.headDim], values: c.keys.map { Double($0) }))
                out.append(Checkpoint(name: CheckpointName.stateValues(i), shape: [c.count, c.kvHeads, c.headDim], values: c.values.map { Double($0) }))
            }
        }
        return out
    }
}

/// Runs `plan` on `engine` from its initial state; returns every checkpoint
/// concatenated over the calls (activations first, in execution order, then the
/// final state), or only those `keep` admits (nil: all). `scratchDirectory`
/// receives the state files of restore points.
package func runPlan(_ plan: SplitPlan, tokens: [Int], engine: EngineRunner, scratchDirectory: String,
                    keep: ((String) -> Bool)? = nil, progress: ((PlanProgress) -> Void)? = nil) throws -> [Checkpoint] {
    let problems = plan.problems(tokens: tokens.count)
    if !problems.isEmpty { throw Hxa079Error.invalidArgument(problems.joined(separator: "; ")) }
    engine.reset()
    var order: [String] = []
    var merged: [String: Checkpoint] = [:]
    var start = 0
    for (k, n) in plan.calls.enumerated() {
        let collector = CheckpointCollector(filter: keep)
        let observer: any CheckpointObserver = progress.map { report in
            LayerReporter(inner: collector) { layer in report(PlanProgress(tokensDone: start, callTokens: n, layersDone: layer + 1)) }
        } ?? collector
        try engine.run(Array(tokens[start..<(start + n)]), plan.chunkSizes[k], observer)
        for c in collector.checkpoints {
            if var m = merged[c.name] {
                m.values += c.values
                m.shape[0] += c.shape[0]
                merged[c.name] = m
            } else {
                merged[c.name] = c
                order.append(c.name)
            }
        }
        if plan.restoreAfter.contains(k) {
            try engine.saveAndRestore(scratchDirectory + "/\(plan.name)-after-call-\(k).safetensors")
        }
        start += n
    }
    return order.compactMap { merged[$0] } + engine.stateTensors().filter { keep?($0.name) ?? true }
}

/// Where a plan run is: `tokensDone` tokens of earlier calls, and
/// `layersDone` layers of the current call of `callTokens` tokens.
public struct PlanProgress: Sendable {
    public var tokensDone: Int
    public var callTokens: Int
    public var layersDone: Int

    /// Work done in token·layers, for a model of `layers` layers.
    public func work(layers: Int) -> Int { tokensDone * layers + callTokens * layersDone }
}

/// Passes every checkpoint to `inner` and reports each finished layer (its `layers.{i}.out`).
final class LayerReporter: CheckpointObserver {
    let inner: any CheckpointObserver
    let onLayer: (Int) -> Void

    init(inner: any CheckpointObserver, onLayer: @escaping (Int) -> Void) {
        self.inner = inner
        self.onLayer = onLayer
    }

    func wants(_ name: String) -> Bool {
        if let i = CheckpointName.layerIndex(of: name), name == CheckpointName.layerOut(i) { onLayer(i) }
        return inner.wants(name)
    }

    func observe(_ checkpoint: Checkpoint) throws { try inner.observe(checkpoint) }
}
