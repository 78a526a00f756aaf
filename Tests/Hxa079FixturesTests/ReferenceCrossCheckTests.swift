// ReferenceCrossCheckTests: a truth that another float64 engine produced
// (`FixtureMaker.truthEngine`, FastModel64 for `fixtures make --engine fast`)
// is held against the readable reference on the first K tokens
// (ReferenceCrossCheck.swift, SPEC.md §4.6). This target has no fast engine,
// so the "other engine" here is injected through the maker's closure: the
// reference itself (differences 0, or the rounding of the chunked WKV: everything else of the fixture
// must equal the plain fixture's, mutants included, measured against their
// own reference baseline), and the reference with a mutant (a planted
// disagreement: refused, nothing written). The fast engine itself is
// exercised on the CLI (CLITests/FastTruthCLITests.swift).

import Testing
import Hxa079
import Hxa079Reference
import Hxa079Fixtures
import SafeTensors

@Suite("a truth from another engine, checked by the reference")
struct ReferenceCrossCheckTests {
    /// The cost rule: Σ_plans Σ_calls n / R(n), R(1) = 3, R(n > 1) = 50, clamped to 1…T.
    @Test func theCostRuleFollowsThePlans() {
        // one_call 12/50 + token_by_token 12·1/3 + chunked_prefill (9/50 + 3·1/3) + save_restore 2·6/50 = 5.66
        #expect(ReferenceCrossCheck.defaultTokens(plans: SplitPlan.standard(tokens: 12, chunkSize: 4), tokens: 12) == 5)
        #expect(ReferenceCrossCheck.defaultTokens(plans: [SplitPlan(name: "one_call", calls: [40_000])], tokens: 40_000) == 800)
        #expect(ReferenceCrossCheck.defaultTokens(plans: [SplitPlan(name: "one_call", calls: [20])], tokens: 20) == 1)   // min 1
        #expect(ReferenceCrossCheck.defaultTokens(plans: [SplitPlan(name: "one_call", calls: [1])], tokens: 1) == 1)
        // Many single-token plans can never ask for more than T.
        let decode = (0..<10).map { SplitPlan(name: "p\($0)", calls: [1, 1, 1]) }
        #expect(ReferenceCrossCheck.defaultTokens(plans: decode, tokens: 3) == 3)
    }

    @Test func whatIsComparedOnAPrefix() {
        #expect(ReferenceCrossCheck.isOnTokenAxis(CheckpointName.embed))
        #expect(ReferenceCrossCheck.isOnTokenAxis(CheckpointName.logits))
        #expect(ReferenceCrossCheck.isOnTokenAxis(CheckpointName.stateKeys(1)))
        #expect(ReferenceCrossCheck.isOnTokenAxis(CheckpointName.stateValues(1)))
        #expect(!ReferenceCrossCheck.isOnTokenAxis(CheckpointName.stateWKV(0)))
        #expect(!ReferenceCrossCheck.isOnTokenAxis(CheckpointName.statePosition))
    }

    /// head_dim 96, GQA at layer 1 with KV = 1 (RAR), F32 weights.
    static let shapeCase = mutantMatrix[6]

    func makeFixture(_ maker: FixtureMaker, model: String, out: String, mutants: [Mutant] = Mutant.allCases) throws -> Manifest {
        let c = Self.shapeCase
        let spec = FixtureSpec(name: "fx", model: .directory(model), tokens: c.tokens,
                               plans: SplitPlan.standard(tokens: c.tokens.count, chunkSize: 2), mutants: mutants, command: "test")
        return try maker.make(spec, out: out)
    }

    /// The reference as the "other" engine: the cross-check measures 0 where
    /// every plan computes alike and rounding-level differences elsewhere, the tensor files equal those of the plain
    /// fixture byte for byte and the mutant records are the same.
    @Test func aTruthFromAnotherEngineIsCheckedAndRecorded() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let c = Self.shapeCase, T = c.tokens.count
        try writeRandomModelDirectory(shape: c.shape, seed: 5, to: dir + "/model", dtype: c.dtype)
        let plain = try makeFixture(FixtureMaker(), model: dir + "/model", out: dir + "/plain")
        #expect(plain.referenceCrossCheck == nil && plain.truthEngine == "reference")

