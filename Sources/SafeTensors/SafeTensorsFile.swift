// SafeTensorsFile.swift — strict safetensors reader (memory-mapped or in memory).
//
// Contract:
// - Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON header
//   (must start with `{`, may end in whitespace padding), then the data buffer.
// - Validation, each rule its own `SafeTensorsError` case, checked in this order:
//   size ≥ 8; N ≤ 100_000_000; 8 + N ≤ file size; header starts with `{`;
//   header is valid UTF-8; header is strict JSON (no duplicate keys; numbers are
//   plain integer lexemes, since only shapes and offsets are numeric); top level
//   is an object; `__metadata__` (optional) is a string→string object; every
//   other entry is an object with exactly `dtype`, `shape`, `data_offsets`; the
//   dtype is one of F64 F32 F16 BF16 I64 I32; the shape is an array of
//   non-negative integers ≤ 2^53 whose product × element size does not overflow;
//   data_offsets are two integers in [0, 2^53] with begin ≤ end; end − begin =
//   product(shape) × element size; end ≤ data length; then, in data order, the
//   ranges tile [0, data length) exactly: no overlap, no gap, no trailing bytes.
//   (Empty tensors may share an offset with each other at a tensor boundary.)
// - Rank-0 (shape []) tensors hold one element; empty tensors hold none.
// - Malformed input of any kind throws; nothing traps or reads out of bounds.
// - Values are copied out with memcpy into fresh arrays (never by reinterpreting
//   a pointer into the buffer), so unaligned data — a header not padded to 8
//   bytes, as some writers produce — reads correctly. Values are little-endian.
// - `doubles` reads F64/F32/F16/BF16 exactly; `floats` reads F32/F16/BF16 exactly
//   and rounds F64 to nearest (both through the dtype decoder of
//   FloatCoding.swift); `int64s` reads I64/I32; `rawBytes` any dtype.
// - Immutable after init; safe to share across threads.

public final class SafeTensorsFile: @unchecked Sendable {
    /// The reference implementation's header size limit.
    public static let maxHeaderLength = 100_000_000

    /// Tensors in data-offset order (ties, which only empty tensors can have,
    /// keep header order).
    public let tensors: [TensorInfo]
    /// The `__metadata__` object, or nil when the header has none.
    public let metadata: [String: String]?
    /// Header length N from the first 8 bytes; the data buffer starts at 8 + N.
    public let headerLength: Int
    /// Size in bytes of the data buffer.
    public let dataLength: Int

    private let storage: Storage
    private let index: [String: Int]

    /// Memory-maps and validates the file at `path`. Validation errors come
    /// wrapped as `.inFile(path:_:)`; I/O errors name the path themselves.
    public convenience init(path: String) throws {
        let storage = try Storage(path: path)
        do {
            try self.init(storage: storage)
        } catch let error as SafeTensorsError {
            throw SafeTensorsError.inFile(path: path, error)
        }
    }

