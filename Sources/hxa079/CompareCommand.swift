// CompareCommand: placeholder, filled in by its issue.

import ArgumentParser

extension HXA079 {
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "compare", abstract: "(not implemented yet)")
        func run() throws {
            printError("compare is not implemented yet")
            throw ExitCode(2)
        }
    }
}