        var maker = FixtureMaker()
        maker.truthEngine = { .reference(weights: try StreamedWeights<Double>(directory: $0, checkFinite: false)) }
        maker.truthEngineName = "reference again"
        let other = try makeFixture(maker, model: dir + "/model", out: dir + "/other")
        let check = try #require(other.referenceCrossCheck)
        let K = ReferenceCrossCheck.defaultTokens(plans: other.plans, tokens: T)
        #expect(K >= 1 && K < T, "K \(K) of \(T)")
        #expect(check.tokens == K && check.bound == 1e-12 && check.plans == other.plans.map(\.name))
        // Every checkpoint on the token axis is compared; the WKV states and the position are not (K < T).
        let names = other.checkpoints.map(\.name)
        #expect(check.maxRelative.map(\.0) == names.filter(ReferenceCrossCheck.isOnTokenAxis))
        #expect(check.notCompared == names.filter { !ReferenceCrossCheck.isOnTokenAxis($0) })
        #expect(check.notCompared.contains(CheckpointName.statePosition) && check.notCompared.contains(CheckpointName.stateWKV(0)))
        // The same engine: 0 up to the first WKV; from there the chunked_prefill plan's chunked WKV
        // (§3.7) differs from the recurrent prefix by its rounding (measured ≤ 2.4e-15, 2026-12-03).
        let values = Dictionary(uniqueKeysWithValues: check.maxRelative)
        #expect(values[CheckpointName.embed] == 0 && values[CheckpointName.norm1(0)] == 0 && values[CheckpointName.rwkv(0, "decay")] == 0)
        #expect(check.maxRelative.allSatisfy { $0.1 <= 1e-13 }, "\(check.maxRelative.filter { $0.1 > 1e-13 })")
        for file in ["inputs.safetensors", "f64.safetensors", "f32.safetensors", "mutants.safetensors"] {
            #expect(try readFileBytes(dir + "/other/" + file) == readFileBytes(dir + "/plain/" + file), "\(file)")
        }
        #expect(other.mutants.map(\.name) == plain.mutants.map(\.name))
        #expect(other.mutants.map(\.firstAffected) == plain.mutants.map(\.firstAffected))
        #expect(other.mutants.map(\.storedCheckpoints) == plain.mutants.map(\.storedCheckpoints))
        #expect(other.skippedMutants.map(\.name) == plain.skippedMutants.map(\.name))
        #expect(other.undetectableMutants.map(\.name) == plain.undetectableMutants.map(\.name))

        // The manifest reads back what was written.
        let read = try Fixture(path: dir + "/other").manifest
        #expect(read.truthEngine == "reference again")
        #expect(read.referenceCrossCheck?.tokens == K && read.referenceCrossCheck?.maxRelative.map(\.0) == check.maxRelative.map(\.0))
        #expect(read.referenceCrossCheck?.notCompared == check.notCompared)

        // K = T: the states are compared too.
        maker.crossCheckTokens = T
        let whole = try makeFixture(maker, model: dir + "/model", out: dir + "/whole", mutants: [])
        #expect(whole.referenceCrossCheck?.tokens == T && whole.referenceCrossCheck?.notCompared == [])
        #expect(whole.referenceCrossCheck?.maxRelative.map(\.0) == names)

        maker.crossCheckTokens = T + 1
        #expect { _ = try makeFixture(maker, model: dir + "/model", out: dir + "/toolong", mutants: []) } throws: { e in
            "\(e)".contains("1 to \(T) tokens")
        }
    }

    /// A planted disagreement: the "other engine" is the reference with
    /// `wkv_scale_missing`. Refused, naming the first checkpoint it changes
    /// and the figure; --out is left empty.
    @Test func aDisagreementRefusesTheFixture() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTree(dir) }
        let c = Self.shapeCase
        try writeRandomModelDirectory(shape: c.shape, seed: 5, to: dir + "/model", dtype: c.dtype)
        var maker = FixtureMaker()
        maker.truthEngine = { .reference(weights: try StreamedWeights<Double>(directory: $0, checkFinite: false), mutant: .wkvScaleMissing) }
        maker.truthEngineName = "planted"
        #expect { _ = try makeFixture(maker, model: dir + "/model", out: dir + "/fx") } throws: { error in
            guard let d = error as? CrossCheckDisagreement else { return false }
            // The first checkpoint the missing N^-1/2 changes is the WKV read-out of layer 0.
            return d.checkpoint.hasPrefix("layers.0.rwkv.") && d.maxRelative > 1e-3 && d.bound == 1e-12
                && d.description.contains(d.checkpoint) && d.description.contains("no fixture written") && !d.description.contains("\n")
        }
        #expect(try directoryEntries(dir + "/fx") == [])
    }
}
