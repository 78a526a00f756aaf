// ComparisonOutcomeTests: the Oracle API sees the same outcomes as
// `hxa079 compare` (one comparison, Hxa079Fixtures `compareCheckpoint`):
// non-finite values with their counts and first element, a batch of one,
// shape mismatches and integer dtypes, and a report that prints without
// converting an infinite metric to an integer.

import Testing
import Foundation
import Hxa079Oracle
import SafeTensors

@Suite("Comparison outcomes through the Oracle")
struct ComparisonOutcomeTests {
    let tiny: OracleFixture
    init() throws { tiny = try OracleFixture.committed("tiny") }

    @Test func nonFiniteValuesAreCountedAndLocated() throws {
        var truth = try tiny.truth(plan: "one_call")
        var logits = try #require(truth[CheckpointName.logits])
        logits[5 * 256 + 9] = .infinity      // token 5, vocab 9
        logits[7 * 256 + 1] = .nan
        truth[CheckpointName.logits] = logits
        let report = try tiny.check(truth)
        let first = try #require(report.firstFailure)
        #expect(first.name == CheckpointName.logits && first.outcome == .nonFinite(nan: 1, inf: 1))
        #expect(first.worstLocation == "token 5, vocab 9" && first.worstCandidate == .infinity)
        #expect(report.failureMessage()?.contains("non-finite where the truth is finite: 1 NaN, 1 Inf; first at token 5, vocab 9") == true)
        let text = report.text()   // NMSE = inf: printed as "inf", never converted to an integer
        #expect(text.contains("inf") && text.contains("FIRST FAILURE: logits: non-finite"), "\(text)")
    }

    @Test func aLeadingAxisOfOneIsABatchOfOneAndOtherShapesFail() throws {
        var candidate = OracleCandidate()
        let logits = try tiny.truth(name: CheckpointName.logits)
        try candidate.set(CheckpointName.logits, logits, shape: [1, 12, 256])
        let batch = try #require(try tiny.check(candidate).result(CheckpointName.logits))
        #expect(batch.passed && batch.batchOfOne && batch.outcome == .compared)
        // The logits row adds its metrics after the verdict (SPEC.md §4.6 "Logits metrics").
        #expect(batch.resultText == "pass (leading axis of 1 read as a batch of one) [mean KL 0, top-1 1.00e+00]")
        try candidate.set(CheckpointName.logits, logits, shape: [12, 1, 256])
        let other = try #require(try tiny.check(candidate).result(CheckpointName.logits))
        #expect(!other.passed && other.outcome == .shapeMismatch(candidate: [12, 1, 256], truth: [12, 256]))
    }

    @Test func integerTensorsAreRefusedExceptThePosition() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("oracle-int-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        var writer = SafeTensorsWriter()
        try writer.add(CheckpointName.embed, shape: [12, 64], .i32([Int32](repeating: 0, count: 768)))
        try writer.add(CheckpointName.statePosition, shape: [1], .i64([12]))
        try writer.write(to: tmp)
        let report = try tiny.check(dump: tmp)
        #expect(report.result(CheckpointName.embed)?.outcome == .refusedDType(.I32))
        #expect(report.result(CheckpointName.embed)?.problem?.hasPrefix("dtype I32: an integer tensor cannot be held to a float checkpoint") == true)
        #expect(report.result(CheckpointName.statePosition)?.passed == true)
    }

    @Test func aFileThatIsNotSafetensorsSaysSoFirst() throws {
        let json = tiny.path + "/manifest.json"
        #expect {
            _ = try tiny.check(dump: json)
        } throws: { error in
            "\(error)".hasPrefix(json + ": not a safetensors file (it starts with the text \"{")
        }
    }
}
