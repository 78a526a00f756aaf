// CompareCommand: `hxa079 compare` — hold another engine's dump against a
// fixture and name the first checkpoint that fails its budget.
//
//   hxa079 compare --fixture DIR --candidate FILE [--split NAME] [--tolerance-scale S] [--failures-only]
//
// Exit status: 0 when every checkpoint present in the candidate passes,
// 1 when one fails, 2 when the comparison could not be made (bad files).

import ArgumentParser
import Hxa079
import Hxa079Fixtures

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

        @Option(name: .long, help: "Widen every tolerance by this factor (NMSE by its square), e.g. for bf16 engines.")
        var toleranceScale: Double = 1

        @Flag(name: .long, help: "Print only the failing checkpoints.")
        var failuresOnly = false

        func validate() throws {
            if !(toleranceScale > 0) || !toleranceScale.isFinite { throw ValidationError("--tolerance-scale must be a positive number") }
        }

        func run() throws {
            let report: ComparisonReport
            do {
                let f = try Fixture(path: fixture)
                let c = try CandidateTensor.load(path: candidate)
                report = try compare(fixture: f, plan: split, candidate: c, toleranceScale: toleranceScale)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            print(report.text(verbose: !failuresOnly))
            if !report.passed { throw ExitCode(1) }
        }
    }
}
