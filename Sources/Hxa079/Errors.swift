// Errors: every way the package refuses input, each naming what is wrong.
//
// Contract: bad input never traps. Loading, parsing and running throw one of
// these; the CLI prints `description` on one line and exits non-zero. Every
// description names the file, tensor or field at fault, and is one line.

import SafeTensors

public enum Hxa079Error: Error, CustomStringConvertible, Equatable {
    /// The configuration is unusable; one entry per problem.
    case invalidConfig([String])
    /// The weights do not describe a valid model; one entry per problem
    /// (missing / unexpected tensors, wrong shapes, disagreeing layer list, …).
    case invalidModel([String])
    /// A token id is outside 0..<vocab.
    case tokenOutOfRange(token: Int, index: Int, vocabSize: Int)
    /// A file could not be read or written.
    case io(path: String, message: String)
    /// A safetensors file is malformed.
    case safetensors(path: String, SafeTensorsError)
    /// A state file does not fit the model.
    case invalidState([String])
    /// A command-line or API argument is invalid.
    case invalidArgument(String)
    /// A non-finite value where a finite one is required.
    case nonFinite(String)

    public var description: String {
        switch self {
        case .invalidConfig(let p): return "invalid config: " + p.joined(separator: "; ")
        case .invalidModel(let p):
            let shown = p.prefix(5).joined(separator: "; ")
            return "invalid model (\(p.count) problem\(p.count == 1 ? "" : "s")): " + shown + (p.count > 5 ? "; …" : "")
        case .tokenOutOfRange(let t, let i, let v): return "token id \(t) at index \(i) is out of range 0..<\(v)"
        case .io(let path, let m): return "\(path): \(m)"
        case .safetensors(let path, let e):
            // SafeTensorsError may already name the path; say it once.
            switch e {
            case .inFile(let p, let inner) where p == path: return "\(path): \(inner.rootCause)"
            case .io(let p, _, _) where p == path: return e.description
            case .notARegularFile(let p) where p == path: return e.description
            default: return "\(path): \(e)"
            }
        case .invalidState(let p): return "invalid state: " + p.joined(separator: "; ")
        case .invalidArgument(let m): return m
        case .nonFinite(let m): return "non-finite value: \(m)"
        }
    }
}
