// LoadingCorpusTests: every entry of the malformed-input corpus
// (Hxa079TestSupport/MalformedModelCorpus.swift) is refused by the library
// with the specific error. (`hxa079 inspect` on the same corpus: CLITests.)

import Hxa079
import Hxa079TestSupport
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

    @Test func everyProblemIsListedAtOnce() throws {
        let tmp = try TempDir("many")
        try writeModelWithManyProblems(tmp.path)
        let report = try ModelDirectory(path: tmp.path).validate()
        let expected = manyProblemsExpected
        for e in expected { #expect(report.problems.contains { $0.hasPrefix(e) }, "missing \(e) in \(report.problems)") }
        #expect(report.problems.count == expected.count, "\(report.problems)")
        #expect(report.nonFiniteDescriptions == ["tensor model.norm.weight holds 1 non-finite value (first at flat index 0)"])
    }
}
