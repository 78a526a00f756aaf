// StepCommand: placeholder, filled in by its issue.

import ArgumentParser

extension HXA079 {
    struct Step: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "step", abstract: "(not implemented yet)")
        func run() throws {
            printError("step is not implemented yet")
            throw ExitCode(2)
        }
    }
}
