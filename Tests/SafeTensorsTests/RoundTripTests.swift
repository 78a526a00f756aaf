// RoundTripTests.swift — writer → reader round trips for every dtype, rank-0,
// empty tensors and metadata; the writer's exact byte layout; accessor
// conversions and errors; the memory-mapped path.
import Foundation
import Testing
@testable import SafeTensors

@Suite struct WriterLayoutTests {
    @Test func headerLayoutMatchesHandBuiltString() throws {
        var w = SafeTensorsWriter(metadata: ["k": "v"])
        try w.add("b", shape: [2], .f32([1, 2]))
        try w.add("a", shape: [], .bf16([0x3F80]))
        try w.add("d", shape: [1], .f64([0.5]))
        try w.add("c", shape: [1], .i64([7]))
        // Order: reference dtype rank descending (I64 > F64 > F32 > BF16), then
        // name. So c (I64, 8 bytes) at [0,8), d (F64, 8) at [8,16), b (F32 ×2,
        // 8 bytes) at [16,24), a (BF16 rank 0 = 1 element, 2 bytes) at [24,26).
        // __metadata__ comes first. The compact JSON below is 243 bytes;
        // 243 mod 8 = 3, so 5 spaces pad it to 248. File size 8 + 248 + 26 = 282.
        let expected = #"{"__metadata__":{"k":"v"},"#
            + #""c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"#
            + #""d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},"#
            + #""a":{"dtype":"BF16","shape":[],"data_offsets":[24,26]}}"#
        #expect(expected.utf8.count == 243)
        let bytes = w.serialize()
        #expect(bytes.count == 282)
        #expect(Array(bytes[0..<8]) == [248, 0, 0, 0, 0, 0, 0, 0])
        #expect(String(decoding: bytes[8..<256], as: UTF8.self) == expected + "     ")
        let data = Array(bytes[256...])
        #expect(data == [7, 0, 0, 0, 0, 0, 0, 0] + f64le([0.5]) + f32le([1, 2]) + [0x80, 0x3F])
    }

    /// Byte vectors from the reference implementation's own unit tests
    /// (safetensors/src/tensor.rs: test_serialization, test_empty).
    @Test func matchesReferenceTestVectors() throws {
        var w = SafeTensorsWriter()
        try w.add("attn.0", shape: [1, 2, 3], .f32([0, 1, 2, 3, 4, 5]))
        #expect(w.serialize() == [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ])
        #expect(SafeTensorsWriter().serialize() == [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        #expect(SafeTensorsWriter(metadata: ["framework": "pt"]).serialize() == [
            40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
            95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
            116, 34, 125, 125, 32, 32, 32, 32, 32,
        ])
    }

    @Test func everyTensorIsAlignedToItsElementSize() throws {
        var w = SafeTensorsWriter(metadata: ["a": "1", "b": "2"])
        try w.add("h", shape: [3], .f16([1, 2, 3]))
        try w.add("g", shape: [1], .bf16([1]))
        try w.add("f", shape: [3], .i32([1, 2, 3]))
        try w.add("e", shape: [1], .f32([1]))
        try w.add("zz", shape: [1], .f64([1]))
        try w.add("aa", shape: [1], .i64([1]))
        let f = try SafeTensorsFile(bytes: w.serialize())
        #expect(f.headerLength % 8 == 0)
        #expect(f.tensors.map(\.name) == ["aa", "zz", "e", "f", "g", "h"])
        for t in f.tensors { #expect(t.dataRange.lowerBound % t.dtype.byteSize == 0, "\(t.name)") }
    }

    @Test func writerRejectsBadInput() {
        var w = SafeTensorsWriter()
        #expect(throws: Never.self) { try w.add("x", shape: [2], .f32([1, 2])) }
        #expect(throws: SafeTensorsError.duplicateTensorName("x")) { try w.add("x", shape: [1], .f32([1])) }
        #expect(throws: SafeTensorsError.reservedTensorName("__metadata__")) {
            try w.add("__metadata__", shape: [1], .f32([1]))
        }
        #expect(throws: SafeTensorsError.elementCountMismatch(tensor: "y", shape: [2, 2], count: 3)) {
            try w.add("y", shape: [2, 2], .f32([1, 2, 3]))
        }
        #expect(throws: SafeTensorsError.elementCountMismatch(tensor: "r0", shape: [], count: 0)) {
            try w.add("r0", shape: [], .f32([]))
        }
        #expect(throws: SafeTensorsError.negativeDimension(tensor: "n", index: 1, value: "-1")) {
            try w.add("n", shape: [0, -1], .f32([]))
        }
        #expect(throws: SafeTensorsError.shapeOverflow(tensor: "o")) {
            try w.add("o", shape: [1 << 40, 1 << 40], .f32([]))
        }
        #expect(throws: SafeTensorsError.shapeOverflow(tensor: "o8")) {
            try w.add("o8", shape: [1 << 61], .f64([]))  // elements fit, bytes (× 8) do not
        }
        #expect(w.count == 1)
    }
}

