// ModelDirectory: a model as published on disk (SPEC.md §2.1–§2.2), opened for reading.
//
// Contract:
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
// - Reading values and problems of the files taken together:
//   SafeTensorsSource.swift; the summary for `inspect`: ModelSummary.swift;
//   writing: ShardedModelWriter.swift.

import SafeTensors

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
