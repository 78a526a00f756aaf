// The fast path, treated as an outside engine, against the committed fixtures.
//
// Everything here is what another Swift engine's test suite would write: load
// the fixture's model into the engine, run each split plan of the fixture
// through it with an OracleObserver, and assert with the oracle's helpers.
// The second test shows what a bug looks like: a mutant's values fed in as
// the candidate are rejected at the mutant's first affected checkpoint, and
// the failure message names it.

import Testing
import Hxa079Fast
import Hxa079OracleTesting

/// The repository's Fixtures/, found from this file's path
/// (Examples/FastEngineConsumer/Tests/FastEngineConsumerTests/FastEngineTests.swift).
let fixturesDirectory: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(5)
    return parts.joined(separator: "/") + "/Fixtures"
}()

func openFixture(_ name: String) throws -> OracleFixture {
    try OracleFixture(path: fixturesDirectory + "/" + name)
}

/// The engine under test, loaded from the fixture's model directory.
func loadEngine(_ oracle: OracleFixture) throws -> FastModel {
    try oracle.withModelDirectory { try FastModel(directory: ModelDirectory(path: $0)) }
}

/// Runs every call of `plan` through the engine and collects its checkpoints and final state.
func engineCheckpoints(_ engine: FastModel, _ oracle: OracleFixture, plan: String) throws -> OracleCandidate {
    try oracle.record(plan: plan, initialState: engine.initialState()) { tokens, state, chunkSize, observer in
        _ = try engine.forward(tokens: tokens, state: &state, chunkSize: chunkSize, observer: observer)
    }
}

@Test(arguments: ["tiny", "small"])
func fastEngineMatchesEveryPlanOfTheCommittedFixture(fixture name: String) throws {
    let oracle = try openFixture(name)
    let engine = try loadEngine(oracle)
    for plan in oracle.planNames {
        let report = expectMatchesFixture(try engineCheckpoints(engine, oracle, plan: plan),
                                          fixture: oracle, plan: plan, requireAllCheckpoints: true)
        #expect(report?.results.count == oracle.checkpointNames.count)
    }
}

@Test func oneCallWithTheObserverDirectly() throws {
    let oracle = try openFixture("tiny")
    let engine = try loadEngine(oracle)
    var state = engine.initialState()
    let observer = OracleObserver()                   // a CheckpointObserver; Float engine → float32 budget
    _ = try engine.forward(tokens: oracle.tokens, state: &state, observer: observer)
    observer.recordState(state)
    expectMatchesFixture(observer, fixture: oracle, plan: "one_call", requireAllCheckpoints: true)
}

let tinyMutants: [String] = ((try? openFixture("tiny"))?.mutants ?? []).map { $0.name }

@Test func theTinyFixtureHasMutants() { #expect(tinyMutants.count >= 5, "\(tinyMutants)") }

@Test(arguments: tinyMutants)
func aMutantIsRejectedAtItsFirstAffectedCheckpoint(mutant: String) throws {
    let oracle = try openFixture("tiny")
    let record = try #require(oracle.mutants.first { $0.name == mutant })
    let values: [String: [Double]] = try oracle.mutantValues(mutant)   // a float64 "engine" with the bug

    // The non-asserting API: the report names the checkpoint where the bug first acts.
    let report = try oracle.check(values, plan: record.plan)
    #expect(!report.passed)
    #expect(report.firstFailure?.name == record.firstAffected)

    // The assertion fails with a message naming that checkpoint.
    withKnownIssue("mutant \(mutant) must be rejected") {
        expectMatchesFixture(values, fixture: oracle, plan: record.plan)
    } matching: { issue in
        issue.comments.contains { $0.rawValue.contains("checkpoint \(record.firstAffected) is the first to fail") }
    }
}
