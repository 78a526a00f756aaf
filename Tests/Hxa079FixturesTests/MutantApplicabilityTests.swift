// Every model that loads gets a fixture with default options (issue 14):
// over a matrix of model shapes, `FixtureMaker` with every shipped mutant
// succeeds; every mutant it records as skipped is truly inert (run on its
// plan it equals the truth bit for bit); every kept mutant is rejected by
// `compare` at its recorded first checkpoint outside the float64 tolerance,
// and its stored checkpoints decide a float64 and a float32 comparison as the
// whole mutant run does;
// every undetectable one passes the float64 comparison. Mutants named
// explicitly that cannot act are refused.

import Testing
import Hxa079
import Hxa079Reference
@testable import Hxa079Fixtures
import Hxa079TestSupport
import SafeTensors

/// One model shape of the matrix: tiny dimensions, few tokens.
struct MatrixCase: CustomStringConvertible, Sendable {
    var name: String
    var hidden = 32, heads = 2, headDim = 16, kvHeads = 1, vocab = 64, intermediate = 64
    var kinds = "RRAR"
    var dtype: DType = .F32
    var tokens: [Int] = [3, 17, 5, 60, 9]

    var description: String { name }

    var shape: ModelShape {
        let config = ModelConfig(hiddenSize: hidden, numHeads: heads, headDim: headDim, numKVHeads: kvHeads,
                                 intermediateSize: intermediate, vocabSize: vocab, numLayers: kinds.count,
                                 rmsNormEps: 1e-5, ropeTheta: 10_000)
        let gqa = Set(kinds.enumerated().filter { $0.element == "A" }.map { $0.offset })
        return ModelShape(config: config, gqaLayers: gqa, ranks: (8, 8, 8, 8, 8))
    }

    /// The structural reasons this shape must produce (mutant → reason fragment).
    var expectedSkips: [Mutant: String] {
        var out: [Mutant: String] = [:]
        let rwkv = kinds.filter { $0 == "R" }.count
        if kvHeads == heads { out[.kvHeadsTiled] = "own KV head" }
        if kvHeads == 1 { out[.kvHeadsTiled] = "single KV head" }
        if !kinds.contains("A") { out[.ropeInGQA] = "no GQA layer" }
        if rwkv < 2 { out[.kFirstBeforeRoPE] = "one RWKV layer" }
        if tokens.count == 1 {
            if kinds.contains("A") { out[.ropeInGQA] = "position 0" }
            if rwkv >= 2 { out[.kFirstBeforeRoPE] = "position 0" }
            out[.removalFromDecayedState] = "zero state"
            out[.transposedState] = "no split plan carries a state"
        }
        return out
    }
}

let mutantMatrix: [MatrixCase] = [
    MatrixCase(name: "single KV head", heads: 4, kvHeads: 1),
    MatrixCase(name: "KV = H", heads: 2, kvHeads: 2),
    MatrixCase(name: "no GQA layer", heads: 4, kvHeads: 2, kinds: "RRR"),
    MatrixCase(name: "one RWKV layer", heads: 4, kvHeads: 2, kinds: "RAA"),
    MatrixCase(name: "GQA layer first", heads: 4, kvHeads: 2, kinds: "ARR"),
    MatrixCase(name: "single layer", heads: 4, kvHeads: 2, kinds: "R"),
    MatrixCase(name: "head_dim 96", hidden: 96, heads: 2, headDim: 96, kvHeads: 1, intermediate: 96, kinds: "RAR"),
    MatrixCase(name: "tiny vocab", heads: 4, kvHeads: 2, vocab: 8, kinds: "RAR", tokens: [1, 7, 0, 3]),
    MatrixCase(name: "BF16 weights", heads: 4, kvHeads: 2, kinds: "RAR", dtype: .BF16),
    MatrixCase(name: "one token", heads: 4, kvHeads: 2, kinds: "RRAR", tokens: [11]),
]

/// Writes the case's model and makes its fixture with every shipped mutant and the standard plans.
func makeMatrixFixture(_ c: MatrixCase, in dir: String) throws -> (fixture: Fixture, model: String) {
    let model = dir + "/model"
    try writeRandomModelDirectory(shape: c.shape, seed: 5, to: model, dtype: c.dtype)
    let spec = FixtureSpec(name: "fx", model: .directory(model), tokens: c.tokens,
                           plans: SplitPlan.standard(tokens: c.tokens.count, chunkSize: 2), mutants: Mutant.allCases,
                           command: "test")
    _ = try FixtureMaker().make(spec, out: dir + "/fx")
    return (try Fixture(path: dir + "/fx"), model)
}

