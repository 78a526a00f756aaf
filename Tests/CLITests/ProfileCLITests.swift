// `compare --profile`, `step --compare --profile` and `fixtures make --profiles`
// as a porter drives them (SPEC.md §4.6, §4.8): the profile chosen by the
// flag or by the dump's dtype, the stage-local replay in the report, and the
// refusals (an unknown profile, a fixture without that profile's budgets).

import Testing
import Foundation
import SafeTensors

@Suite final class ProfileCLI {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hxa079-profile-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// The tiny fixture's truth of one_call as a dump, every tensor rounded to bf16 and stored as BF16.
    func bf16TruthDump() throws -> String {
        let truth = try SafeTensorsFile(path: stepTinyFixture + "/f64.safetensors")
        var writer = SafeTensorsWriter()
        for info in truth.tensors where info.name.hasPrefix("one_call/") && info.dtype == .F64 && !info.name.hasSuffix("logits_top_gap") {
            try writer.add(String(info.name.dropFirst("one_call/".count)), shape: info.shape,
                           .bf16(try truth.doubles(info.name).map { bf16Bits(Float($0)) }))
        }
        let path = dir + "/bf16.st"
        try writer.write(to: path)
        return path
    }

    @Test func aBF16DumpIsHeldToTheBF16BudgetsAndReplayedStageByStage() throws {
        let dump = try bf16TruthDump()
        // The truth rounded once per tensor is far inside bf16 rounding of a whole run: it passes,
        // every checkpoint but embed also against the replay.
        let r = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", dump])
        #expect(r.status == 0 && r.stdout.contains("profile by dtype") && r.stdout.contains("also against the stage-local replay"), "\(r)")
        #expect(r.stdout.contains("layers.0.rwkv.wkv        bf16"), "\(r.stdout)")
        // Held to the f32 budgets instead, the same dump fails (bf16 rounding is 2⁸ above them).
        let f32 = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", dump, "--profile", "f32", "--no-replay"])
        #expect(f32.status == 1 && f32.stdout.contains("stage-local replay skipped (--no-replay)"), "\(f32)")
        // step --compare takes the same flag and replays the same way.
        let s = try runHxa079(["step", "--fixture", stepTinyFixture, "--compare", dump, "--profile", "bf16", "--script", "q"])
        #expect(s.status == 0 && s.stdout.contains("bf16 budgets"), "\(s)")
    }

    /// `forward --precision bf16` with either engine writes a BF16 dump (and state) that
    /// `compare` holds to the bf16 budgets by its dtype, and passes on the tiny fixture.
    @Test(arguments: ["fast", "reference"])
    func bf16RunsWriteBF16DumpsThatPassTheBF16Budgets(engine: String) throws {
        let tokens = "5,17,200,3,99,42,7,128,64,1,250,33"   // the tiny fixture's (its manifest's provenance)
        let dump = dir + "/\(engine)-bf16.st", state = dir + "/\(engine)-state.st"
        let f = try runHxa079(["forward", "--model", stepTinyFixture + "/model", "--tokens", tokens, "--engine", engine,
                               "--precision", "bf16", "--checkpoints", "all", "--dump", dump, "--state-out", state])
        #expect(f.status == 0 && f.stdout.contains("\(engine) bf16"), "\(f)")
        let file = try SafeTensorsFile(path: dump)
        #expect(file.tensors.filter { $0.name != "state.position" }.allSatisfy { $0.dtype == .BF16 }, "\(file.tensors.map(\.dtype))")
        #expect(try SafeTensorsFile(path: state).tensors.filter { $0.name != "state.position" }.allSatisfy { $0.dtype == .BF16 })
        let c = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", dump])
        #expect(c.status == 0 && c.stdout.contains("profile by dtype") && c.stdout.contains("ALL PASS"), "\(c)")
        // the step debugger runs the same engine
        let s = try runHxa079(["step", "--model", stepTinyFixture + "/model", "--tokens", "5,17,200", "--engine", engine,
                               "--precision", "bf16", "--script", "q"])
        #expect(s.status == 0 && s.stdout.contains("\(engine) bf16"), "\(s)")
    }

    @Test func badProfilesAreRefused() throws {
        let dump = try bf16TruthDump()
        let bad = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", dump, "--profile", "int8"])
        #expect(bad.status == 64 && bad.stderr.contains("--profile"), "\(bad)")
        let make = try runHxa079(["fixtures", "make", "--preset", "tiny", "--tokens", "1,2,3", "--out", dir + "/fx", "--profiles", "bf16,int8"])
        #expect(make.status == 64 && make.stderr.contains("\"int8\" is not f32, bf16 or f16"), "\(make)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/fx/manifest.json"))
        // A fixture made without bf16 budgets refuses a bf16 comparison by name (exit 2).
        let none = try runHxa079(["fixtures", "make", "--preset", "tiny", "--tokens", "1,2,3", "--out", dir + "/fx", "--profiles", "none",
                                  "--plans", "one_call", "--mutants", "none"])
        #expect(none.status == 0, "\(none)")
        let c = try runHxa079(["compare", "--fixture", dir + "/fx", "--candidate", dump])
        #expect(c.status == 2 && c.stderr.contains("no bf16 budget") && c.stderr.contains("--profiles bf16"), "\(c)")
    }
}
