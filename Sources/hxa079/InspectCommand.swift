// InspectCommand: placeholder, filled in by its issue.

import ArgumentParser

extension HXA079 {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect", abstract: "(not implemented yet)")
        func run() throws {
            printError("inspect is not implemented yet")
            throw ExitCode(2)
        }
    }
}
