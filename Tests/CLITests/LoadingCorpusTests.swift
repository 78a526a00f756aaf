// LoadingCorpusTests: every entry of the malformed-input corpus is refused by
// the library with the specific error, and by `hxa079 inspect` with a
// non-zero exit and one stderr line naming the problem — never a signal.

import Foundation
import Hxa079
import SafeTensors
import Testing

@Suite("LoadingCorpus")
struct LoadingCorpusTests {
    @Test func corpusHasAtLeastThirtyDistinctEntries() {
        #expect(malformedCorpus.count >= 30)
        #expect(Set(malformedCorpus.map(\.name)).count == malformedCorpus.count, "corpus names must be distinct")
        #expect(Set(malformedCorpus.map(\.expected)).count == malformedCorpus.count, "each entry must name a different problem")
    }

    @Test(arguments: malformedCorpus)
    func libraryNamesTheProblem(_ entry: CorpusCase) throws {
        let tmp = try TempDir(entry.name)
        let path = try entry.build(tmp.path)
        switch entry.outcome {
        case .refused(let matches):
            do {
                let dir = try ModelDirectory(path: path)
                Issue.record("\(entry.name): opened, report \(dir.validate().allProblems)")
            } catch let e as Hxa079Error {
                #expect(matches(e), "\(entry.name): wrong error case: \(e)")
                #expect(e.description.contains(entry.expected), "\(entry.name): \"\(e)\" does not name \"\(entry.expected)\"")
                #expect(!e.description.contains("\n"), "error text must be one line")
            }
        case .reported:
            let dir = try ModelDirectory(path: path)
            let report = dir.validate()
            #expect(report.problems.contains { $0.contains(entry.expected) },
                    "\(entry.name): \(report.problems) lacks \"\(entry.expected)\"")
            #expect(throws: Hxa079Error.self) { _ = try dir.load(as: Double.self) }
            do {
                _ = try dir.load(as: Float.self)
            } catch Hxa079Error.invalidModel(let problems) {
                #expect(problems.contains { $0.contains(entry.expected) }, "\(entry.name): load lists \(problems)")
            }
        case .nonFinite:
            let dir = try ModelDirectory(path: path)
            let report = dir.validate()
            #expect(report.problems.isEmpty, "\(report.problems)")
            #expect(report.nonFiniteDescriptions == [entry.expected], "\(report.nonFiniteDescriptions)")
            // The loaders accept the weights and hand the warning to the caller.
            let (_, report64) = try dir.load(as: Double.self)
            #expect(report64.nonFiniteDescriptions == [entry.expected])
            let (_, report32) = try dir.load(as: Float.self)
            #expect(report32.nonFiniteDescriptions == [entry.expected])
        }
    }

    @Test(arguments: malformedCorpus)
    func inspectFailsWithOneLineNamingTheProblem(_ entry: CorpusCase) throws {
        let tmp = try TempDir(entry.name)
        let path = try entry.build(tmp.path)
        let r = try runHxa079(["inspect", "--model", path], timeout: 120)
        #expect(r.exitedNormally, "\(entry.name): \(r)")
        #expect(r.status == 1, "\(entry.name): \(r)")
        #expect(r.stderrLines.count == 1, "\(entry.name): \(r)")
        let line = r.stderrLines.first ?? ""
        #expect(line.hasPrefix("hxa079: "), "\(entry.name): \(line)")
        #expect(line.contains(entry.expected), "\(entry.name): stderr \"\(line)\" does not name \"\(entry.expected)\"")
    }

    @Test func everyProblemIsListedAtOnce() throws {
        let tmp = try TempDir("many")
        try writeValidModel(tmp.path)
        try editTensors(tmp.path) { t in
            try t.remove("model.layers.0.mlp.gate_proj.weight")
            t[try t.index(of: "model.layers.2.self_attn.o_proj.weight")].shape = [8, 32]
            t.append(StoredTensor(name: "model.layers.1.self_attn.bogus", shape: [1], data: .f32([0])))
            let k = try t.index(of: "model.norm.weight")
            guard case .f32(var v) = t[k].data else { return }
            v[0] = .infinity
            t[k].data = .f32(v)
        }
        try editConfig(tmp.path) { $0.set("transformer_layers", .array([.number(0), .number(2)])) }
        let report = try ModelDirectory(path: tmp.path).validate()
        let expected = ["config.json declares layer map ARA", "missing tensor model.layers.0.mlp.gate_proj.weight",
                        "tensor model.layers.2.self_attn.o_proj.weight has shape [8, 32], expected [16, 16]",
                        "unexpected tensor model.layers.1.self_attn.bogus"]
        for e in expected { #expect(report.problems.contains { $0.hasPrefix(e) }, "missing \(e) in \(report.problems)") }
        #expect(report.problems.count == expected.count, "\(report.problems)")
        #expect(report.nonFiniteDescriptions == ["tensor model.norm.weight holds 1 non-finite value (first at flat index 0)"])

        let r = try runHxa079(["inspect", "--model", tmp.path])
        #expect(r.exitedNormally && r.status == 1, "\(r)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("invalid model (5 problems)"), "\(r)")
        for e in expected { #expect(r.stdout.contains(e), "stdout lacks \(e)") }
        #expect(r.stdout.contains("FAILED: 4 structural problems, 1 tensor with non-finite values"), "\(r)")
    }
}
