// FixturesCommand: placeholder, filled in by its issue.

import ArgumentParser

extension HXA079 {
    struct Fixtures: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fixtures", abstract: "(not implemented yet)")
        func run() throws {
            printError("fixtures is not implemented yet")
            throw ExitCode(2)
        }
    }
}
