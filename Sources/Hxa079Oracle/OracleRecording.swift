// OracleRecording: running a fixture's plan through an engine, collecting
// every checkpoint as a candidate.
//
// Contract: a plan (SplitPlan.swift) feeds the fixture's tokens in calls,
// each with its WKV chunk size (0 = recurrent), and may write the state to a
// file and read it back after given calls. Recording runs the calls from the
// engine's initial state with one OracleObserver, so each checkpoint is
// concatenated over the calls into the fixture's whole-sequence shape, and
// appends the state after the last call. Three engines can be driven:
//   * the readable reference of this package (`runReference`), the truth's
//     own code in float64 or float32, on the model streamed layer by layer;
//   * an engine that keeps its state in a `ModelState<T>` (`record(plan:
//     initialState:forward:)`), saved and restored through the state file
//     format of StateIO.swift at restore points — this package's fast engine
//     too, in Float32 (`FastModel`) or Float64 (`FastModel64`, held to the
//     float64 tolerance; Hxa079FastTests/Float64Tests), without this module
//     depending on it;
//   * any engine described as an `EngineRunner` (`record(plan:engine:precision:)`).
// Restore-point files go to a temporary directory removed afterwards.

import Hxa079
import Hxa079Fixtures
import Hxa079Reference

extension OracleFixture {
    /// Runs this package's readable reference on `plan` and returns every checkpoint.
    ///
    /// The model is streamed (SPEC.md §2.8): each layer is read from the
    /// fixture's model files when it runs and released after it, so memory
    /// holds one layer, not the model; the values equal those of the model
    /// held in memory (`loadModel`) bit for bit. The model is checked as
    /// `withModelDirectory` says.
    ///
    /// - Parameter precision: `.float64` (the truth's own arithmetic), `.float32`,
    ///   or `.bfloat16` / `.float16`: the reference emulating that profile (SPEC.md §4.7).
    public func runReference(plan: String = "one_call", precision: BudgetClass = .float64,
                             model: String? = nil, ignoreModelHash: Bool = false) throws -> OracleCandidate {
        try withModelDirectory(model: model, ignoreModelHash: ignoreModelHash) { dir in
            let directory = try ModelDirectory(path: dir)
            switch precision {
            case .float64:
                return try record(plan: plan, engine: .reference(weights: try StreamedWeights<Double>(directory: directory, checkFinite: false)),
                                  precision: .float64)
            case .float32:
                return try record(plan: plan, engine: .reference(weights: try StreamedWeights<Float>(directory: directory, checkFinite: false)),
                                  precision: .float32)
            case .bfloat16, .float16:   // the profile's emulation (SPEC.md §4.7): binary32 arithmetic, storage rounded
                let profile = PrecisionProfile(format: precision == .bfloat16 ? .bf16 : .f16)
                let weights = StoredWeights(try StreamedWeights<Float>(directory: directory, checkFinite: false), in: profile)
                return try record(plan: plan, engine: .reference(weights: weights, profile: profile), precision: precision)
            }
        }
    }

    /// Runs `plan` through an engine whose state is a `ModelState<T>` and returns every checkpoint.
    ///
    /// `forward` is called once per call of the plan with that call's tokens,
    /// the live state, the WKV chunk size (0 = recurrent) and the observer the
    /// engine must report its checkpoints to. At the plan's restore points the
    /// state is written to a state file and read back. The candidate's
    /// precision is `.float64` for `Double` states and `.float32` otherwise.
    ///
    /// ```swift
    /// let candidate = try oracle.record(plan: "save_restore", initialState: engine.initialState()) { tokens, state, chunk, observer in
    ///     _ = try engine.forward(tokens: tokens, state: &state, chunkSize: chunk, observer: observer)
    /// }
    /// ```
    public func record<T: BinaryFloatingPoint>(
        plan name: String = "one_call", initialState: ModelState<T>,
        forward: (_ tokens: [Int], _ state: inout ModelState<T>, _ chunkSize: Int, _ observer: OracleObserver) throws -> Void
    ) throws -> OracleCandidate {
        let p = try checkedPlan(name)
        let observer = OracleObserver(precision: [T].oraclePrecision)
        var state = initialState
        var scratch: String? = nil
        defer { if let scratch { removeTree(scratch) } }
        var start = 0
        for (k, n) in p.calls.enumerated() {
            try forward(Array(tokens[start..<(start + n)]), &state, p.chunkSizes[k], observer)
            if p.restoreAfter.contains(k) {
                let dir = try scratch ?? makeTemporaryDirectory(prefix: "hxa079-oracle")
                scratch = dir
                let file = dir + "/\(p.name)-after-call-\(k).safetensors"
                try state.write(to: file, dtype: [T].oraclePrecision == .float64 ? .F64 : .F32)
                state = try ModelState<T>(path: file, config: config, layerKinds: layerKinds)
            }
            start += n
        }
        observer.recordState(state)
        return observer.candidate()
    }

    /// Runs `plan` through `engine` (see `EngineRunner`) and returns every checkpoint.
    public func record(plan name: String = "one_call", engine: EngineRunner, precision: BudgetClass) throws -> OracleCandidate {
        let p = try checkedPlan(name)
        let scratch = try makeTemporaryDirectory(prefix: "hxa079-oracle")
        defer { removeTree(scratch) }
        let checkpoints = try runPlan(p, tokens: tokens, engine: engine, scratchDirectory: scratch)
        return OracleCandidate(checkpoints: checkpoints, precision: precision)
    }

    private func checkedPlan(_ name: String) throws -> SplitPlan {
        let p = try plan(name)
        let problems = p.problems(tokens: tokens.count)
        if !problems.isEmpty { throw Hxa079Error.invalidArgument(problems.joined(separator: "; ")) }
        return p
    }
}
