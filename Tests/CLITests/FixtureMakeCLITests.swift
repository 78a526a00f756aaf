// FixtureMakeCLITests: what issue 14 asks of `hxa079 fixtures make`,
// `init-model` and `step --fixture`, on the built executable: no silent
// overwrite and no stale file, portable fixtures (a model path relative to
// the fixture, `--model` with `--fixture`), the SHA-256 check of a fixture's
// model with `--ignore-model-hash`, and one default seed.

import Foundation
import Testing
import Hxa079TestSupport

/// Runs `hxa079 args…` with `directory` as the working directory.
func runHxa079(in directory: String, _ args: [String]) throws -> ExecResult {
    let exe = try hxa079Executable().path
    return try runExecutable(URL(fileURLWithPath: "/bin/sh"), ["-c", "cd \"$0\" && exec \"$@\"", directory, exe] + args)
}

private func manifest(_ fixture: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture + "/manifest.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func files(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
}

/// A tiny model (4 layers RRAR, seed 3) at `dir`.
private func tinyModel(_ dir: String, seed: String = "3", extra: [String] = []) throws {
    let r = try runHxa079(["init-model", "--preset", "tiny", "--seed", seed, "--out", dir] + extra)
    #expect(r.exitedNormally && r.status == 0, "\(r)")
}

private let tokens = "5,17,200,3,99"

@Suite("fixtures make: overwrite, portable fixtures, model hashes")
struct FixtureMakeCLITests {
    @Test func aNonEmptyOutIsRefusedAndForceReplacesTheWholeFixture() throws {
        let tmp = try TempDir("fx-force")
        try tinyModel(tmp.sub("m"))
        let fx = tmp.sub("fx")
        let first = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", fx])
        #expect(first.exitedNormally && first.status == 0, "\(first)")
        #expect(try files(fx).contains("mutants.safetensors"))
        let before = try Data(contentsOf: URL(fileURLWithPath: fx + "/manifest.json"))

        // Again without --force: refused in one line, nothing touched.
        let again = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", fx, "--mutants", "none"])
        #expect(again.exitedNormally && again.status == 1, "\(again)")
        #expect(again.stderrLines.count == 1 && again.stderr.contains("already holds a fixture") && again.stderr.contains("--force"), "\(again)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fx + "/manifest.json")) == before)

        // With --force and --mutants none: the earlier mutants.safetensors is gone.
        let forced = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", fx, "--mutants", "none", "--force"])
        #expect(forced.exitedNormally && forced.status == 0, "\(forced)")
        #expect(try files(fx) == ["f32.safetensors", "f64.safetensors", "inputs.safetensors", "manifest.json"])
        #expect((try manifest(fx)["mutants"] as? [Any])?.isEmpty == true)

        // A directory holding someone else's file is never emptied, not even with --force.
        try Data("mine".utf8).write(to: URL(fileURLWithPath: fx + "/notes.txt"))
        let foreign = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", fx, "--force"])
        #expect(foreign.exitedNormally && foreign.status == 1 && foreign.stderr.contains("notes.txt"), "\(foreign)")
        #expect(try files(fx).contains("notes.txt") && files(fx).contains("manifest.json"))
    }

    @Test func initModelForceRefusesForeignFilesAndSharesTheDefaultSeedWithFixturesMake() throws {
        let tmp = try TempDir("fx-seed")
        // No --seed on either: the same model.
        #expect(try runHxa079(["init-model", "--preset", "tiny", "--out", tmp.sub("m")]).status == 0)
        let made = try runHxa079(["fixtures", "make", "--preset", "tiny", "--bundle-model", "--tokens", "1,2", "--out", tmp.sub("fx"), "--mutants", "none"])
        #expect(made.exitedNormally && made.status == 0, "\(made)")
        let a = try Data(contentsOf: URL(fileURLWithPath: tmp.sub("m/model.safetensors")))
        let b = try Data(contentsOf: URL(fileURLWithPath: tmp.sub("fx/model/model.safetensors")))
        #expect(a == b, "init-model and fixtures make --preset wrote different models without --seed")

        try Data("x".utf8).write(to: URL(fileURLWithPath: tmp.sub("m/README")))
        let r = try runHxa079(["init-model", "--preset", "tiny", "--out", tmp.sub("m"), "--force"])
        #expect(r.exitedNormally && r.status == 1 && r.stderrLines.count == 1 && r.stderr.contains("README"), "\(r)")
    }

