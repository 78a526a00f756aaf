// JSON.swift — a small strict RFC 8259 JSON parser and serializer.
//
// Contract (parser):
// - Input is bytes; it must be valid UTF-8 (no BOM, no overlong forms, no
//   encoded surrogates, nothing above U+10FFFF) and exactly one JSON value,
//   optionally surrounded by JSON whitespace (space, tab, LF, CR).
// - Grammar is RFC 8259 exactly: no comments, no trailing commas, no leading
//   zeros, no `+`, `.5`, `1.`, `NaN`, `Infinity`, no single quotes, no raw
//   control characters in strings, only the RFC escapes; `\u` surrogate pairs
//   are combined and unpaired surrogates are rejected.
// - Numbers become `Double` (correctly rounded); a number whose magnitude
//   overflows a Double is rejected. `-0` is kept as -0.0.
// - Object keys must be unique within an object. Keys are compared with Swift
//   `String` equality (Unicode canonical equivalence), so two keys that differ
//   only in normalization are also duplicates — they would be indistinguishable
//   to any Swift caller. Object member order is preserved.
// - Nesting deeper than 128 arrays/objects is rejected (the top-level container
//   is depth 1). Parsing never traps; every failure is a `JSONError` carrying
//   the byte offset of the problem.
//
// Contract (serializer):
// - Output is compact (`{"a":1,"b":[true,null]}`) or pretty (two-space indent,
//   `"key": value`). Strings escape `"`, `\` and U+0000–U+001F (`\b \f \n \r \t`
//   or `\u00xx`, lowercase hex) and nothing else, like serde_json.
// - Numbers: integral values with |x| < 2^53 print as integers ("3", "-0");
//   everything else finite prints Swift's shortest round-trip `description`
//   (e.g. "0.1", "1e-05", "1e+16"), which is valid JSON and parses back to the
//   same Double. Non-finite numbers have no JSON form: `serialized` writes
//   `null` for them, `serializedStrict` throws.

/// A JSON parse or serialization error at a byte offset of the input
/// (for serialization: of the output produced so far).
public struct JSONError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        case invalidUTF8
        case syntax
        case duplicateKey(String)
        case depthLimitExceeded
        case trailingCharacters
        case numberOutOfRange
        /// Only raised by the safetensors header parser (integers-only mode).
        case nonIntegerNumber
        /// Only raised by `serializedStrict`.
        case nonFiniteNumber
    }

    public let offset: Int
    public let message: String
    public let kind: Kind

    public init(offset: Int, message: String, kind: Kind = .syntax) {
        self.offset = offset
        self.message = message
        self.kind = kind
    }

    public var description: String { "JSON error at byte \(offset): \(message)" }
}

/// A JSON value. Objects keep their members in document order.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Maximum nesting depth of arrays and objects accepted by `parse`.
    public static let maxDepth = 128

    /// Structural equality. Numbers compare with `==` (so -0 == 0 and NaN is
    /// never equal); objects compare member by member, in order.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where x.0 != y.0 || x.1 != y.1 { return false }
            return true
        default: return false
        }
    }

    // MARK: Parsing

    /// Parses one strict RFC 8259 JSON document from UTF-8 bytes.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes, integersOnly: false)
        return try parser.parseDocument()
    }

    /// Parses one strict RFC 8259 JSON document from a string.
    public static func parse(_ text: String) throws -> JSONValue {
        try parse(Array(text.utf8))
    }

    // MARK: Accessors

    /// The value of the first member named `key`, if this is an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (k, v) in members where k == key { return v }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let x) = self { return x }
        return nil
    }

    /// The number as an `Int`, only if it is integral and representable.
    public var intValue: Int? {
        if case .number(let x) = self { return Int(exactly: x) }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [(String, JSONValue)]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    // MARK: Serialization

    /// Serializes the value. Non-finite numbers (which JSON cannot represent)
    /// are written as `null`; use `serializedStrict` to reject them instead.
    /// `sortedKeys` orders object members by the UTF-8 bytes of their keys.
    public func serialized(pretty: Bool = false, sortedKeys: Bool = false) -> String {
        var writer = JSONWriter(pretty: pretty, sortedKeys: sortedKeys, strict: false)
        // Cannot throw when not strict.
        try? writer.write(self, indent: 0)
        return String(decoding: writer.out, as: UTF8.self)
    }

    /// Like `serialized`, but throws a `JSONError` (kind `.nonFiniteNumber`)
    /// for NaN or infinite numbers.
    public func serializedStrict(pretty: Bool = false, sortedKeys: Bool = false) throws -> String {
        var writer = JSONWriter(pretty: pretty, sortedKeys: sortedKeys, strict: true)
        try writer.write(self, indent: 0)
        return String(decoding: writer.out, as: UTF8.self)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Members keep their literal order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
}

// MARK: - Parser

/// Byte offset of the first byte that makes `bytes` invalid UTF-8, or nil.
/// Rejects overlong encodings, UTF-16 surrogates (U+D800–U+DFFF), code points
/// above U+10FFFF and truncated sequences (RFC 3629).
func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 { i += 1; continue }
        var need = 0
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lower = 0xA0  // no overlong 3-byte forms
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED: need = 2; upper = 0x9F  // no surrogates
        case 0xF0: need = 3; lower = 0x90  // no overlong 4-byte forms
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; upper = 0x8F  // nothing above U+10FFFF
        default: return i  // 0x80–0xC1 (continuation / overlong lead), 0xF5–0xFF
        }
        if n - i <= need { return i }
        let b1 = bytes[i + 1]
        if b1 < lower || b1 > upper { return i }
        var k = 2
        while k <= need {
            let b = bytes[i + k]
            if b < 0x80 || b > 0xBF { return i }
            k += 1
        }
        i += need + 1
    }
    return nil
}

