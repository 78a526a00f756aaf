// The package's own suite as an oracle for outside dumps.
//
//   HXA079_CANDIDATE=path/to/dump.safetensors \
//   [HXA079_FIXTURE=Fixtures/tiny] [HXA079_SPLIT=one_call] [HXA079_TOLERANCE_SCALE=1] \
//   swift test --filter OracleTests
//
// checks the dump (checkpoint names, any float dtype, any subset) against the
// fixture's truth for the split plan, prints the table `hxa079 compare`
// prints, and fails naming the first failing checkpoint. Relative paths are
// tried from the shell's directory, the working directory and the package
// root; HXA079_FIXTURE may also name a committed fixture (`small`). Without HXA079_CANDIDATE the test is skipped
// with a message saying how to use it.

import Testing
import Foundation
import Hxa079OracleTesting

enum CandidateDumpEnvironment {
    static let variables = ProcessInfo.processInfo.environment
    static let candidate = variables["HXA079_CANDIDATE"].flatMap { $0.isEmpty ? nil : $0 }
    static let fixture = variables["HXA079_FIXTURE"].flatMap { $0.isEmpty ? nil : $0 } ?? "Fixtures/tiny"
    static let split = variables["HXA079_SPLIT"].flatMap { $0.isEmpty ? nil : $0 } ?? "one_call"
    static let toleranceScale = variables["HXA079_TOLERANCE_SCALE"].flatMap { $0.isEmpty ? nil : $0 }

    static let usage: Comment = """
        set HXA079_CANDIDATE=path/to/dump.safetensors to check an engine's checkpoint dump against a fixture \
        (optional: HXA079_FIXTURE=Fixtures/tiny, HXA079_SPLIT=one_call, HXA079_TOLERANCE_SCALE=1), \
        e.g. HXA079_CANDIDATE=dump.safetensors swift test --filter OracleTests
        """

    /// Where a relative path may be meant from: the shell's directory ($PWD;
    /// `swift test` may run the tests elsewhere), the working directory, the package root.
    static func resolve(_ given: String, extraBases: [String] = [], exists: (String) -> Bool) -> String {
        if given.hasPrefix("/") { return given }
        let bases = [variables["PWD"], FileManager.default.currentDirectoryPath, packageRoot].compactMap { $0 } + extraBases
        let paths = bases.map { $0 + "/" + given }
        return paths.first(where: exists) ?? paths[0]
    }

    /// A fixture directory as given (relative as in `resolve`), or the name of a committed fixture.
    static func fixturePath(_ given: String) -> String {
        resolve(given, extraBases: [OracleFixture.committedFixturesDirectory]) { FileManager.default.fileExists(atPath: $0 + "/manifest.json") }
    }

    /// The dump file (relative as in `resolve`).
    static func candidatePath(_ given: String) -> String {
        resolve(given) { FileManager.default.fileExists(atPath: $0) }
    }
}

@Suite("Candidate dump (HXA079_CANDIDATE)", .enabled(if: CandidateDumpEnvironment.candidate != nil, CandidateDumpEnvironment.usage))
struct CandidateDumpTests {
    @Test func theCandidateDumpMatchesTheFixture() throws {
        let env = CandidateDumpEnvironment.self
        let dump = env.candidatePath(try #require(env.candidate))
        var scale = 1.0
        if let s = env.toleranceScale {
            scale = try #require(Double(s), "HXA079_TOLERANCE_SCALE=\(s) is not a number")
        }
        let fixture = try OracleFixture(path: env.fixturePath(env.fixture))
        print("hxa079 oracle: \(dump) against \(fixture.path), plan \(env.split)")
        let report = try fixture.check(dump: dump, plan: env.split, toleranceScale: scale)
        print(report.text())
        fflush(stdout)   // before Swift Testing's own output on stderr
        if let failure = report.failureMessage() { Issue.record(Comment(rawValue: failure)) }
    }
}
