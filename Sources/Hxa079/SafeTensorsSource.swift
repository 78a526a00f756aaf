// SafeTensorsSource: the tensors of one or more safetensors files under
// internal names (SPEC.md §2.2), the `TensorSource` behind `ModelDirectory`.
//
// Contract:
// - Stored names are HF-style or RWKV-style (one scheme per checkpoint) and
//   mapped once to the internal names. Problems of the files taken together —
//   a tensor given twice (across files or naming schemes), index entries
//   disagreeing with the shards, both naming schemes at once — are collected
//   in `sourceProblems` (`ModelDirectory` refuses to open with any).
// - Every file's header was parsed and validated by `SafeTensorsFile` (which
//   maps the file); tensor values are read with `pread`, one tensor at a time
//   in 4 MiB chunks, and converted by SafeTensors' dtype decoder
//   (`FloatDType`) as they arrive. A file truncated while open gives an error
//   instead of SIGBUS. `doubles(_:rows:)` / `floats(_:rows:)` read only the
//   given rows (first dimension). `scanNonFinite` checks the stored bits and
//   keeps no values.

import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The tensors of one or more safetensors files under internal names.
public final class SafeTensorsSource: TensorSource, NonFiniteScanning, SourceProblemReporting {
    struct Entry {
        let file: Int
        let stored: String
        let info: TensorInfo
    }

    /// internal name → where the tensor is stored
    private var entries: [String: Entry] = [:]
    private var sortedNames: [String] = []
    /// Internal names that appeared twice (across files or naming schemes).
    public private(set) var duplicateNames: [String] = []
    /// Problems of the files taken together (duplicates, index, schemes).
    public private(set) var sourceProblems: [String] = []
    /// The naming scheme the files use (SPEC.md §2.2).
    public let naming: TensorNaming
    /// True when the files used the RWKV-style scheme.
    public var rwkvStyle: Bool { naming == .rwkv }
    /// The files, with their paths.
    public let files: [(path: String, file: SafeTensorsFile)]

    /// Bytes read per `pread` (a multiple of every element size).
    static let chunkBytes = 1 << 22

    /// `index`: the `weight_map` of `model.safetensors.index.json` (stored
    /// tensor name → shard file name), checked against the files' contents.
    public init(files: [(path: String, file: SafeTensorsFile)], index: [(tensor: String, shard: String)]? = nil) {
        self.files = files
        let allStored = files.flatMap { $0.file.names }
        var problems: [String] = []
        if let n = TensorName.naming(of: allStored) {
            naming = n
        } else {
            naming = TensorName.isRWKVStyle(allStored) && !allStored.contains(TensorName.embedding) ? .rwkv : .hf
            if allStored.contains(TensorName.embedding) && allStored.contains(TensorName.rwkvEmbedding) {
                problems.append("both \(TensorName.embedding) (HF-style) and \(TensorName.rwkvEmbedding) (RWKV-style) are present: a checkpoint must use one naming scheme")
            }
        }
        if let index {
            let byShard = Dictionary(grouping: index, by: { $0.shard })
            var listed = Set<String>()
            for (tensor, shard) in index {
                listed.insert(tensor)
                if let f = files.first(where: { lastComponent($0.path) == shard }), f.file.info(tensor) == nil {
                    problems.append("model.safetensors.index.json maps \(tensor) to \(shard), which does not hold it")
                }
            }
            for (path, file) in files {
                let shard = lastComponent(path)
                let mine = Set((byShard[shard] ?? []).map { $0.tensor })
                for n in file.names where !mine.contains(n) {
                    problems.append(listed.contains(n)
                        ? "tensor \(n) is stored in \(shard) but model.safetensors.index.json maps it to another shard"
                        : "tensor \(n) in \(shard) is not listed in model.safetensors.index.json")
                }
            }
        }
        // GQA layers, for the RWKV-style `ln_r` mapping.
        var gqaLayers = Set<Int>()
        for name in allStored where name.hasPrefix("blocks.") && name.hasSuffix(".att.q_proj.weight") {
            if let i = name.split(separator: ".").dropFirst().first.flatMap({ Int($0) }) { gqaLayers.insert(i) }
        }
        for (k, (path, file)) in files.enumerated() {
            for info in file.tensors {
                let mapped = naming == .rwkv ? TensorName.canonicalName(info.name, isGQALayer: { gqaLayers.contains($0) }) : info.name
                if let earlier = entries[mapped] {
                    duplicateNames.append(mapped)
                    problems.append("tensor \(mapped) is given twice: as \(earlier.stored) in \(lastComponent(files[earlier.file].path)) and as \(info.name) in \(lastComponent(path))")
                    continue
                }
                entries[mapped] = Entry(file: k, stored: info.name, info: info)
            }
        }
        sortedNames = entries.keys.sorted()
        sourceProblems = problems
    }