@Suite struct RoundTripTests {
    static let specialsF64: [Double] = [0, -0.0, 1, -1.5, .pi, .infinity, -.infinity, .leastNonzeroMagnitude,
                                        .greatestFiniteMagnitude, Double(bitPattern: 0x7FF8_0000_0000_1234),
                                        Double(bitPattern: 0xFFF0_0000_0000_0001)]
    static let specialsF32: [Float] = [0, -0.0, 1, -1.5, .pi, .infinity, -.infinity, .leastNonzeroMagnitude,
                                       .greatestFiniteMagnitude, Float(bitPattern: 0x7FC0_1234),
                                       Float(bitPattern: 0xFF80_0001)]

    static func sampleTensors() -> [(String, [Int], TensorData)] {
        [
            ("f64", [11], .f64(specialsF64)),
            ("f32", [11, 1], .f32(specialsF32)),
            ("bf16", [2, 4], .bf16([0x0000, 0x8000, 0x3F80, 0x7F80, 0xFF80, 0x7FC1, 0x0001, 0x7F7F])),
            ("f16", [2, 2, 2], .f16([0x0000, 0x8000, 0x3C00, 0x7C00, 0xFC00, 0x7E01, 0x0001, 0x7BFF])),
            ("i64", [3], .i64([.min, -1, .max])),
            ("i32", [1, 3], .i32([.min, 0, .max])),
            ("scalar", [], .f64([42.5])),
            ("empty", [0], .f32([])),
            ("empty2d", [3, 0, 2], .i64([])),
            ("emptybf16", [0], .bf16([])),
        ]
    }

