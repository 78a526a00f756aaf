// CompareCommand: `hxa079 compare` — hold another engine's dump against a
// fixture and name the first checkpoint that fails its budget.
//
//   hxa079 compare --fixture DIR --candidate FILE [--split NAME] [--profile f64|f32|bf16|f16]
//                  [--tolerance-scale S] [--no-replay] [--model DIR] [--ignore-model-hash] [--failures-only]
//
// Contract: the comparison is Hxa079Fixtures' `compare` (the one shared with
// `step --compare` and the Oracle), under the budgets of --profile or, without
// it, of each tensor's dtype. Where the candidate also holds a stage's inputs
// the stage is re-run in float64 on them (stage-local replay, SPEC.md §4.8;
// the fixture's model is streamed once; --no-replay skips it, and a model that
// cannot be found is said in the report, not failed). Exit status and the first stderr line:
//   0  every checkpoint present in the candidate passes (stderr empty);
//      candidate checkpoints outside the fixture's checkpoint selection are
//      listed as "not in this fixture" and never fail;
//   1  at least one fails, incl. non-finite values, shape mismatches and
//      integer dtypes ("hxa079: N of M compared checkpoints fail, first …");
//   2  the files cannot be compared: the candidate is not a safetensors file,
//      is truncated or invalid, holds none of the fixture's checkpoint names,
//      or the fixture does not load (one line naming the file and why).

import ArgumentParser
import Hxa079
import Hxa079Fixtures

extension BudgetClass: ExpressibleByArgument {}

extension HXA079 {
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Compare an engine's checkpoint dump with a fixture; report the first failing checkpoint.",
            discussion: "Exit status: 0 all present checkpoints pass, 1 a checkpoint fails, 2 the files could not be compared.")

        @Option(name: .long, help: "Fixture directory (made by `hxa079 fixtures make`).")
        var fixture: String

        @Option(name: .long, help: "The engine's dump: safetensors with checkpoint names (any float dtype, any subset).")
        var candidate: String

        @Option(name: .long, help: "Split plan whose truth to compare with (default one_call).")
        var split: String = "one_call"

        @Option(name: .long, help: "Budgets to hold the candidate to: f64, f32, bf16 or f16 (default: each tensor's dtype: F64 f64, BF16 bf16, F16 f16, others f32).")
        var profile: BudgetClass?

        @Option(name: .long, parsing: .unconditional,
                help: "An explicit extra factor on every tolerance (NMSE by its square).")
        var toleranceScale: Double = 1

        @Flag(name: .long, help: "Skip the stage-local replay (global figures only; no model is read).")
        var noReplay = false

        @Option(name: .long, help: "For the replay: the fixture's model where it lives now, when it moved.")
        var model: String?

        @Flag(name: .long, help: "For the replay: run a model whose files differ from the manifest's SHA-256 (warns on stderr).")
        var ignoreModelHash = false

        @Flag(name: .long, help: "Print only the failing checkpoints.")
        var failuresOnly = false

        func validate() throws {
            try requirePositive(toleranceScale, "--tolerance-scale")
        }

        func run() throws {
            let report: ComparisonReport
            do {
                let f = try Fixture(path: fixture)
                let c = try CandidateTensor.load(path: candidate)
                var replay: [String: [Double]]? = nil, note: String? = nil
                if !noReplay {
                    do { replay = try f.stageReplay(plan: split, candidate: c, model: model, ignoreModelHash: ignoreModelHash) }
                    catch { note = "stage-local replay skipped: \(error)" }
                }
                var r = try compare(fixture: f, plan: split, candidate: c, profile: profile, toleranceScale: toleranceScale, replay: replay)
                r.replayNote = note ?? (noReplay ? "stage-local replay skipped (--no-replay)" : nil)
                report = r
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            print(report.text(verbose: !failuresOnly))
            if !report.comparable {
                let held = report.notInFixture + report.unknown
                printError("nothing to compare: \(candidate) holds none of the fixture's \(report.missing.count) checkpoint names"
                           + (held.isEmpty ? " (it is empty)" : " (it holds " + held.prefix(4).joined(separator: ", ")
                                           + (held.count > 4 ? ", …" : "")
                                           + (report.notInFixture.isEmpty ? ")" : "; \(report.notInFixture.count) of them are not in this fixture)")))
                throw ExitCode(2)
            }
            if let first = report.firstFailure {
                printError("\(report.failures.count) of \(report.results.count) compared checkpoints fail; the first is " + first.failureLine)
                throw ExitCode(1)
            }
        }
    }
}
