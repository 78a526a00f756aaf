// `hxa079 forward` and `hxa079 compare` as a porter drives them: dumps in the
// run's precision, state files that continue a run, and compare's exit
// status (0 pass, 1 a checkpoint fails, 2 the files cannot be compared).

import Testing
import Foundation
import SafeTensors

private let tokens = "5,17,200,3,99,42,7,128,64,1,250,33"

@Suite final class ForwardAndCompareCLI {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hxa079-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    @Test func dumpsCompareCleanlyAndStateFilesContinueTheRun() throws {
        let model = stepTinyFixture + "/model"
        // f64 dump of every checkpoint passes against the fixture (exit 0).
        let f64 = try runHxa079(["forward", "--model", model, "--tokens", tokens, "--dump", dir + "/all.st", "--checkpoints", "all"])
        #expect(f64.status == 0, "\(f64)")
        let c0 = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", dir + "/all.st"])
        #expect(c0.status == 0 && c0.stdout.contains("ALL PASS"), "\(c0)")
        // The default dump holds logits and layers.*.out, in F32 for an f32 run.
        let f32 = try runHxa079(["forward", "--model", model, "--tokens", tokens, "--precision", "f32", "--dump", dir + "/default.st"])
        #expect(f32.status == 0, "\(f32)")
        let file = try SafeTensorsFile(path: dir + "/default.st")
        #expect(file.names == ["layers.0.out", "layers.1.out", "layers.2.out", "layers.3.out", "logits"])
        #expect(file.tensors.allSatisfy { $0.dtype == .F32 } && file.info("logits")?.shape == [12, 256])
        // Two calls through --state-out/--state-in equal one call (compared by the fixture's truth).
        let ids = tokens.split(separator: ",")
        let first = ids.prefix(5).joined(separator: ","), rest = ids.dropFirst(5).joined(separator: ",")
        let a = try runHxa079(["forward", "--model", model, "--tokens", first, "--state-out", dir + "/s.st", "--dump", dir + "/a.st"])
        let b = try runHxa079(["forward", "--model", model, "--tokens", rest, "--state-in", dir + "/s.st", "--dump", dir + "/b.st",
                               "--checkpoints", "logits,state.*"])
        #expect(a.status == 0 && b.status == 0 && b.stdout.contains("positions 5..<12"), "\(a)\n\(b)")
        let whole = try SafeTensorsFile(path: dir + "/all.st"), tail = try SafeTensorsFile(path: dir + "/b.st")
        #expect(Array(try whole.doubles("logits").suffix(7 * 256)) == (try tail.doubles("logits")))
        #expect(try whole.doubles("state.layers.0.wkv") == (try tail.doubles("state.layers.0.wkv")))
    }

    @Test func compareExitStatusSaysWhatHappened() throws {
        // A mutant's values as the candidate: exit 1 and the first failure named.
        let mutants = try SafeTensorsFile(path: stepTinyFixture + "/mutants.safetensors")
        var writer = SafeTensorsWriter()
        for info in mutants.tensors where info.name.hasPrefix("kv_heads_tiled/") {
            try writer.add(String(info.name.dropFirst("kv_heads_tiled/".count)), shape: info.shape, try mutants.data(info.name))
        }
        try writer.write(to: dir + "/mutant.st")
        let c1 = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", dir + "/mutant.st", "--failures-only"])
        #expect(c1.status == 1 && c1.stdout.contains("FIRST FAILURE: layers.0.rwkv.kk"), "\(c1)")
        // Files that cannot be compared: exit 2 with one line on stderr, never a signal.
        for args in [["--candidate", dir + "/missing.st"], ["--candidate", stepTinyFixture + "/manifest.json"],
                     ["--candidate", dir + "/mutant.st", "--split", "no_such_plan"]] {
            let r = try runHxa079(["compare", "--fixture", stepTinyFixture] + args)
            #expect(r.status == 2 && r.exitedNormally && r.stderrLines.count == 1, "\(args): \(r)")
        }
        let noFixture = try runHxa079(["compare", "--fixture", dir, "--candidate", dir + "/mutant.st"])
        #expect(noFixture.status == 2 && noFixture.stderr.contains("manifest.json"), "\(noFixture)")
    }

    @Test func forwardRefusesBadInputWithOneLine() throws {
        let model = stepTinyFixture + "/model"
        for (args, needle) in [(["--tokens", "1,256"], "out of range"), (["--tokens", "1", "--state-in", dir + "/none.st"], "none.st"),
                               (["--tokens", "1", "--state-in", stepTinyFixture + "/manifest.json"], "header length")] {
            let r = try runHxa079(["forward", "--model", model] + args)
            #expect(r.status == 1 && r.exitedNormally && r.stderrLines.count == 1 && r.stderr.contains(needle), "\(args): \(r)")
        }
        let bad = try runHxa079(["forward", "--model", model, "--tokens", "1,x"])
        #expect(bad.status == 64 && bad.stderr.contains("is not an integer"), "\(bad)")
    }
}