    @Test func everyDTypeRoundTripsBitExactly() throws {
        var w = SafeTensorsWriter(metadata: ["generator": "tests", "quote\"key": "line\nvalue", "": ""])
        for (name, shape, data) in Self.sampleTensors() { try w.add(name, shape: shape, data) }
        let f = try SafeTensorsFile(bytes: w.serialize())
        #expect(f.metadata == ["generator": "tests", "quote\"key": "line\nvalue", "": ""])
        #expect(f.names == Self.sampleTensors().map(\.0).sorted())
        #expect(f.isMapped == false)
        for (name, shape, data) in Self.sampleTensors() {
            let info = try #require(f.info(name))
            #expect(info.shape == shape)
            #expect(info.dtype == data.dtype)
            #expect(info.elementCount == data.count)
            #expect(try f.data(name) == data, "\(name)")
            #expect(try f.rawBytes(name) == data.littleEndianBytes())
        }
        // Data order tiles the buffer.
        var next = 0
        for t in f.tensors { #expect(t.dataRange.lowerBound == next); next = t.dataRange.upperBound }
        #expect(next == f.dataLength)
        // Re-serializing what was read reproduces the file byte for byte.
        var w2 = SafeTensorsWriter(metadata: f.metadata)
        for t in f.tensors { try w2.add(t.name, shape: t.shape, try f.data(t.name)) }
        #expect(w2.serialize() == w.serialize())
    }

    @Test func noMetadataAndNoTensors() throws {
        let f = try SafeTensorsFile(bytes: SafeTensorsWriter().serialize())
        #expect(f.metadata == nil)
        #expect(f.tensors.isEmpty && f.names.isEmpty && f.dataLength == 0)
        let g = try SafeTensorsFile(bytes: SafeTensorsWriter(metadata: [:]).serialize())
        #expect(g.metadata == [:])
    }

    @Test func accessorConversions() throws {
        var w = SafeTensorsWriter()
        // 1 + 2^-24 lies halfway between the Floats 1 and 1 + 2^-23 → 1 (even);
        // 1 + 3·2^-24 is halfway between 1 + 2^-23 (odd) and 1 + 2^-22 → 1 + 2^-22.
        try w.add("d", shape: [4], .f64([0.1, 1 + 0x1p-24, 1 + 3 * 0x1p-24, 1e300]))
        try w.add("s", shape: [2], .f32([0.1, -3]))
        try w.add("b", shape: [2], .bf16([0x3DCD, 0xC040]))   // 0.10009765625, -3
        try w.add("h", shape: [2], .f16([0x2E66, 0x0001]))    // 0.0999755859375, 2^-24
        try w.add("i", shape: [2], .i32([-7, .max]))
        try w.add("l", shape: [1], .i64([.min]))
        let f = try SafeTensorsFile(bytes: w.serialize())
        #expect(try f.floats("d") == [Float(0.1), 1, 1 + 0x1p-22, .infinity])
        #expect(try f.doubles("d") == [0.1, 1 + 0x1p-24, 1 + 3 * 0x1p-24, 1e300])
        #expect(try f.doubles("s") == [Double(Float(0.1)), -3])
        #expect(try f.doubles("b") == [0.10009765625, -3])
        #expect(try f.floats("b") == [0.10009765625, -3])
        #expect(try f.doubles("h") == [0.0999755859375, 0x1p-24])
        #expect(try f.floats("h") == [0.0999755859375, 0x1p-24])
        #expect(try f.int64s("i") == [-7, Int64(Int32.max)])
        #expect(try f.int64s("l") == [.min])
        #expect(try f.withRawBytes("i") { Array($0) } == [0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: SafeTensorsError.wrongDType(tensor: "i", dtype: .I32, requested: "doubles")) { try f.doubles("i") }
        #expect(throws: SafeTensorsError.wrongDType(tensor: "l", dtype: .I64, requested: "floats")) { try f.floats("l") }
        #expect(throws: SafeTensorsError.wrongDType(tensor: "s", dtype: .F32, requested: "int64s")) { try f.int64s("s") }
        #expect(throws: SafeTensorsError.tensorNotFound("nope")) { try f.rawBytes("nope") }
        #expect(throws: SafeTensorsError.tensorNotFound("nope")) { try f.doubles("nope") }
        #expect(f.info("nope") == nil)
    }

    @Test func unalignedButValidFileReadsCorrectly() throws {
        // Header of 55 + 4 = 59 bytes, not padded to 8: data starts at file
        // offset 67, so the F64 values sit at an odd address inside the buffer.
        let header = #"{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"# + "    "
        #expect((8 + header.utf8.count) % 2 == 1)
        let bytes = image(header, data: f64le([1.25, -2.5]))
        let f = try SafeTensorsFile(bytes: bytes)
        #expect(try f.doubles("x") == [1.25, -2.5])
        #expect(try f.floats("x") == [1.25, -2.5])
        // Same through the memory map.
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let m = try SafeTensorsFile(path: path)
        #expect(m.isMapped)
        #expect(try m.doubles("x") == [1.25, -2.5])
    }

    @Test func headerMayEndInJSONWhitespaceAndListTensorsInAnyOrder() throws {
        let header = "{\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]},"
            + "\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}} \t\r\n  "
        let f = try SafeTensorsFile(bytes: image(header, data: [1, 0, 0, 0, 2, 0, 0, 0]))
        #expect(f.tensors.map(\.name) == ["a", "b"])
        #expect(try f.int64s("b") == [2])
    }

    @Test func emptyTensorsMayShareOffsets() throws {
        let header = #"{"e2":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"#
            + #""x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""e1":{"dtype":"F16","shape":[5,0],"data_offsets":[4,4]},"#
            + #""e0":{"dtype":"F64","shape":[0],"data_offsets":[0,0]}}"#
        let f = try SafeTensorsFile(bytes: image(header, data: f32le([3])))
        #expect(f.tensors.map(\.name) == ["e0", "x", "e2", "e1"])
        #expect(try f.floats("e1").isEmpty)
        #expect(f.info("e1")?.shape == [5, 0])
    }
}

@Suite struct MappedFileTests {
    @Test func writeThenMapRoundTrip() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var w = SafeTensorsWriter(metadata: ["m": "1"])
        let big = (0..<10_000).map { Float($0) * 0.25 }
        try w.add("big", shape: [100, 100], .f32(big))
        try w.add("tok", shape: [3], .i64([1, 2, 3]))
        try w.write(to: path)
        let f = try SafeTensorsFile(path: path)
        #expect(f.isMapped)
        #expect(try f.floats("big") == big)
        #expect(try f.int64s("tok") == [1, 2, 3])
        #expect(f.metadata == ["m": "1"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(w.serialize()))
        // Overwriting replaces the file (rename) and leaves no temporary behind.
        var w2 = SafeTensorsWriter()
        try w2.add("x", shape: [], .i32([5]))
        try w2.write(to: path)
        #expect(try SafeTensorsFile(path: path).int64s("x") == [5])
        #expect(try f.floats("big") == big)  // the old mapping stays readable
        let dir = (path as NSString).deletingLastPathComponent
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasPrefix((path as NSString).lastPathComponent + ".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func nonexistentPathNamesThePath() {
        let path = temporaryPath()
        let e = caughtError { _ = try SafeTensorsFile(path: path) }
        #expect(e == .io(path: path, operation: "open", errno: ENOENT))
        #expect(e?.description.contains(path) == true)
        #expect(e?.description.contains("No such file") == true)
    }

