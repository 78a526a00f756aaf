// SafeTensorsError.swift — every way reading, looking up or writing a
// safetensors file can fail, one case per rule.
//
// Contract:
// - Each validation rule of the reader has its own case; each `description`
//   is a single line naming the problem with the tensor name, offsets and sizes
//   involved. Byte offsets into the header are file offsets (the header starts
//   at file offset 8); `data_offsets` values are relative to the data buffer.
// - Errors raised while reading from a path are wrapped in `.inFile(path:_:)`
//   (I/O errors carry the path themselves); `rootCause` unwraps.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    // MARK: File and I/O
    /// `operation` is the failing system call ("open", "fstat", "mmap", "write", ...).
    case io(path: String, operation: String, errno: Int32)
    case notARegularFile(path: String)
    /// A validation error found in the file at `path`.
    indirect case inFile(path: String, SafeTensorsError)

    // MARK: Layout
    /// Fewer than the 8 bytes of the header-length field (includes empty files).
    case fileTooSmall(size: Int)
    /// The header-length field exceeds the 100_000_000-byte limit.
    case headerTooLarge(length: UInt64)
    /// 8 + header length is more than the file size.
    case headerExceedsFile(length: UInt64, fileSize: Int)
    /// The header does not start with `{` (`firstByte` nil: zero-length header).
    case headerStartInvalid(firstByte: UInt8?)
    case headerInvalidUTF8(offset: Int)
    case headerInvalidJSON(offset: Int, message: String)
    case duplicateKey(name: String, offset: Int)
    /// The header's top-level value is not an object.
    case headerNotObject

    // MARK: Entries
    case metadataNotObject
    case metadataValueNotString(key: String)
    case entryNotObject(tensor: String)
    case missingField(tensor: String, field: String)
    case unexpectedField(tensor: String, field: String)
    /// `dtype` is the offending value (a string, or the JSON text of a non-string).
    case unknownDType(tensor: String, dtype: String)
    /// Shape is not an array of integers in [0, 2^53].
    case invalidShape(tensor: String)
    case negativeDimension(tensor: String, index: Int, value: String)
    /// product(shape) × element size overflows Int.
    case shapeOverflow(tensor: String)
    /// data_offsets is not an array of exactly two integers in [0, 2^53].
    case invalidDataOffsets(tensor: String)
    case offsetsReversed(tensor: String, begin: Int, end: Int)
    /// end − begin differs from product(shape) × element size.
    case byteCountMismatch(tensor: String, dtype: DType, shape: [Int], expected: Int, actual: Int)
    case offsetsOutOfBounds(tensor: String, begin: Int, end: Int, dataLength: Int)

    // MARK: Coverage of the data buffer
    case overlappingTensors(first: String, second: String, offset: Int)
    /// Bytes [from, to) of the data buffer belong to no tensor; `before` is the
    /// tensor that starts at `to`.
    case gapInData(from: Int, to: Int, before: String)
    /// Bytes [covered, dataLength) at the end of the data buffer belong to no tensor.
    case trailingData(covered: Int, dataLength: Int)

    // MARK: Lookup
    case tensorNotFound(String)
    /// `requested` names the accessor, e.g. "doubles".
    case wrongDType(tensor: String, dtype: DType, requested: String)

    // MARK: Writer
    case duplicateTensorName(String)
    case reservedTensorName(String)
    case elementCountMismatch(tensor: String, shape: [Int], count: Int)
    /// A chunked write that would leave the tensor's bytes (a producer emitting too many values).
    case writeOutOfRange(tensor: String, byteOffset: Int, byteCount: Int, tensorBytes: Int)

    /// The error with any `.inFile` wrappers removed.
    public var rootCause: SafeTensorsError {
        if case .inFile(_, let inner) = self { return inner.rootCause }
        return self
    }

    public var description: String {
        switch self {
        case let .io(path, operation, code):
            return "\(path): \(operation) failed: \(errnoText(code)) (errno \(code))"
        case let .notARegularFile(path):
            return "\(path): not a regular file"
        case let .inFile(path, inner):
            return "\(path): \(inner.description)"
        case let .fileTooSmall(size):
            return "file is \(size) bytes, shorter than the 8-byte header length field"
        case let .headerTooLarge(length):
            return "header length \(length) exceeds the limit of 100000000 bytes"
        case let .headerExceedsFile(length, fileSize):
            return "header length \(length) + 8 exceeds the file size \(fileSize)"
        case let .headerStartInvalid(firstByte):
            if let b = firstByte { return "header must start with '{' but starts with byte 0x\(hex2(b))" }
            return "header must start with '{' but is empty (length 0)"
        case let .headerInvalidUTF8(offset):
            return "header is not valid UTF-8 at file offset \(offset)"
        case let .headerInvalidJSON(offset, message):
            return "header is not valid JSON at file offset \(offset): \(message)"
        case let .duplicateKey(name, offset):
            return "duplicate header key \"\(name)\" at file offset \(offset)"
        case .headerNotObject:
            return "header is not a JSON object"
        case .metadataNotObject:
            return "__metadata__ must be an object of string values"
        case let .metadataValueNotString(key):
            return "__metadata__ value for key \"\(key)\" is not a string"
        case let .entryNotObject(tensor):
            return "tensor \"\(tensor)\": entry is not an object"
        case let .missingField(tensor, field):
            return "tensor \"\(tensor)\": missing field \"\(field)\""
        case let .unexpectedField(tensor, field):
            return "tensor \"\(tensor)\": unexpected field \"\(field)\" (allowed: dtype, shape, data_offsets)"
        case let .unknownDType(tensor, dtype):
            return "tensor \"\(tensor)\": unsupported dtype \(dtype) (supported: F64, F32, F16, BF16, I64, I32)"
        case let .invalidShape(tensor):
            return "tensor \"\(tensor)\": shape must be an array of integers in [0, 2^53]"
        case let .negativeDimension(tensor, index, value):
            return "tensor \"\(tensor)\": shape dimension \(index) is negative (\(value))"
        case let .shapeOverflow(tensor):
            return "tensor \"\(tensor)\": element count × element size overflows"
        case let .invalidDataOffsets(tensor):
            return "tensor \"\(tensor)\": data_offsets must be two integers in [0, 2^53]"
        case let .offsetsReversed(tensor, begin, end):
            return "tensor \"\(tensor)\": data_offsets begin \(begin) is after end \(end)"
        case let .byteCountMismatch(tensor, dtype, shape, expected, actual):
            return "tensor \"\(tensor)\": \(dtype.rawValue) shape \(shape) needs \(expected) bytes but data_offsets span \(actual)"
        case let .offsetsOutOfBounds(tensor, begin, end, dataLength):
            return "tensor \"\(tensor)\": data_offsets [\(begin), \(end)) extend beyond the data buffer of \(dataLength) bytes"
        case let .overlappingTensors(first, second, offset):
            return "tensors \"\(first)\" and \"\(second)\" overlap at data offset \(offset)"
        case let .gapInData(from, to, before):
            return "data bytes [\(from), \(to)) before tensor \"\(before)\" belong to no tensor"
        case let .trailingData(covered, dataLength):
            return "data bytes [\(covered), \(dataLength)) at the end of the file belong to no tensor"
        case let .tensorNotFound(name):
            return "no tensor named \"\(name)\""
        case let .wrongDType(tensor, dtype, requested):
            return "tensor \"\(tensor)\" has dtype \(dtype.rawValue), which \(requested) cannot read"
        case let .duplicateTensorName(name):
            return "tensor \"\(name)\" was already added"
        case let .reservedTensorName(name):
            return "\"\(name)\" is reserved and cannot name a tensor"
        case let .elementCountMismatch(tensor, shape, count):
            return "tensor \"\(tensor)\": shape \(shape) does not match \(count) values"
        case let .writeOutOfRange(tensor, byteOffset, byteCount, tensorBytes):
            return "tensor \"\(tensor)\": a write of \(byteCount) bytes at byte \(byteOffset) leaves its \(tensorBytes) bytes"
        }
    }
}

/// strerror text for an errno value.
func errnoText(_ code: Int32) -> String {
    guard let p = strerror(code) else { return "unknown error" }
    return String(cString: p)
}
