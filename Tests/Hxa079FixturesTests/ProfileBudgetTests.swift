// ProfileBudgetTests: the bf16/f16 profiles' budgets, the stage-local replay
// and the logits metrics of a fixture (SPEC.md §4.6, §4.8, issue 19), on a
// random model shaped like Reka where it matters: head_dim 96, a GQA layer
// first, one KV head (G = 2), r/k norms, 20 tokens, every standard plan.
//
// What is asserted: the replay of the truth on its own inputs is the truth
// (bitwise on recurrent plans); a wrong stage is seen locally at that stage
// only; an honest emulated engine that is none of the variants the budgets
// were measured on passes every plan in bf16 and f16; every shipped mutant,
// run in the profile's emulation, fails at its first affected checkpoint
// (truncated_exp_half excepted: below both formats' resolution); a fixture
// without a profile's budgets refuses that profile by name.

import Testing
import Foundation
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
import Hxa079Fixtures
import SafeTensors

/// The suite's model and fixture, made once (about 15 s on the 2-core machine).
private let profileFixture: Result<(fixture: Fixture, model: ModelWeights<Double>), Error> = Result {
    let dir = try makeTemporaryDirectory(prefix: "hxa079-profile-tests")
    let shape = RandomShapes.shape(hidden: 192, heads: 2, headDim: 96, kvHeads: 1, intermediate: 384, vocab: 256, layers: 5,
                                   gqaLayers: [0, 3], ranks: 16)
    let options = RandomModelOptions(rkNorms: true)
    try writeRandomModelDirectory(shape: shape, options: options, seed: 11, to: dir + "/model", dtype: .F32)
    let tokens = RandomShapes.tokens(20, vocab: 256, seed: 23)
    let spec = FixtureSpec(name: "profiles", model: .directory(dir + "/model"), tokens: tokens,
                           plans: SplitPlan.standard(tokens: tokens.count, chunkSize: 4), mutants: Mutant.allCases, command: "test")
    _ = try FixtureMaker().make(spec, out: dir + "/fx")
    let (model, _) = try ModelDirectory(path: dir + "/model").load(as: Double.self)
    return (try Fixture(path: dir + "/fx"), model)
}

/// Every checkpoint of `plan` run by the reference in `T` with `profile` (weights stored in it).
private func emulate<T: ReferenceScalar>(_ model: ModelWeights<T>, plan: SplitPlan, tokens: [Int], profile: PrecisionProfile,
                                         mutant: Mutant? = nil, chunkSize: Int? = nil) throws -> [String: CandidateTensor] {
    let scratch = try makeTemporaryDirectory()
    defer { removeTree(scratch) }
    let run = try runPlan(plan, tokens: tokens, engine: .reference(weights: model.stored(in: profile), mutant: mutant, profile: profile,
                                                                    chunkSize: chunkSize),
                          scratchDirectory: scratch)
    let dtype: DType = profile.format == .bf16 ? .BF16 : (profile.format == .f16 ? .F16 : .F32)
    return Dictionary(run.map { ($0.name, CandidateTensor(dtype: $0.name == CheckpointName.statePosition ? .I64 : dtype,
                                                          shape: $0.shape, values: $0.values)) },
                      uniquingKeysWith: { a, _ in a })
}

@Suite("precision profiles in fixtures")
struct ProfileBudgetTests {
    @Test func theReplayOfTheTruthOnItsOwnInputsIsTheTruth() throws {
        let (fixture, _) = try profileFixture.get()
        let kinds = fixture.manifest.layerKinds
        for plan in fixture.manifest.plans {
            let truth = try fixture.truthTensors(plan: plan.name)
            let replay = try #require(try fixture.stageReplay(plan: plan.name, candidate: truth))
            // Every stage is replayed: every checkpoint but embed (no inputs) and state.position (no stage).
            let expected = Set(fixture.manifest.checkpoints.map { $0.name }.filter { stageInputs(of: $0, layerKinds: kinds)?.isEmpty == false })
            #expect(Set(replay.keys) == expected, "plan \(plan.name)")
            let recurrent = plan.chunkSizes.allSatisfy { $0 == 0 }
            for (name, values) in replay {
                let t = try #require(truth[name]).values
                if recurrent {
                    #expect(values == t, "plan \(plan.name): the replay of \(name) differs from the truth")
                } else {
                    // The truth's first call was chunked, the replay is recurrent: equal to binary64 rounding
                    // (measured 2026-12-04: ≤ 4.4e-15; bound 1e-12, the fast-truth cross-check's).
                    #expect(maxRelativeError(t, values) <= 1e-12, "plan \(plan.name): \(name)")
                }
            }
        }
    }

