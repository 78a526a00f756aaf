// hxa079: the command-line tool of the hxa079 oracle.
//
// Contract: every subcommand reports bad input as one line on stderr and a
// non-zero exit code; nothing traps on user input. Subcommands live one per
// file (`<Name>Command.swift`).

import ArgumentParser

@main
struct HXA079: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hxa079",
        abstract: "Reference, fixtures and debugger for the hxa079 hybrid RWKV-7 + GQA architecture.",
        discussion: """
            The readable reference implements SPEC.md line by line in Float and Double. \
            `forward` runs it, `fixtures make` writes golden fixtures for other engines, \
            `compare` finds the first checkpoint where another engine's dump disagrees, \
            `step` walks through the checkpoints of a forward pass.
            """,
        version: "0.1.0",
        subcommands: [
            Forward.self, Inspect.self, InitModel.self, Step.self, Compare.self, Fixtures.self, Bench.self,
        ])
}
