// DebuggerCommand: the command language of `hxa079 step`.
//
// Contract: one command per line (or per `;`-separated item of --script),
// first word = command, the rest = arguments. Parsing never fails hard: an
// unknown or malformed command becomes `.invalid(message)`, which the
// session prints on one line before reading the next command.
//
//   n [COUNT]        next checkpoint (COUNT times)
//   c                continue to the next breakpoint (or the end)
//   b [PATTERN]      add a breakpoint glob (`*`, `?`); without PATTERN list them
//   p [NAME] [SLICE] print a checkpoint seen in this run (default: the current one)
//   s                per-head WKV state statistics of the current or last RWKV layer
//   l                layer map with the current layer marked
//   q                quit (stop the run, exit status 0)
//   h                list the commands

/// One parsed debugger command.
enum DebuggerCommand: Equatable {
    case next(Int)
    case continueRun
    case addBreakpoint(String)
    case listBreakpoints
    /// `p`: a name (nil: the current checkpoint) and a slice (nil: everything).
    case print(name: String?, slice: String?)
    case state
    case layers
    case quit
    case help
    /// Nothing to do (an empty line).
    case empty
    case invalid(String)

    /// True for the commands that let the run go on.
    var resumes: Bool {
        switch self {
        case .next, .continueRun: return true
        default: return false
        }
    }

    init(parsing line: String) {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let head = words.first else { self = .empty; return }
        let args = Array(words.dropFirst())
        func noArguments(_ command: DebuggerCommand) -> DebuggerCommand {
            args.isEmpty ? command : .invalid("\(head) takes no arguments (got \"\(args.joined(separator: " "))\")")
        }
        switch head {
        case "n", "next":
            if args.isEmpty { self = .next(1) }
            else if args.count == 1, let k = Int(args[0]), k >= 1 { self = .next(k) }
            else { self = .invalid("n takes an optional positive count, got \"\(args.joined(separator: " "))\"") }
        case "c", "continue": self = noArguments(.continueRun)
        case "b", "break":
            if args.isEmpty { self = .listBreakpoints }
            else if args.count == 1 { self = .addBreakpoint(args[0]) }
            else { self = .invalid("b takes one pattern without spaces, got \"\(args.joined(separator: " "))\"") }
        case "p", "print":
            switch args.count {
            case 0: self = .print(name: nil, slice: nil)
            case 1: self = .print(name: args[0], slice: nil)
            default: self = .print(name: args[0], slice: args.dropFirst().joined())
            }
        case "s", "state": self = noArguments(.state)
        case "l", "layers": self = noArguments(.layers)
        case "q", "quit", "exit": self = noArguments(.quit)
        case "h", "help", "?": self = noArguments(.help)
        default: self = .invalid("unknown command \"\(head)\" (h lists the commands)")
        }
    }

    /// What `h` prints.
    static let helpText = """
        commands:
          n [COUNT]         next checkpoint (COUNT times)
          c                 continue to the next breakpoint, or to the end
          b [PATTERN]       add a breakpoint glob, e.g. layers.*.rwkv.wkv
                            (without PATTERN: list the breakpoints)
          p [NAME] [SLICE]  print a checkpoint seen in this run (default: current);
                            SLICE is numpy-like: 0:2, 3,1, 3,1,0:8, -1, ::2
          s                 WKV state per head of the current or last RWKV layer
          l                 layer map, current layer in brackets
          q                 quit (stop the run, exit status 0)
          h                 this list
        """
}