    @Test func aFixtureMadeWithARelativeModelPathMovesWithItsModelAndTakesModelElsewhere() throws {
        let tmp = try TempDir("fx-move")
        let work = tmp.sub("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try tinyModel(work + "/models/tiny3")
        let made = try runHxa079(in: work, ["fixtures", "make", "--model", "models/tiny3", "--tokens", tokens, "--out", "porter/fx", "--mutants", "none"])
        #expect(made.exitedNormally && made.status == 0, "\(made)")
        let model = try #require(try manifest(work + "/porter/fx")["model"] as? [String: Any])
        #expect(model["path"] as? String == "../../models/tiny3", "\(model)")

        // Moved together: runs from any working directory.
        try FileManager.default.moveItem(atPath: work, toPath: tmp.sub("moved"))
        let step = try runHxa079(in: "/", ["step", "--fixture", tmp.sub("moved/porter/fx")])
        #expect(step.exitedNormally && step.status == 0 && step.stderr.isEmpty, "\(step)")
        #expect(step.stdout.contains("run complete"), "\(step)")

        // The model moved elsewhere: refused naming the path, found again with --model.
        try FileManager.default.moveItem(atPath: tmp.sub("moved/models/tiny3"), toPath: tmp.sub("elsewhere"))
        let lost = try runHxa079(["step", "--fixture", tmp.sub("moved/porter/fx")])
        #expect(lost.exitedNormally && lost.status == 1 && lost.stderrLines.count == 1 && lost.stderr.contains("--model"), "\(lost)")
        let found = try runHxa079(["step", "--fixture", tmp.sub("moved/porter/fx"), "--model", tmp.sub("elsewhere")])
        #expect(found.exitedNormally && found.status == 0 && found.stderr.isEmpty, "\(found)")
    }

    @Test func aChangedModelIsRefusedUnlessTheHashCheckIsOverridden() throws {
        let tmp = try TempDir("fx-hash")
        try tinyModel(tmp.sub("m"))
        let made = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx"), "--mutants", "none"])
        #expect(made.exitedNormally && made.status == 0, "\(made)")
        // The same model passes; the model regenerated with another seed does not.
        #expect(try runHxa079(["step", "--fixture", tmp.sub("fx")]).status == 0)
        try tinyModel(tmp.sub("m"), seed: "4", extra: ["--force"])
        let refused = try runHxa079(["step", "--fixture", tmp.sub("fx")])
        #expect(refused.exitedNormally && refused.status == 1, "\(refused)")
        #expect(refused.stderrLines.count == 1 && refused.stderr.contains("model.safetensors") && refused.stderr.contains("SHA-256")
                && refused.stderr.contains("--ignore-model-hash"), "\(refused)")
        #expect(refused.stdout.isEmpty, "\(refused)")
        let overridden = try runHxa079(["step", "--fixture", tmp.sub("fx"), "--ignore-model-hash"])
        #expect(overridden.exitedNormally && overridden.status == 0, "\(overridden)")
        #expect(overridden.stderrLines.count == 1 && overridden.stderr.contains("--ignore-model-hash") && overridden.stderr.contains("not checked"), "\(overridden)")
        // A model with another layout (sharded) is refused too, naming a file the manifest does not record.
        try tinyModel(tmp.sub("m"), extra: ["--force", "--shards", "2"])
        let sharded = try runHxa079(["step", "--fixture", tmp.sub("fx")])
        #expect(sharded.exitedNormally && sharded.status == 1 && sharded.stderrLines.count == 1, "\(sharded)")
    }

    /// Models written by init-model: (flags, mutants that must be skipped).
    static let initModelShapes: [([String], [String])] = [
        (["--gqa-layers", "none"], ["rope_in_gqa"]),
        (["--layers", "1"], ["k_first_before_rope", "rope_in_gqa"]),
        (["--gqa-layers", "0"], []),
        (["--dtype", "bf16"], []),
    ]