    @Test func aWrongStageIsSeenLocallyAtThatStageOnly() throws {
        let (fixture, model) = try profileFixture.get()
        // The float64 reference with k̃ built from the decay instead of w, at every RWKV layer: every
        // stage after the first k_scaled is the right function of wrong inputs.
        let plan = try #require(fixture.manifest.plans.first { $0.name == "one_call" })
        var candidate = try emulate(model, plan: plan, tokens: fixture.tokens, profile: .f32, mutant: .kScaledWithDecay)
        for name in candidate.keys where name != CheckpointName.statePosition { candidate[name]!.dtype = .F64 }
        let replay = try fixture.stageReplay(plan: "one_call", candidate: candidate)
        let report = try compare(fixture: fixture, plan: "one_call", candidate: candidate, replay: replay)
        let planted = "layers.1.rwkv.k_scaled"   // layer 0 is GQA
        #expect(report.firstFailure?.name == planted && report.firstFailure?.failedFigure == "global")
        for r in report.results {
            guard let local = r.local else { continue }
            if r.name.hasSuffix(".rwkv.k_scaled") {
                #expect(!local.passed, "\(r.name): the wrong stage passes locally")
            } else {
                #expect(local.passed, "\(r.name): a right stage fails locally (max rel \(local.metrics.maxRel))")
            }
        }
        let wkv = try #require(report.results.first { $0.name == "layers.1.rwkv.wkv" })
        #expect(wkv.verdict == .fail && wkv.local?.passed == true, "far from the truth, the right function of its inputs")
        // And the converse: an output that does not follow from its inputs fails locally although it is the truth.
        var inconsistent = try fixture.truthTensors(plan: "one_call")
        inconsistent[planted]!.values = inconsistent[planted]!.values.map { $0 * (1 + 1e-3) }
        let r2 = try compare(fixture: fixture, plan: "one_call", candidate: inconsistent,
                             replay: fixture.stageReplay(plan: "one_call", candidate: inconsistent))
        let wkv2 = try #require(r2.results.first { $0.name == "layers.1.rwkv.wkv" })
        #expect(wkv2.verdict == .pass && wkv2.local?.passed == false)
    }

    @Test(arguments: [StorageFormat.bf16, .f16])
    func anHonestEngineOutsideTheMeasuredVariantsPassesEveryPlan(format: StorageFormat) throws {
        let (fixture, model) = try profileFixture.get()
        // Every intermediate rounded *and* every call chunked at 16: a combination none of the
        // budget's variants is (HonestVariant), run in binary32.
        let profile = PrecisionProfile(format: format, intermediates: .everyIntermediate)
        for plan in fixture.manifest.plans {
            let candidate = try emulate(model.converted(to: Float.self), plan: plan, tokens: fixture.tokens, profile: profile, chunkSize: 16)
            let replay = try fixture.stageReplay(plan: plan.name, candidate: candidate)
            // No --profile: the BF16 / F16 dtype chooses.
            let report = try compare(fixture: fixture, plan: plan.name, candidate: candidate, replay: replay)
            #expect(report.results.allSatisfy { $0.budgetClass.reducedFormat == format || $0.name == CheckpointName.statePosition })
            #expect(report.locallyCompared == report.results.count - 2, "every checkpoint but embed and state.position is replayed")
            #expect(report.passed, "\(format) \(plan.name): \(report.firstFailure?.failureLine ?? "")")
        }
    }

    @Test(arguments: ["tiny", "small"])
    func anHonestEnginePassesTheCommittedFixtures(name: String) throws {
        let fixture = try Fixture(path: packageRoot + "/Fixtures/" + name)
        let scratch = try makeTemporaryDirectory()
        defer { removeTree(scratch) }
        let (model, _) = try ModelDirectory(path: try fixture.modelDirectory(scratch: scratch)).load(as: Float.self)
        for format in [StorageFormat.bf16, .f16] {
            let profile = PrecisionProfile(format: format, intermediates: .everyIntermediate)
            for plan in fixture.manifest.plans {
                let candidate = try emulate(model, plan: plan, tokens: fixture.tokens, profile: profile, chunkSize: 16)
                let report = try compare(fixture: fixture, plan: plan.name, candidate: candidate,
                                         replay: fixture.stageReplay(plan: plan.name, candidate: candidate))
                #expect(report.passed, "\(name) \(format) \(plan.name): \(report.firstFailure?.failureLine ?? "")")
            }
        }
    }

