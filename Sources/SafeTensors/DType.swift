// DType.swift — element types, tensor descriptions and typed tensor payloads.
//
// Contract:
// - `DType` is the subset of safetensors dtypes this package reads and writes:
//   F64, F32, F16, BF16, I64, I32 (raw values are the exact header spellings).
// - `TensorInfo` describes one tensor of a parsed file; `dataRange` is relative
//   to the start of the data buffer (the byte after the header) and always has
//   `count == elementCount * dtype.byteSize` for a validated file.
// - `TensorData` is what the writer accepts and what `SafeTensorsFile.data(_:)`
//   returns: values in host representation, half-precision kinds as raw bits.

/// A safetensors element type supported by this package.
public enum DType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32

    /// Bytes per element (also the alignment the reference writer guarantees).
    public var byteSize: Int {
        switch self {
        case .F64, .I64: return 8
        case .F32, .I32: return 4
        case .F16, .BF16: return 2
        }
    }

    /// Position in the reference implementation's `Dtype` enum
    /// (`... I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64`). The
    /// reference writer orders tensors by this rank descending, then by name,
    /// which groups them by alignment 8, 4, 2 (I64 before F64, F32 before I32,
    /// BF16 before F16).
    var referenceRank: Int {
        switch self {
        case .F16: return 0
        case .BF16: return 1
        case .I32: return 2
        case .F32: return 3
        case .F64: return 4
        case .I64: return 5
        }
    }

    /// True for F64, F32, F16 and BF16.
    public var isFloatingPoint: Bool {
        switch self {
        case .F64, .F32, .F16, .BF16: return true
        case .I64, .I32: return false
        }
    }
}

/// One tensor entry of a validated safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data buffer.
    public let dataRange: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], dataRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataRange = dataRange
    }

    /// Number of elements: `dataRange.count / dtype.byteSize`, which a validated
    /// file guarantees equals the product of `shape` (1 for rank 0).
    public var elementCount: Int { dataRange.count / dtype.byteSize }
}

/// Typed tensor values. Half-precision kinds carry raw bit patterns.
public enum TensorData: Sendable, Equatable {
    case f64([Double])
    case f32([Float])
    case bf16([UInt16])
    case f16([UInt16])
    case i64([Int64])
    case i32([Int32])

    public var dtype: DType {
        switch self {
        case .f64: return .F64
        case .f32: return .F32
        case .bf16: return .BF16
        case .f16: return .F16
        case .i64: return .I64
        case .i32: return .I32
        }
    }

    public var count: Int {
        switch self {
        case .f64(let v): return v.count
        case .f32(let v): return v.count
        case .bf16(let v): return v.count
        case .f16(let v): return v.count
        case .i64(let v): return v.count
        case .i32(let v): return v.count
        }
    }

    /// Equality is bitwise for floating-point kinds, so NaN payloads and the
    /// sign of zero are compared exactly (a round trip must preserve them).
    public static func == (lhs: TensorData, rhs: TensorData) -> Bool {
        switch (lhs, rhs) {
        case (.f64(let a), .f64(let b)): return a.map(\.bitPattern) == b.map(\.bitPattern)
        case (.f32(let a), .f32(let b)): return a.map(\.bitPattern) == b.map(\.bitPattern)
        case (.bf16(let a), .bf16(let b)): return a == b
        case (.f16(let a), .f16(let b)): return a == b
        case (.i64(let a), .i64(let b)): return a == b
        case (.i32(let a), .i32(let b)): return a == b
        default: return false
        }
    }

    /// Little-endian bytes of the values, as stored in a safetensors file.
    func littleEndianBytes() -> [UInt8] { withLittleEndianBytes { Array($0) } }

    /// Calls `body` with the values' little-endian bytes (without a copy on a
    /// little-endian host).
    func withLittleEndianBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        #if _endian(little)
        switch self {
        case .f64(let v): return try v.withUnsafeBytes(body)
        case .f32(let v): return try v.withUnsafeBytes(body)
        case .bf16(let v): return try v.withUnsafeBytes(body)
        case .f16(let v): return try v.withUnsafeBytes(body)
        case .i64(let v): return try v.withUnsafeBytes(body)
        case .i32(let v): return try v.withUnsafeBytes(body)
        }
        #else
        let bytes: [UInt8]
        switch self {
        case .f64(let v): bytes = bigEndianHostBytes(v.map(\.bitPattern))
        case .f32(let v): bytes = bigEndianHostBytes(v.map(\.bitPattern))
        case .bf16(let v): bytes = bigEndianHostBytes(v)
        case .f16(let v): bytes = bigEndianHostBytes(v)
        case .i64(let v): bytes = bigEndianHostBytes(v)
        case .i32(let v): bytes = bigEndianHostBytes(v)
        }
        return try bytes.withUnsafeBytes(body)
        #endif
    }
}

#if !_endian(little)
/// Little-endian serialization of fixed-width integers on a big-endian host.
private func bigEndianHostBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.map(\.littleEndian).withUnsafeBytes { Array($0) }
}
#endif
