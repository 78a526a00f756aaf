// InitModelCommand: placeholder, filled in by its issue.

import ArgumentParser

extension HXA079 {
    struct InitModel: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "init-model", abstract: "(not implemented yet)")
        func run() throws {
            printError("init-model is not implemented yet")
            throw ExitCode(2)
        }
    }
}
