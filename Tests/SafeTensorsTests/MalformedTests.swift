// MalformedTests.swift — a corpus of hand-built malformed files, each asserting
// the specific SafeTensorsError case its rule produces (not just "throws").
import Testing
@testable import SafeTensors

/// One F32 tensor entry with the given pieces spliced in verbatim.
private func entry(name: String = "t", dtype: String = #""F32""#, shape: String = "[1]",
                   offsets: String = "[0,4]") -> String {
    #""\#(name)":{"dtype":\#(dtype),"shape":\#(shape),"data_offsets":\#(offsets)}"#
}

private func file(_ entries: String..., data: [UInt8] = [0, 0, 0, 0]) -> [UInt8] {
    image("{" + entries.joined(separator: ",") + "}", data: data)
}

private struct Case: CustomTestStringConvertible, Sendable {
    let label: String
    let bytes: [UInt8]
    let expected: SafeTensorsError
    var testDescription: String { label }
}

private let corpus: [Case] = [
    // Layout of the first 8 + N bytes.
    Case(label: "empty file", bytes: [], expected: .fileTooSmall(size: 0)),
    Case(label: "7 bytes", bytes: [8, 0, 0, 0, 0, 0, 0], expected: .fileTooSmall(size: 7)),
    Case(label: "header length 2^63", bytes: u64le(1 << 63) + Array("{}".utf8),
         expected: .headerTooLarge(length: 1 << 63)),
    Case(label: "header length UInt64.max", bytes: u64le(.max), expected: .headerTooLarge(length: .max)),
    Case(label: "header length 100_000_001", bytes: u64le(100_000_001) + Array("{}".utf8),
         expected: .headerTooLarge(length: 100_000_001)),
    Case(label: "header length beyond file", bytes: image("{}", declaredLength: 100),
         expected: .headerExceedsFile(length: 100, fileSize: 10)),
    Case(label: "only the length field", bytes: u64le(8), expected: .headerExceedsFile(length: 8, fileSize: 8)),
    Case(label: "zero-length header", bytes: u64le(0), expected: .headerStartInvalid(firstByte: nil)),
    Case(label: "header is an array", bytes: image("[]"), expected: .headerStartInvalid(firstByte: 0x5B)),
    Case(label: "leading whitespace", bytes: image(" {}"), expected: .headerStartInvalid(firstByte: 0x20)),
    Case(label: "UTF-8 BOM", bytes: [5, 0, 0, 0, 0, 0, 0, 0, 0xEF, 0xBB, 0xBF] + Array("{}".utf8),
         expected: .headerStartInvalid(firstByte: 0xEF)),
    // Header text.
    Case(label: "invalid UTF-8 in a name", bytes: u64le(6) + [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31],
         expected: .headerInvalidUTF8(offset: 10)),
    Case(label: "truncated JSON", bytes: image("{\"a\""),
         expected: .headerInvalidJSON(offset: 12, message: "unexpected end of input after object key, expected ':'")),
    Case(label: "garbage after the object", bytes: image("{} x"),
         expected: .headerInvalidJSON(offset: 11, message: "unexpected character 'x' after the JSON value")),
    Case(label: "NUL padding", bytes: image("{}\u{0}\u{0}"),
         expected: .headerInvalidJSON(offset: 10, message: "unexpected byte 0x00 after the JSON value")),
    Case(label: "fractional dimension", bytes: file(entry(shape: "[1.0]")),
         expected: .headerInvalidJSON(offset: 37, message: "number with a fraction or exponent where an integer is required")),
    Case(label: "exponent in an offset", bytes: file(entry(offsets: "[0,4e0]")),
         expected: .headerInvalidJSON(offset: 58, message: "number with a fraction or exponent where an integer is required")),
    Case(label: "integer beyond Double", bytes: file(entry(shape: "[" + String(repeating: "9", count: 400) + "]")),
         expected: .headerInvalidJSON(offset: 37, message: "number " + String(repeating: "9", count: 400)
                                      + " is out of the range of a Double")),
    Case(label: "duplicate tensor name", bytes: file(entry(name: "a"), entry(name: "a")),
         expected: .duplicateKey(name: "a", offset: 62)),
    Case(label: "duplicate field", bytes: image(#"{"a":{"dtype":"F32","dtype":"F32"}}"#),
         expected: .duplicateKey(name: "dtype", offset: 28)),
    // Metadata.
    Case(label: "metadata is a string", bytes: image(#"{"__metadata__":"x"}"#), expected: .metadataNotObject),
    Case(label: "metadata value is a number", bytes: image(#"{"__metadata__":{"k":1}}"#),
         expected: .metadataValueNotString(key: "k")),
    Case(label: "metadata value is an object", bytes: image(#"{"__metadata__":{"k":{}}}"#),
         expected: .metadataValueNotString(key: "k")),
    // Entries.
    Case(label: "entry is a number", bytes: image(#"{"a":5}"#), expected: .entryNotObject(tensor: "a")),
    Case(label: "entry is null", bytes: image(#"{"a":null}"#), expected: .entryNotObject(tensor: "a")),
    Case(label: "missing data_offsets", bytes: image(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]),
         expected: .missingField(tensor: "a", field: "data_offsets")),
    Case(label: "missing dtype", bytes: image(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#),
         expected: .missingField(tensor: "a", field: "dtype")),
    Case(label: "extra field", bytes: image(#"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"foo":1}}"#),
         expected: .unexpectedField(tensor: "a", field: "foo")),
    Case(label: "unknown dtype", bytes: file(entry(dtype: #""U8""#)), expected: .unknownDType(tensor: "t", dtype: "U8")),
    Case(label: "lowercase dtype", bytes: file(entry(dtype: #""f32""#)), expected: .unknownDType(tensor: "t", dtype: "f32")),
    Case(label: "dtype not a string", bytes: file(entry(dtype: "32")), expected: .unknownDType(tensor: "t", dtype: "32")),
    Case(label: "shape not an array", bytes: file(entry(shape: "1")), expected: .invalidShape(tensor: "t")),
    Case(label: "shape of strings", bytes: file(entry(shape: #"["1"]"#)), expected: .invalidShape(tensor: "t")),
    Case(label: "shape with -0", bytes: file(entry(shape: "[-0]")), expected: .invalidShape(tensor: "t")),
    Case(label: "dimension above 2^53", bytes: file(entry(shape: "[9007199254740994,0]")),
         expected: .invalidShape(tensor: "t")),
    Case(label: "negative dimension", bytes: file(entry(shape: "[2,-2]")),
         expected: .negativeDimension(tensor: "t", index: 1, value: "-2")),
    Case(label: "element count overflows", bytes: file(entry(shape: "[4294967296,4294967296]")),
         expected: .shapeOverflow(tensor: "t")),
    Case(label: "byte count overflows", bytes: file(entry(shape: "[2147483648,2147483648]")),  // 2^62 elements × 4 bytes
         expected: .shapeOverflow(tensor: "t")),
    Case(label: "offsets not an array", bytes: file(entry(offsets: "4")), expected: .invalidDataOffsets(tensor: "t")),
    Case(label: "three offsets", bytes: file(entry(offsets: "[0,4,4]")), expected: .invalidDataOffsets(tensor: "t")),
    Case(label: "one offset", bytes: file(entry(offsets: "[4]")), expected: .invalidDataOffsets(tensor: "t")),
    Case(label: "negative offset", bytes: file(entry(offsets: "[-4,0]")), expected: .invalidDataOffsets(tensor: "t")),
    Case(label: "offset above 2^53", bytes: file(entry(offsets: "[0,9007199254740994]")),
         expected: .invalidDataOffsets(tensor: "t")),
    Case(label: "begin after end", bytes: file(entry(offsets: "[4,0]")),
         expected: .offsetsReversed(tensor: "t", begin: 4, end: 0)),
    Case(label: "byte count mismatch", bytes: file(entry(shape: "[2]"), data: [0, 0, 0, 0]),
         expected: .byteCountMismatch(tensor: "t", dtype: .F32, shape: [2], expected: 8, actual: 4)),
    Case(label: "rank-0 needs one element", bytes: file(entry(shape: "[]", offsets: "[0,0]"), data: []),
         expected: .byteCountMismatch(tensor: "t", dtype: .F32, shape: [], expected: 4, actual: 0)),
    Case(label: "offsets beyond data", bytes: file(entry(shape: "[2]", offsets: "[0,8]"), data: [0, 0, 0, 0]),
         expected: .offsetsOutOfBounds(tensor: "t", begin: 0, end: 8, dataLength: 4)),
    Case(label: "truncated data", bytes: Array(file(entry(shape: "[1]", offsets: "[0,4]")).dropLast()),
         expected: .offsetsOutOfBounds(tensor: "t", begin: 0, end: 4, dataLength: 3)),
    // Coverage.
    Case(label: "overlapping tensors",
         bytes: file(entry(name: "a", shape: "[2]", offsets: "[0,8]"), entry(name: "b", offsets: "[4,8]"),
                     data: Array(repeating: 0, count: 8)),
         expected: .overlappingTensors(first: "a", second: "b", offset: 4)),
    Case(label: "identical ranges",
         bytes: file(entry(name: "a"), entry(name: "b"), data: [0, 0, 0, 0]),
         expected: .overlappingTensors(first: "a", second: "b", offset: 0)),
    Case(label: "empty tensor inside another",
         bytes: file(entry(name: "a", shape: "[2]", offsets: "[0,8]"), entry(name: "e", shape: "[0]", offsets: "[4,4]"),
                     data: Array(repeating: 0, count: 8)),
         expected: .overlappingTensors(first: "a", second: "e", offset: 4)),
    Case(label: "gap at the start", bytes: file(entry(offsets: "[4,8]"), data: Array(repeating: 0, count: 8)),
         expected: .gapInData(from: 0, to: 4, before: "t")),
    Case(label: "gap between tensors",
         bytes: file(entry(name: "a"), entry(name: "b", offsets: "[8,12]"), data: Array(repeating: 0, count: 12)),
         expected: .gapInData(from: 4, to: 8, before: "b")),
    Case(label: "trailing bytes", bytes: file(entry(), data: Array(repeating: 0, count: 5)),
         expected: .trailingData(covered: 4, dataLength: 5)),
    Case(label: "no tensors but data", bytes: image("{}", data: [0]), expected: .trailingData(covered: 0, dataLength: 1)),
    Case(label: "polyglot: a second header in the data", bytes: image("{}", data: image("{}")),
         expected: .trailingData(covered: 0, dataLength: 10)),
]

@Suite struct MalformedInputTests {
    @Test(arguments: corpus)
    fileprivate func rejectedWithTheSpecificError(_ c: Case) {
        let e = caughtError { _ = try SafeTensorsFile(bytes: c.bytes) }
        #expect(e == c.expected, "\(c.label): got \(e.map(String.init(describing:)) ?? "no error")")
        // Every description is one line.
        #expect(!(e?.description.contains("\n") ?? true))
    }

    @Test func corpusIsLargeAndDistinct() {
        #expect(corpus.count >= 20)
        #expect(Set(corpus.map(\.bytes)).count == corpus.count)
        #expect(Set(corpus.map(\.label)).count == corpus.count)
    }

    /// The top level of a header that starts with `{` and parses is always an
    /// object, so this rule is only reachable through the validator directly.
    @Test func topLevelNotAnObject() {
        #expect(throws: SafeTensorsError.headerNotObject) {
            _ = try SafeTensorsFile.validateHeader(.array([]), dataLength: 0)
        }
        #expect(throws: Never.self) { _ = try SafeTensorsFile.validateHeader(.object([]), dataLength: 0) }
    }

    @Test func deepNestingInHeaderIsAJSONError() {
        let deep = "{\"__metadata__\":" + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}"
        guard case .headerInvalidJSON(let offset, _)? = caughtError({ _ = try SafeTensorsFile(bytes: image(deep)) }) else {
            Issue.record("expected headerInvalidJSON")
            return
        }
        #expect(offset == 8 + 16 + 127)  // the 128th '[' is depth 129 (the header object is depth 1)
    }

    /// Every prefix of a valid file is rejected (never accepted, never a trap),
    /// and so is every single-byte corruption of its header length.
    @Test func truncationsAndLengthCorruptionsAreRejected() throws {
        var w = SafeTensorsWriter(metadata: ["a": "b"])
        try w.add("x", shape: [2], .f32([1, 2]))
        try w.add("y", shape: [], .bf16([1]))
        let good = w.serialize()
        _ = try SafeTensorsFile(bytes: good)
        for n in 0..<good.count {
            #expect(throws: SafeTensorsError.self) { _ = try SafeTensorsFile(bytes: Array(good[0..<n])) }
        }
        for k in 0..<8 {
            for v: UInt8 in [0, 1, 0x7F, 0x80, 0xFF] where v != good[k] {
                var bad = good
                bad[k] = v
                #expect(throws: SafeTensorsError.self) { _ = try SafeTensorsFile(bytes: bad) }
            }
        }
    }

    @Test func descriptionsNameTheProblem() {
        #expect(SafeTensorsError.byteCountMismatch(tensor: "w", dtype: .BF16, shape: [2, 3], expected: 12, actual: 10)
            .description == "tensor \"w\": BF16 shape [2, 3] needs 12 bytes but data_offsets span 10")
        #expect(SafeTensorsError.headerTooLarge(length: 1 << 63).description
            == "header length 9223372036854775808 exceeds the limit of 100000000 bytes")
        #expect(SafeTensorsError.overlappingTensors(first: "a", second: "b", offset: 4).description
            == "tensors \"a\" and \"b\" overlap at data offset 4")
        #expect(SafeTensorsError.gapInData(from: 4, to: 8, before: "b").description
            == "data bytes [4, 8) before tensor \"b\" belong to no tensor")
    }
}
