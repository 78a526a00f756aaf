// The oracle API (Hxa079Oracle) and its Swift Testing assertion, held against
// the committed fixtures: the truth and the reference pass, every mutant fails
// at its first affected checkpoint with a message naming it, Float arrays are
// held to the float32 budget, shapes are checked, plans with several calls and
// a save/restore are recorded through the observer, dumps are read.

import Testing
import Foundation
import Hxa079OracleTesting
import Hxa079Reference
import SafeTensors

/// The package root, from this file's path (Tests/OracleTests/…).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

let tinyMutants: [String] = ((try? OracleFixture.committed("tiny"))?.mutants ?? []).map { $0.name }

@Suite("Oracle API")
struct OracleAPITests {
    let tiny: OracleFixture

    init() throws { tiny = try OracleFixture.committed("tiny") }

    @Test func committedFixturesAreFoundFromThePackage() throws {
        #expect(OracleFixture.committedFixturesDirectory == packageRoot + "/Fixtures")
        #expect(OracleFixture.committedFixtureNames.contains("tiny") && OracleFixture.committedFixtureNames.contains("small"),
                "\(OracleFixture.committedFixtureNames)")
        #expect(tiny.name == "tiny" && tiny.tokens.count == 12 && tiny.planNames.contains("save_restore"))
    }

    @Test func checkpointNamesAreInExecutionOrder() throws {
        let activations = CheckpointName.all(layerKinds: tiny.layerKinds)
        #expect(tiny.activationNames == activations)
        #expect(tiny.checkpointNames.first == CheckpointName.embed)
        #expect(tiny.activationNames.last == CheckpointName.logits)
        #expect(tiny.stateNames.first == CheckpointName.statePosition)
        #expect(tiny.checkpointNames == tiny.activationNames + tiny.stateNames)
        #expect(tiny.shape(of: CheckpointName.logits) == [12, tiny.config.vocabSize])
        #expect(tiny.shape(of: "layers.0.rwkv.kk") == [12, tiny.config.numHeads, tiny.config.headDim])
        #expect(tiny.shape(of: "no.such") == nil)
        #expect(tiny.tolerance(of: CheckpointName.statePosition) == nil)
        let t32 = try #require(tiny.tolerance(of: CheckpointName.logits))
        #expect(tiny.tolerance(of: CheckpointName.logits, precision: .float64) == Tolerance.float64)
        #expect(tiny.tolerance(of: CheckpointName.logits, scale: 2) == t32.scaled(2))
    }

    @Test func theTruthPassesAsDoubleAndAsFloatArrays() throws {
        for plan in tiny.planNames {
            let truth = try tiny.truth(plan: plan)
            let r64 = try tiny.check(truth, plan: plan)
            #expect(r64.passed && r64.results.count == tiny.checkpointNames.count && r64.missing.isEmpty && r64.unknown.isEmpty,
                    "plan \(plan):\n\(r64.text(verbose: false))")
            #expect(r64.results.allSatisfy { $0.tolerance == nil || $0.budgetClass == .float64 })
            #expect(r64.failureMessage() == nil && r64.passed(requireAllCheckpoints: true))
            // The truth rounded to Float: inside every float32 budget.
            let asFloat = truth.mapValues { $0.map { Float($0) } }
            let r32 = try tiny.check(asFloat, plan: plan)
            #expect(r32.passed, "plan \(plan):\n\(r32.text(verbose: false))")
            #expect(r32.results.allSatisfy { $0.tolerance == nil || $0.budgetClass == .float32 })
            // …but not inside the float64 tolerance.
            let r32as64 = try tiny.check(OracleCandidate(asFloat.mapValues { $0.map { Double($0) } }), plan: plan)
            #expect(!r32as64.passed)
        }
    }

    @Test func theReferenceRunThroughTheOraclePassesEveryPlan() throws {
        for plan in tiny.planNames {
            let r32 = try tiny.check(tiny.runReference(plan: plan, precision: .float32), plan: plan)
            #expect(r32.passed(requireAllCheckpoints: true), "plan \(plan):\n\(r32.text(verbose: false))")
            let r64 = try tiny.check(tiny.runReference(plan: plan, precision: .float64), plan: plan)
            #expect(r64.passed(requireAllCheckpoints: true), "plan \(plan):\n\(r64.text(verbose: false))")
        }
    }

    @Test func aModelStateEngineIsRecordedOverEveryPlanIncludingSaveRestore() throws {
        let model = try tiny.loadModel(as: Float.self)
        for plan in tiny.planNames {
            let candidate = try tiny.record(plan: plan, initialState: ModelState(for: model)) { tokens, state, chunk, observer in
                _ = try Reference.forward(model: model, tokens: tokens, state: &state,
                                          options: ForwardOptions(chunkSize: chunk), observer: observer)
            }
            #expect(candidate[CheckpointName.logits]?.shape == tiny.shape(of: CheckpointName.logits))
            #expect(candidate[CheckpointName.logits]?.precision == .float32)
            let report = expectMatchesFixture(candidate, fixture: tiny, plan: plan, requireAllCheckpoints: true)
            #expect(report?.results.count == tiny.checkpointNames.count)
        }
    }

    @Test(arguments: tinyMutants)
    func aMutantFailsAtItsFirstAffectedCheckpointWithAMessageNamingIt(mutant: String) throws {
        let record = try #require(tiny.mutants.first { $0.name == mutant })
        let values = try tiny.mutantValues(mutant)
        let report = try tiny.check(values, plan: record.plan)
        let first = try #require(report.firstFailure)
        #expect(first.name == record.firstAffected)
        let message = try #require(report.failureMessage())
        #expect(message.contains("fixture tiny, plan \(record.plan): checkpoint \(record.firstAffected) is the first to fail (float64 candidate, float64 tolerance)"),
                "\(message)")
        #expect(message.contains("worst element at \(first.worstLocation): candidate "), "\(message)")
        #expect(message.contains("(tolerance 1.00e-10"), "\(message)")
        // The assertion records exactly that message at the caller.
        withKnownIssue {
            expectMatchesFixture(values, fixture: tiny, plan: record.plan)
        } matching: { issue in
            issue.comments.contains { $0.rawValue.contains("checkpoint \(record.firstAffected) is the first to fail") }
                && issue.sourceLocation?.fileName == "OracleAPITests.swift"
        }
    }

    @Test func floatArraysAreHeldToTheFloat32BudgetAndTheWorstElementIsNamed() throws {
        var candidate = try tiny.truth(plan: "one_call").mapValues { $0.map { Float($0) } }
        let name = "layers.1.rwkv.kk"
        var kk = try #require(candidate[name])
        // token 5, head 3, channel 7 of [12, 4, 16]
        kk[(5 * 4 + 3) * 16 + 7] += 1e-3 * (kk.map { abs($0) }.max() ?? 1)
        candidate[name] = kk
        let report = try tiny.check(candidate)
        let first = try #require(report.firstFailure)
        #expect(first.name == name && first.budgetClass == .float32)
        #expect(first.worstLocation == "token 5, head 3, channel 7")
        let message = try #require(report.failureMessage())
        #expect(message.contains("checkpoint \(name) is the first to fail (float32 candidate, float32 budget)"), "\(message)")
        #expect(message.contains("worst element at token 5, head 3, channel 7"), "\(message)")
        #expect(message.contains("exceeded"), "\(message)")
        // The same values pass with a wide enough tolerance scale.
        #expect(try tiny.check(candidate, toleranceScale: 1e6).passed)
    }

    @Test func shapesAreChecked() throws {
        var truth = try tiny.truth(plan: "one_call")
        truth["layers.0.out"] = Array((truth["layers.0.out"] ?? []).dropLast())
        let report = try tiny.check(truth)
        let first = try #require(report.firstFailure)
        #expect(first.name == "layers.0.out" && first.problem == "shape: candidate [767] vs truth [12, 64]", "\(first.problem ?? "no problem")")
        #expect(report.failureMessage()?.contains("layers.0.out: shape: candidate [767] vs truth [12, 64]") == true)

        // An explicit shape is kept (and must fit the values).
        var candidate = OracleCandidate()
        let embed = try tiny.truth(name: CheckpointName.embed)
        try candidate.set(CheckpointName.embed, embed, shape: [64, 12])
        #expect(try tiny.check(candidate).firstFailure?.problem == "shape: candidate [64, 12] vs truth [12, 64]")
        try candidate.set(CheckpointName.embed, embed, shape: [12, 64])
        #expect(try tiny.check(candidate).passed)
        #expect(throws: Hxa079Error.self) { try candidate.set(CheckpointName.embed, embed, shape: [12, 63]) }
    }

    @Test func missingCheckpointsFailOnlyWhenRequiredAndAnEmptyCandidateFails() throws {
        let logits = try tiny.truth(name: CheckpointName.logits)
        let report = try tiny.check([CheckpointName.logits: logits, "my.extra": [1.0]])
        #expect(report.passed && report.results.map { $0.name } == [CheckpointName.logits])
        #expect(report.unknown == ["my.extra"] && report.missing.count == tiny.checkpointNames.count - 1)
        #expect(report.failureMessage() == nil)
        #expect(report.failureMessage(requireAllCheckpoints: true)?.contains("\(tiny.checkpointNames.count - 1) checkpoint(s) not provided: embed,") == true)

        let empty = try tiny.check(OracleCandidate())
        #expect(!empty.passed)
        #expect(empty.failureMessage()?.contains("no checkpoint compared") == true)
        withKnownIssue {
            expectMatchesFixture(["logits.typo": [Float(1)]], fixture: tiny)
        } matching: { $0.comments.contains { $0.rawValue.contains("(it holds: logits.typo)") } }
    }

    @Test func badArgumentsThrowAndTheAssertionRecordsThem() throws {
        let truth = try tiny.truth(plan: "one_call")
        #expect(throws: Hxa079Error.self) { try tiny.check(truth, plan: "no_such_plan") }
        #expect(throws: Hxa079Error.self) { try tiny.check(truth, toleranceScale: 0) }
        #expect(throws: Hxa079Error.self) { try tiny.mutantValues("no_such_mutant") }
        #expect(throws: Hxa079Error.self) { try OracleFixture(path: packageRoot + "/Fixtures/no-such-fixture") }
        withKnownIssue {
            expectMatchesFixture(truth, fixture: tiny, plan: "no_such_plan")
        } matching: { $0.comments.contains { $0.rawValue.contains("could not check the candidate") } }
        withKnownIssue {
            expectMatchesFixture(try OracleCandidate(dump: "/nonexistent/dump.safetensors"), fixture: tiny)
        }
    }

    @Test func anObserverConcatenatesCallsAndRejectsAShapeThatDoesNotContinue() throws {
        let observer = OracleObserver()
        try observer.observe(Checkpoint(name: "embed", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        try observer.observe(Checkpoint(name: "embed", shape: [1, 3], values: [7, 8, 9]))
        #expect(observer["embed"]?.shape == [3, 3] && observer["embed"]?.values.count == 9)
        #expect(throws: Hxa079Error.self) { try observer.observe(Checkpoint(name: "embed", shape: [1, 4], values: [0, 0, 0, 0])) }
        observer.recordState([Checkpoint(name: CheckpointName.statePosition, shape: [1], values: [3])])
        observer.recordState([Checkpoint(name: CheckpointName.statePosition, shape: [1], values: [5])])
        #expect(observer.checkpoints.map { $0.name } == ["embed", CheckpointName.statePosition])
        #expect(observer[CheckpointName.statePosition]?.values == [5])
        observer.reset()
        #expect(observer.checkpoints.isEmpty)
    }

    @Test func dumpFilesAreCheckedLikeHxa079Compare() throws {
        let dir = try makeTemporaryDirectory(prefix: "oracle-test")
        defer { removeTree(dir) }
        var writer = SafeTensorsWriter()
        for name in tiny.checkpointNames {
            let values = try tiny.truth(plan: "chunked_prefill", name: name)
            let shape = try #require(tiny.shape(of: name))
            if name == CheckpointName.statePosition {
                try writer.add(name, shape: shape, .i64(values.map { Int64($0) }))
            } else {
                try writer.add(name, shape: shape, .f32(values.map { Float($0) }))
            }
        }
        let path = dir + "/dump.safetensors"
        try writer.write(to: path)
        let report = try tiny.check(dump: path, plan: "chunked_prefill")
        #expect(report.passed(requireAllCheckpoints: true), "\(report.text(verbose: false))")
        let tensors = try CandidateTensor.load(path: path)
        #expect(report.text() == (try compare(fixture: tiny.fixture, plan: "chunked_prefill", candidate: tensors,
                                              replay: tiny.fixture.stageReplay(plan: "chunked_prefill", candidate: tensors))).text())
        // The assertion, with the fixture given by its directory.
        expectMatchesFixture(try OracleCandidate(dump: path), fixture: tiny.path, plan: "chunked_prefill")
    }

    @Test func theSmallFixtureRegeneratesItsModelAndTheReferencePasses() throws {
        let small = try OracleFixture.committed("small")
        #expect(!small.manifest.model.bundled)
        let report = expectMatchesFixture(try small.runReference(plan: "chunked_prefill", precision: .float32),
                                          fixture: small, plan: "chunked_prefill", requireAllCheckpoints: true)
        #expect(report?.results.count == small.checkpointNames.count)
    }
}