    /// Validates an in-memory safetensors image.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(storage: Storage(bytes: bytes))
    }

    private init(storage: Storage) throws {
        let parsed = try storage.withBytes { try SafeTensorsFile.parse($0) }
        self.storage = storage
        self.tensors = parsed.tensors
        self.metadata = parsed.metadata
        self.headerLength = parsed.headerLength
        self.dataLength = parsed.dataLength
        var index: [String: Int] = [:]
        for (k, t) in parsed.tensors.enumerated() { index[t.name] = k }
        self.index = index
    }

    /// Tensor names sorted by their UTF-8 bytes.
    public var names: [String] { tensors.map(\.name).sorted(by: utf8Precedes) }

    /// True when the file is memory-mapped rather than held in an array.
    public var isMapped: Bool { storage.isMapped }

    public func info(_ name: String) -> TensorInfo? {
        guard let k = index[name] else { return nil }
        return tensors[k]
    }

    // MARK: Typed access

    /// Values of an F64, F32, F16 or BF16 tensor, converted exactly to Double.
    public func doubles(_ name: String) throws -> [Double] { try decodedValues(name, requested: "doubles") }

    /// Values of an F32, F16 or BF16 tensor exactly, or of an F64 tensor
    /// rounded to the nearest Float.
    public func floats(_ name: String) throws -> [Float] { try decodedValues(name, requested: "floats") }

    /// Values of a float tensor as `T` (exact whenever T can hold the stored dtype).
    public func values<T: BinaryFloatingPoint>(_ name: String, as: T.Type = T.self) throws -> [T] {
        // Same element type: reinterpret the array (O(1)); an `as? [T]` cast copies element by element
        // when the function is not specialized.
        if T.self == Float.self { return unsafeBitCast(try floats(name), to: [T].self) }
        if T.self == Double.self { return unsafeBitCast(try doubles(name), to: [T].self) }
        return try doubles(name).map { T($0) }
    }

    /// A float tensor's values through the dtype decoder (FloatCoding.swift).
    private func decodedValues<T: BinaryFloatingPoint>(_ name: String, requested: String) throws -> [T] {
        let t = try lookup(name)
        guard let format = FloatDType(t.dtype) else {
            throw SafeTensorsError.wrongDType(tensor: name, dtype: t.dtype, requested: requested)
        }
        let r = absoluteRange(t)
        return storage.withBytes { format.decoded(UnsafeRawBufferPointer(rebasing: $0[r]), count: t.elementCount) }
    }

    /// Values of an I64 or I32 tensor.
    public func int64s(_ name: String) throws -> [Int64] {
        let t = try lookup(name)
        switch t.dtype {
        case .I64: return copyIntegers(t, Int64.self)
        case .I32: return copyIntegers(t, Int32.self).map { Int64($0) }
        case .F64, .F32, .F16, .BF16:
            throw SafeTensorsError.wrongDType(tensor: name, dtype: t.dtype, requested: "int64s")
        }
    }

    /// The tensor's bytes exactly as stored (little-endian).
    public func rawBytes(_ name: String) throws -> [UInt8] {
        let t = try lookup(name)
        return storage.copyBytes(absoluteRange(t))
    }

    /// The tensor's values in their stored dtype (half kinds as raw bits).
    public func data(_ name: String) throws -> TensorData {
        let t = try lookup(name)
        switch t.dtype {
        case .F64: return .f64(copyIntegers(t, UInt64.self).map { Double(bitPattern: $0) })
        case .F32: return .f32(copyIntegers(t, UInt32.self).map { Float(bitPattern: $0) })
        case .F16: return .f16(copyIntegers(t, UInt16.self))
        case .BF16: return .bf16(copyIntegers(t, UInt16.self))
        case .I64: return .i64(copyIntegers(t, Int64.self))
        case .I32: return .i32(copyIntegers(t, Int32.self))
        }
    }

    /// Calls `body` with the tensor's stored bytes, without copying. The
    /// pointer may be unaligned; read it with `loadUnaligned` or copy it.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let t = try lookup(name)
        let r = absoluteRange(t)
        return try storage.withBytes { try body(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    /// The tensor's stored bytes inside the file's memory map, without copying,
    /// for kernels that read weights in place (the fast path, SPEC.md §2.8);
    /// nil when the file is held in an array or has no tensor `name`. The
    /// pointer is valid while this object lives and may be unaligned (check
    /// before typing it). Reading it after the file was truncated on disk
    /// faults (SIGBUS, see MappedFile.swift).
    public func mappedBytes(_ name: String) -> UnsafeRawBufferPointer? {
        guard storage.isMapped, let t = info(name) else { return nil }
        let r = absoluteRange(t)
        // the mapping lives as long as `storage`, which this object holds
        return storage.withBytes { UnsafeRawBufferPointer(rebasing: $0[r]) }
    }

    private func lookup(_ name: String) throws -> TensorInfo {
        guard let t = info(name) else { throw SafeTensorsError.tensorNotFound(name) }
        return t
    }

    private func absoluteRange(_ t: TensorInfo) -> Range<Int> {
        let start = 8 + headerLength
        return (start + t.dataRange.lowerBound)..<(start + t.dataRange.upperBound)
    }

    /// Copies the tensor's bytes into a new array of `T` (memcpy, so any
    /// alignment works) and converts from little-endian.
    private func copyIntegers<T: FixedWidthInteger>(_ t: TensorInfo, _: T.Type) -> [T] {
        let r = absoluteRange(t)
        let n = r.count / MemoryLayout<T>.size
        let values = storage.withBytes { all -> [T] in
            let src = UnsafeRawBufferPointer(rebasing: all[r])
            return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: src)
                initialized = n
            }
        }
        #if _endian(little)
        return values
        #else
        return values.map { T(littleEndian: $0) }
        #endif
    }

    // MARK: Parsing and validation

    struct Parsed {
        var tensors: [TensorInfo]
        var metadata: [String: String]?
        var headerLength: Int
        var dataLength: Int
    }

    /// Parses and validates a whole safetensors image.
    static func parse(_ buffer: UnsafeRawBufferPointer) throws -> Parsed {
        let size = buffer.count
        guard size >= 8 else { throw SafeTensorsError.fileTooSmall(size: size) }
        var n: UInt64 = 0
        for k in 0..<8 { n |= UInt64(buffer[k]) << (8 * UInt64(k)) }
        guard n <= UInt64(maxHeaderLength) else { throw SafeTensorsError.headerTooLarge(length: n) }
        let headerLength = Int(n)  // ≤ 1e8, fits
        guard headerLength <= size - 8 else {
            throw SafeTensorsError.headerExceedsFile(length: n, fileSize: size)
        }
        guard headerLength > 0 else { throw SafeTensorsError.headerStartInvalid(firstByte: nil) }
        guard buffer[8] == UInt8(ascii: "{") else {
            throw SafeTensorsError.headerStartInvalid(firstByte: buffer[8])
        }
        let headerBytes = Array(UnsafeRawBufferPointer(rebasing: buffer[8..<(8 + headerLength)]))
        var parser = JSONParser(bytes: headerBytes, integersOnly: true)
        let json: JSONValue
        do {
            json = try parser.parseDocument()
        } catch let e as JSONError {
            let offset = e.offset + 8
            switch e.kind {
            case .invalidUTF8: throw SafeTensorsError.headerInvalidUTF8(offset: offset)
            case .duplicateKey(let key): throw SafeTensorsError.duplicateKey(name: key, offset: offset)
            default: throw SafeTensorsError.headerInvalidJSON(offset: offset, message: e.message)
            }
        }
        let dataLength = size - 8 - headerLength
        let (tensors, metadata) = try validateHeader(json, dataLength: dataLength)
        return Parsed(tensors: tensors, metadata: metadata, headerLength: headerLength, dataLength: dataLength)
    }

    /// 2^53: the largest integer range a JSON number (Double) holds exactly.
    static let maxExactInteger: Double = 9_007_199_254_740_992

    /// A non-negative integer in [0, 2^53] (not -0), or nil.
    private static func nonNegativeInteger(_ v: JSONValue) -> Int? {
        guard case .number(let x) = v, x.sign == .plus, x <= maxExactInteger,
              x == x.rounded(.towardZero) else { return nil }
        return Int(exactly: x)
    }

    /// Validates a parsed header against a data buffer of `dataLength` bytes.
    static func validateHeader(_ json: JSONValue, dataLength: Int) throws
        -> (tensors: [TensorInfo], metadata: [String: String]?)
    {
        guard case .object(let entries) = json else { throw SafeTensorsError.headerNotObject }
        var metadata: [String: String]? = nil
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(entries.count)

        for (name, entry) in entries {
            if name == "__metadata__" {
                guard case .object(let pairs) = entry else { throw SafeTensorsError.metadataNotObject }
                var m: [String: String] = [:]
                for (key, value) in pairs {
                    guard case .string(let s) = value else {
                        throw SafeTensorsError.metadataValueNotString(key: key)
                    }
                    m[key] = s
                }
                metadata = m
                continue
            }
            tensors.append(try validateEntry(name: name, entry, dataLength: dataLength))
        }

        // Coverage: in data order, each range must start where the previous one
        // ended, and the last must end at dataLength.
        let order = tensors.indices.sorted { a, b in
            let x = tensors[a].dataRange, y = tensors[b].dataRange
            if x.lowerBound != y.lowerBound { return x.lowerBound < y.lowerBound }
            if x.upperBound != y.upperBound { return x.upperBound < y.upperBound }
            return a < b
        }
        var covered = 0
        var coveringName: String? = nil
        for k in order {
            let t = tensors[k]
            let r = t.dataRange
            if r.lowerBound > covered {
                throw SafeTensorsError.gapInData(from: covered, to: r.lowerBound, before: t.name)
            }
            if r.lowerBound < covered {
                throw SafeTensorsError.overlappingTensors(first: coveringName ?? "", second: t.name,
                                                          offset: r.lowerBound)
            }
            if !r.isEmpty || coveringName == nil { coveringName = t.name }
            covered = r.upperBound
        }
        if covered != dataLength {
            throw SafeTensorsError.trailingData(covered: covered, dataLength: dataLength)
        }
        return (order.map { tensors[$0] }, metadata)
    }

    private static func validateEntry(name: String, _ entry: JSONValue, dataLength: Int) throws -> TensorInfo {
        guard case .object(let fields) = entry else { throw SafeTensorsError.entryNotObject(tensor: name) }
        var dtypeValue: JSONValue? = nil
        var shapeValue: JSONValue? = nil
        var offsetsValue: JSONValue? = nil
        for (field, value) in fields {
            switch field {
            case "dtype": dtypeValue = value
            case "shape": shapeValue = value
            case "data_offsets": offsetsValue = value
            default: throw SafeTensorsError.unexpectedField(tensor: name, field: field)
            }
        }
        guard let dtypeValue else { throw SafeTensorsError.missingField(tensor: name, field: "dtype") }
        guard let shapeValue else { throw SafeTensorsError.missingField(tensor: name, field: "shape") }
        guard let offsetsValue else { throw SafeTensorsError.missingField(tensor: name, field: "data_offsets") }

        guard case .string(let dtypeName) = dtypeValue else {
            throw SafeTensorsError.unknownDType(tensor: name, dtype: dtypeValue.serialized())
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(tensor: name, dtype: dtypeName)
        }

        guard case .array(let dims) = shapeValue else { throw SafeTensorsError.invalidShape(tensor: name) }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (i, d) in dims.enumerated() {
            if case .number(let x) = d, x < 0 {
                throw SafeTensorsError.negativeDimension(tensor: name, index: i, value: d.serialized())
            }
            guard let dim = nonNegativeInteger(d) else { throw SafeTensorsError.invalidShape(tensor: name) }
            shape.append(dim)
        }
        var elements = 1
        for dim in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw SafeTensorsError.shapeOverflow(tensor: name) }
            elements = p
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw SafeTensorsError.shapeOverflow(tensor: name) }

        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
              let begin = nonNegativeInteger(offsets[0]), let end = nonNegativeInteger(offsets[1])
        else { throw SafeTensorsError.invalidDataOffsets(tensor: name) }
        guard begin <= end else { throw SafeTensorsError.offsetsReversed(tensor: name, begin: begin, end: end) }
        guard end - begin == byteCount else {
            throw SafeTensorsError.byteCountMismatch(tensor: name, dtype: dtype, shape: shape,
                                                     expected: byteCount, actual: end - begin)
        }
        guard end <= dataLength else {
            throw SafeTensorsError.offsetsOutOfBounds(tensor: name, begin: begin, end: end, dataLength: dataLength)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }
}
