// ModelDirectory: a model as published on disk (SPEC.md §1–§2).
//
// Contract: `config.json` plus either `model.safetensors` or shards listed in
// `model.safetensors.index.json`; tensor names in the HF-style or the
// RWKV-style scheme, mapped once to the internal names. Files stay
// memory-mapped; values are converted per tensor when a caller asks.

import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file into memory (small files: config, index, manifest).
public func readFileBytes(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw Hxa079Error.io(path: path, message: "cannot open (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out.append(contentsOf: buffer[0..<n]) }
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

/// The tensors of one or more safetensors files under internal names.
public final class SafeTensorsSource: TensorSource {
    /// internal name → (file, name inside that file)
    private var entries: [String: (file: SafeTensorsFile, stored: String)] = [:]
    /// Names that appeared twice after mapping to the internal scheme.
    public private(set) var duplicateNames: [String] = []
    /// True when the files used the RWKV-style scheme.
    public let rwkvStyle: Bool
    /// The files, with their paths.
    public let files: [(path: String, file: SafeTensorsFile)]

    public init(files: [(path: String, file: SafeTensorsFile)]) {
        self.files = files
        let allNames = files.flatMap { $0.file.names }
        rwkvStyle = TensorName.isRWKVStyle(allNames)
        // GQA layers in the RWKV-style scheme: blocks.N.att.q_proj.weight present.
        var gqaLayers = Set<Int>()
        for name in allNames where name.hasSuffix(".att.q_proj.weight") || name.hasSuffix(".self_attn.q_proj.weight") {
            if let i = CheckpointName.layerIndex(of: name.replacingPrefix("blocks.", with: "layers.")) { gqaLayers.insert(i) }
        }
        for (_, file) in files {
            for name in file.names {
                let mapped = TensorName.canonicalName(name, isGQALayer: { gqaLayers.contains($0) })
                if entries[mapped] != nil { duplicateNames.append(mapped) }
                entries[mapped] = (file, name)
            }
        }
    }

    public var tensorNames: [String] { entries.keys.sorted() }
    public func shape(of name: String) -> [Int]? { entries[name].flatMap { $0.file.info($0.stored)?.shape } }
    public func dtype(of name: String) -> DType? { entries[name].flatMap { $0.file.info($0.stored)?.dtype } }
    public func doubles(_ name: String) throws -> [Double] {
        guard let e = entries[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        return try e.file.doubles(e.stored)
    }
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        return try e.file.floats(e.stored)
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String, with other: String) -> String {
        hasPrefix(prefix) ? other + dropFirst(prefix.count) : self
    }
}

/// A model directory opened for reading.
public struct ModelDirectory {
    public let path: String
    public let config: ModelConfig
    public let source: SafeTensorsSource
    /// Paths of the weight files, in load order.
    public var weightFiles: [String] { source.files.map { $0.path } }

    /// Opens `path`: parses config.json, maps the weight files, but converts no tensor yet.
    public init(path: String) throws {
        self.path = path
        guard isDirectory(path) else {
            throw Hxa079Error.io(path: path, message: fileExists(path) ? "is not a directory" : "no such model directory")
        }
        let configPath = path + "/config.json"
        guard fileExists(configPath) else { throw Hxa079Error.io(path: configPath, message: "missing config.json") }
        let json: JSONValue
        do { json = try JSONValue.parse(try readFileBytes(configPath)) }
        catch let e as Hxa079Error { throw e }
        catch { throw Hxa079Error.io(path: configPath, message: "invalid JSON: \(error)") }
        config = try ModelConfig(json: json, source: "config.json")

        let single = path + "/model.safetensors"
        let index = path + "/model.safetensors.index.json"
        var files: [(String, SafeTensorsFile)] = []
        if fileExists(index) {
            let indexJSON: JSONValue
            do { indexJSON = try JSONValue.parse(try readFileBytes(index)) }
            catch let e as Hxa079Error { throw e }
            catch { throw Hxa079Error.io(path: index, message: "invalid JSON: \(error)") }
            guard let map = indexJSON["weight_map"]?.objectValue else {
                throw Hxa079Error.io(path: index, message: "no \"weight_map\" object")
            }
            var shardNames: [String] = []
            var wanted: [(tensor: String, shard: String)] = []
            for (tensor, shard) in map {
                guard let s = shard.stringValue, !s.contains("/"), !s.isEmpty else {
                    throw Hxa079Error.io(path: index, message: "weight_map entry for \(tensor) is not a plain file name")
                }
                wanted.append((tensor, s))
                if !shardNames.contains(s) { shardNames.append(s) }
            }
            for s in shardNames.sorted() {
                let p = path + "/" + s
                guard fileExists(p) else { throw Hxa079Error.io(path: p, message: "shard named in model.safetensors.index.json is missing") }
                files.append((p, try Self.open(p)))
            }
            var problems: [String] = []
            for (tensor, shard) in wanted {
                if let f = files.first(where: { $0.0 == path + "/" + shard }), f.1.info(tensor) == nil {
                    problems.append("model.safetensors.index.json maps \(tensor) to \(shard), which does not hold it")
                }
            }
            let indexed = Set(wanted.map { $0.tensor })
            for (p, f) in files { for n in f.names where !indexed.contains(n) { problems.append("tensor \(n) in \(p.split(separator: "/").last ?? "") is not listed in model.safetensors.index.json") } }
            if !problems.isEmpty { throw Hxa079Error.invalidModel(problems) }
        } else if fileExists(single) {
            files.append((single, try Self.open(single)))
        } else {
            throw Hxa079Error.io(path: path, message: "no model.safetensors or model.safetensors.index.json")
        }
        source = SafeTensorsSource(files: files)
        if !source.duplicateNames.isEmpty {
            throw Hxa079Error.invalidModel(source.duplicateNames.map { "tensor \($0) is given twice (across files or naming schemes)" })
        }
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

/// Writes `weights` as a model directory: config.json + model.safetensors in `dtype`.
public func writeModelDirectory<T: BinaryFloatingPoint>(_ weights: ModelWeights<T>, to path: String, dtype: DType,
                                                       metadata: [String: String]? = nil) throws {
    try makeDirectory(path)
    var writer = SafeTensorsWriter(metadata: metadata)
    for (name, shape, values) in weights.namedTensors() {
        let data: TensorData
        switch dtype {
        case .F64: data = .f64(values.map { Double($0) })
        case .F32: data = .f32(values.map { Float($0) })
        case .BF16: data = .bf16(values.map { bf16Bits(Float($0)) })
        case .F16: data = .f16(values.map { f16Bits(Float($0)) })
        case .I64, .I32: throw Hxa079Error.invalidArgument("weights cannot be written as \(dtype.rawValue)")
        }
        try writer.add(name, shape: shape, data)
    }
    try writer.write(to: path + "/model.safetensors")
    let config = weights.config.json(layerKinds: weights.layerKinds).serialized(pretty: true) + "\n"
    try writeFileBytes(path + "/config.json", Array(config.utf8))
}
