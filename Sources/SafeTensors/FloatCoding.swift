// FloatCoding.swift — the one conversion between stored float elements and
// Float / Double values: SafeTensors' dtype decoder and encoder.
//
// Contract:
// - `FloatDType` is the float subset of `DType` (F64, F32, F16, BF16), the
//   dtypes whose elements convert to and from floating-point values.
// - `decode(_:into:)` reads `dst.count` little-endian elements from `src`
//   (any alignment) and converts them: to Double exactly from every dtype; to
//   Float exactly from F32/F16/BF16, F64 rounded to nearest.
// - `encode(_:into:)` is the inverse: F64 exactly from Float or Double, F32
//   rounded to nearest, BF16/F16 from the value rounded to Float first
//   (`bf16Bits`/`f16Bits`, round to nearest even) — so a Float tensor widened
//   to Double encodes exactly as the Float tensor does.
// - `nonFinite(in:)` counts NaN/±Inf by the stored bits (exponent all ones),
//   without converting anything.
// - Every function is `@inlinable`: callers in other modules get loops
//   specialized for Float and Double (a generic loop costs ~100× the read).

/// A float element type of a safetensors file.
public enum FloatDType: Sendable, Equatable {
    case F64, F32, F16, BF16

    /// The float dtype of `dtype`, nil for integer dtypes.
    @inlinable
    public init?(_ dtype: DType) {
        switch dtype {
        case .F64: self = .F64
        case .F32: self = .F32
        case .F16: self = .F16
        case .BF16: self = .BF16
        case .I64, .I32: return nil
        }
    }

    /// The header dtype.
    @inlinable
    public var dtype: DType {
        switch self {
        case .F64: return .F64
        case .F32: return .F32
        case .F16: return .F16
        case .BF16: return .BF16
        }
    }

    /// Bytes per element.
    @inlinable
    public var byteSize: Int { dtype.byteSize }

    /// Converts the `dst.count` stored elements in `src` (exactly
    /// `dst.count × byteSize` bytes, little-endian, any alignment).
    @inlinable
    public func decode<T: BinaryFloatingPoint>(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableBufferPointer<T>) {
        precondition(src.count == dst.count * byteSize, "decode: \(src.count) bytes for \(dst.count) \(dtype.rawValue) elements")
        switch self {
        case .F64:
            for i in 0..<dst.count { dst[i] = T(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        case .F32:
            for i in 0..<dst.count { dst[i] = T(Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
        case .F16:
            for i in 0..<dst.count { dst[i] = T(floatFromF16(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .BF16:
            for i in 0..<dst.count { dst[i] = T(floatFromBF16(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        }
    }

    /// The `count` stored elements in `src`, converted (see `decode(_:into:)`).
    @inlinable
    public func decoded<T: BinaryFloatingPoint>(_ src: UnsafeRawBufferPointer, count: Int, as: T.Type = T.self) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            decode(src, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }

    /// Stores `values` into `dst` (exactly `values.count × byteSize` bytes, little-endian).
    @inlinable
    public func encode<T: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<T>, into dst: UnsafeMutableRawBufferPointer) {
        precondition(dst.count == values.count * byteSize, "encode: \(dst.count) bytes for \(values.count) \(dtype.rawValue) elements")
        switch self {
        case .F64: for (i, v) in values.enumerated() { dst.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        case .F32: for (i, v) in values.enumerated() { dst.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .BF16: for (i, v) in values.enumerated() { dst.storeBytes(of: bf16Bits(Float(v)).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .F16: for (i, v) in values.enumerated() { dst.storeBytes(of: f16Bits(Float(v)).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        }
    }

    /// The little-endian bytes of `values` in this dtype (see `encode(_:into:)`).
    @inlinable
    public func encoded<T: BinaryFloatingPoint>(_ values: [T]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * byteSize)
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { encode(v, into: $0) } }
        return out
    }

    /// (number of NaN/±Inf elements, index of the first or -1) of the stored
    /// elements in `src`, judged by their bits (exponent all ones).
    @inlinable
    public func nonFinite(in src: UnsafeRawBufferPointer) -> (count: Int, first: Int) {
        var count = 0, first = -1
        @inline(__always) func note(_ i: Int) { if first < 0 { first = i }; count += 1 }
        switch self {
        case .F64:
            for i in 0..<(src.count / 8) where UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000 { note(i) }
        case .F32:
            for i in 0..<(src.count / 4) where UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) & 0x7F80_0000 == 0x7F80_0000 { note(i) }
        case .F16:
            for i in 0..<(src.count / 2) where UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & 0x7C00 == 0x7C00 { note(i) }
        case .BF16:
            for i in 0..<(src.count / 2) where UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & 0x7F80 == 0x7F80 { note(i) }
        }
        return (count, first)
    }
}

extension TensorData {
    /// The values of a float kind as Double (exact); nil for integer kinds.
    public func doubles() -> [Double]? { decodedFloats() }

    /// The values of a float kind as Float (F64 rounded to nearest); nil for integer kinds.
    public func floats() -> [Float]? { decodedFloats() }

    private func decodedFloats<T: BinaryFloatingPoint>() -> [T]? {
        guard let format = FloatDType(dtype) else { return nil }
        return withLittleEndianBytes { format.decoded($0, count: count) }
    }
}
