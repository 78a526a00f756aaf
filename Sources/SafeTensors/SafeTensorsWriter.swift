// SafeTensorsWriter.swift — writes safetensors files byte-identical to the
// reference (Rust/Python `safetensors`) writer for the same tensors.
//
// Contract:
// - `add` validates before storing: the name is new and not `__metadata__`,
//   every dimension is ≥ 0, product(shape) × element size does not overflow,
//   and the value count equals product(shape) (1 for shape []).
// - Layout, as the reference `prepare()`: tensors sorted by dtype descending in
//   the reference's dtype order (I64, F64 | F32, I32 | BF16, F16 — so alignment
//   8, then 4, then 2), ties by name (UTF-8 byte order); data contiguous, no
//   holes, so every tensor starts aligned to its element size.
// - Header: compact JSON, `__metadata__` first when present (its keys sorted by
//   UTF-8 bytes; the reference uses hash order, identical for one key), then
//   the tensors in data order, each `{"dtype":"F32","shape":[2,3],"data_offsets":[b,e]}`;
//   padded with spaces (0x20) to a multiple of 8 bytes.
// - `write(to:)` writes a temporary file next to the target, fsyncs it, then
//   renames it over the target; on failure the temporary file is removed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public struct SafeTensorsWriter {
    struct Entry {
        let name: String
        let shape: [Int]
        let data: TensorData
    }

    public var metadata: [String: String]?
    private(set) var entries: [Entry] = []
    private var names: Set<String> = []

    public init(metadata: [String: String]? = nil) {
        self.metadata = metadata
    }

    /// Number of tensors added so far.
    public var count: Int { entries.count }

    /// Adds a tensor. Throws on a duplicate or reserved name, a negative
    /// dimension, an overflowing shape, or a value count ≠ product(shape).
    public mutating func add(_ name: String, shape: [Int], _ data: TensorData) throws {
        guard name != "__metadata__" else { throw SafeTensorsError.reservedTensorName(name) }
        guard !names.contains(name) else { throw SafeTensorsError.duplicateTensorName(name) }
        var elements = 1
        for (i, dim) in shape.enumerated() {
            guard dim >= 0 else {
                throw SafeTensorsError.negativeDimension(tensor: name, index: i, value: String(dim))
            }
            let (p, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw SafeTensorsError.shapeOverflow(tensor: name) }
            elements = p
        }
        guard !elements.multipliedReportingOverflow(by: data.dtype.byteSize).overflow else {
            throw SafeTensorsError.shapeOverflow(tensor: name)
        }
        guard elements == data.count else {
            throw SafeTensorsError.elementCountMismatch(tensor: name, shape: shape, count: data.count)
        }
        names.insert(name)
        entries.append(Entry(name: name, shape: shape, data: data))
    }

    /// Entries in file order (reference dtype rank descending, then name).
    var orderedEntries: [Entry] {
        entries.sorted { a, b in
            let ra = a.data.dtype.referenceRank, rb = b.data.dtype.referenceRank
            if ra != rb { return ra > rb }
            return utf8Precedes(a.name, b.name)
        }
    }

    /// The padded header JSON bytes and the ordered entries.
    func header() -> (bytes: [UInt8], ordered: [Entry]) {
        let ordered = orderedEntries
        var h: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if let metadata {
            appendJSONString("__metadata__", to: &h)
            h.append(UInt8(ascii: ":"))
            h.append(UInt8(ascii: "{"))
            for (k, key) in metadata.keys.sorted(by: utf8Precedes).enumerated() {
                if k > 0 { h.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &h)
                h.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key] ?? "", to: &h)
            }
            h.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        for e in ordered {
            if !first { h.append(UInt8(ascii: ",")) }
            first = false
            let end = offset + e.data.count * e.data.dtype.byteSize
            appendJSONString(e.name, to: &h)
            h.append(contentsOf: Array(":{\"dtype\":\"\(e.data.dtype.rawValue)\",\"shape\":[".utf8))
            h.append(contentsOf: Array(e.shape.map(String.init).joined(separator: ",").utf8))
            h.append(contentsOf: Array("],\"data_offsets\":[\(offset),\(end)]}".utf8))
            offset = end
        }
        h.append(UInt8(ascii: "}"))
        while h.count % 8 != 0 { h.append(0x20) }
        return (h, ordered)
    }

    /// The complete file image.
    public func serialize() -> [UInt8] {
        let (h, ordered) = header()
        var out: [UInt8] = []
        out.reserveCapacity(8 + h.count + ordered.reduce(0) { $0 + $1.data.count * $1.data.dtype.byteSize })
        out.append(contentsOf: leBytes(UInt64(h.count)))
        out.append(contentsOf: h)
        for e in ordered { out.append(contentsOf: e.data.littleEndianBytes()) }
        return out
    }

    /// Writes the file image to `path` via a temporary file and rename.
    public func write(to path: String) throws {
        let bytes = serialize()
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #if os(Linux)
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        #else
        let flags = O_WRONLY | O_CREAT | O_EXCL
        #endif
        let fd = open(tmp, flags, 0o644)
        guard fd >= 0 else { throw SafeTensorsError.io(path: tmp, operation: "open", errno: errno) }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        do {
            defer { close(fd) }
            let code = writeAll(fd, bytes)
            guard code == 0 else { throw SafeTensorsError.io(path: tmp, operation: "write", errno: code) }
            guard fsync(fd) == 0 else { throw SafeTensorsError.io(path: tmp, operation: "fsync", errno: errno) }
        }
        guard rename(tmp, path) == 0 else { throw SafeTensorsError.io(path: path, operation: "rename", errno: errno) }
        ok = true
    }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
/// Returns 0 or the errno of the failure.
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
    bytes.withUnsafeBytes { raw -> Int32 in
        guard let base = raw.baseAddress else { return 0 }
        var done = 0
        while done < raw.count {
            let r = write(fd, base + done, raw.count - done)
            if r < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += r
        }
        return 0
    }
}

/// The 8 little-endian bytes of `x`.
func leBytes(_ x: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: x >> (8 * UInt64($0))) }
}
