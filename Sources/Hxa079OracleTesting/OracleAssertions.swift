// OracleAssertions: test assertions that hold an engine's checkpoints against
// a golden fixture, for Swift Testing and for XCTest.
//
// Contract: each helper checks the candidate with `OracleFixture.check` and,
// when it fails, records exactly one failure at the caller's source location
// whose text is `OracleReport.failureMessage`: the first failing checkpoint
// in execution order, its metrics against its budget, the worst element by
// token/head/channel, and the other failures (Swift Testing: an `Issue` at
// the caller's `SourceLocation`; XCTest: `XCTFail` at `file:line`). Errors
// (an unreadable dump, an unknown plan, a throwing candidate expression) are
// recorded as failures too; the helpers never throw. Each returns the report (nil after an error)
// for further assertions. This target links Testing and XCTest; the checking
// itself lives in Hxa079Oracle, which is re-exported, so
// `import Hxa079OracleTesting` is the only import a test file needs.

@_exported import Hxa079Oracle
import Testing
import XCTest

/// Checks `candidate` and returns the report and the failure text, if any.
func evaluate<C: OracleCandidateConvertible>(_ candidate: () throws -> C, fixture: () throws -> OracleFixture, plan: String,
                                             profile: BudgetClass?, toleranceScale: Double,
                                             requireAllCheckpoints: Bool) -> (OracleReport?, String?, (any Error)?) {
    do {
        let report = try fixture().check(try candidate(), plan: plan, profile: profile, toleranceScale: toleranceScale)
        return (report, report.failureMessage(requireAllCheckpoints: requireAllCheckpoints), nil)
    } catch {
        return (nil, "hxa079 oracle: could not check the candidate (plan \(plan)): \(error)", error)
    }
}

// MARK: - Swift Testing

/// Expects `candidate` to match the truth of `plan` in `fixture` within its
/// budgets; otherwise records an `Issue` at the caller naming the first
/// failing checkpoint, its metrics and budget, and the worst element.
///
/// The caller's location comes in as `#fileID`, `#filePath`, `#line` and
/// `#column` (not the `#_sourceLocation` macro), so the helper can also be
/// called, or wrapped, from a file that does not import Testing.
///
/// ```swift
/// @Test func matchesTiny() throws {
///     let oracle = try OracleFixture.committed("tiny")
///     expectMatchesFixture(try myEngineCheckpoints(oracle.tokens), fixture: oracle, plan: "one_call")
/// }
/// ```
///
/// - Parameters:
///   - candidate: an `OracleCandidate`, an `OracleObserver`, or a
///     `[String: [Float]]` / `[String: [Double]]` of checkpoint values
///     (shapes from the fixture). A thrown error is recorded as the issue.
///   - profile: the budgets (f64, f32, bf16, f16); nil: each tensor's precision class chooses.
///   - toleranceScale: an explicit extra factor on every tolerance (max rel × s, NMSE × s²).
///   - requireAllCheckpoints: also fail when the candidate lacks some of the fixture's checkpoints.
/// - Returns: the report, nil when the check could not be made.
@discardableResult
public func expectMatchesFixture<C: OracleCandidateConvertible>(
    _ candidate: @autoclosure () throws -> C, fixture: OracleFixture, plan: String = "one_call",
    profile: BudgetClass? = nil, toleranceScale: Double = 1, requireAllCheckpoints: Bool = false,
    fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column
) -> OracleReport? {
    let sourceLocation = SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column)
    let (report, failure, error) = evaluate(candidate, fixture: { fixture }, plan: plan, profile: profile, toleranceScale: toleranceScale,
                                            requireAllCheckpoints: requireAllCheckpoints)
    recordOutcome(failure: failure, error: error, at: sourceLocation)
    return report
}

/// `expectMatchesFixture` with the fixture given by its directory.
@discardableResult
public func expectMatchesFixture<C: OracleCandidateConvertible>(
    _ candidate: @autoclosure () throws -> C, fixture path: String, plan: String = "one_call",
    profile: BudgetClass? = nil, toleranceScale: Double = 1, requireAllCheckpoints: Bool = false,
    fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column
) -> OracleReport? {
    let sourceLocation = SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column)
    let (report, failure, error) = evaluate(candidate, fixture: { try OracleFixture(path: path) }, plan: plan,
                                            profile: profile, toleranceScale: toleranceScale, requireAllCheckpoints: requireAllCheckpoints)
    recordOutcome(failure: failure, error: error, at: sourceLocation)
    return report
}

/// Records the failure message (and the error that prevented the check, if any) as one Swift Testing issue.
private func recordOutcome(failure: String?, error: (any Error)?, at sourceLocation: SourceLocation) {
    if let error {
        Issue.record(error, Comment(rawValue: failure ?? "hxa079 oracle"), sourceLocation: sourceLocation)
    } else if let failure {
        Issue.record(Comment(rawValue: failure), sourceLocation: sourceLocation)
    }
}

// MARK: - XCTest

/// Asserts that `candidate` matches the truth of `plan` in `fixture` within
/// its budgets; otherwise fails at `file:line` naming the first failing
/// checkpoint, its metrics and budget, and the worst element.
///
/// ```swift
/// func testMatchesTiny() throws {
///     let oracle = try OracleFixture.committed("tiny")
///     XCTAssertMatchesFixture(try myEngineCheckpoints(oracle.tokens), fixture: oracle)
/// }
/// ```
///
/// - Returns: the report, nil when the check could not be made.
@discardableResult
public func XCTAssertMatchesFixture<C: OracleCandidateConvertible>(
    _ candidate: @autoclosure () throws -> C, fixture: OracleFixture, plan: String = "one_call",
    profile: BudgetClass? = nil, toleranceScale: Double = 1, requireAllCheckpoints: Bool = false,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) -> OracleReport? {
    let (report, failure, _) = evaluate(candidate, fixture: { fixture }, plan: plan, profile: profile, toleranceScale: toleranceScale,
                                        requireAllCheckpoints: requireAllCheckpoints)
    if let failure {
        let extra = message()
        XCTFail(extra.isEmpty ? failure : failure + "\n" + extra, file: file, line: line)
    }
    return report
}

/// `XCTAssertMatchesFixture` with the fixture given by its directory.
@discardableResult
public func XCTAssertMatchesFixture<C: OracleCandidateConvertible>(
    _ candidate: @autoclosure () throws -> C, fixture path: String, plan: String = "one_call",
    profile: BudgetClass? = nil, toleranceScale: Double = 1, requireAllCheckpoints: Bool = false,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) -> OracleReport? {
    let (report, failure, _) = evaluate(candidate, fixture: { try OracleFixture(path: path) }, plan: plan,
                                        profile: profile, toleranceScale: toleranceScale, requireAllCheckpoints: requireAllCheckpoints)
    if let failure {
        let extra = message()
        XCTFail(extra.isEmpty ? failure : failure + "\n" + extra, file: file, line: line)
    }
    return report
}
