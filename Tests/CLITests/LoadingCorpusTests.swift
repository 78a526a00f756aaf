// LoadingCorpusTests: every entry of the malformed-input corpus
// (Hxa079TestSupport/MalformedModelCorpus.swift) is refused by
// `hxa079 inspect` with a non-zero exit and one stderr line naming the
// problem — never a signal. (The library on the same corpus: Hxa079Tests.)

import Hxa079TestSupport
import Testing

@Suite("LoadingCorpus: inspect")
struct InspectCorpusTests {
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
        try writeModelWithManyProblems(tmp.path)
        let r = try runHxa079(["inspect", "--model", tmp.path])
        #expect(r.exitedNormally && r.status == 1, "\(r)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("invalid model (5 problems)"), "\(r)")
        for e in manyProblemsExpected { #expect(r.stdout.contains(e), "stdout lacks \(e)") }
        #expect(r.stdout.contains("FAILED: 4 structural problems, 1 tensor with non-finite values"), "\(r)")
    }
}