    @Test(arguments: initModelShapes)
    func fixturesMakeWithDefaultOptionsWorksOnModelsWrittenByInitModel(_ flags: [String], skipped: [String]) throws {
        let tmp = try TempDir("fx-init")
        try tinyModel(tmp.sub("m"), extra: flags)
        let r = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx")])
        #expect(r.exitedNormally && r.status == 0 && r.stderr.isEmpty, "\(flags): \(r)")
        let m = try manifest(tmp.sub("fx"))
        let names = ((m["skipped_mutants"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        #expect(names == skipped, "\(flags): skipped \(names)")
        for name in skipped { #expect(r.stdout.contains("skipped \(name)"), "\(flags): \(r)") }
        let kept = ((m["mutants"] as? [[String: Any]]) ?? []).count, undetectable = ((m["undetectable_mutants"] as? [Any]) ?? []).count
        #expect(kept + undetectable + names.count == 9, "\(flags): \(kept) kept, \(undetectable) undetectable")
        // An explicitly named mutant that cannot act is refused.
        if let first = skipped.first {
            let named = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx2"), "--mutants", first])
            #expect(named.exitedNormally && named.status == 1 && named.stderrLines.count == 1 && named.stderr.contains("cannot apply"), "\(named)")
            #expect(!FileManager.default.fileExists(atPath: tmp.sub("fx2/manifest.json")))
        }
    }

    @Test func progressGoesToStderrOnATerminalOnly() throws {
        let tmp = try TempDir("fx-tty")
        try tinyModel(tmp.sub("m"))
        let session = try runHxa079InTerminal(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx")], steps: [])
        #expect(session.exitedNormally && session.status == 0, "\(session)")
        #expect(session.output.contains("fixtures make: hashing the model files"), "\(session)")
        // 4 standard plans × 2 precisions + 9 mutants + the profiles' budgets (ProfileBudgetRuns.runCount):
        // 4 plans × (1 f32 replay + 2 formats × 4 variants × (emulation + replay)) = 17 + 68 = 85 runs
        #expect(session.output.contains("fixtures make: run 1 of 85, plan one_call, float64 truth, layer 1 of 4"), "\(session)")
        #expect(session.output.contains("run 2 of 85, plan one_call, float32 reference, layer 1 of 4"), "\(session)")
        #expect(session.output.contains(", head (after layer 4 of 4)"), "\(session)")
        #expect(session.output.contains(" elapsed · ETA "), "\(session)")
        let piped = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx2")])
        #expect(piped.exitedNormally && piped.status == 0 && piped.stderr.isEmpty, "\(piped)")
    }

    /// `--checkpoints GLOBS` → `compare`: the truth holds the selection, the manifest records it, a
    /// dump of every checkpoint passes with the others listed as "not in this fixture" (not unknown);
    /// a dump of unselected checkpoints only cannot be judged (exit 2) and says why; a glob that
    /// matches nothing is refused naming it (exit 64).
    @Test func aCheckpointSubsetIsMadeRecordedAndComparedAgainst() throws {
        let tmp = try TempDir("fx-subset")
        try tinyModel(tmp.sub("m"))
        let globs = "layers.0.*,layers.*.out,logits"
        let made = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx"),
                                  "--checkpoints", globs, "--mutants", "none"])
        #expect(made.exitedNormally && made.status == 0 && made.stderr.isEmpty, "\(made)")
        #expect(made.stdout.contains("checkpoints: \(globs)"), "\(made)")
        let m = try manifest(tmp.sub("fx"))
        #expect(m["checkpoint_selection"] as? [String] == ["layers.0.*", "layers.*.out", "logits"], "\(m)")
        let names = ((m["checkpoints"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        // tiny is RRAR: layers.0.* = norm1 + 14 RWKV leaves + 4; layers.{1,2,3}.out; logits
        #expect(names.count == 19 + 3 + 1 && names.first == "layers.0.norm1" && names.last == "logits", "\(names)")
        #expect(((m["provenance"] as? [String: Any])?["command"] as? String)?.contains("--checkpoints \(globs)") == true)

        // A dump of every checkpoint and the state: the selected ones compared, the rest not in this fixture.
        let dump = tmp.sub("all.safetensors")
        let fwd = try runHxa079(["forward", "--model", tmp.sub("m"), "--tokens", tokens, "--precision", "f32",
                                 "--dump", dump, "--checkpoints", "all"])
        #expect(fwd.exitedNormally && fwd.status == 0, "\(fwd)")
        let cmp = try runHxa079(["compare", "--fixture", tmp.sub("fx"), "--candidate", dump])
        #expect(cmp.exitedNormally && cmp.status == 0 && cmp.stderr.isEmpty, "\(cmp)")
        #expect(cmp.stdout.contains("23 checkpoints compared, 0 missing, ") && cmp.stdout.contains(" not in this fixture, 0 unknown"), "\(cmp)")
        #expect(cmp.stdout.contains("not in this fixture (checkpoints of the model outside the fixture's checkpoint selection; not compared): embed, layers.1.norm1"), "\(cmp)")
        #expect(!cmp.stdout.contains("unknown names"), "\(cmp)")

        // Only checkpoints the selection left out: nothing to judge, exit 2, and the line says they are not in this fixture.
        let left = tmp.sub("left.safetensors")
        #expect(try runHxa079(["forward", "--model", tmp.sub("m"), "--tokens", tokens, "--precision", "f32", "--dump", left,
                               "--checkpoints", "embed,layers.1.norm1"]).status == 0)
        let none = try runHxa079(["compare", "--fixture", tmp.sub("fx"), "--candidate", left])
        #expect(none.exitedNormally && none.status == 2 && none.stderrLines.count == 1, "\(none)")
        #expect(none.stderr.contains("2 of them are not in this fixture"), "\(none)")

        // A glob that matches nothing: one line naming it, exit 64, nothing written.
        let bad = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx2"),
                                 "--checkpoints", "logits,layers.7.*"])
        #expect(bad.exitedNormally && bad.status == 64 && bad.stderrLines.count == 1, "\(bad)")
        #expect(bad.stderr.contains("\"layers.7.*\" matches no checkpoint"), "\(bad)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("fx2/manifest.json")))
    }

    /// `--plans LIST` picks standard plans in the order given; an unknown name, a plan the tokens
    /// cannot have, a name given twice and `--plans` with `--no-standard-plans` are refused (exit 64).
    @Test func plansSelectsStandardPlansAndRefusesUnknownNames() throws {
        let tmp = try TempDir("fx-plans")
        try tinyModel(tmp.sub("m"))
        let made = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx"),
                                  "--plans", "save_restore,one_call", "--plan", "mine:2,3", "--mutants", "none"])
        #expect(made.exitedNormally && made.status == 0, "\(made)")
        let plans = ((try manifest(tmp.sub("fx"))["plans"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        #expect(plans == ["save_restore", "one_call", "mine"], "\(plans)")
        let refused: [([String], String)] = [
            (["--plans", "one_call,two_calls"], "unknown plan \"two_calls\" (standard plans: one_call, token_by_token, chunked_prefill, save_restore"),
            (["--plans", "one_call", "--no-standard-plans"], "not both"),
            (["--plans", "one_call,one_call"], "named twice"),
            (["--plans", "one_call", "--plan", "one_call:5"], "plan one_call is given twice"),
        ]
        for (args, fragment) in refused {
            let r = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx2")] + args)
            #expect(r.exitedNormally && r.status == 64 && r.stderrLines.count == 1 && r.stderr.contains(fragment), "\(args): \(r)")
        }
        let short = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", "1,2", "--out", tmp.sub("fx2"),
                                   "--plans", "chunked_prefill"])
        #expect(short.exitedNormally && short.status == 64 && short.stderr.contains("needs more than 3 token(s)"), "\(short)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("fx2/manifest.json")))
    }

