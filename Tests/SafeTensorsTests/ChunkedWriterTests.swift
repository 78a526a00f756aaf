// ChunkedWriterTests: the chunked writer (tensors written piece by piece, out
// of order) produces the image `SafeTensorsWriter.serialize()` builds in
// memory, leaves nothing behind when abandoned; the dtype coder agrees with
// the scalar conversions of Half.swift on every dtype.
import Foundation
import SafeTensors
import Testing

@Suite struct ChunkedWriterTests {
    @Test func chunksWrittenOutOfOrderGiveTheSerializedImage() throws {
        var rng = SplitMix64(seed: 5)
        let a = (0..<1000).map { _ in Double.random(in: -3...3, using: &rng) }
        let b = (0..<37).map { _ in Double.random(in: -3...3, using: &rng) }
        var writer = SafeTensorsWriter(metadata: ["k": "v"])
        try writer.add("b", shape: [37], .bf16(b.map { bf16Bits(Float($0)) }))
        try writer.add("a", shape: [10, 100], .bf16(a.map { bf16Bits(Float($0)) }))
        let header = writer.header
        #expect(header.entries.map(\.name) == ["a", "b"])
        let path = temporaryPath()
        defer { unlink(path) }
        let file = try ChunkedSafeTensorsWriter(path: path, header: header)
        // Entry 1 (b) first, then a in three chunks, last chunk first.
        try file.write(b, as: .BF16, entry: 1, atElement: 0)
        try file.write(Array(a[700...]), as: .BF16, entry: 0, atElement: 700)
        try file.write(Array(a[..<300]), as: .BF16, entry: 0, atElement: 0)
        try file.write(Array(a[300..<700]), as: .BF16, entry: 0, atElement: 300)
        #expect(!FileManager.default.fileExists(atPath: path), "nothing at the target before commit")
        try file.commit()
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == writer.serialize())
        #expect(!FileManager.default.fileExists(atPath: file.temporaryPath))
    }

    @Test func anAbandonedWriterLeavesNoFile() throws {
        let path = temporaryPath()
        var writer = SafeTensorsWriter()
        try writer.add("x", shape: [2], .f32([1, 2]))
        var file: ChunkedSafeTensorsWriter? = try ChunkedSafeTensorsWriter(path: path, header: writer.header)
        let tmp = file?.temporaryPath ?? ""
        #expect(FileManager.default.fileExists(atPath: tmp))
        file = nil
        #expect(!FileManager.default.fileExists(atPath: tmp) && !FileManager.default.fileExists(atPath: path))
    }

    @Test func writesOutsideATensorOrInAnotherDTypeAreErrors() throws {
        let path = temporaryPath()
        var writer = SafeTensorsWriter()
        try writer.add("x", shape: [4], .f32([1, 2, 3, 4]))
        let file = try ChunkedSafeTensorsWriter(path: path, header: writer.header)
        #expect(throws: SafeTensorsError.writeOutOfRange(tensor: "x", byteOffset: 8, byteCount: 12, tensorBytes: 16)) {
            try file.write([1, 2, 3], as: .F32, entry: 0, atElement: 2)   // one value too many
        }
        #expect(throws: SafeTensorsError.writeOutOfRange(tensor: "x", byteOffset: -4, byteCount: 4, tensorBytes: 16)) {
            try file.write([1], as: .F32, entry: 0, atElement: -1)
        }
        #expect(throws: SafeTensorsError.wrongDType(tensor: "x", dtype: .F32, requested: "a BF16 write")) {
            try file.write([1], as: .BF16, entry: 0, atElement: 0)
        }
        try file.write([1, 2, 3, 4], as: .F32, entry: 0, atElement: 0)   // the writer is still usable
        try file.commit()
        defer { unlink(path) }
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == writer.serialize())
    }

    @Test(arguments: [FloatDType.F64, .F32, .F16, .BF16])
    func coderAgreesWithTheScalarConversions(format: FloatDType) {
        var rng = SplitMix64(seed: 11)
        var values = (0..<4096).map { _ in Double(bitPattern: rng.next()) }  // every exponent, NaN and Inf included
        values += [0, -0.0, .infinity, -.infinity, .nan, 65520, 1e-8, 0.1]
        let bytes = format.encoded(values)
        let expected: [UInt8]
        switch format {
        case .F64: expected = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        case .F32: expected = values.flatMap { v in withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { Array($0) } }
        case .F16: expected = values.flatMap { v in withUnsafeBytes(of: f16Bits(Float(v)).littleEndian) { Array($0) } }
        case .BF16: expected = values.flatMap { v in withUnsafeBytes(of: bf16Bits(Float(v)).littleEndian) { Array($0) } }
        }
        #expect(bytes == expected)
        let doubles: [Double] = bytes.withUnsafeBytes { format.decoded($0, count: values.count) }
        let floats: [Float] = bytes.withUnsafeBytes { format.decoded($0, count: values.count) }
        let data: TensorData
        switch format {
        case .F64: data = .f64(values)
        case .F32: data = .f32(values.map { Float($0) })
        case .F16: data = .f16(values.map { f16Bits(Float($0)) })
        case .BF16: data = .bf16(values.map { bf16Bits(Float($0)) })
        }
        #expect(doubles.map(\.bitPattern) == data.doubles()?.map(\.bitPattern))
        #expect(floats.map(\.bitPattern) == data.floats()?.map(\.bitPattern))
        let reference: [Double] = {
            switch data {
            case .f64(let v): return v
            case .f32(let v): return v.map { Double($0) }
            case .f16(let v): return v.map { Double(floatFromF16($0)) }
            case .bf16(let v): return v.map { Double(floatFromBF16($0)) }
            default: return []
            }
        }()
        #expect(doubles.map(\.bitPattern) == reference.map(\.bitPattern))
        let scan = bytes.withUnsafeBytes { format.nonFinite(in: $0) }
        #expect(scan.count == doubles.filter { !$0.isFinite }.count)
        #expect(scan.first == (doubles.firstIndex { !$0.isFinite } ?? -1))
        #expect(TensorData.i32([1]).doubles() == nil && TensorData.i64([1]).floats() == nil)
    }
}