    public var tensorNames: [String] { sortedNames }
    public func shape(of name: String) -> [Int]? { entries[name]?.info.shape }
    public func dtype(of name: String) -> DType? { entries[name]?.info.dtype }
    /// The name under which `name` is stored (nil when absent).
    public func storedName(of name: String) -> String? { entries[name]?.stored }
    /// The file holding `name` (nil when absent).
    public func filePath(of name: String) -> String? { entries[name].map { files[$0.file].path } }
    /// Number of elements of `name` (nil when absent).
    public func elementCount(of name: String) -> Int? { entries[name]?.info.elementCount }

    func displayName(_ name: String) -> String {
        if let e = entries[name] { return e.stored }
        return naming == .rwkv ? TensorName.rwkvStyleName(name) : name
    }

    /// `name`'s stored bytes in its file's memory map, its dtype and the file
    /// that keeps the mapping alive (nil when absent or not mapped): for the
    /// fast path's in-place weights (SPEC.md §2.8). The bytes are valid while
    /// `owner` lives.
    public func mapped(_ name: String) -> (bytes: UnsafeRawBufferPointer, dtype: DType, owner: SafeTensorsFile)? {
        guard let e = entries[name] else { return nil }
        let file = files[e.file].file
        guard let bytes = file.mappedBytes(e.stored) else { return nil }
        return (bytes, e.info.dtype, file)
    }