    /// Above the large-model threshold (lowered for the test by its test-only environment variable,
    /// so the tiny model counts as large): one_call only, the checkpoint subset, no mutants; each
    /// default yields to its option. At the real threshold the tiny model keeps the full defaults.
    @Test func aLargeModelGetsTheLargeModelDefaults() throws {
        let tmp = try TempDir("fx-large")
        try tinyModel(tmp.sub("m"))
        let lowered = ["HXA079_FIXTURES_LARGE_MODEL_PARAMETERS": "1000"]
        let made = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx")],
                                 environment: lowered)
        #expect(made.exitedNormally && made.status == 0 && made.stdout.contains("large model ("), "\(made)")
        let m = try manifest(tmp.sub("fx"))
        #expect(((m["plans"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["one_call"])
        #expect(m["checkpoint_selection"] as? [String] == ["embed", "layers.0.*", "layers.3.*", "layers.*.out", "final_norm", "logits",
                                                           "state.position", "state.layers.0.*", "state.layers.3.*"], "\(m)")
        #expect((m["mutants"] as? [Any])?.isEmpty == true && m["skipped_mutants"] == nil)
        #expect(try files(tmp.sub("fx")) == ["f32.safetensors", "f64.safetensors", "inputs.safetensors", "manifest.json"])
        // RRAR: layers 0 and 3 are RWKV (19 checkpoints each), layers.{1,2}.out, embed, final_norm, logits,
        // state.position and state.layers.{0,3}.wkv
        let names = ((m["checkpoints"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        #expect(names.count == 19 + 19 + 2 + 3 + 3, "\(names)")

        // Every default yields to its option.
        let explicit = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx2"),
                                      "--checkpoints", "all", "--plans", "one_call,token_by_token", "--mutants", "all"], environment: lowered)
        #expect(explicit.exitedNormally && explicit.status == 0, "\(explicit)")
        let e = try manifest(tmp.sub("fx2"))
        #expect(e["checkpoint_selection"] == nil && ((e["plans"] as? [Any]) ?? []).count == 2 && !((e["mutants"] as? [Any]) ?? []).isEmpty)
        #expect(((e["provenance"] as? [String: Any])?["command"] as? String)?.hasSuffix("--plans one_call,token_by_token --checkpoints all --mutants all") == true, "\(e)")

        // Not lowered: the same model is small, every plan, checkpoint and mutant.
        let small = try runHxa079(["fixtures", "make", "--model", tmp.sub("m"), "--tokens", tokens, "--out", tmp.sub("fx3")])
        #expect(small.exitedNormally && small.status == 0 && !small.stdout.contains("large model"), "\(small)")
        let s = try manifest(tmp.sub("fx3"))
        #expect(s["checkpoint_selection"] == nil && ((s["plans"] as? [Any]) ?? []).count == 4 && !((s["mutants"] as? [Any]) ?? []).isEmpty)
    }

    /// The committed fixtures' recorded commands (README "hxa079 fixtures make"), run as they are
    /// from a fresh working directory, write the committed files byte for byte.
    @Test(arguments: ["tiny", "small"])
    func theRecordedCommandOfACommittedFixtureReproducesItByteForByte(_ name: String) throws {
        let committed = stepPackageRoot + "/Fixtures/" + name
        let command = try #require((try manifest(committed)["provenance"] as? [String: Any])?["command"] as? String)
        let words = command.split(separator: " ").map(String.init)
        #expect(words.first == "hxa079" && words.contains("--seed"), "\(command)")
        let tmp = try TempDir("fx-recorded")
        let r = try runHxa079(in: tmp.path, Array(words.dropFirst()))
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let made = tmp.sub("Fixtures/" + name)
        var names = try files(committed).filter { $0 != "model" }
        if names.count != (try? files(made).filter { $0 != "model" })?.count { Issue.record("\(name): \(names) vs \((try? files(made)) ?? [])") }
        if FileManager.default.fileExists(atPath: committed + "/model") { names += try files(committed + "/model").map { "model/" + $0 } }
        for f in names {
            let a = try Data(contentsOf: URL(fileURLWithPath: committed + "/" + f))
            let b = try? Data(contentsOf: URL(fileURLWithPath: made + "/" + f))
            #expect(a == b, "\(name)/\(f) differs when remade with its recorded command")
        }
    }
}
