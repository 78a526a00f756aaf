// `--rope-position-limit N` and `--kv-window N` on `forward` and `step`
// (RWKV-Infer's behaviours, SPEC.md (4a), (27a)): they change the run where
// they should, a windowed state carries across calls through a state file,
// the fast engine (f64 and f32) runs them as the reference does, and bad
// values and a call longer than the window are usage errors (exit 64) naming
// the flag, in both engines.

import Foundation
import Testing
import Hxa079TestSupport
import SafeTensors

@Suite("--rope-position-limit / --kv-window")
struct CompatOptionsCLITests {
    let tokens = [5, 17, 200, 3, 99, 42, 7, 128, 64, 1, 250, 33]   // Fixtures/tiny's tokens
    let model = stepTinyFixture + "/model"
    func list(_ t: ArraySlice<Int>) -> String { t.map(String.init).joined(separator: ",") }

    @Test func optionsMoveTheTinyModelFromTheTruthAndStayFinite() throws {
        let tmp = try TempDir("compat-cli")
        let truth = try runHxa079(["forward", "--model", model, "--tokens", list(tokens[...]), "--dump", tmp.sub("truth.st")])
        #expect(truth.exitedNormally && truth.status == 0, "\(truth)")
        // The window holds 8 rows, so the 12 tokens run as calls of 8 and 4 carrying the state (RWKV-Infer prefills in chunks).
        let flags = ["--rope-position-limit", "4", "--kv-window", "8"]
        let a = try runHxa079(["forward", "--model", model, "--tokens", list(tokens[0..<8]), "--dump", tmp.sub("a.st"),
                               "--state-out", tmp.sub("a.state")] + flags)
        let b = try runHxa079(["forward", "--model", model, "--tokens", list(tokens[8...]), "--dump", tmp.sub("b.st"),
                               "--state-in", tmp.sub("a.state"), "--state-out", tmp.sub("b.state")] + flags)
        #expect(a.exitedNormally && a.status == 0 && b.exitedNormally && b.status == 0, "\(a) \(b)")
        #expect(a.stdout.contains("reference f64 with RWKV-Infer's --rope-position-limit 4 --kv-window 8"), "\(a)")
        let t = try SafeTensorsFile(path: tmp.sub("truth.st")).doubles("logits")
        let l = try SafeTensorsFile(path: tmp.sub("a.st")).doubles("logits") + SafeTensorsFile(path: tmp.sub("b.st")).doubles("logits")
        let V = 256
        #expect(l.count == t.count && l.allSatisfy { $0.isFinite })
        #expect(Array(l[0..<(4 * V)]) == Array(t[0..<(4 * V)]), "positions 0…3 are below both limits: the truth")
        for p in 4..<12 { #expect(Array(l[(p * V)..<((p + 1) * V)]) != Array(t[(p * V)..<((p + 1) * V)]), "position \(p) moved") }
        // The carried state holds the window's 8 newest rows of the GQA layer (layer 2) at position 12.
        let state = try SafeTensorsFile(path: tmp.sub("b.state"))
        #expect(state.info("state.layers.2.k")?.shape == [8, 2, 16])
        // Continuing that state without the window is refused (exit 1), naming the window.
        let c = try runHxa079(["forward", "--model", model, "--tokens", "1", "--state-in", tmp.sub("b.state")])
        #expect(c.exitedNormally && c.status == 1 && c.stderr.contains("KV window"), "\(c)")
    }

    /// `forward --engine fast` with both options, in calls of 8 and 4 carrying a
    /// windowed state file: f64 agrees with the reference's run ≤ 1e-12, f32 at
    /// the fast path's f32 bound; the labels name the options.
    @Test func fastEngineRunsTheOptionsAsTheReference() throws {
        let tmp = try TempDir("compat-cli-fast")
        let flags = ["--rope-position-limit", "4", "--kv-window", "8"]
        func run(_ label: String, _ engine: [String]) throws -> [Double] {
            let a = try runHxa079(["forward", "--model", model, "--tokens", list(tokens[0..<8]), "--dump", tmp.sub("\(label).a.st"),
                                   "--state-out", tmp.sub("\(label).a.state")] + flags + engine)
            let b = try runHxa079(["forward", "--model", model, "--tokens", list(tokens[8...]), "--dump", tmp.sub("\(label).b.st"),
                                   "--state-in", tmp.sub("\(label).a.state"), "--state-out", tmp.sub("\(label).b.state")] + flags + engine)
            #expect(a.exitedNormally && a.status == 0 && b.exitedNormally && b.status == 0, "\(label): \(a) \(b)")
            #expect(a.stdout.contains("with RWKV-Infer's --rope-position-limit 4 --kv-window 8"), "\(label): \(a)")
            #expect(try SafeTensorsFile(path: tmp.sub("\(label).b.state")).info("state.layers.2.k")?.shape == [8, 2, 16])
            return try SafeTensorsFile(path: tmp.sub("\(label).a.st")).doubles("logits")
                + SafeTensorsFile(path: tmp.sub("\(label).b.st")).doubles("logits")
        }
        let reference = try run("reference", [])
        let f64 = try run("fast64", ["--engine", "fast", "--precision", "f64"])
        let f32 = try run("fast32", ["--engine", "fast", "--precision", "f32"])
        let scale = reference.map(abs).max() ?? 1
        let e64 = zip(reference, f64).map { abs($0 - $1) }.max()! / scale
        let e32 = zip(reference, f32).map { abs($0 - $1) }.max()! / scale
        #expect(reference.count == 12 * 256 && f64.count == reference.count && f32.count == reference.count)
        #expect(e64 <= 1e-12, "f64 fast vs reference: \(e64)")   // measured 2026-12-03 (see the fast-path tests: ≤ 1e-14); bound 1e-12
        #expect(e32 < 1e-5, "f32 fast vs f64 reference: \(e32)")  // the fast path's f32 bound (ModelTests; measured ≤ 1.8e-6 there)
    }

    @Test func badValuesAndLongCallsAreUsageErrorsInBothEngines() throws {
        let all = list(tokens[...])
        let cases: [([String], String)] = [
            (["forward", "--model", model, "--tokens", all, "--kv-window", "0"], "--kv-window must be ≥ 1, got 0"),
            (["forward", "--model", model, "--tokens", all, "--rope-position-limit", "-3"], "--rope-position-limit must be ≥ 1, got -3"),
            (["step", "--model", model, "--tokens", all, "--kv-window", "0"], "--kv-window must be ≥ 1, got 0"),
            (["forward", "--model", model, "--tokens", all, "--engine", "fast", "--kv-window", "8"],
             "--kv-window 8: a call of 12 tokens exceeds the window"),
            (["step", "--model", model, "--tokens", all, "--engine", "fast", "--precision", "f64", "--kv-window", "11", "--script", "c"],
             "--kv-window 11: a call of 12 tokens exceeds the window"),
            (["forward", "--model", model, "--tokens", all, "--engine", "fast", "--rope-position-limit", "0"],
             "--rope-position-limit must be ≥ 1, got 0"),
            (["forward", "--model", model, "--tokens", all, "--kv-window", "8"], "--kv-window 8: a call of 12 tokens exceeds the window"),
            (["step", "--fixture", stepTinyFixture, "--kv-window", "8", "--script", "c"], "--kv-window 8: a call of 12 tokens exceeds the window"),
        ]
        for (args, message) in cases {
            let r = try runHxa079(args)
            #expect(r.exitedNormally && r.status == 64 && r.stderr.contains(message), "\(args): \(r)")
        }
        // step runs with the options and says so.
        let s = try runHxa079(["step", "--model", model, "--tokens", all, "--rope-position-limit", "4", "--kv-window", "12", "--script", "c"])
        #expect(s.exitedNormally && s.status == 0 && s.stdout.contains("reference f64 with RWKV-Infer's --rope-position-limit 4 --kv-window 12"), "\(s)")
    }
}