    /// Asks the kernel to start reading the stored bytes of `names` into the
    /// page cache now, without waiting (`posix_fadvise(POSIX_FADV_WILLNEED)`;
    /// a no-op where it does not exist): the streamed engines name the next
    /// layer's tensors while the current one computes, so a model larger than
    /// the page cache is read while it runs instead of between layers.
    /// Unknown names and failures are ignored (a hint, not a read).
    public func prefetch(_ names: [String]) {
        #if os(Linux)
        var byFile: [Int: [Range<Int>]] = [:]
        for name in names {
            guard let e = entries[name] else { continue }
            let start = 8 + files[e.file].file.headerLength + e.info.dataRange.lowerBound
            byFile[e.file, default: []].append(start..<(start + e.info.dataRange.count))
        }
        for (k, ranges) in byFile {
            let fd = open(files[k].path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            for r in ranges where !r.isEmpty { _ = posix_fadvise(fd, off_t(r.lowerBound), off_t(r.count), POSIX_FADV_WILLNEED) }
            close(fd)
        }
        #endif
    }

    /// The entry of a float tensor `name`, with its float dtype.
    private func entry(_ name: String) throws -> (Entry, FloatDType) {
        guard let e = entries[name] else { throw Hxa079Error.invalidModel(["missing tensor \(displayName(name))"]) }
        guard let format = FloatDType(e.info.dtype) else {
            throw Hxa079Error.invalidModel(["tensor \(e.stored) has integer dtype \(e.info.dtype.rawValue); weights must be F64, F32, F16 or BF16"])
        }
        return (e, format)
    }

    /// Calls `body` with consecutive chunks of the stored bytes of elements
    /// `elements` (all when nil) of `e` and the index, relative to the range's
    /// start, of each chunk's first element.
    private func forEachChunk(_ e: Entry, elements: Range<Int>? = nil,
                              _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let (path, file) = files[e.file]
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        #else
        let fd = open(path, O_RDONLY)
        #endif
        guard fd >= 0 else { throw Hxa079Error.io(path: path, message: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        let size = e.info.dtype.byteSize
        let range = elements ?? 0..<e.info.elementCount
        let start = 8 + file.headerLength + e.info.dataRange.lowerBound + range.lowerBound * size
        let total = range.count * size
        var buffer = [UInt8](repeating: 0, count: max(1, min(Self.chunkBytes, total)))
        try buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            var done = 0
            while done < total {
                let want = min(raw.count, total - done)
                var got = 0
                while got < want {
                    let r = pread(fd, base + got, want - got, off_t(start + done + got))
                    if r < 0 {
                        if errno == EINTR { continue }
                        throw Hxa079Error.io(path: path, message: "read of tensor \(e.stored) failed (\(String(cString: strerror(errno))))")
                    }
                    if r == 0 {
                        throw Hxa079Error.io(path: path, message: "file ended inside tensor \(e.stored) (truncated while open?)")
                    }
                    got += r
                }
                try body(UnsafeRawBufferPointer(rebasing: raw[0..<want]), done / size)
                done += want
            }
        }
    }

    public func doubles(_ name: String) throws -> [Double] { try decodedValues(name, rows: nil) }
    public func floats(_ name: String) throws -> [Float] { try decodedValues(name, rows: nil) }

    /// Rows `rows` (indices along the first dimension; elements of a rank-1
    /// tensor) of a float tensor as Double, row-major, read from the file alone.
    public func doubles(_ name: String, rows: Range<Int>) throws -> [Double] { try decodedValues(name, rows: rows) }
    /// Rows `rows` of a float tensor as Float (see `doubles(_:rows:)`).
    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] { try decodedValues(name, rows: rows) }

    /// Rows `rows` of `name` as `T`, converted as `values(_:as:)` converts the
    /// whole tensor (so a row equals the same row of the whole tensor bit for bit).
    public func values<T: BinaryFloatingPoint>(_ name: String, rows: Range<Int>, as: T.Type = T.self) throws -> [T] {
        if T.self == Float.self { return unsafeBitCast(try floats(name, rows: rows), to: [T].self) }
        if T.self == Double.self { return unsafeBitCast(try doubles(name, rows: rows), to: [T].self) }
        return try doubles(name, rows: rows).map { T($0) }
    }

    /// The values of `name` (of `rows` only, when given), read chunk by chunk
    /// and converted by the dtype decoder.
    private func decodedValues<T: BinaryFloatingPoint>(_ name: String, rows: Range<Int>?) throws -> [T] {
        let (e, format) = try entry(name)
        var elements: Range<Int>? = nil
        if let rows {
            let shape = e.info.shape
            guard let rowCount = shape.first, rows.lowerBound >= 0, rows.upperBound <= rowCount else {
                throw Hxa079Error.invalidArgument("rows \(rows) of tensor \(e.stored) with shape \(shape) do not exist")
            }
            let rowLength = shape.dropFirst().reduce(1, *)  // ≤ elementCount: a validated file's shapes do not overflow
            elements = (rows.lowerBound * rowLength)..<(rows.upperBound * rowLength)
        }
        var out = [T](repeating: 0, count: elements?.count ?? e.info.elementCount)
        try out.withUnsafeMutableBufferPointer { dst in
            try forEachChunk(e, elements: elements) { bytes, first in
                format.decode(bytes, into: UnsafeMutableBufferPointer(rebasing: dst[first..<(first + bytes.count / format.byteSize)]))
            }
        }
        return out
    }

    /// Counts NaN/±Inf in the stored bits of `name` (exponent all ones), keeping no values.
    func scanNonFinite(_ name: String) throws -> (count: Int, first: Int) { try scanNonFinite(name, elements: nil) }

    /// The same for elements `elements` of `name` (all when nil); `first` is relative to the range.
    func scanNonFinite(_ name: String, elements: Range<Int>?) throws -> (count: Int, first: Int) {
        let (e, format) = try entry(name)
        var count = 0, first = -1
        try forEachChunk(e, elements: elements) { bytes, start in
            let scan = format.nonFinite(in: bytes)
            if first < 0 && scan.first >= 0 { first = start + scan.first }
            count += scan.count
        }
        return (count, first)
    }
}
