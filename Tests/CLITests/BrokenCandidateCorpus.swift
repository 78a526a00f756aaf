// BrokenCandidateCorpus: the dumps a half-working engine writes (issue 15),
// each held against Fixtures/tiny by the built executable — `compare` and
// `step --compare` — asserting the exit status and the message of each.
//
// Contract: every case starts from the fixture's own float64 truth of plan
// one_call under plain checkpoint names (a dump that passes) and breaks one
// thing. `compare` exits 0 (all present pass), 1 (a checkpoint fails: the
// first stderr line says so and stdout names it), 2 (nothing can be compared:
// the first stderr line says why). `step --compare` runs to the end (exit 0)
// and names the first failure in its summary, stops with exit 3 under
// --watch-nan when the dump holds the non-finite value, and exits 1 with one
// stderr line for a file it cannot read. No case may end on a signal.

import Foundation
import SafeTensors
import Hxa079TestSupport
import Testing

/// One broken candidate: how to make it and what each command must say.
struct BrokenCandidate: Sendable {
    var name: String
    /// Edits the passing dump (tensors by name); nil `bytes` keeps the edited tensors.
    var edit: @Sendable (inout [StoredTensor]) -> Void = { _ in }
    /// Replaces the whole file with these bytes (not a safetensors dump).
    var bytes: (@Sendable ([UInt8]) -> [UInt8])? = nil
    var compareStatus: Int32
    /// Must appear in compare's stdout + stderr; for status 1 and 2 in the first stderr line.
    var compareMessage: String
    /// Must appear in step's output (status 0: the summary; status 1: stderr).
    var stepStatus: Int32
    var stepMessage: String
}

/// The tiny fixture's truth of plan one_call as a dump under plain names.
func passingTinyDump() throws -> [StoredTensor] {
    let (tensors, _) = try readTensors(stepTinyFixture + "/f64.safetensors")
    return tensors.filter { $0.name.hasPrefix("one_call/") }.map {
        StoredTensor(name: String($0.name.dropFirst("one_call/".count)), shape: $0.shape, data: $0.data)
    }
}

/// Sets element `index` of the F64 tensor `name` to `value`.
func plant(_ tensors: inout [StoredTensor], _ name: String, index: Int, _ value: Double) {
    guard let i = tensors.firstIndex(where: { $0.name == name }), case .f64(var v) = tensors[i].data else { return }
    v[index] = value
    tensors[i].data = .f64(v)
}

func f64Values(_ t: StoredTensor) -> [Double] {
    if case .f64(let v) = t.data { return v }
    return []
}

