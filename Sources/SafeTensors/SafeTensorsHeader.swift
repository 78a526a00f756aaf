// SafeTensorsHeader.swift — the one safetensors header encoder: the layout
// of a file (tensor order and data offsets) and its header bytes.
//
// Contract (the reference Rust/Python `safetensors` `prepare()`):
// - Tensors are sorted by dtype descending in the reference's dtype order
//   (I64, F64 | F32, I32 | BF16, F16 — so alignment 8, then 4, then 2), ties
//   by name (UTF-8 byte order); data is contiguous, no holes, so every tensor
//   starts aligned to its element size.
// - The header is compact JSON, `__metadata__` first when present (its keys
//   sorted by UTF-8 bytes; the reference uses hash order, identical for one
//   key), then the tensors in data order, each
//   `{"dtype":"F32","shape":[2,3],"data_offsets":[b,e]}`; padded with spaces
//   (0x20) to a multiple of 8 bytes.
// - The caller has validated the tensors (distinct names, not `__metadata__`,
//   non-negative dimensions whose byte count does not overflow);
//   `SafeTensorsWriter.add` does that.

public struct SafeTensorsHeader: Sendable {
    /// One tensor's place in the file.
    public struct Entry: Sendable {
        /// Position of the tensor in the list given to `init`.
        public let index: Int
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range relative to the start of the data buffer.
        public let dataRange: Range<Int>

        /// Number of elements.
        public var elementCount: Int { dataRange.count / dtype.byteSize }
    }

    /// The tensors in data order.
    public let entries: [Entry]
    /// The padded header JSON (without the 8-byte length field).
    public let json: [UInt8]

    /// Size of the data buffer in bytes.
    public var dataLength: Int { entries.last?.dataRange.upperBound ?? 0 }
    /// Byte offset of the data buffer in the file.
    public var dataStart: Int { 8 + json.count }
    /// Size of the whole file in bytes.
    public var fileSize: Int { dataStart + dataLength }
    /// The first `dataStart` bytes of the file: the length field and the JSON.
    public var prefix: [UInt8] { leBytes(UInt64(json.count)) + json }

    /// Lays out `tensors` (validated by the caller, see the file comment).
    public init(metadata: [String: String]?, tensors: [(name: String, dtype: DType, shape: [Int])]) {
        let order = tensors.indices.sorted { a, b in
            let ra = tensors[a].dtype.referenceRank, rb = tensors[b].dtype.referenceRank
            if ra != rb { return ra > rb }
            return utf8Precedes(tensors[a].name, tensors[b].name)
        }
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
        var entries: [Entry] = []
        entries.reserveCapacity(tensors.count)
        var offset = 0
        for k in order {
            let t = tensors[k]
            if !first { h.append(UInt8(ascii: ",")) }
            first = false
            let end = offset + t.shape.reduce(1, *) * t.dtype.byteSize
            appendJSONString(t.name, to: &h)
            h.append(contentsOf: Array(":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[".utf8))
            h.append(contentsOf: Array(t.shape.map(String.init).joined(separator: ",").utf8))
            h.append(contentsOf: Array("],\"data_offsets\":[\(offset),\(end)]}".utf8))
            entries.append(Entry(index: k, name: t.name, dtype: t.dtype, shape: t.shape, dataRange: offset..<end))
            offset = end
        }
        h.append(UInt8(ascii: "}"))
        while h.count % 8 != 0 { h.append(0x20) }
        self.entries = entries
        self.json = h
    }
}

/// The 8 little-endian bytes of `x`.
func leBytes(_ x: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: x >> (8 * UInt64($0))) }
}
