// FastTruthCLITests: `fixtures make --engine fast` (issue 18 deliverable 2)
// on the built executable. The truth comes from the fast f64 engine, the
// readable reference re-runs the first K tokens and the manifest records the
// max relative difference per checkpoint (all ≤ 1e-12); the reference's own
// f64 dump passes `compare` against that fixture; a planted disagreement
// (HXA079_FIXTURES_PLANT_TRUTH_MUTANT, the test hook) exits 3 with one line
// naming the checkpoint and the figure, and writes nothing. Models: the tiny
// preset, and a random one with head_dim 96 and GQA layers (layer 0 among
// them) with KV = 1.

import Foundation
import Testing
import Hxa079
import Hxa079TestSupport

private func manifestJSON(_ fixture: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture + "/manifest.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// head_dim 96, two heads sharing one KV head, GQA at layers 0 and 3 (ARRA).
private let head96Shape = ModelShape(
    config: ModelConfig(hiddenSize: 192, numHeads: 2, headDim: 96, numKVHeads: 1, intermediateSize: 448,
                        vocabSize: 512, numLayers: 4, rmsNormEps: 1e-5, ropeTheta: 10_000),
    gqaLayers: [0, 3])

@Suite("fixtures make --engine fast: the fast f64 truth, checked by the reference")
struct FastTruthCLITests {
    /// Makes a fast-truth fixture and checks its cross-check record; returns the manifest.
    func makeFastFixture(model: String, tokens: String, out: String, extra: [String] = [], expectedK: Int) throws -> [String: Any] {
        let r = try runHxa079(["fixtures", "make", "--model", model, "--tokens", tokens, "--out", out, "--engine", "fast"] + extra)
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stdout.contains("reference cross-check on the first \(expectedK) of"), "\(r.stdout)")
        let m = try manifestJSON(out)
        let provenance = try #require(m["provenance"] as? [String: Any])
        #expect(provenance["truth_engine"] as? String == "fast f64")
        #expect((provenance["float32"] as? String)?.hasPrefix("fast ") == true)
        let check = try #require(m["reference_cross_check"] as? [String: Any])
        #expect(check["tokens"] as? Int == expectedK)
        #expect(check["bound"] as? Double == 1e-12)
        let values = try #require(check["max_relative"] as? [String: Double])
        let names = try #require(m["checkpoints"] as? [[String: Any]]).compactMap { $0["name"] as? String }
        let notCompared = try #require(check["not_compared"] as? [String])
        #expect(Set(values.keys).union(notCompared) == Set(names) && !values.isEmpty)
        // The fast f64 engine against the reference: measured ≤ 8.0e-15 on every checkpoint (SPEC.md §7); bound 1e-12.
        let worst = values.max { $0.value < $1.value }
        #expect(values.values.allSatisfy { $0 <= 1e-12 }, "worst \(String(describing: worst))")
        print("fixtures make --engine fast \(model.split(separator: "/").last ?? ""): K = \(expectedK), worst \(String(describing: worst))")
        return m
    }

    /// The reference's own f64 dump of the whole sequence passes against the fast truth.
    func referenceDumpPasses(model: String, tokens: String, fixture: String, dump: String) throws {
        let f = try runHxa079(["forward", "--model", model, "--tokens", tokens, "--precision", "f64", "--dump", dump, "--checkpoints", "all"])
        #expect(f.status == 0, "\(f)")
        for plan in ["one_call", "chunked_prefill"] {
            let c = try runHxa079(["compare", "--fixture", fixture, "--candidate", dump, "--split", plan])
            #expect(c.exitedNormally && c.status == 0, "\(plan): \(c)")
        }
    }

    @Test func theTinyPresetGetsAFastTruthCheckedByTheReference() throws {
        let tmp = try TempDir("fx-fast-tiny")
        let model = tmp.sub("m")
        let i = try runHxa079(["init-model", "--preset", "tiny", "--seed", "3", "--out", model])
        #expect(i.status == 0, "\(i)")
        let tokens = "5,17,200,3,99,42,7,128,64,1,250,33"
        // Standard plans on 12 tokens: K = ⌊12/50 + 12/3 + (9/50 + 3/3) + 2·6/50⌋ = 5.
        let m = try makeFastFixture(model: model, tokens: tokens, out: tmp.sub("fx"), expectedK: 5)
        let check = try #require(m["reference_cross_check"] as? [String: Any])
        #expect((check["not_compared"] as? [String])?.contains("state.position") == true)
        #expect((m["mutants"] as? [Any])?.isEmpty == true)   // none by default with --engine fast
        #expect((try manifestJSON(tmp.sub("fx"))["provenance"] as? [String: Any])?["command"] as? String
                == "hxa079 fixtures make --model \(model) --tokens \(tokens) --out \(tmp.sub("fx")) --engine fast")
        try referenceDumpPasses(model: model, tokens: tokens, fixture: tmp.sub("fx"), dump: tmp.sub("ref.safetensors"))

        // The whole sequence: the WKV states and the position are compared too.
        let whole = try makeFastFixture(model: model, tokens: tokens, out: tmp.sub("whole"),
                                        extra: ["--cross-check-tokens", "12", "--plans", "one_call,save_restore"], expectedK: 12)
        #expect((whole["reference_cross_check"] as? [String: Any])?["not_compared"] as? [String] == [])

        // A checkpoint selection: the cross-check compares what the truth holds.
        let selected = try makeFastFixture(model: model, tokens: tokens, out: tmp.sub("selected"),
                                           extra: ["--checkpoints", "layers.0.*,state.layers.0.*,logits", "--plans", "one_call"], expectedK: 1)
        let selectedCheck = try #require(selected["reference_cross_check"] as? [String: Any])
        #expect((selectedCheck["max_relative"] as? [String: Double])?.keys.contains("logits") == true)
        #expect(selectedCheck["not_compared"] as? [String] == ["state.layers.0.wkv"])

        // Explicit mutants run the reference (against a reference baseline of their plan).
        let withMutants = try makeFastFixture(model: model, tokens: tokens, out: tmp.sub("mutants"),
                                              extra: ["--mutants", "wkv_scale_missing"], expectedK: 5)
        let mutants = try #require(withMutants["mutants"] as? [[String: Any]])
        #expect(mutants.count == 1 && (mutants.first?["first_affected"] as? String)?.hasPrefix("layers.0.rwkv.") == true, "\(mutants)")
    }

    @Test func aHeadDim96ModelWithSharedKVGetsAFastTruthCheckedByTheReference() throws {
        let tmp = try TempDir("fx-fast-96")
        let model = tmp.sub("m")
        try writeRandomModelDirectory(shape: head96Shape, seed: 21, to: model, dtype: .F32)
        let tokens = RandomShapes.tokens(40, vocab: head96Shape.config.vocabSize, seed: 22).map(String.init).joined(separator: ",")
        // K = ⌊40/50 + 40/3 + (37/50 + 3/3) + 2·20/50⌋ = ⌊16.67⌋ = 16.
        _ = try makeFastFixture(model: model, tokens: tokens, out: tmp.sub("fx"), expectedK: 16)
        try referenceDumpPasses(model: model, tokens: tokens, fixture: tmp.sub("fx"), dump: tmp.sub("ref.safetensors"))
    }

    @Test func aPlantedDisagreementFailsTheCommandAndWritesNothing() throws {
        let tmp = try TempDir("fx-fast-planted")
        let model = tmp.sub("m")
        let i = try runHxa079(["init-model", "--preset", "tiny", "--seed", "3", "--out", model])
        #expect(i.status == 0, "\(i)")
        let r = try runHxa079(["fixtures", "make", "--model", model, "--tokens", "5,17,200,3,99", "--out", tmp.sub("fx"), "--engine", "fast"],
                              environment: ["HXA079_FIXTURES_PLANT_TRUTH_MUTANT": "wkv_scale_missing"])
        #expect(r.exitedNormally && r.status == 3, "\(r)")
        #expect(r.stderrLines.count == 1, "\(r)")
        let line = r.stderrLines.first ?? ""
        #expect(line.contains("disagrees with the readable reference at layers.0.rwkv.") && line.contains("max relative difference")
                && line.contains("> 1e-12") && line.contains("no fixture written"), "\(line)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.sub("fx")).isEmpty)
    }

    @Test func crossCheckTokensIsAUsageErrorWithoutTheFastEngineOrBeyondT() throws {
        let tmp = try TempDir("fx-fast-usage")
        let model = tmp.sub("m")
        let i = try runHxa079(["init-model", "--preset", "tiny", "--seed", "3", "--out", model])
        #expect(i.status == 0, "\(i)")
        for (extra, fragment) in [(["--cross-check-tokens", "2"], "applies to --engine fast only"),
                                  (["--engine", "fast", "--cross-check-tokens", "0"], "must be ≥ 1"),
                                  (["--engine", "fast", "--cross-check-tokens", "6"], "more than the 5 tokens")] {
            let r = try runHxa079(["fixtures", "make", "--model", model, "--tokens", "5,17,200,3,99", "--out", tmp.sub("fx")] + extra)
            #expect(r.exitedNormally && r.status == 64 && r.stderr.contains(fragment), "\(extra): \(r)")
            #expect(!FileManager.default.fileExists(atPath: tmp.sub("fx")), "\(extra)")
        }
    }
}
