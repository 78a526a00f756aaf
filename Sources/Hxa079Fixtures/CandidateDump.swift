// CandidateDump: another engine's checkpoints as read from a safetensors
// dump, and what to say when a file is not one.
//
// Contract: `CandidateTensor.load(path:)` / `load(bytes:source:)` return every
// tensor of a dump with its stored dtype, shape and values widened to Double
// (integers exactly). A file the safetensors reader refuses becomes one
// `Hxa079Error.io` line that says first what the file is:
//   * "not a safetensors file" — empty, shorter than the 8-byte length field,
//     or the header does not start with `{` within the length it announces
//     (e.g. a JSON or text file: its first bytes are quoted);
//   * "truncated safetensors file" — a plausible header whose announced
//     length or data offsets run past the end of the file;
//   * "invalid safetensors file" — any other rule of the reader;
// followed by the reader's own description. Nothing here traps on the file.

import Hxa079
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One named tensor of an engine (a dump entry).
public struct CandidateTensor: Sendable {
    public var dtype: DType
    public var shape: [Int]
    /// Row-major values widened to Double.
    public var values: [Double]

    public init(dtype: DType, shape: [Int], values: [Double]) {
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }
}

extension CandidateTensor {
    /// Every tensor of the safetensors dump at `path`.
    ///
    /// - Throws: `Hxa079Error.io` naming the path and what the file is (see the contract).
    public static func load(path: String) throws -> [String: CandidateTensor] {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) }
        catch let e as SafeTensorsError {
            switch e {
            case .io, .notARegularFile: throw Hxa079Error.safetensors(path: path, e)
            default: throw Hxa079Error.io(path: path, message: unreadableDumpDescription(e.rootCause, firstBytes: leadingBytes(path)))
            }
        }
        return try tensors(of: file, source: path)
    }

    /// Every tensor of an in-memory dump (`source` names it in messages).
    public static func load(bytes: [UInt8], source: String) throws -> [String: CandidateTensor] {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(bytes: bytes) }
        catch let e as SafeTensorsError {
            throw Hxa079Error.io(path: source, message: unreadableDumpDescription(e.rootCause, firstBytes: Array(bytes.prefix(16))))
        }
        return try tensors(of: file, source: source)
    }

    private static func tensors(of file: SafeTensorsFile, source: String) throws -> [String: CandidateTensor] {
        var out: [String: CandidateTensor] = [:]
        do {
            for info in file.tensors {
                let values: [Double] = info.dtype.isFloatingPoint
                    ? try file.doubles(info.name) : try file.int64s(info.name).map { Double($0) }
                out[info.name] = CandidateTensor(dtype: info.dtype, shape: info.shape, values: values)
            }
        } catch let e as SafeTensorsError {
            throw Hxa079Error.safetensors(path: source, e)
        }
        return out
    }
}

/// The first 16 bytes of a file (fewer when it is shorter or unreadable).
private func leadingBytes(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var buffer = [UInt8](repeating: 0, count: 16)
    let n = fread(&buffer, 1, 16, f)
    return Array(buffer.prefix(n))
}

/// What a refused dump is, then the reader's reason (see the contract).
func unreadableDumpDescription(_ e: SafeTensorsError, firstBytes: [UInt8]) -> String {
    let quoted = quotedStart(firstBytes)
    switch e {
    case .fileTooSmall(let size):
        return size == 0 ? "not a safetensors file: the file is empty"
            : "not a safetensors file: \(size) bytes, shorter than the 8-byte header length field"
    case .headerTooLarge, .headerStartInvalid, .headerInvalidUTF8, .headerNotObject:
        return "not a safetensors file (it starts with \(quoted) instead of an 8-byte header length): \(e)"
    case .headerExceedsFile:
        // A real header starts with `{` right after the length field.
        if firstBytes.count > 8 && firstBytes[8] == UInt8(ascii: "{") { return "truncated safetensors file: \(e)" }
        return "not a safetensors file (it starts with \(quoted) instead of an 8-byte header length): \(e)"
    case .offsetsOutOfBounds:
        return "truncated safetensors file: \(e)"
    default:
        return "invalid safetensors file: \(e)"
    }
}

/// `"{\"name\": …"`: printable ASCII as text, anything else as hex bytes.
private func quotedStart(_ bytes: [UInt8]) -> String {
    let head = bytes.prefix(12)
    if !head.isEmpty && head.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }) {
        let text = String(decoding: head, as: UTF8.self).map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : String($0) }.joined()
        let json = text.first(where: { $0 != " " }).map { $0 == "{" || $0 == "[" } ?? false
        return "the text \"\(text)…\"" + (json ? " (JSON?)" : "")
    }
    return "the bytes " + head.map { b in
        let digits = "0123456789abcdef"
        let hi = digits[digits.index(digits.startIndex, offsetBy: Int(b >> 4))]
        let lo = digits[digits.index(digits.startIndex, offsetBy: Int(b & 15))]
        return "\(hi)\(lo)"
    }.joined(separator: " ")
}
