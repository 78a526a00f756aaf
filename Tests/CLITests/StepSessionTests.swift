// StepSessionTests: `hxa079 step` driven by --script (and without any
// command source) on the committed Fixtures/tiny fixture, run through the
// built executable.
//
// Contract: the sessions of the issue are snapshot-tested (Tests/Snapshots,
// see StepSnapshots), and the numbers they print are checked independently
// against the fixture's float64 truth: the WKV state of `s`, the values of
// `p` slices, the first failing checkpoint of a known mutant. Bad commands
// print one `error:` line and the session goes on; bad arguments exit
// non-zero without a crash.

import Foundation
import Hxa079TestSupport
import SafeTensors
import Testing

let stepTinyFixture = stepPackageRoot + "/Fixtures/tiny"

/// The tiny fixture's float64 truth of `name` (plan one_call).
func stepTinyTruth(_ name: String) throws -> [Double] {
    try SafeTensorsFile(path: stepTinyFixture + "/f64.safetensors").doubles("one_call/" + name)
}

/// Numbers of a printed line (`1.23e+00`, `-4.5e-01`, `0`), skipping words and `[…]` labels.
func stepNumbers(in line: String) -> [Double] {
    var text = line
    if let close = text.lastIndex(of: "]") { text = String(text[text.index(after: close)...]) }
    return text.split(separator: " ").compactMap { Double($0) }
}

/// True when `printed` (3 significant digits) is `exact` rounded.
func stepMatchesPrinted(_ printed: Double, _ exact: Double) -> Bool {
    abs(printed - exact) <= 0.0051 * abs(exact) + 1e-300
}

