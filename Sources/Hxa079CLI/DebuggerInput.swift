// DebuggerInput: where `hxa079 step` reads its commands from.
//
// Contract: three sources.
//   terminal  stdin is a TTY and there is no --script: print the prompt
//             `(hxa079) ` on stdout and read one line; end of input (Ctrl-D)
//             reads as `q`. An empty line repeats the last `n` or `c`.
//   script    --script "n;n;c": items separated by `;` (or newlines), blanks
//             skipped; each is echoed after the prompt so the output reads as
//             a session transcript. When the items run out the source is
//             exhausted and the run goes on to its end.
//   none      no TTY and no script: never asks; the run goes to its end.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class DebuggerInput {
    enum Kind: Equatable { case terminal, script, none }

    static let prompt = "(hxa079) "

    let kind: Kind
    private var pending: [String]
    private var lastResume: String?

    init(kind: Kind, script: String? = nil) {
        self.kind = kind
        pending = (script ?? "").split(whereSeparator: { $0 == ";" || $0 == "\n" })
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            .filter { !$0.isEmpty }
    }

    /// The source for this process: terminal when stdin is a TTY, unless a script is given.
    static func forProcess(script: String?) -> DebuggerInput {
        if let script { return DebuggerInput(kind: .script, script: script) }
        return DebuggerInput(kind: isatty(STDIN_FILENO) != 0 ? .terminal : .none)
    }

    /// True when commands are read from a person at a terminal.
    var isInteractive: Bool { kind == .terminal }

    /// Script commands not run yet.
    var pendingCount: Int { pending.count }

    /// True when no command will ever come again.
    var isExhausted: Bool {
        switch kind {
        case .terminal: return false
        case .script: return pending.isEmpty
        case .none: return true
        }
    }

    /// The next command line, or nil when the source is exhausted (terminal: end of input).
    func nextLine() -> String? {
        switch kind {
        case .none:
            return nil
        case .script:
            guard !pending.isEmpty else { return nil }
            let line = pending.removeFirst()
            print(Self.prompt + line)
            return line
        case .terminal:
            fputs(Self.prompt, stdout)
            fflush(stdout)
            guard let line = readLine(strippingNewline: true) else {
                print("")
                return nil
            }
            let trimmed = line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if trimmed.isEmpty, let last = lastResume { return last }
            let head = trimmed.split(separator: " ").first.map(String.init) ?? ""
            if ["n", "next", "c", "continue"].contains(head) { lastResume = trimmed }
            return trimmed
        }
    }
}
