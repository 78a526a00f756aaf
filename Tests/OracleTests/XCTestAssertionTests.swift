// XCTAssertMatchesFixture: passes on the truth and on the float32 reference,
// and on a mutant fails once, at the caller's line, with the message naming
// the mutant's first affected checkpoint. Failures are captured by
// overriding `recordFailure` so the known failures do not fail this suite.

import XCTest
import Hxa079OracleTesting

final class XCTestAssertionTests: XCTestCase {
    /// Failures captured instead of recorded while `capturing` is set.
    private var captured: [(description: String, file: String, line: Int)] = []
    private var capturing = false

    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int, expected: Bool) {
        if capturing {
            captured.append((description, filePath, lineNumber))
        } else {
            super.recordFailure(withDescription: description, inFile: filePath, atLine: lineNumber, expected: expected)
        }
    }

    func testTruthAndFloat32ReferencePass() throws {
        let tiny = try OracleFixture.committed("tiny")
        let report = XCTAssertMatchesFixture(try tiny.truth(plan: "save_restore"), fixture: tiny, plan: "save_restore")
        XCTAssertEqual(report?.results.count, tiny.checkpointNames.count)
        XCTAssertMatchesFixture(try tiny.runReference(plan: "token_by_token", precision: .float32), fixture: tiny.path,
                                plan: "token_by_token", requireAllCheckpoints: true)
    }

    func testMutantFailsOnceAtTheCallerNamingItsFirstAffectedCheckpoint() throws {
        let tiny = try OracleFixture.committed("tiny")
        let mutant = try XCTUnwrap(tiny.mutants.first { $0.name == "kv_heads_tiled" })
        let values = try tiny.mutantValues(mutant.name)
        capturing = true
        let line = #line + 1
        let report = XCTAssertMatchesFixture(values, fixture: tiny, plan: mutant.plan, "engine: my port")
        capturing = false
        XCTAssertEqual(report?.firstFailure?.name, mutant.firstAffected)
        XCTAssertEqual(captured.count, 1)
        let failure = try XCTUnwrap(captured.first)
        XCTAssertEqual(failure.line, line)
        XCTAssertTrue(failure.file.hasSuffix("XCTestAssertionTests.swift"), failure.file)
        XCTAssertTrue(failure.description.contains("checkpoint \(mutant.firstAffected) is the first to fail"), failure.description)
        XCTAssertTrue(failure.description.contains("worst element at token "), failure.description)
        XCTAssertTrue(failure.description.contains("engine: my port"), failure.description)
    }

    func testUnreadableCandidateIsRecordedAsAFailure() throws {
        let tiny = try OracleFixture.committed("tiny")
        capturing = true
        let report = XCTAssertMatchesFixture(try OracleCandidate(dump: "/nonexistent/dump.safetensors"), fixture: tiny)
        capturing = false
        XCTAssertNil(report)
        XCTAssertEqual(captured.count, 1)
        XCTAssertTrue(captured.first?.description.contains("could not check the candidate") == true, captured.first?.description ?? "")
    }
}