let brokenCandidates: [BrokenCandidate] = [
    // layers.1.rwkv.wkv [12, 4, 16]: flat 3·64 + 1·16 + 7 = token 3, head 1, channel 7.
    BrokenCandidate(name: "nan-in-wkv", edit: { plant(&$0, "layers.1.rwkv.wkv", index: 3 * 64 + 16 + 7, .nan) },
                    compareStatus: 1,
                    compareMessage: "layers.1.rwkv.wkv: non-finite where the truth is finite: 1 NaN, 0 Inf; first at token 3, head 1, channel 7",
                    stepStatus: 0, stepMessage: "first failure: layers.1.rwkv.wkv: non-finite where the truth is finite: 1 NaN, 0 Inf"),
    BrokenCandidate(name: "inf-in-logits", edit: { plant(&$0, "logits", index: 5 * 256 + 9, .infinity) },
                    compareStatus: 1, compareMessage: "logits: non-finite where the truth is finite: 0 NaN, 1 Inf; first at token 5, vocab 9",
                    stepStatus: 0, stepMessage: "first failure: logits: non-finite where the truth is finite: 0 NaN, 1 Inf; first at token 5, vocab 9"),
    BrokenCandidate(name: "more-tokens", edit: { ts in
                        for i in ts.indices where ts[i].shape.first == 12 && !ts[i].name.hasPrefix("state.") {
                            let v = f64Values(ts[i]), row = v.count / 12
                            ts[i].shape[0] = 13
                            ts[i].data = .f64(v + v.prefix(row))
                        }
                    },
                    compareStatus: 1, compareMessage: "embed: shape: candidate [13, 64] vs truth [12, 64] (13 rows along the first axis, the truth has 12)",
                    stepStatus: 0, stepMessage: "first failure: embed: shape: candidate [13, 64] vs truth [12, 64]"),
    BrokenCandidate(name: "batch-axis", edit: { ts in
                        for i in ts.indices where ts[i].name == "logits" { ts[i].shape = [1] + ts[i].shape }
                    },
                    compareStatus: 0, compareMessage: "pass (leading axis of 1 read as a batch of one)",
                    stepStatus: 0, stepMessage: "all pass"),
    BrokenCandidate(name: "flattened-logits", edit: { ts in
                        for i in ts.indices where ts[i].name == "logits" { ts[i].shape = [12 * 256] }
                    },
                    compareStatus: 1, compareMessage: "logits: shape: candidate [3072] vs truth [12, 256] (same number of elements",
                    stepStatus: 0, stepMessage: "first failure: logits: shape: candidate [3072] vs truth [12, 256]"),
    BrokenCandidate(name: "k-after-expansion", edit: { ts in
                        // [12, 2, 16] KV heads written as [12, 4, 16] heads (each KV head twice, G = 2).
                        for i in ts.indices where ts[i].name == "layers.0.rwkv.k" {
                            let v = f64Values(ts[i])
                            var out: [Double] = []
                            for t in 0..<12 {
                                for h in 0..<4 {
                                    let start: Int = (t * 2 + h / 2) * 16
                                    out += v[start..<(start + 16)]
                                }
                            }
                            ts[i].shape = [12, 4, 16]
                            ts[i].data = .f64(out)
                        }
                    },
                    compareStatus: 1, compareMessage: "layers.0.rwkv.k: shape: candidate [12, 4, 16] vs truth [12, 2, 16]",
                    stepStatus: 0, stepMessage: "first failure: layers.0.rwkv.k: shape: candidate [12, 4, 16] vs truth [12, 2, 16]"),
    BrokenCandidate(name: "integer-dtype", edit: { ts in
                        for i in ts.indices where ts[i].name == "layers.2.out" {
                            ts[i].data = .i32(f64Values(ts[i]).map { Int32(max(-1e9, min(1e9, $0.rounded()))) })
                        }
                    },
                    compareStatus: 1, compareMessage: "layers.2.out: dtype I32: an integer tensor cannot be held to a float checkpoint",
                    stepStatus: 0, stepMessage: "first failure: layers.2.out: dtype I32"),
    BrokenCandidate(name: "all-names-misspelled", edit: { ts in
                        for i in ts.indices { ts[i].name = "model." + ts[i].name }
                    },
                    compareStatus: 2, compareMessage: "nothing to compare:",
                    stepStatus: 0, stepMessage: "0 compared, 70 missing from the dump, nothing compared"),
    BrokenCandidate(name: "json-file", bytes: { _ in Array("{\"format_version\": 1, \"name\": \"tiny\"}\n".utf8) },
                    compareStatus: 2, compareMessage: "not a safetensors file (it starts with the text \"{\"format_ver…\" (JSON?)",
                    stepStatus: 1, stepMessage: "not a safetensors file"),
    BrokenCandidate(name: "truncated", bytes: { Array($0.prefix($0.count / 2)) },
                    compareStatus: 2, compareMessage: "truncated safetensors file:",
                    stepStatus: 1, stepMessage: "truncated safetensors file:"),
    BrokenCandidate(name: "empty-file", bytes: { _ in [] },
                    compareStatus: 2, compareMessage: "not a safetensors file: the file is empty",
                    stepStatus: 1, stepMessage: "not a safetensors file: the file is empty"),
    BrokenCandidate(name: "bool-dtype", bytes: { _ in
                        rawSafeTensors(header: #"{"logits":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 0])
                    },
                    compareStatus: 2, compareMessage: "tensor \"logits\": unsupported dtype BOOL",
                    stepStatus: 1, stepMessage: "tensor \"logits\": unsupported dtype BOOL"),
]

@Suite("Broken candidates: compare and step --compare")
struct BrokenCandidateCorpusTests {
    @Test func everyCaseIsNamed() {
        #expect(Set(brokenCandidates.map(\.name)).count == brokenCandidates.count)
    }

    func write(_ c: BrokenCandidate, in tmp: TempDir) throws -> String {
        let path = tmp.sub(c.name + ".safetensors")
        var tensors = try passingTinyDump()
        c.edit(&tensors)
        try writeTensors(path, tensors)
        if let bytes = c.bytes { try writeBytes(path, bytes(try readBytes(path))) }
        return path
    }

    @Test(arguments: brokenCandidates.map(\.name))
    func compareSaysWhatIsWrong(_ name: String) throws {
        let c = try #require(brokenCandidates.first { $0.name == name })
        let tmp = try TempDir("broken-" + name)
        let path = try write(c, in: tmp)
        let r = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", path])
        #expect(r.exitedNormally && r.status == c.compareStatus, "\(name): \(r)")
        #expect((r.stdout + r.stderr).contains(c.compareMessage), "\(name): \(r)")
        if c.compareStatus != 0 {
            #expect(r.stderrLines.first.map { $0.hasPrefix("hxa079: ") && $0.contains(c.compareStatus == 1 ? "fail" : c.compareMessage) } == true,
                    "\(name): the first stderr line must say what happened: \(r)")
        } else {
            #expect(r.stderr.isEmpty, "\(name): \(r)")
        }
    }

    @Test(arguments: brokenCandidates.map(\.name))
    func stepCompareSaysWhatIsWrong(_ name: String) throws {
        let c = try #require(brokenCandidates.first { $0.name == name })
        let tmp = try TempDir("broken-step-" + name)
        let path = try write(c, in: tmp)
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--compare", path])
        #expect(r.exitedNormally && r.status == c.stepStatus, "\(name): \(r)")
        #expect((c.stepStatus == 0 ? r.stdout : r.stderr).contains(c.stepMessage), "\(name): \(r)")
        if c.stepStatus == 1 { #expect(r.stderrLines.count == 1, "\(name): \(r)") }
    }

    @Test func watchNaNStopsWhereTheDumpHoldsTheValueAndSaysSo() throws {
        let tmp = try TempDir("broken-watch")
        let path = try write(try #require(brokenCandidates.first { $0.name == "nan-in-wkv" }), in: tmp)
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--compare", path, "--watch-nan"])
        #expect(r.exitedNormally && r.status == 3, "\(r)")
        #expect(r.stdout.contains("non-finite values in the dump's layers.1.rwkv.wkv: 1 NaN, 0 Inf; first at token 3, head 1, channel 7"), "\(r)")
        #expect(r.stdout.contains("stopped by --watch-nan at layers.1.rwkv.wkv (checkpoint 32 of 70); exit status 3 (non-finite in the dump)"), "\(r)")
    }

    @Test func printShowsTheDumpsSliceBesideTheRunsAndTheDifference() throws {
        let tmp = try TempDir("broken-print")
        // The dump differs from the truth at logits[0, 2] by +0.5.
        var tensors = try passingTinyDump()
        let truth = try stepTinyTruth("logits")
        plant(&tensors, "logits", index: 2, truth[2] + 0.5)
        let path = tmp.sub("shifted.safetensors")
        try writeTensors(path, tensors)
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--compare", path, "--break", "logits", "--script", "p logits 0,0:4;q"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let lines = r.stdout.components(separatedBy: "\n")
        let at = try #require(lines.firstIndex { $0.hasPrefix("logits[0,0:4]") }, "\(r)")
        let run = try #require(lines[at...].first { $0.contains("[0, 0:4]") && $0.contains(" run ") }, "\(r)")
        let rowIndex = try #require(lines.firstIndex(of: run))
        let (runRow, dumpRow, diffRow) = (stepNumbers(in: run), stepNumbers(in: lines[rowIndex + 1]), stepNumbers(in: lines[rowIndex + 2]))
        #expect(lines[rowIndex + 1].contains(" dump ") && lines[rowIndex + 2].contains(" diff "), "\(r)")
        #expect(runRow.count == 4 && dumpRow.count == 4 && diffRow.count == 4, "\(r)")
        guard runRow.count == 4, dumpRow.count == 4, diffRow.count == 4 else { return }
        for j in 0..<4 { #expect(stepMatchesPrinted(runRow[j], truth[j]) && stepMatchesPrinted(dumpRow[j], truth[j] + (j == 2 ? 0.5 : 0))) }
        #expect(diffRow[2] == 0.5 && diffRow[0] == 0 && diffRow[1] == 0 && diffRow[3] == 0, "\(diffRow)")
    }

    @Test func compareRefusesAFixtureThatDoesNotLoad() throws {
        let tmp = try TempDir("broken-fixture")
        try writeTensors(tmp.sub("dump.safetensors"), try passingTinyDump())
        let r = try runHxa079(["compare", "--fixture", tmp.path, "--candidate", tmp.sub("dump.safetensors")])
        #expect(r.exitedNormally && r.status == 2 && r.stderrLines.count == 1 && r.stderr.contains("no manifest.json"), "\(r)")
    }
}

@Suite("Numeric options and checkpoint lists")
struct NumericOptionTests {
    @Test func negativeNumbersReachTheRealMessage() throws {
        let model = stepTinyFixture + "/model"
        let cases: [([String], String)] = [
            (["forward", "--model", model, "--tokens", "-1,2"], "--tokens: item 0 is negative (-1)"),
            (["step", "--fixture", stepTinyFixture, "--tokens", "-1,2"], "--tokens: item 0 is negative (-1)"),
            (["forward", "--model", model, "--tokens", "1", "--chunk-size", "-3"], "--chunk-size must be ≥ 0, got -3"),
            (["step", "--fixture", stepTinyFixture, "--chunk-size", "-3"], "--chunk-size must be ≥ 0, got -3"),
            (["compare", "--fixture", stepTinyFixture, "--candidate", "x", "--tolerance-scale", "-5"], "--tolerance-scale must be a positive number, got -5.0"),
            (["compare", "--fixture", stepTinyFixture, "--candidate", "x", "--tolerance-scale", "nan"], "--tolerance-scale must be a positive number, got nan"),
            (["compare", "--fixture", stepTinyFixture, "--candidate", "x", "--tolerance-scale", "inf"], "--tolerance-scale must be a positive number, got inf"),
            (["fixtures", "make", "--preset", "tiny", "--tokens", "-1,2", "--out", "/tmp/hxa079-never-written"], "--tokens: item 0 is negative (-1)"),
            (["fixtures", "make", "--preset", "tiny", "--tokens", "1,2", "--chunk-size", "-3", "--out", "/tmp/hxa079-never-written"], "--chunk-size must be ≥ 1, got -3"),
            (["fixtures", "make", "--preset", "tiny", "--layers", "-2", "--tokens", "1,2", "--out", "/tmp/hxa079-never-written"], "--layers must be ≥ 1, got -2"),
            (["init-model", "--preset", "tiny", "--layers", "-2", "--out", "/tmp/hxa079-never-written"], "--layers must be in 1…4 for preset tiny, got -2"),
            (["init-model", "--preset", "tiny", "--shards", "-2", "--out", "/tmp/hxa079-never-written"], "--shards must be ≥ 1, got -2"),
        ]
        for (args, message) in cases {
            let r = try runHxa079(args)
            #expect(r.exitedNormally && r.status == 64 && r.stderr.contains(message), "\(args): \(r)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/hxa079-never-written"), "bad arguments write nothing")
    }

    @Test func aCheckpointListMatchingNothingIsAnErrorNamingTheClosestNames() throws {
        let tmp = try TempDir("checkpoints")
        let r = try runHxa079(["forward", "--model", stepTinyFixture + "/model", "--tokens", "1,2", "--dump", tmp.sub("d.st"),
                               "--checkpoints", "layers.*.rwkv.wkw"])
        #expect(r.exitedNormally && r.status == 64 && r.stderrLines.count == 1, "\(r)")
        #expect(r.stderr.contains("--checkpoints \"layers.*.rwkv.wkw\" matches no checkpoint of this model; closest: "), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("d.st")), "no dump is written")
    }
}
