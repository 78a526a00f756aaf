// BenchCommand: placeholder, filled in by its issue.

import ArgumentParser

extension HXA079 {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench", abstract: "(not implemented yet)")
        func run() throws {
            printError("bench is not implemented yet")
            throw ExitCode(2)
        }
    }
}