    @Test func emptyFileIsAnErrorNotACrash() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let e = caughtError { _ = try SafeTensorsFile(path: path) }
        #expect(e == .inFile(path: path, .fileTooSmall(size: 0)))
        #expect(e?.rootCause == .fileTooSmall(size: 0))
        #expect(e?.description.hasPrefix(path + ": ") == true)
    }

    @Test func malformedFileOnDiskNamesThePath() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(image("{}", data: [1])).write(to: URL(fileURLWithPath: path))
        let e = caughtError { _ = try SafeTensorsFile(path: path) }
        #expect(e == .inFile(path: path, .trailingData(covered: 0, dataLength: 1)))
        #expect(e?.description == "\(path): data bytes [0, 1) at the end of the file belong to no tensor")
    }

    @Test func directoryIsRejected() {
        let dir = FileManager.default.temporaryDirectory.path
        #expect(caughtError { _ = try SafeTensorsFile(path: dir) } == .notARegularFile(path: dir))
    }

    @Test func writeIntoMissingDirectoryFailsNamingThePath() {
        let path = temporaryPath("/sub/x.safetensors")
        let e = caughtError { try SafeTensorsWriter().write(to: path) }
        guard case .io(let p, let op, let code)? = e else {
            Issue.record("expected an io error, got \(String(describing: e))")
            return
        }
        #expect(p.hasPrefix(path) && op == "open" && code == ENOENT)
    }
}
