// ModelDirectory: a model as published on disk (SPEC.md §2.1–§2.2), read and written.
//
// Contract (reading):
// - A directory holds `config.json` plus either `model.safetensors` (used
//   alone when present, the HF lookup order) or the shards listed in
//   `model.safetensors.index.json`. Tensor names are HF-style or RWKV-style
//   (one scheme per checkpoint), mapped once to the internal names.
// - `ModelDirectory(path:)` throws when the set of tensors is not
//   well defined: no directory, no/invalid config.json, no weights file, a
//   malformed index, a missing shard, a malformed safetensors file (the error
//   names the file and the violated rule), or — listed together in one
//   `invalidModel` — tensors given twice across files or naming schemes,
//   index entries disagreeing with the shards, both naming schemes at once.
//   (Refusing these at open keeps every consumer of `source` safe.) Every
//   problem of the weights themselves goes into the `ValidationReport` of
//   `validate()` / `load(as:)`, all listed at once.
// - Every file's header is parsed and validated by `SafeTensorsFile` (which
//   maps the file); tensor values are then read with `pread`, one tensor at a
//   time in 4 MiB chunks, converted as they arrive. Nothing is read whole into
//   memory, `validate()` keeps no values at all (it checks the stored bits for
//   NaN/Inf), and a file truncated while open gives an error instead of SIGBUS.
//
// Contract (writing):
// - `writeModelDirectory` writes config.json and the weights in one float
//   dtype, HF-style or RWKV-style names, as `model.safetensors` or as n shards
//   `model-0000k-of-0000n.safetensors` + `model.safetensors.index.json`.
//   Files are byte-identical to what `SafeTensorsWriter` would write for the
//   same tensors, but are streamed: each tensor is produced, converted and
//   written in chunks (by up to `threads` workers with `pwrite`), so a model
//   larger than memory can be generated. Files go to a temporary name and are
//   renamed into place; stale model files of the other layout are removed.

import SafeTensors
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Small file helpers

/// Reads a whole file into memory (small files: config, index, manifest).
/// Files larger than `limit` bytes are refused.
public func readFileBytes(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
    if isDirectory(path) { throw Hxa079Error.io(path: path, message: "is a directory, expected a file") }
    if let size = fileSize(path), size > limit {
        throw Hxa079Error.io(path: path, message: "is \(size) bytes, more than the \(limit)-byte limit for this file")
    }
    guard let f = fopen(path, "rb") else {
        throw Hxa079Error.io(path: path, message: "cannot open (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out.append(contentsOf: buffer[0..<n]) }
        if out.count > limit { throw Hxa079Error.io(path: path, message: "is more than the \(limit)-byte limit for this file") }
        if n < buffer.count {
            if ferror(f) != 0 { throw Hxa079Error.io(path: path, message: "read error") }
            break
        }
    }
    return out
}

/// Writes `bytes` to `path` (replacing it).
public func writeFileBytes(_ path: String, _ bytes: [UInt8]) throws {
    guard let f = fopen(path, "wb") else {
        throw Hxa079Error.io(path: path, message: "cannot create (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    if n != bytes.count { throw Hxa079Error.io(path: path, message: "short write") }
}

/// True when `path` exists (file or directory).
public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// True when `path` is a directory.
public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// Creates `path` and its parents if missing.
public func makeDirectory(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if !fileExists(current) && mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw Hxa079Error.io(path: current, message: "cannot create directory (\(String(cString: strerror(errno))))")
        }
    }
}

/// Size in bytes of the file at `path`.
public func fileSize(_ path: String) -> Int? {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : nil
}

/// Names of the entries of directory `path` (without `.` and `..`), sorted.
public func directoryEntries(_ path: String) throws -> [String] {
    guard let d = opendir(path) else {
        throw Hxa079Error.io(path: path, message: "cannot list directory (\(String(cString: strerror(errno))))")
    }
    defer { closedir(d) }
    var names: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// The last path component.
func lastComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// "1.23 GB", "456 KB", "12 B" (decimal units).
public func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n), u = 0
    while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
    if u == 0 { return "\(n) B" }
    let scaled = (v * 100).rounded() / 100
    return "\(scaled) \(units[u])"
}

