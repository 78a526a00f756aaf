// BF16EngineTests: the bf16 engine (`--engine fast --precision bf16`,
// BF16Engine.swift) held to the bf16 profile's budgets (SPEC.md §4.6–§4.8)
// through the Oracle API — global and stage-local — at every kernel level
// this CPU runs (`bf16KernelLevels`: vdpbf16ps products at avx512bf16, the
// f32 engine's products on the same bf16 values below it), on every plan:
// - the committed fixtures (Fixtures/tiny, Fixtures/small: F32 models, so
//   every weight is rounded on load), the plans' own WKV forms;
// - the acceptance model: random, head_dim 96, one KV head (a group
//   of two), GQA layers first and fourth, r/k norms, stored BF16 (streamed in
//   place), 20 tokens, a fixture made with the default plans and budgets
//   (mutants left out: they do not change the budgets, only the making time),
//   every call recurrent and every call chunked at L = 16.
// Besides: the storage model itself — after a call every WKV state and KV
// cache value is a bf16 value, and so is every checkpoint; streamed equals
// held in memory bit for bit; the engine refuses Float64.

import Testing
import Hxa079
import Hxa079Fixtures
import Hxa079Oracle
import Hxa079Reference
import Hxa079TestSupport
import SafeTensors
@testable import Hxa079Fast

/// The acceptance model and its fixture, made once.
private let acceptanceFixture: Result<(oracle: OracleFixture, model: String), Error> = Result {
    let dir = try makeTemporaryDirectory(prefix: "hxa079-bf16-engine-tests")
    let shape = RandomShapes.shape(hidden: 192, heads: 2, headDim: 96, kvHeads: 1, intermediate: 384, vocab: 256, layers: 5,
                                   gqaLayers: [0, 3], ranks: 16)
    try writeRandomModelDirectory(shape: shape, options: RandomModelOptions(rkNorms: true), seed: 13, to: dir + "/model",
                                  dtype: .BF16)
    let tokens = RandomShapes.tokens(20, vocab: 256, seed: 29)
    let spec = FixtureSpec(name: "bf16-engine", model: .directory(dir + "/model"), tokens: tokens,
                           plans: SplitPlan.standard(tokens: tokens.count, chunkSize: 4), mutants: [], command: "test")
    _ = try FixtureMaker().make(spec, out: dir + "/fx")
    return (try OracleFixture(path: dir + "/fx"), dir + "/model")
}

/// True when every value is a bf16 value (its low 16 bits are zero; NaN apart).
private func allBF16(_ values: [Float]) -> Bool { values.allSatisfy { $0.isNaN || $0.bitPattern & 0xFFFF == 0 } }

@Suite struct BF16EngineTests {
    /// Records `plan` with `engine`, every call's WKV form `chunk` (nil: the plan's own), and checks it against the bf16 budgets.
    static func check(_ oracle: OracleFixture, _ engine: FastModel, plan: String, chunk: Int?, label: String) throws {
        let candidate = try oracle.record(plan: plan, initialState: engine.initialState()) { tokens, state, planChunk, observer in
            _ = try engine.forward(tokens: tokens, state: &state, chunkSize: chunk ?? planChunk, observer: observer)
        }
        // every value the engine reports is stored in bf16 (state.position is an integer)
        for (name, t) in candidate.tensors where name != CheckpointName.statePosition {
            #expect(allBF16(t.values.map { Float($0) }), "\(label): \(name) holds values that are not bf16")
        }
        let report = try oracle.check(candidate, plan: plan, profile: .bfloat16)
        #expect(report.passed, "\(label): \(report)")
        #expect(report.missing.isEmpty, "\(label): missing \(report.missing)")
        // how much of its budgets the engine uses (SPEC.md §4.9 quotes these; HXA079_PRINT_MEASUREMENTS=1)
        var global = 0.0, local = 0.0
        for r in report.results {
            if let t = r.tolerance { global = max(global, r.metrics.maxRel / t.maxRel, r.metrics.nmse / t.nmse) }
            if let l = r.local, let t = l.tolerance { local = max(local, l.metrics.maxRel / t.maxRel, l.metrics.nmse / t.nmse) }
        }
        _ = measured("bf16 engine \(label): worst share of the global budget", global)
        _ = measured("bf16 engine \(label): worst share of the local budget", local)
    }