    @Test(arguments: [StorageFormat.bf16, .f16])
    func everyMutantInTheProfilesEmulationFailsAtItsFirstAffectedCheckpoint(format: StorageFormat) throws {
        let (fixture, model) = try profileFixture.get()
        let profile = PrecisionProfile(format: format)
        let model32 = model.converted(to: Float.self)
        #expect(fixture.manifest.mutants.count >= 7)
        for record in fixture.manifest.mutants {
            let mutant = try #require(Mutant(rawValue: record.name))
            let plan = try #require(fixture.manifest.plans.first { $0.name == record.plan })
            let candidate = try emulate(model32, plan: plan, tokens: fixture.tokens, profile: profile, mutant: mutant)
            let replay = try fixture.stageReplay(plan: plan.name, candidate: candidate)
            let report = try compare(fixture: fixture, plan: plan.name, candidate: candidate, replay: replay)
            let first = report.results.first { $0.name == record.firstAffected }
            measured("\(format) \(mutant.rawValue) global max rel at \(record.firstAffected)", first?.metrics.maxRel ?? .nan)
            measured("\(format) \(mutant.rawValue) local NMSE at \(record.firstAffected)", first?.local?.metrics.nmse ?? .nan)
            measured("\(format) \(mutant.rawValue) local NMSE tolerance", first?.local?.tolerance?.nmse ?? .nan)
            if mutant == .truncatedExpHalf {
                // Its 9e-8 relative change of the decay is below both formats' resolution (2⁻⁹, 2⁻¹¹): it passes.
                #expect(report.passed, "\(format) truncated_exp_half: \(report.firstFailure?.failureLine ?? "")")
            } else {
                #expect(report.firstFailure?.name == record.firstAffected,
                        "\(format) \(mutant.rawValue): first failure \(report.firstFailure?.failureLine ?? "none"), want \(record.firstAffected)")
            }
        }
    }

    @Test func honestEnginesBeyondTheMeasuredVariantsGetTheVerdictsOfSPEC76() throws {
        let (fixture, model) = try profileFixture.get()
        let model32 = model.converted(to: Float.self)
        let plan = try #require(fixture.manifest.plans.first { $0.name == "one_call" })
        // (1) The state rounded to bf16 after every token (variant (c)), compared on one_call: another
        // storage model. Its WKV is honest but stores what one_call's budget does not expect; it fails
        // locally at the first RWKV layer's wkv (measured 2026-12-04: local NMSE 1.6e-5 against a
        // tolerance of 1.16e-5) — compare such an engine on token_by_token, whose budget rounds the state
        // at every token (there it is the profile itself).
        let perToken = try emulate(model32, plan: plan, tokens: fixture.tokens,
                                   profile: PrecisionProfile(format: .bf16, stateRounding: .perToken))
        let r1 = try compare(fixture: fixture, plan: "one_call", candidate: perToken,
                             replay: fixture.stageReplay(plan: "one_call", candidate: perToken))
        let wkv = try #require(r1.results.first { $0.name == "layers.1.rwkv.wkv" })
        measured("bf16 per-token state, one_call: local NMSE at layers.1.rwkv.wkv", wkv.local?.metrics.nmse ?? .nan)
        #expect(r1.firstFailure?.name == "layers.1.rwkv.wkv" && r1.firstFailure?.failedFigure == "local",
                "\(r1.firstFailure?.failureLine ?? "passes")")

        // (2) RWKV-Infer's int8 head (symmetric int8 per input channel, one fp16 scale per channel; SPEC.md
        // §4.7 "Not modelled") on an otherwise honest bf16 run: only `logits` changes.
        var int8 = try emulate(model32, plan: plan, tokens: fixture.tokens, profile: .bf16)
        let C = fixture.manifest.model.config.hiddenSize, V = fixture.manifest.model.config.vocabSize
        let head = (model.lmHead?.weight ?? model.embedding).map { Float($0) }   // [V][C]
        var scale = [Float](repeating: 0, count: C)
        for c in 0..<C { for v in 0..<V { scale[c] = max(scale[c], abs(head[v * C + c])) } }
        scale = scale.map { roundedToF16(max($0, .leastNormalMagnitude) / 127) }
        let x = try #require(int8[CheckpointName.finalNorm]).values.map { Float($0) }
        let T = x.count / C
        var logits = [Double](repeating: 0, count: T * V)
        for t in 0..<T {
            for v in 0..<V {
                var acc: Float = 0
                for c in 0..<C { acc += x[t * C + c] * ((head[v * C + c] / scale[c]).rounded().clamped(-127, 127) * scale[c]) }
                logits[t * V + v] = Double(roundedToBF16(acc))
            }
        }
        int8[CheckpointName.logits]!.values = logits
        let r2 = try compare(fixture: fixture, plan: "one_call", candidate: int8,
                             replay: fixture.stageReplay(plan: "one_call", candidate: int8))
        let l = try #require(r2.results.first { $0.name == CheckpointName.logits })
        measured("bf16 int8 head: logits global max rel", l.metrics.maxRel)
        measured("bf16 int8 head: logits global max rel tolerance", l.tolerance?.maxRel ?? .nan)
        measured("bf16 int8 head: logits local NMSE", l.local?.metrics.nmse ?? .nan)
        measured("bf16 int8 head: logits local NMSE tolerance", l.local?.tolerance?.nmse ?? .nan)
        measured("bf16 int8 head: mean KL", l.logits?.measure.meanKL ?? .nan)
        measured("bf16 int8 head: mean KL tolerance", l.logits?.tolerance?.meanKL ?? .nan)
        #expect(r2.results.filter { !$0.passed }.map(\.name).allSatisfy { $0 == CheckpointName.logits })
        // Measured 2026-12-04: within the global budget (max rel 1.6e-2 of 6.9e-2, mean KL 1.5e-4 of 5.7e-4)
        // but not locally (NMSE 5.0e-5 of 2.2e-5): an int8 head is not bf16 storage of the head (SPEC.md §7.6).
        #expect(r2.firstFailure?.name == CheckpointName.logits, "\(r2.firstFailure?.failureLine ?? "passes")")
    }

    @Test func aFixtureWithoutAProfilesBudgetsRefusesThatProfileByName() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let shape = RandomShapes.shape(layers: 2, gqaLayers: [1])
        try writeRandomModelDirectory(shape: shape, seed: 3, to: dir + "/model", dtype: .F32)
        let tokens = RandomShapes.tokens(6, vocab: 64, seed: 1)
        let spec = FixtureSpec(name: "bare", model: .directory(dir + "/model"), tokens: tokens,
                               plans: [SplitPlan(name: "one_call", calls: [6])], mutants: [], command: "test", profiles: [])
        _ = try FixtureMaker().make(spec, out: dir + "/fx")
        let fixture = try Fixture(path: dir + "/fx")
        #expect(fixture.manifest.budgetProfiles.isEmpty)
        let truth = try fixture.truthTensors(plan: "one_call")
        #expect(try compare(fixture: fixture, plan: "one_call", candidate: truth, profile: .float32).passed)
        #expect { _ = try compare(fixture: fixture, plan: "one_call", candidate: truth, profile: .bfloat16) } throws: { e in
            "\(e)".contains("no bf16 budget") && "\(e)".contains("--profiles bf16")
        }
    }
}