/// Recursive-descent parser over a byte array. Every index access is bounds
/// checked before use, so malformed input can only produce a thrown error.
struct JSONParser {
    let bytes: [UInt8]
    /// When true (safetensors headers), numbers must be integer lexemes: a
    /// fraction or exponent is an error of kind `.nonIntegerNumber`.
    let integersOnly: Bool
    var pos = 0

    init(bytes: [UInt8], integersOnly: Bool) {
        self.bytes = bytes
        self.integersOnly = integersOnly
    }

    mutating func parseDocument() throws -> JSONValue {
        if let bad = firstInvalidUTF8Offset(bytes) {
            throw JSONError(offset: bad, message: "invalid UTF-8 byte 0x\(hex2(bytes[bad]))", kind: .invalidUTF8)
        }
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if pos < bytes.count {
            throw JSONError(offset: pos, message: "unexpected \(describeByte(at: pos)) after the JSON value",
                            kind: .trailingCharacters)
        }
        return value
    }

    private func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private func describeByte(at i: Int) -> String {
        guard i < bytes.count else { return "end of input" }
        let b = bytes[i]
        if b >= 0x21 && b < 0x7F { return "character '\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(hex2(b))"
    }

    private func syntax(_ message: String, at offset: Int? = nil) -> JSONError {
        JSONError(offset: offset ?? pos, message: message, kind: .syntax)
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard let b = peek() else { throw syntax("unexpected end of input, expected a value") }
        switch b {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw syntax("unexpected \(describeByte(at: pos)), expected a value")
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws {
        let start = pos
        let n = word.utf8CodeUnitCount
        let ok: Bool = word.withUTF8Buffer { lit in
            guard bytes.count - pos >= n else { return false }
            for k in 0..<n where bytes[pos + k] != lit[k] { return false }
            return true
        }
        guard ok else { throw syntax("invalid literal, expected '\(word)'", at: start) }
        pos += n
    }

    private mutating func enter(_ depth: Int) throws {
        if depth > JSONValue.maxDepth {
            throw JSONError(offset: pos, message: "nesting deeper than \(JSONValue.maxDepth) levels",
                            kind: .depthLimitExceeded)
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        try enter(depth)
        pos += 1  // '['
        var items: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "]"): pos += 1; return .array(items)
            default: throw syntax("unexpected \(describeByte(at: pos)) in array, expected ',' or ']'")
            }
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        try enter(depth)
        pos += 1  // '{'
        var members: [(String, JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else {
                throw syntax("unexpected \(describeByte(at: pos)) in object, expected a string key")
            }
            let keyOffset = pos
            let key = try parseString()
            if !seen.insert(key).inserted {
                throw JSONError(offset: keyOffset, message: "duplicate object key \"\(key)\"",
                                kind: .duplicateKey(key))
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else {
                throw syntax("unexpected \(describeByte(at: pos)) after object key, expected ':'")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            members.append((key, value))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "}"): pos += 1; return .object(members)
            default: throw syntax("unexpected \(describeByte(at: pos)) in object, expected ',' or '}'")
            }
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard bytes.count - pos >= 4 else { throw syntax("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A")) + 10
            default: throw syntax("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    /// Parses a string starting at the opening quote. The input is already
    /// known to be valid UTF-8, so raw bytes can be copied through.
    private mutating func parseString() throws -> String {
        let open = pos
        pos += 1
        // Fast path: no escapes.
        var i = pos
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: bytes[pos..<i], as: UTF8.self)
                pos = i + 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            i += 1
        }
        var out: [UInt8] = Array(bytes[pos..<i])
        pos = i
        while true {
            guard pos < bytes.count else { throw syntax("unterminated string", at: open) }
            let c = bytes[pos]
            switch c {
            case UInt8(ascii: "\""):
                pos += 1
                return String(decoding: out, as: UTF8.self)
            case 0x00..<0x20:
                throw syntax("unescaped control character 0x\(hex2(c)) in string")
            case UInt8(ascii: "\\"):
                let escapeStart = pos
                pos += 1
                guard pos < bytes.count else { throw syntax("unterminated string", at: open) }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - pos >= 6, bytes[pos] == UInt8(ascii: "\\"),
                              bytes[pos + 1] == UInt8(ascii: "u")
                        else { throw syntax("unpaired high surrogate in \\u escape", at: escapeStart) }
                        pos += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw syntax("high surrogate not followed by a low surrogate", at: escapeStart)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw syntax("unpaired low surrogate in \\u escape", at: escapeStart)
                    }
                    guard let u = Unicode.Scalar(scalar) else {
                        throw syntax("invalid \\u escape", at: escapeStart)
                    }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw syntax("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: escapeStart)
                }
            default:
                out.append(c)
                pos += 1
            }
        }
    }

    private mutating func parseNumber() throws -> Double {
        let start = pos
        var integral = true
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if peek() == UInt8(ascii: "-") { pos += 1 }
        guard let first = peek(), isDigit(first) else { throw syntax("expected a digit", at: pos) }
        if first == UInt8(ascii: "0") {
            pos += 1  // a leading zero stands alone; "01" fails at the caller
        } else {
            while isDigit(peek()) { pos += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            integral = false
            pos += 1
            guard isDigit(peek()) else { throw syntax("expected a digit after the decimal point") }
            while isDigit(peek()) { pos += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            integral = false
            pos += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(peek()) else { throw syntax("expected a digit in the exponent") }
            while isDigit(peek()) { pos += 1 }
        }
        if integersOnly && !integral {
            throw JSONError(offset: start, message: "number with a fraction or exponent where an integer is required",
                            kind: .nonIntegerNumber)
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw JSONError(offset: start, message: "number \(text) is out of the range of a Double",
                            kind: .numberOutOfRange)
        }
        return value
    }
}

@inline(__always)
func hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}

// MARK: - Serializer

/// Appends `s` as a JSON string literal (quotes included), escaping only what
/// RFC 8259 requires: `"`, `\` and control characters.
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    let hex: [UInt8] = Array("0123456789abcdef".utf8)
    out.append(0x22)
    for b in s.utf8 {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0x00..<0x20:
            out.append(contentsOf: Array("\\u00".utf8))
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        default: out.append(b)
        }
    }
    out.append(0x22)
}

/// The JSON text of a finite Double, or nil when it is NaN or infinite.
func jsonNumberText(_ x: Double) -> String? {
    guard x.isFinite else { return nil }
    if x == x.rounded(.towardZero) && x.magnitude < 9_007_199_254_740_992 {  // 2^53
        if x == 0 { return x.sign == .minus ? "-0" : "0" }
        return String(Int64(x))
    }
    return x.description
}

/// True when `a`'s UTF-8 bytes sort before `b`'s (code point order).
func utf8Precedes(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

struct JSONWriter {
    let pretty: Bool
    let sortedKeys: Bool
    let strict: Bool
    var out: [UInt8] = []

    init(pretty: Bool, sortedKeys: Bool, strict: Bool) {
        self.pretty = pretty
        self.sortedKeys = sortedKeys
        self.strict = strict
    }

    private mutating func newline(_ indent: Int) {
        guard pretty else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: 2 * indent))
    }

    mutating func write(_ value: JSONValue, indent: Int) throws {
        switch value {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .number(let x):
            if let text = jsonNumberText(x) {
                out.append(contentsOf: Array(text.utf8))
            } else if strict {
                throw JSONError(offset: out.count, message: "\(x) has no JSON representation",
                                kind: .nonFiniteNumber)
            } else {
                out.append(contentsOf: Array("null".utf8))
            }
        case .string(let s): appendJSONString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            if items.isEmpty { out.append(UInt8(ascii: "]")); return }
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                try write(item, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            if members.isEmpty { out.append(UInt8(ascii: "}")); return }
            let ordered = sortedKeys ? members.sorted { utf8Precedes($0.0, $1.0) } : members
            for (k, member) in ordered.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                appendJSONString(member.0, to: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(0x20) }
                try write(member.1, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        }
    }
}
