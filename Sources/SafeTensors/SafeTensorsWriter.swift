// SafeTensorsWriter.swift — writes safetensors files byte-identical to the
// reference (Rust/Python `safetensors`) writer for the same tensors.
//
// Contract:
// - `add` validates before storing: the name is new and not `__metadata__`,
//   every dimension is ≥ 0, product(shape) × element size does not overflow,
//   and the value count equals product(shape) (1 for shape []).
// - Layout and header: `SafeTensorsHeader` (the reference `prepare()`).
// - `write(to:)` streams the tensors through `ChunkedSafeTensorsWriter`: a
//   temporary file next to the target, fsynced, then renamed over the target;
//   on failure the temporary file is removed.

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

    /// The file layout and header of the tensors added so far.
    public var header: SafeTensorsHeader {
        SafeTensorsHeader(metadata: metadata, tensors: entries.map { ($0.name, $0.data.dtype, $0.shape) })
    }

    /// The complete file image.
    public func serialize() -> [UInt8] {
        let h = header
        var out = h.prefix
        out.reserveCapacity(h.fileSize)
        for e in h.entries { entries[e.index].data.withLittleEndianBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes the file to `path` tensor by tensor, via a temporary file and
    /// rename (`ChunkedSafeTensorsWriter`).
    public func write(to path: String) throws {
        let h = header
        let file = try ChunkedSafeTensorsWriter(path: path, header: h)
        for (k, e) in h.entries.enumerated() {
            try entries[e.index].data.withLittleEndianBytes { try file.write($0, entry: k, atByte: 0) }
        }
        try file.commit()
    }
}