/// A dump of one mutant of the tiny fixture, under plain checkpoint names: the
/// truth of plan one_call before the mutant's stored checkpoints, then those
/// (a fixture stores a mutant from its first affected checkpoint through the
/// one where the comparisons decide, SPEC.md §4.6).
func writeStepMutantDump(_ mutant: String, to path: String) throws {
    let (tensors, _) = try readTensors(stepTinyFixture + "/mutants.safetensors")
    let prefix = mutant + "/"
    let stored = tensors.filter { $0.name.hasPrefix(prefix) }.map {
        StoredTensor(name: String($0.name.dropFirst(prefix.count)), shape: $0.shape, data: $0.data)
    }
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stepTinyFixture + "/manifest.json"))) as? [String: Any]
    let names = (json?["checkpoints"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    guard !stored.isEmpty, let record = (json?["mutants"] as? [[String: Any]])?.first(where: { $0["name"] as? String == mutant }),
          let first = record["first_affected"] as? String, let plan = record["plan"] as? String else {
        throw FixtureError("no mutant \(mutant) in the tiny fixture")
    }
    let (truth, _) = try readTensors(stepTinyFixture + "/f64.safetensors")
    let before = names.prefix { $0 != first }.compactMap { n in
        truth.first { $0.name == plan + "/" + n }.map { StoredTensor(name: n, shape: $0.shape, data: $0.data) }
    }
    let picked = before + stored
    try writeTensors(path, picked, metadata: ["generator": "StepSessionTests"])
}

@Suite("Step: scripted sessions")
struct StepSessionTests {
    @Test func stepScriptOnTinyFixtureMatchesSnapshotAndTruth() throws {
        let script = "n;n;p layers.0.rwkv.r 0:1;b layers.*.rwkv.wkv;c;s;l;q"
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--script", script])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        assertSnapshot(normalisedOutput(r.stdout), named: "step-tiny-script")

        // `s` after `c` to layers.0.rwkv.wkv: the state the call will carry for layer 0,
        // which the fixture records as state.layers.0.wkv [H=4][16][16].
        let state = try stepTinyTruth("state.layers.0.wkv")
        let lines = r.stdout.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("WKV state of layer 0 after token 11") }, "\(r)")
        let decay = try stepTinyTruth("layers.0.rwkv.decay")   // [12, 4, 16]
        for h in 0..<4 {
            let row = stepNumbers(in: lines[start + 3 + h])
            #expect(row.count == 5 && row[0] == Double(h), "\(lines[start + 3 + h])")
            guard row.count == 5 else { continue }
            let S = state[(h * 256)..<((h + 1) * 256)]
            var squares = 0.0, maxAbs = 0.0
            for x in S {
                squares += x * x
                maxAbs = max(maxAbs, abs(x))
            }
            let frobenius = squares.squareRoot()
            var d: [Double] = []
            for t in 0..<12 {
                let base = (t * 4 + h) * 16
                d += decay[base..<(base + 16)]
            }
            #expect(stepMatchesPrinted(row[1], frobenius), "head \(h): printed \(row[1]), truth \(frobenius)")
            #expect(stepMatchesPrinted(row[2], maxAbs), "head \(h): printed \(row[2]), truth \(maxAbs)")
            #expect(stepMatchesPrinted(row[3], d.min() ?? 0) && stepMatchesPrinted(row[4], d.max() ?? 0), "head \(h): \(row)")
        }
        #expect(r.stdout.contains("layers  [R] R A R"), "\(r)")
        #expect(r.stdout.hasSuffix("quit at layers.0.rwkv.wkv (13 of 70 checkpoints)\n"), "\(r)")
    }

    @Test func stepCompareWithMutantDumpMarksTheFirstFailure() throws {
        let tmp = try TempDir("step-mutant")
        let dump = tmp.sub("k_scaled_with_decay.safetensors")
        try writeStepMutantDump("k_scaled_with_decay", to: dump)
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--compare", dump,
                               "--break", "layers.0.rwkv.k*", "--script", "c;c;c"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        assertSnapshot(normalisedOutput(r.stdout, replacing: [tmp.path: "<dump-dir>"]), named: "step-tiny-compare-mutant")

        // The fixture's manifest names where this mutant first leaves the float64 tolerance.
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stepTinyFixture + "/manifest.json")))
        let mutants = try #require((manifest as? [String: Any])?["mutants"] as? [[String: Any]])
        let record = try #require(mutants.first { $0["name"] as? String == "k_scaled_with_decay" })
        let expected = try #require(record["first_outside_f64_tolerance"] as? String)
        #expect(r.stdout.contains("first failure: \(expected) at "), "\(r)")
        // The checkpoints before it pass; it fails at its pause.
        let diffs = r.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("  diff") }
        #expect(diffs.count == 4, "\(r)")
        #expect(diffs.prefix(3).allSatisfy { $0.contains(" pass (f64 budget") }, "\(diffs)")
        #expect(diffs.last?.contains(" FAIL (f64 budget") == true, "\(diffs)")
    }

    @Test func stepWithoutCommandsRunsToTheEndAndSummarisesAFloat32Comparison() throws {
        let tmp = try TempDir("step-f32")
        let dump = tmp.sub("f32.safetensors")
        let f = try runHxa079(["forward", "--model", stepTinyFixture + "/model", "--tokens", "5,17,200,3,99,42,7,128,64,1,250,33",
                               "--precision", "f32", "--dump", dump, "--checkpoints", "all"])
        #expect(f.exitedNormally && f.status == 0, "\(f)")
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--precision", "f32", "--compare", dump,
                               "--break", "layers.3.rwkv.wkv"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(!r.stdout.contains("(hxa079)"), "no prompt without a terminal or a script: \(r)")
        #expect(r.stdout.contains("[61/70] layers.3.rwkv.wkv"), "a breakpoint hit is still printed: \(r)")
        #expect(r.stdout.contains("(dump vs truth)  pass (f32 budget"), "\(r)")
        #expect(r.stdout.contains("run complete: 70 of 70 checkpoints, reference f32, 12 tokens"), "\(r)")
        #expect(r.stdout.contains("non-finite: none"), "\(r)")
        #expect(r.stdout.contains("70 compared, 0 missing from the dump, all pass"), "\(r)")
    }

    /// A fixture holding a checkpoint subset (`fixtures make --checkpoints`): the
    /// dump's other checkpoints are compared against this run, unmarked, and the
    /// summary says how many were "not in this fixture" (as `compare` lists them).
    @Test func stepWithASubsetFixtureSaysWhatIsNotInIt() throws {
        let tmp = try TempDir("step-subset")
        let fx = tmp.sub("fx"), dump = tmp.sub("all.safetensors")
        let m = try runHxa079(["fixtures", "make", "--preset", "tiny", "--seed", "1", "--tokens", "1,2,3",
                               "--checkpoints", "layers.*.out,logits", "--mutants", "none", "--plans", "one_call", "--out", fx])
        #expect(m.exitedNormally && m.status == 0, "\(m)")
        let f = try runHxa079(["forward", "--model", fx + "/model", "--tokens", "1,2,3", "--dump", dump, "--checkpoints", "all"])
        #expect(f.exitedNormally && f.status == 0, "\(f)")
        let r = try runHxa079(["step", "--fixture", fx, "--compare", dump, "--script", "n;c"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        // embed (checkpoint 1) is outside layers.*.out,logits: against the run, unmarked
        #expect(r.stdout.contains("(dump vs run; not in this fixture)\n"), "\(r)")
        // 4 layers.*.out + logits are judged by the fixture; the other 65 of 70 are not
        #expect(r.stdout.contains("70 compared, 0 missing from the dump (65 of them not in this fixture: against this run, not judged), all pass"), "\(r)")
    }

    @Test func stepRunsTheFastEngineThroughTheSameObserver() throws {
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--engine", "fast", "--chunk-size", "4",
                               "--script", "b layers.1.rwkv.wkv;c;s"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stdout.contains("fast f32, chunked WKV (chunks of 4)"), "\(r)")
        #expect(r.stdout.contains("[32/70] layers.1.rwkv.wkv  [12, 4, 16] (token, head, channel)  f32"), "\(r)")
        // The fast engine reports state.layers.{i}.wkv once per call, which is what `s` shows.
        #expect(r.stdout.contains("WKV state of layer 1 after token 11"), "\(r)")
        #expect(r.stdout.contains("run complete: 70 of 70 checkpoints, fast f32, 12 tokens"), "\(r)")
    }

    @Test func stepSlicesAreNumpyLike() throws {
        // After n 3 the run is at layers.0.rwkv.k [12, 2, 16] (token, kv head, channel).
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--script",
                               "n 3;p layers.0.rwkv.k 1:4:2,0,::-5;p -1,1,0:4;p layers.0.norm1 2,63;q"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let k = try stepTinyTruth("layers.0.rwkv.k"), x = try stepTinyTruth("layers.0.norm1")
        let lines = r.stdout.components(separatedBy: "\n")
        func row(_ label: String) -> [Double] { lines.first { $0.hasPrefix("  " + label) }.map { stepNumbers(in: $0) } ?? [] }
        #expect(r.stdout.contains("layers.0.rwkv.k[1:4:2,0,::-5]  [2, 4] (token, channel)  f64"), "\(r)")
        for t in [1, 3] {   // numpy: tokens 1, 3; kv head 0; channels 15, 10, 5, 0
            let printed = row("[\(t), 0, ::-5]")
            let truth = [15, 10, 5, 0].map { k[(t * 2 + 0) * 16 + $0] }
            #expect(printed.count == 4 && zip(printed, truth).allSatisfy { stepMatchesPrinted($0, $1) }, "\(printed) vs \(truth)")
        }
        let last = row("[11, 1, 0:4]")
        #expect(last.count == 4 && zip(last, (0..<4).map { k[(11 * 2 + 1) * 16 + $0] }).allSatisfy { stepMatchesPrinted($0, $1) }, "\(last)")
        #expect(r.stdout.contains("layers.0.norm1[2,63]  []  f64"), "\(r)")
        let one = row("[2, 63]")
        #expect(one.count == 1 && stepMatchesPrinted(one[0], x[2 * 64 + 63]), "\(one)")
    }

    @Test func stepBadCommandsPrintOneLineAndTheSessionGoesOn() throws {
        let bad: [(command: String, message: String)] = [
            ("zz", "error: unknown command \"zz\" (h lists the commands)"),
            ("p layers.9.out", "error: p: no checkpoint named \"layers.9.out\" in this model"),
            ("p layers.3.out", "error: p: layers.3.out has not been computed yet (the run is at embed"),
            ("p embed 1:x", "error: p: bad slice \"1:x\": \"x\" is not an integer"),
            ("p embed 12", "error: p: index 12 is out of range for axis 0 (token, size 12)"),
            ("p embed 0,0,0", "error: p: slice has 3 items but the tensor has 2 axes [12, 64]"),
            ("p embed ::0", "error: p: bad slice \"::0\": step must not be 0"),
            ("b nothing.*", "error: b: pattern \"nothing.*\" matches no checkpoint of this model"),
            ("s", "error: s: no RWKV layer has reached rwkv.wkv yet"),
            ("n 0", "error: n takes an optional positive count, got \"0\""),
            ("c now", "error: c takes no arguments (got \"now\")"),
        ]
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--script", bad.map(\.command).joined(separator: ";") + ";h"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let errors = r.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == bad.count, "\(errors)")
        for (b, line) in zip(bad, errors) { #expect(line.hasPrefix(b.message), "\(b.command): \(line)") }
        #expect(r.stdout.contains("  b [PATTERN] "), "h lists the commands: \(r)")
        #expect(r.stdout.contains("run complete: 70 of 70 checkpoints"), "the script ends, the run goes on: \(r)")
    }

    @Test func stepBadArgumentsExitNonZeroWithoutACrash() throws {
        let tmp = try TempDir("step-args")
        let cases: [(args: [String], status: Int32, message: String)] = [
            (["step"], 64, "give --model DIR or --fixture DIR"),
            (["step", "--model", stepTinyFixture + "/model", "--tokens", "1", "--ignore-model-hash"], 64, "--ignore-model-hash applies only with --fixture"),
            (["step", "--model", stepTinyFixture + "/model"], 64, "--tokens is required with --model"),
            (["step", "--fixture", stepTinyFixture, "--tokens", "1,x"], 64, "is not an integer"),
            (["step", "--fixture", stepTinyFixture, "--break", "nothing*"], 64, "matches no checkpoint of this model"),
            (["step", "--fixture", stepTinyFixture, "--precision", "f16"], 64, "f16"),
            (["step", "--fixture", tmp.sub("missing")], 1, "no such fixture directory"),
            (["step", "--model", tmp.sub("missing"), "--tokens", "1"], 1, "no such model directory"),
            (["step", "--fixture", stepTinyFixture, "--compare", tmp.sub("missing.safetensors")], 1, "missing.safetensors"),
            (["step", "--fixture", stepTinyFixture, "--tokens", "1,2,256"], 1, "token id 256 at index 2 is out of range 0..<256"),
        ]
        for c in cases {
            let r = try runHxa079(c.args)
            #expect(r.exitedNormally && r.status == c.status, "\(c.args): \(r)")
            #expect(r.stderr.contains(c.message), "\(c.args): \(r)")
            #expect(!r.stdout.contains("[1/70]"), "\(c.args): nothing ran: \(r)")
        }
    }

    @Test func stepHelpAndRootHelpMatchSnapshots() throws {
        let step = try runHxa079(["step", "--help"], environment: ["COLUMNS": "80", "LINES": "24"])
        #expect(step.exitedNormally && step.status == 0, "\(step)")
        assertSnapshot(step.stdout, named: "step-help")
        let root = try runHxa079(["--help"], environment: ["COLUMNS": "80", "LINES": "24"])
        #expect(root.exitedNormally && root.status == 0, "\(root)")
        assertSnapshot(root.stdout, named: "hxa079-help")
    }
}