    @Test(arguments: ["tiny", "small"])
    func committedFixturesPassTheBF16Budgets(fixture name: String) throws {
        let oracle = try OracleFixture(path: fixturesRoot + "/" + name)
        let engine = try oracle.withModelDirectory { try FastModel(bf16Directory: ModelDirectory(path: $0)) }
        for level in bf16KernelLevels {
            try FastKernels.withLevel(level) {
                for plan in oracle.planNames {
                    try BF16EngineTests.check(oracle, engine, plan: plan, chunk: nil, label: "\(name) \(plan) \(level)")
                }
            }
        }
    }

    @Test(arguments: [0, 16])
    func theAcceptanceFixturePassesTheBF16Budgets(chunk: Int) throws {
        let (oracle, model) = try acceptanceFixture.get()
        let engine = try FastModel(bf16Streaming: ModelDirectory(path: model))
        for level in bf16KernelLevels {
            try FastKernels.withLevel(level) {
                for plan in oracle.planNames {
                    try BF16EngineTests.check(oracle, engine, plan: plan, chunk: chunk, label: "acceptance \(plan) L \(chunk) \(level)")
                }
            }
        }
    }

    /// A call of more than one pass (600 tokens, passes of 512) on a model with both
    /// kinds of layer: the state a call carries is bf16; streamed == in memory bit for bit.
    @Test(arguments: [DType.BF16, .F32])
    func theStateIsStoredInBF16AndStreamingChangesNothing(dtype: DType) throws {
        let tmp = try makeTemporaryDirectory(prefix: "hxa079-bf16-state")
        defer { removeTree(tmp) }
        try writeRandomModelDirectory(shape: oddShape96, options: allOptions, seed: 3, to: tmp + "/m", dtype: dtype)
        let directory = try ModelDirectory(path: tmp + "/m")
        let held = try FastModel(bf16Directory: directory), streamed = try FastModel(bf16Streaming: directory)
        let tokens = tokenList(600, vocab: held.config.vocabSize, seed: 8)
        for level in bf16KernelLevels {
            try FastKernels.withLevel(level) {
                var s1 = held.initialState(), s2 = streamed.initialState()
                let a = try held.forward(tokens: tokens, state: &s1, chunkSize: 16)
                let b = try streamed.forward(tokens: tokens, state: &s2, chunkSize: 16)
                #expect(a == b, "\(dtype) \(level): logits streamed ≠ in memory")
                #expect(s1 == s2, "\(dtype) \(level): state streamed ≠ in memory")
                #expect(allBF16(a), "\(dtype) \(level): logits not bf16")
                for layer in s1.layers {
                    switch layer {
                    case .rwkv(let w): #expect(allBF16(w.values), "\(dtype) \(level): WKV state not bf16")
                    case .gqa(let c): #expect(allBF16(c.keys) && allBF16(c.values), "\(dtype) \(level): KV cache not bf16")
                    }
                }
            }
        }
    }

    @Test func theBF16EngineIsFloat32Only() throws {
        let (_, model) = try acceptanceFixture.get()
        #expect(throws: Hxa079Error.self) { _ = try FastEngine<Double>.streaming(ModelDirectory(path: model), bf16: true) }
        #expect(try !FastEngine<Float>.streaming(ModelDirectory(path: model), bf16: false).storesBF16)
        #expect(try FastEngine<Float>.streaming(ModelDirectory(path: model), bf16: true).storesBF16)
    }
}