extension Float {
    fileprivate func clamped(_ lo: Float, _ hi: Float) -> Float { Swift.min(Swift.max(self, lo), hi) }
}

@Suite("logits metrics")
struct LogitsMetricsTests {
    /// Two positions over four tokens.
    let truth: [Double] = [2.0, 1.0, 0.5, -1.0,
                           1.0, 0.99, -2.0, 0.0]

    @Test func identicalLogitsHaveNoDistance() {
        let c = LogitsComparison(truth: truth, candidate: truth, vocab: 4, gaps: topLogitGaps(truth, vocab: 4), tolerance: nil)
        #expect(c.measure == LogitsMeasure(meanKL: 0, maxKL: 0, maxDeltaP: 0, maxAbs: 0))
        #expect(c.top1Agreement == 1)
        #expect(topLogitGaps(truth, vocab: 4) == [1.0, 1.0 - 0.99])
    }

    @Test func aDisagreementFailsOnlyBeyondANearTie() {
        let tolerance = LogitsMeasure(meanKL: 1, maxKL: 1, maxDeltaP: 1, maxAbs: 0.05)
        let gaps = topLogitGaps(truth, vocab: 4)
        // Position 1's top two swap (gap 0.01 < 2 · 0.05): a near-tie, reported, not failed.
        var nearTie = truth
        nearTie[4] = 0.98
        let a = LogitsComparison(truth: truth, candidate: nearTie, vocab: 4, gaps: gaps, tolerance: tolerance)
        #expect(a.nearTies == [1] && a.decisiveDisagreements.isEmpty && a.passed)
        #expect(a.top1Agreement == 0.5)
        // Position 0's top two swap although its gap is 1 > 2 · 0.05: a failure.
        var decisive = truth
        decisive[1] = 2.5
        let b = LogitsComparison(truth: truth, candidate: decisive, vocab: 4, gaps: gaps, tolerance: tolerance)
        #expect(b.decisiveDisagreements == [0] && !b.passed)
        #expect(b.failure?.contains("top-1 differs at 1 position") == true)
    }

    @Test func klIsTheDistributionsDivergence() {
        // KL(p‖q) computed by hand for one position: p = softmax(0, 0) = (½, ½), q = softmax(0, ln 3) = (¼, ¾).
        let c = LogitsComparison(truth: [0, 0], candidate: [0, log(3)], vocab: 2, gaps: [0], tolerance: nil)
        let expected = 0.5 * log(0.5 / 0.25) + 0.5 * log(0.5 / 0.75)
        #expect(abs(c.measure.meanKL - expected) <= 1e-15)
        #expect(abs(c.measure.maxDeltaP - 0.25) <= 1e-15)
    }
}