@Suite("fixtures make on every model shape")
struct MutantApplicabilityTests {
    @Test(arguments: mutantMatrix)
    func everyShapeGetsAFixtureWhoseRecordsAreTrue(_ c: MatrixCase) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let (fixture, modelPath) = try makeMatrixFixture(c, in: dir)
        let m = fixture.manifest
        // Every shipped mutant is accounted for exactly once.
        let recorded = m.mutants.map(\.name) + m.skippedMutants.map(\.name) + m.undetectableMutants.map(\.name)
        #expect(recorded.sorted() == Mutant.allCases.map(\.rawValue).sorted(), "\(c): \(recorded)")
        // The structure decides what it can.
        for (mutant, fragment) in c.expectedSkips {
            let s = m.skippedMutants.first { $0.name == mutant.rawValue }
            #expect(s?.reason.contains(fragment) == true, "\(c): \(mutant.rawValue) skipped with \(s?.reason ?? "nothing"), expected …\(fragment)…")
        }
        let (model, _) = try ModelDirectory(path: modelPath).load(as: Double.self)
        let scratch = try makeTemporaryDirectory()
        defer { removeTree(scratch) }
        // Skipped: truly inert, on every plan of the fixture.
        for s in m.skippedMutants {
            let mutant = try #require(Mutant(rawValue: s.name))
            for plan in m.plans {
                let truth = try runPlan(plan, tokens: m.tokens, engine: .reference(model), scratchDirectory: scratch)
                let run = try runPlan(plan, tokens: m.tokens, engine: .reference(model, mutant: mutant), scratchDirectory: scratch)
                for (a, b) in zip(truth, run) {
                    #expect(a.name == b.name && a.values == b.values, "\(c): skipped \(s.name) changes \(b.name) on plan \(plan.name)")
                }
            }
        }
        // Kept: rejected by compare at the recorded first checkpoint outside the float64 tolerance, and
        // what is stored decides a float64 and a float32 comparison exactly as the whole mutant run does.
        for k in m.mutants {
            let mutant = try #require(Mutant(rawValue: k.name))
            let plan = try #require(m.plans.first { $0.name == k.plan })
            let full = try runPlan(plan, tokens: m.tokens, engine: .reference(model, mutant: mutant), scratchDirectory: scratch)
            let names = try #require(fixture.mutantCheckpointNames(k.name))
            #expect(k.storedCheckpoints?.first == k.firstAffected, "\(c): \(k.name) stored from \(k.storedCheckpoints?.first ?? "-")")
            var stored64: [String: CandidateTensor] = [:], stored32: [String: CandidateTensor] = [:]
            var full64: [String: CandidateTensor] = [:], full32: [String: CandidateTensor] = [:]
            for r in full {
                let isPosition = r.name == CheckpointName.statePosition
                full64[r.name] = CandidateTensor(dtype: isPosition ? .I64 : .F64, shape: r.shape, values: r.values)
                full32[r.name] = CandidateTensor(dtype: isPosition ? .I64 : .F32, shape: r.shape, values: isPosition ? r.values : r.values.map { Double(Float($0)) })
                guard names.contains(r.name) else { continue }
                let v = try fixture.mutant(k.name, name: r.name)
                #expect(v == r.values, "\(c): \(k.name) \(r.name) differs from the mutant run")
                stored64[r.name] = CandidateTensor(dtype: isPosition ? .I64 : .F64, shape: r.shape, values: v)
                stored32[r.name] = CandidateTensor(dtype: isPosition ? .I64 : .F32, shape: r.shape, values: isPosition ? v : v.map { Double(Float($0)) })
            }
            let report = try compare(fixture: fixture, plan: k.plan, candidate: stored64)
            #expect(report.firstFailure?.name != nil && report.firstFailure?.name == k.firstOutsideFloat64,
                    "\(c): \(k.name) first fails at \(report.firstFailure?.name ?? "nowhere"), recorded \(k.firstOutsideFloat64 ?? "nil")")
            #expect(try compare(fixture: fixture, plan: k.plan, candidate: full64).firstFailure?.name == report.firstFailure?.name)
            let r32 = try compare(fixture: fixture, plan: k.plan, candidate: stored32)
            let f32 = try compare(fixture: fixture, plan: k.plan, candidate: full32)
            #expect(r32.firstFailure?.name == f32.firstFailure?.name && f32.firstFailure?.name == k.firstOutsideFloat32,
                    "\(c): \(k.name) float32: stored first fails at \(r32.firstFailure?.name ?? "nowhere"), whole run at \(f32.firstFailure?.name ?? "nowhere"), recorded \(k.firstOutsideFloat32 ?? "nil")")
        }
        // Undetectable: a float64 run with the mutant passes the float64 comparison.
        for u in m.undetectableMutants {
            let mutant = try #require(Mutant(rawValue: u.name))
            let plan = try #require(m.plans.first { $0.name == u.plan })
            let run = try runPlan(plan, tokens: m.tokens, engine: .reference(model, mutant: mutant), scratchDirectory: scratch)
            var candidate: [String: CandidateTensor] = [:]
            for r in run { candidate[r.name] = CandidateTensor(dtype: r.name == CheckpointName.statePosition ? .I64 : .F64, shape: r.shape, values: r.values) }
            let report = try compare(fixture: fixture, plan: plan.name, candidate: candidate)
            #expect(report.passed && u.worstDistance.maxRel > 0, "\(c): undetectable \(u.name) fails at \(report.firstFailure?.name ?? "-")")
        }
        // Only kept mutants are stored.
        if m.mutants.isEmpty {
            #expect(fixture.mutantsFile == nil, "\(c): mutants.safetensors without a kept mutant")
        } else {
            let stored = Set(try #require(fixture.mutantsFile).names.map { String($0.split(separator: "/").first ?? "") })
            #expect(stored == Set(m.mutants.map(\.name)), "\(c): stored \(stored.sorted())")
        }
    }

    @Test func aMutantNamedExplicitlyThatCannotActIsAnError() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let c = mutantMatrix[1]   // KV = H
        try writeRandomModelDirectory(shape: c.shape, seed: 5, to: dir + "/model", dtype: .F32)
        var maker = FixtureMaker()
        maker.explicitMutants = true
        let spec = FixtureSpec(name: "fx", model: .directory(dir + "/model"), tokens: c.tokens,
                               plans: SplitPlan.standard(tokens: c.tokens.count, chunkSize: 2), mutants: [.kvHeadsTiled], command: "test")
        #expect { _ = try maker.make(spec, out: dir + "/fx") } throws: { error in
            "\(error)".contains("kv_heads_tiled cannot apply") && "\(error)".contains("own KV head")
        }
    }

    @Test func aMutantPlanIsChosenFromThePlansThatExist() throws {
        let config = mutantMatrix[0].shape.config
        let kinds: [LayerKind] = [.rwkv, .rwkv]
        let mine = SplitPlan(name: "mine", calls: [2, 3])
        let ctx = MutantContext(config: config, layerKinds: kinds, tokenCount: 5, plans: [SplitPlan(name: "single", calls: [5]), mine])
        #expect(ctx.plan(for: .transposedState)?.name == "mine")
        #expect(ctx.plan(for: .wkvScaleMissing)?.name == "single")
        let none = MutantContext(config: config, layerKinds: kinds, tokenCount: 5, plans: [SplitPlan(name: "single", calls: [5])])
        #expect(none.structuralReason(.transposedState)?.contains("no split plan carries a state") == true)
    }
}