// MARK: - Reading

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

    /// The entry of a float tensor `name`.
    private func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw Hxa079Error.invalidModel(["missing tensor \(displayName(name))"]) }
        if !e.info.dtype.isFloatingPoint {
            throw Hxa079Error.invalidModel(["tensor \(e.stored) has integer dtype \(e.info.dtype.rawValue); weights must be F64, F32, F16 or BF16"])
        }
        return e
    }

    /// Calls `body` with consecutive chunks of the stored bytes of `e` and the
    /// flat index of each chunk's first element.
    private func forEachChunk(_ e: Entry, _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let (path, file) = files[e.file]
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        #else
        let fd = open(path, O_RDONLY)
        #endif
        guard fd >= 0 else { throw Hxa079Error.io(path: path, message: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        let start = 8 + file.headerLength + e.info.dataRange.lowerBound
        let total = e.info.dataRange.count
        let size = e.info.dtype.byteSize
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

    public func doubles(_ name: String) throws -> [Double] {
        let e = try entry(name)
        let dtype = e.info.dtype
        var out = [Double](repeating: 0, count: e.info.elementCount)
        try out.withUnsafeMutableBufferPointer { dst in
            try forEachChunk(e) { b, first in
                let n = b.count / dtype.byteSize
                switch dtype {
                case .F64: for i in 0..<n { dst[first + i] = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
                case .F32: for i in 0..<n { dst[first + i] = Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
                case .F16: for i in 0..<n { dst[first + i] = Double(floatFromF16(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                case .BF16: for i in 0..<n { dst[first + i] = Double(floatFromBF16(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                case .I64, .I32: break  // excluded by entry(_:)
                }
            }
        }
        return out
    }

    public func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        let dtype = e.info.dtype
        var out = [Float](repeating: 0, count: e.info.elementCount)
        try out.withUnsafeMutableBufferPointer { dst in
            try forEachChunk(e) { b, first in
                let n = b.count / dtype.byteSize
                switch dtype {
                case .F64: for i in 0..<n { dst[first + i] = Float(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                case .F32: for i in 0..<n { dst[first + i] = Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .F16: for i in 0..<n { dst[first + i] = floatFromF16(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .BF16: for i in 0..<n { dst[first + i] = floatFromBF16(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .I64, .I32: break  // excluded by entry(_:)
                }
            }
        }
        return out
    }

    /// Counts NaN/±Inf in the stored bits of `name` (exponent all ones), keeping no values.
    func scanNonFinite(_ name: String) throws -> (count: Int, first: Int) {
        let e = try entry(name)
        var count = 0, first = -1
        func note(_ i: Int) { if first < 0 { first = i }; count += 1 }
        try forEachChunk(e) { b, start in
            switch e.info.dtype {
            case .F64:
                for i in 0..<(b.count / 8) where UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000 { note(start + i) }
            case .F32:
                for i in 0..<(b.count / 4) where UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) & 0x7F80_0000 == 0x7F80_0000 { note(start + i) }
            case .F16:
                for i in 0..<(b.count / 2) where UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & 0x7C00 == 0x7C00 { note(start + i) }
            case .BF16:
                for i in 0..<(b.count / 2) where UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & 0x7F80 == 0x7F80 { note(start + i) }
            case .I64, .I32: break
            }
        }
        return (count, first)
    }
}

/// A model directory opened for reading.
public struct ModelDirectory {
    public let path: String
    public let config: ModelConfig
    public let source: SafeTensorsSource
    /// True when the weights come from shards listed in model.safetensors.index.json.
    public let isSharded: Bool
    /// Paths of the weight files, in load order.
    public var weightFiles: [String] { source.files.map { $0.path } }
    /// The naming scheme of the weights.
    public var naming: TensorNaming { source.naming }

    static let indexName = "model.safetensors.index.json"

    /// Opens `path`: parses config.json, validates and maps the weight files'
    /// headers, but reads no tensor yet.
    public init(path: String) throws {
        self.path = path
        guard isDirectory(path) else {
            throw Hxa079Error.io(path: path, message: fileExists(path) ? "is not a directory" : "no such model directory")
        }
        let configPath = path + "/config.json"
        guard fileExists(configPath) else { throw Hxa079Error.io(path: path, message: "missing config.json in the model directory") }
        config = try ModelConfig(json: try Self.parseJSON(configPath, limit: 16 << 20), source: "config.json")

        let single = path + "/model.safetensors"
        let index = path + "/" + Self.indexName
        if fileExists(single) {
            source = SafeTensorsSource(files: [(single, try Self.open(single))])
            isSharded = false
        } else if fileExists(index) {
            let json = try Self.parseJSON(index, limit: 64 << 20)
            guard let map = json["weight_map"]?.objectValue else {
                throw Hxa079Error.io(path: index, message: "has no \"weight_map\" object")
            }
            var wanted: [(tensor: String, shard: String)] = []
            var shardNames: [String] = []
            for (tensor, shard) in map {
                guard let s = shard.stringValue, !s.isEmpty, !s.contains("/"), s != ".", s != ".." else {
                    throw Hxa079Error.io(path: index, message: "weight_map entry for \(tensor) is \(shard.serialized()), not a plain file name")
                }
                wanted.append((tensor, s))
                if !shardNames.contains(s) { shardNames.append(s) }
            }
            var files: [(String, SafeTensorsFile)] = []
            for s in shardNames.sorted() {
                let p = path + "/" + s
                guard fileExists(p) else {
                    throw Hxa079Error.io(path: p, message: "shard named in \(Self.indexName) is missing")
                }
                files.append((p, try Self.open(p)))
            }
            source = SafeTensorsSource(files: files, index: wanted)
            isSharded = true
        } else {
            throw Hxa079Error.io(path: path, message: "no model.safetensors and no \(Self.indexName) in the model directory")
        }
        if !source.sourceProblems.isEmpty { throw Hxa079Error.invalidModel(source.sourceProblems) }
    }

    static func parseJSON(_ path: String, limit: Int) throws -> JSONValue {
        let bytes = try readFileBytes(path, limit: limit)
        do { return try JSONValue.parse(bytes) }
        catch { throw Hxa079Error.io(path: path, message: "invalid JSON: \(error)") }
    }

    static func open(_ path: String) throws -> SafeTensorsFile {
        do { return try SafeTensorsFile(path: path) }
        catch let e as SafeTensorsError { throw Hxa079Error.safetensors(path: path, e) }
    }

    /// Every problem of the model, values scanned per tensor, none kept.
    public func validate(checkFinite: Bool = true) -> ValidationReport {
        ModelWeights<Float>.validate(config: config, source: source, checkFinite: checkFinite)
    }

    /// Loads typed weights; throws on structural problems, returns the report
    /// (with any non-finite tensors) beside them.
    public func load<T: BinaryFloatingPoint>(as: T.Type = T.self, checkFinite: Bool = true) throws -> (ModelWeights<T>, ValidationReport) {
        try ModelWeights<T>.load(config: config, source: source, checkFinite: checkFinite)
    }
}

// MARK: - Summary (for `inspect`)

/// What a model directory holds, computed from headers only.
public struct ModelSummary: Sendable {
    public struct File: Sendable {
        public var path: String
        public var bytes: Int
        public var tensors: Int
    }

    public struct DTypeUsage: Sendable {
        public var dtype: DType
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    /// LoRA ranks of one RWKV layer, from the `*1` shapes; nil when absent.
    public struct LayerRanks: Sendable, Equatable {
        public var layer: Int
        public var decay: Int?
        public var iclr: Int?
        public var value: Int?
        public var key: Int?
        public var gate: Int?

        /// "320/128/96/96/384" with "-" for absent ranks.
        public var text: String {
            [decay, iclr, value, key, gate].map { $0.map(String.init) ?? "-" }.joined(separator: "/")
        }
    }

    /// Kinds of parameters, in display order.
    public enum Group: String, CaseIterable, Sendable {
        case embedding = "embedding"
        case rwkvMixers = "RWKV mixers"
        case gqaMixers = "GQA mixers"
        case mlps = "MLPs"
        case norms = "norms"
        case head = "head"
        case bookkeeping = "ignored (bookkeeping)"
        case unrecognized = "unrecognized"
    }

    public var files: [File]
    public var naming: TensorNaming
    public var sharded: Bool
    /// One letter per layer: R (receptance.weight), A (q_proj.weight), ? (neither or both).
    public var layerMap: String
    /// Per RWKV layer.
    public var loraRanks: [LayerRanks]
    /// Element counts per group (norms include the per-head r/k/q norms).
    public var parameters: [Group: Int]
    public var totalParameters: Int
    public var dtypes: [DTypeUsage]
}

extension ModelDirectory {
    /// Parameter counts, layer map, ranks, dtypes and file sizes, from the
    /// headers alone (no tensor is read).
    public func summary() -> ModelSummary {
        let names = source.tensorNames
        let has = { (n: String) in self.source.shape(of: n) != nil }
        let maxLayer = min(names.compactMap { TensorName.layerIndex(of: $0) }.max() ?? -1, ModelConfig.maxLayers - 1)
        let L = (1...ModelConfig.maxLayers).contains(config.numLayers) ? config.numLayers : maxLayer + 1
        var letters: [Character] = []
        var ranks: [ModelSummary.LayerRanks] = []
        for i in 0..<L {
            let q = has(TensorName.attn(i, "q_proj.weight")), r = has(TensorName.attn(i, "receptance.weight"))
            letters.append(q == r ? "?" : (q ? "A" : "R"))
            if r && !q {
                func rank(_ leaf: String) -> Int? {
                    guard let s = source.shape(of: TensorName.attn(i, leaf)), s.count == 2 else { return nil }
                    return s[1]
                }
                ranks.append(.init(layer: i, decay: rank("w1"), iclr: rank("a1"), value: rank("v1"), key: rank("k1"), gate: rank("g1")))
            }
        }
        var groups: [ModelSummary.Group: Int] = [:]
        var dtypes: [DType: ModelSummary.DTypeUsage] = [:]
        var total = 0
        for name in names {
            guard let count = source.elementCount(of: name), let dtype = source.dtype(of: name) else { continue }
            let group: ModelSummary.Group
            if name.hasPrefix("model.embed_tokens.") { group = .embedding }
            else if name.hasPrefix("lm_head.") { group = .head }
            else if name.hasPrefix("model.norm.") { group = .norms }
            else if let i = TensorName.layerIndex(of: name) {
                let rest = name.dropFirst("model.layers.\(i).".count)
                if rest.hasPrefix("input_layernorm.") || rest.hasPrefix("post_attention_layernorm.") { group = .norms }
                else if rest.hasPrefix("mlp.") { group = .mlps }
                else if rest.hasPrefix("self_attn.") {
                    let leaf = rest.dropFirst("self_attn.".count)
                    if TensorName.ignoredLeaves.contains(String(leaf)) { group = .bookkeeping }
                    else if leaf.hasPrefix("r_norm.") || leaf.hasPrefix("k_norm.") || leaf.hasPrefix("q_norm.") { group = .norms }
                    else { group = has(TensorName.attn(i, "q_proj.weight")) ? .gqaMixers : .rwkvMixers }
                } else { group = .unrecognized }
            } else { group = .unrecognized }
            groups[group, default: 0] += count
            total += count
            var u = dtypes[dtype] ?? .init(dtype: dtype, tensors: 0, parameters: 0, bytes: 0)
            u.tensors += 1
            u.parameters += count
            u.bytes += count * dtype.byteSize
            dtypes[dtype] = u
        }
        let files = source.files.map { f in
            ModelSummary.File(path: f.path, bytes: fileSize(f.path) ?? 0, tensors: f.file.tensors.count)
        }
        return ModelSummary(files: files, naming: source.naming, sharded: isSharded, layerMap: String(letters),
                            loraRanks: ranks, parameters: groups, totalParameters: total,
                            dtypes: dtypes.values.sorted { $0.bytes > $1.bytes })
    }
}

// MARK: - Writing

/// What a writer produced.
public struct WrittenModel: Sendable {
    public struct File: Sendable {
        public var path: String
        public var bytes: Int
    }
    /// The weight files (not config.json / the index), in shard order.
    public var files: [File]
    public var tensors: Int
    public var parameters: Int
    public var totalBytes: Int { files.reduce(0) { $0 + $1.bytes } }
}

/// One tensor to be written: internal name, shape, and a producer that emits
/// its row-major values as consecutive chunks (widened to Double: exact for
/// Float and Double sources).
struct PlannedTensor {
    var name: String
    var shape: [Int]
    var produce: (_ emit: ([Double]) throws -> Void) throws -> Void

    var count: Int { shape.reduce(1, *) }
}

/// Elements per chunk handed from a producer to the encoder.
let writeChunkElements = 1 << 18

/// Writes `weights` as a model directory: config.json plus the weights in
/// `dtype` (F64, F32, F16 or BF16), named HF-style or RWKV-style, as one file
/// or as `shards` shards with an index.
@discardableResult
public func writeModelDirectory<T: BinaryFloatingPoint>(_ weights: ModelWeights<T>, to path: String, dtype: DType,
                                                       naming: TensorNaming = .hf, shards: Int = 1,
                                                       metadata: [String: String]? = nil) throws -> WrittenModel {
    let planned = weights.namedTensors().map { t in
        PlannedTensor(name: t.name, shape: t.shape) { emit in
            var start = 0
            while start < t.values.count {
                let end = min(start + writeChunkElements, t.values.count)
                try emit(widened(t.values, start..<end))
                start = end
            }
        }
    }
    return try writeModelFiles(planned, config: weights.config.json(layerKinds: weights.layerKinds), to: path,
                               dtype: dtype, naming: naming, shards: shards, metadata: metadata)
}

/// `values[range]` as Double, with concrete loops for Float and Double
/// (generic conversions are slow when not specialized).
func widened<T: BinaryFloatingPoint>(_ values: [T], _ range: Range<Int>) -> [Double] {
    if T.self == Double.self { return Array(unsafeBitCast(values, to: [Double].self)[range]) }
    if T.self == Float.self { return unsafeBitCast(values, to: [Float].self)[range].map { Double($0) } }
    return values[range].map { Double($0) }
}

/// The shard file names for `n` shards (`model.safetensors` for one).
public func shardFileNames(_ n: Int) -> [String] {
    guard n > 1 else { return ["model.safetensors"] }
    func pad(_ k: Int) -> String { let s = String(k); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
    return (1...n).map { "model-\(pad($0))-of-\(pad(n)).safetensors" }
}

/// The shared streaming writer behind `writeModelDirectory` and `writeRandomModelDirectory`.
func writeModelFiles(_ tensors: [PlannedTensor], config: JSONValue, to dir: String, dtype: DType,
                     naming: TensorNaming, shards: Int, metadata: [String: String]?,
                     threads: Int = defaultWriterThreads()) throws -> WrittenModel {
    guard dtype.isFloatingPoint else {
        throw Hxa079Error.invalidArgument("weights cannot be written as \(dtype.rawValue); use F64, F32, F16 or BF16")
    }
    guard shards >= 1, shards <= max(tensors.count, 1) else {
        throw Hxa079Error.invalidArgument("cannot split \(tensors.count) tensors into \(shards) shards")
    }
    let stored = tensors.map { naming == .rwkv ? TensorName.rwkvStyleName($0.name) : $0.name }
    if Set(stored).count != stored.count {
        throw Hxa079Error.invalidArgument("two tensors have the same name after renaming to \(naming.label) names")
    }
    try makeDirectory(dir)
    // Remove model files of either layout so the directory holds exactly one model.
    for name in try directoryEntries(dir) where name == "model.safetensors" || name == ModelDirectory.indexName
        || (name.hasPrefix("model-") && name.hasSuffix(".safetensors") && name.contains("-of-")) {
        unlink(dir + "/" + name)
    }

    // Contiguous groups of roughly equal byte size, none empty.
    let bytes = tensors.map { $0.count * dtype.byteSize }
    let total = bytes.reduce(0, +)
    var groups = [[Int]](repeating: [], count: shards)
    var g = 0, acc = 0
    for k in tensors.indices {
        groups[g].append(k)
        acc += bytes[k]
        let tensorsLeft = tensors.count - k - 1, groupsLeft = shards - g - 1
        if groupsLeft > 0 && (Double(acc) * Double(shards) >= Double(total) * Double(g + 1) || tensorsLeft == groupsLeft) { g += 1 }
    }
    let fileNames = shardFileNames(shards)

    // Headers and jobs.
    struct Job { var tensor: Int; var fd: Int32; var offset: Int }
    var jobs: [Job] = []
    var fds: [Int32] = []
    var temps: [(tmp: String, final: String, size: Int)] = []
    var ok = false
    defer {
        for fd in fds { close(fd) }
        if !ok { for t in temps { unlink(t.tmp) } }
    }
    for (s, group) in groups.enumerated() {
        let order = group.sorted { stored[$0].utf8.lexicographicallyPrecedes(stored[$1].utf8) }
        var header: [UInt8] = [UInt8(ascii: "{")]
        if let metadata {
            let members = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { ($0, JSONValue.string(metadata[$0] ?? "")) }
            header += Array("\"__metadata__\":".utf8) + Array(JSONValue.object(members).serialized().utf8)
        }
        var offset = 0
        var positions: [(Int, Int)] = []
        for k in order {
            if header.count > 1 { header.append(UInt8(ascii: ",")) }
            let end = offset + bytes[k]
            header += Array(JSONValue.string(stored[k]).serialized().utf8)
            header += Array(":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(tensors[k].shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}".utf8)
            positions.append((k, offset))
            offset = end
        }
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(0x20) }
        let final = dir + "/" + fileNames[s]
        let tmp = final + ".tmp-\(getpid())"
        #if os(Linux)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        #else
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #endif
        guard fd >= 0 else { throw Hxa079Error.io(path: tmp, message: "cannot create (\(String(cString: strerror(errno))))") }
        fds.append(fd)
        let dataStart = 8 + header.count
        let size = dataStart + offset
        temps.append((tmp, final, size))
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw Hxa079Error.io(path: tmp, message: "cannot size file to \(size) bytes (\(String(cString: strerror(errno))))")
        }
        var prefix: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
        prefix += header
        try pwriteAll(fd, prefix, at: 0, path: tmp)
        for (k, o) in positions { jobs.append(Job(tensor: k, fd: fd, offset: dataStart + o)) }
    }

    // Workers: greedy balance of the jobs by size, each worker writes its own tensors.
    let workers = max(1, min(threads, jobs.count))
    var assignment = [[Job]](repeating: [], count: workers)
    var load = [Int](repeating: 0, count: workers)
    for job in jobs.sorted(by: { bytes[$0.tensor] > bytes[$1.tensor] }) {
        let w = load.indices.min { load[$0] < load[$1] } ?? 0
        assignment[w].append(job)
        load[w] += bytes[job.tensor]
    }
    final class Outcome { var error: Error? }
    let outcomes = (0..<workers).map { _ in Outcome() }
    let pathOf = Dictionary(uniqueKeysWithValues: zip(fds, temps.map { $0.tmp }))
    let plan = assignment
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        do {
            for job in plan[w] {
                let t = tensors[job.tensor]
                var at = job.offset
                var produced = 0
                try t.produce { chunk in
                    let encoded = encodeValues(chunk, as: dtype)
                    try pwriteAll(job.fd, encoded, at: at, path: pathOf[job.fd] ?? "?")
                    at += encoded.count
                    produced += chunk.count
                }
                if produced != t.count {
                    throw Hxa079Error.invalidArgument("tensor \(t.name) produced \(produced) values for shape \(t.shape)")
                }
            }
        } catch {
            outcomes[w].error = error
        }
    }
    if let e = outcomes.compactMap({ $0.error }).first { throw e }
    for (fd, t) in zip(fds, temps) where fsync(fd) != 0 {
        throw Hxa079Error.io(path: t.tmp, message: "fsync failed (\(String(cString: strerror(errno))))")
    }
    for t in temps where rename(t.tmp, t.final) != 0 {
        throw Hxa079Error.io(path: t.final, message: "cannot rename into place (\(String(cString: strerror(errno))))")
    }
    ok = true

    if shards > 1 {
        var map: [(String, JSONValue)] = []
        for (s, group) in groups.enumerated() { for k in group { map.append((stored[k], .string(fileNames[s]))) } }
        map.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let index = JSONValue.object([("metadata", .object([("total_size", .number(Double(total)))])),
                                      ("weight_map", .object(map))])
        try writeFileBytes(dir + "/" + ModelDirectory.indexName, Array((index.serialized(pretty: true) + "\n").utf8))
    }
    try writeFileBytes(dir + "/config.json", Array((config.serialized(pretty: true) + "\n").utf8))
    return WrittenModel(files: temps.map { .init(path: $0.final, bytes: $0.size) }, tensors: tensors.count,
                        parameters: tensors.reduce(0) { $0 + $1.count })
}

/// Worker threads for writing: the online cores, at most 8.
func defaultWriterThreads() -> Int {
    max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
}

/// Little-endian bytes of `values` in `dtype` (half kinds rounded from Float).
func encodeValues(_ values: [Double], as dtype: DType) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
    out.withUnsafeMutableBytes { raw in
        switch dtype {
        case .F64: for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        case .F32: for (i, v) in values.enumerated() { raw.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .BF16: for (i, v) in values.enumerated() { raw.storeBytes(of: bf16Bits(Float(v)).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .F16: for (i, v) in values.enumerated() { raw.storeBytes(of: f16Bits(Float(v)).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .I64, .I32: break  // refused by writeModelFiles
        }
    }
    return out
}

/// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
    try bytes.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        var done = 0
        while done < raw.count {
            let r = pwrite(fd, base + done, raw.count - done, off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw Hxa079Error.io(path: path, message: "write failed (\(String(cString: strerror(errno))))")
            }
            done += r
        }
    }
}