/// The measurement behind the three outcomes, on hand-made checkpoints: a run
/// equal to the truth (skipped), one inside the float64 tolerance everywhere
/// (undetectable), and one that leaves both budgets at different checkpoints
/// (kept, stored from its first affected checkpoint through the later one).
@Suite("mutant measurement")
struct MutantMeasurementTests {
    let names = ["embed", "layers.0.norm1", "layers.0.rwkv.r", "logits"]
    var truth: [Checkpoint] { names.enumerated().map { Checkpoint(name: $1, shape: [4], values: [1, -2, 3, Double($0 + 1)]) } }
    var records: [Manifest.CheckpointRecord] {
        var m = ErrorMetrics(reference: [Double](), candidate: [Double]())
        m.maxRel = 1e-7
        m.nmse = 1e-14
        return names.map { Manifest.CheckpointRecord(name: $0, shape: [4], dtype: "F64", budget: Budget(deriving: m)) }
    }

    func run(_ change: [String: Double]) -> [Checkpoint] {
        truth.map { c in
            var c = c
            if let rel = change[c.name] { c.values[0] += rel * 3 }   // max |t| = 3 or 4: max rel ≈ rel
            return c
        }
    }

    @Test func equalRunsInsideTheFloat64ToleranceAndKeptRunsAreToldApart() {
        let maker = FixtureMaker()
        let same = maker.measureMutant(run: run([:]), truth: truth, checkpoints: records)
        #expect(same.firstAffected == nil && same.stored.isEmpty)
        // 1e-13 relative: inside the float64 tolerance (1e-10): undetectable, with its distance.
        let tiny = maker.measureMutant(run: run(["layers.0.rwkv.r": 1e-13]), truth: truth, checkpoints: records)
        #expect(tiny.firstAffected == "layers.0.rwkv.r" && tiny.outside64 == nil && tiny.stored.isEmpty)
        #expect((tiny.worst?.maxRel ?? 0) > 5e-14 && (tiny.worst?.maxRel ?? 1) < 2e-13, "\(String(describing: tiny.worst))")
        // 1e-8 at norm1 (outside f64, inside the f32 budget of 10 × 1e-7), 1e-3 at logits (outside both).
        let kept = maker.measureMutant(run: run(["layers.0.norm1": 1e-8, "logits": 1e-3]), truth: truth, checkpoints: records)
        #expect(kept.firstAffected == "layers.0.norm1" && kept.outside64 == "layers.0.norm1" && kept.outside32 == "logits")
        #expect(kept.stored.map(\.name) == ["layers.0.norm1", "layers.0.rwkv.r", "logits"])
    }
}
