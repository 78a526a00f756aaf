// Fixture: a fixture directory opened for reading.
//
// Contract: layout (SPEC.md §4.6)
//   manifest.json        everything a consumer needs to interpret the rest
//   inputs.safetensors   tokens I64 [T], positions I64 [T], plans.<plan>.{calls,chunk_sizes,restore_after} I64
//   f64.safetensors      <plan>/<checkpoint>: the float64 truth (F64; state.position I64)
//   f32.safetensors      <plan>/<checkpoint>: this package's float32 values (F32)
//   mutants.safetensors  <mutant>/<checkpoint>: known-wrong variants (F64), from each one's first
//                        affected checkpoint through the one where the comparisons decide; the
//                        earlier checkpoints are the truth (`mutant(_:name:)` reads them there)
//   model/               config.json + model.safetensors, when the model is bundled
// The model is found as `modelDirectory` says (bundled, regenerated from its
// preset and seed, the recorded path relative to the fixture, or a --model
// override) and checked against the recorded SHA-256 of every file before it
// is run.

import Hxa079
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct Fixture {
    public let path: String
    public let manifest: Manifest
    public let truthFile: SafeTensorsFile
    public let float32File: SafeTensorsFile
    public let inputsFile: SafeTensorsFile
    public let mutantsFile: SafeTensorsFile?

    public init(path: String) throws {
        self.path = path
        let manifestPath = path + "/manifest.json"
        guard fileExists(manifestPath) else {
            throw Hxa079Error.io(path: path, message: isDirectory(path) ? "no manifest.json: not a fixture directory" : "no such fixture directory")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(try readFileBytes(manifestPath)) }
        catch let e as Hxa079Error { throw e }
        catch { throw Hxa079Error.io(path: manifestPath, message: "invalid JSON: \(error)") }
        manifest = try Manifest(json: json, source: manifestPath)
        func open(_ name: String) throws -> SafeTensorsFile {
            let p = path + "/" + name
            guard fileExists(p) else { throw Hxa079Error.io(path: p, message: "missing fixture file") }
            do { return try SafeTensorsFile(path: p) } catch let e as SafeTensorsError { throw Hxa079Error.safetensors(path: p, e) }
        }
        truthFile = try open("f64.safetensors")
        float32File = try open("f32.safetensors")
        inputsFile = try open("inputs.safetensors")
        mutantsFile = fileExists(path + "/mutants.safetensors") ? try open("mutants.safetensors") : nil
    }

    /// The fixture's tokens.
    public var tokens: [Int] { manifest.tokens }

    /// The float64 truth of `name` under `plan`.
    public func truth(plan: String, name: String) throws -> [Double] {
        try values(truthFile, "\(plan)/\(name)")
    }

    /// The truth's top-1 minus top-2 logit per position under `plan`
    /// (`<plan>/logits_top_gap` in f64.safetensors; computed from the truth's
    /// logits for a fixture that predates it); [] without logits.
    public func topLogitGaps(plan: String) throws -> [Double] {
        if truthFile.info("\(plan)/logits_top_gap") != nil { return try values(truthFile, "\(plan)/logits_top_gap") }
        guard manifest.checkpoint(CheckpointName.logits) != nil else { return [] }
        return Hxa079Fixtures.topLogitGaps(try truth(plan: plan, name: CheckpointName.logits), vocab: manifest.model.config.vocabSize)
    }

    /// This package's float32 values of `name` under `plan`.
    public func float32(plan: String, name: String) throws -> [Double] {
        try values(float32File, "\(plan)/\(name)")
    }

    /// A mutant's values of `name` (on its recorded plan): stored from its first
    /// affected checkpoint through the one where the comparisons decide; every
    /// earlier checkpoint is the truth of its plan (SPEC.md §4.6).
    ///
    /// - Throws: `Hxa079Error.io` when the fixture has no mutants.safetensors, or
    ///   `name` lies after the stored span (see `mutantCheckpointNames`).
    public func mutant(_ mutant: String, name: String) throws -> [Double] {
        guard let f = mutantsFile else { throw Hxa079Error.io(path: path, message: "this fixture has no mutants.safetensors") }
        if f.info("\(mutant)/\(name)") != nil { return try values(f, "\(mutant)/\(name)") }
        guard let record = manifest.mutants.first(where: { $0.name == mutant }) else {
            throw Hxa079Error.io(path: path, message: "this fixture has no mutant \(mutant)")
        }
        guard let names = mutantCheckpointNames(mutant), names.contains(name) else {
            throw Hxa079Error.io(path: path, message: "mutant \(mutant): checkpoint \(name) is not stored (it is stored through \(record.storedCheckpoints?.last ?? "?"), where a comparison has decided)")
        }
        return try truth(plan: record.plan, name: name)
    }

    /// The checkpoints a mutant provides, in execution order: the truth of its
    /// plan before its first affected checkpoint, then the stored span. Nil
    /// for an unknown mutant.
    public func mutantCheckpointNames(_ mutant: String) -> [String]? {
        guard let record = manifest.mutants.first(where: { $0.name == mutant }) else { return nil }
        let all = manifest.checkpoints.map { $0.name }
        guard let stored = record.storedCheckpoints, let last = stored.last, let end = all.firstIndex(of: last),
              let first = all.firstIndex(of: record.firstAffected) else { return all }
        return Array(all[...max(end, first)])
    }

    /// Every checkpoint of `plan` (truth) as candidate tensors, in F64.
    public func truthTensors(plan: String) throws -> [String: CandidateTensor] {
        var out: [String: CandidateTensor] = [:]
        for c in manifest.checkpoints { out[c.name] = CandidateTensor(dtype: .F64, shape: c.shape, values: try truth(plan: plan, name: c.name)) }
        return out
    }

    private func values(_ file: SafeTensorsFile, _ key: String) throws -> [Double] {
        guard let info = file.info(key) else { throw Hxa079Error.io(path: path, message: "fixture tensor \(key) is missing") }
        switch info.dtype {
        case .I64, .I32: return try file.int64s(key).map { Double($0) }
        default: return try file.doubles(key)
        }
    }

    /// The fixture's model directory, checked against the SHA-256 of every
    /// model file recorded in the manifest (SPEC.md §4.6).
    ///
    /// Resolution: `model` when given (a model that lives elsewhere); else a
    /// bundled model (`<fixture>/model`); else a preset model regenerated into
    /// `scratch`; else the recorded path, relative to the fixture directory
    /// (or absolute). With `ignoreModelHash` the files are not checked and a
    /// warning says so on stderr.
    ///
    /// - Throws: `Hxa079Error.io` naming the first model file that is missing
    ///   or whose SHA-256 differs from the manifest's.
    public func modelDirectory(scratch: String, model override: String? = nil, ignoreModelHash: Bool = false) throws -> String {
        let m = manifest.model
        let dir: String
        if let override {
            dir = override
        } else if m.bundled {
            dir = resolve(m.path)
        } else if m.source == "preset", let presetName = m.preset, let preset = Preset(rawValue: presetName), let seed = m.seed,
                  let dtype = DType(rawValue: m.dtype) {
            dir = scratch + "/model-\(presetName)-\(seed)"
            try writePresetModel(preset: preset, seed: seed, dtype: dtype, layers: m.config.numLayers, to: dir)
            // A regenerated preset that differs is this machine's fault, not the user's: no override.
            try checkModelFiles(dir, regenerated: true)
            return dir
        } else {
            dir = resolve(m.path)
        }
        guard isDirectory(dir) else {
            throw Hxa079Error.io(path: dir, message: "no such model directory (the model of fixture \(path); give --model DIR if it moved)")
        }
        if ignoreModelHash {
            writeStandardError("hxa079: warning: --ignore-model-hash: the model files in \(dir) are not checked against the SHA-256 in \(path)/manifest.json\n")
        } else {
            try checkModelFiles(dir, regenerated: false)
        }
        return dir
    }

    /// `p` from the manifest: absolute as is, else relative to the fixture directory.
    func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : path + "/" + p }

    /// Compares the model files in `dir` with the recorded hashes: every
    /// recorded file must be there with the same SHA-256, and the directory
    /// may hold no other weight file.
    func checkModelFiles(_ dir: String, regenerated: Bool) throws {
        let recorded = manifest.model.files
        if recorded.isEmpty { throw Hxa079Error.io(path: path + "/manifest.json", message: "model.sha256 is empty: nothing to check the model against") }
        let advice = regenerated ? "this machine does not reproduce the preset bit for bit"
                                 : "not the model this fixture's truth was made from; pass --ignore-model-hash to use it anyway"
        for (file, hash) in recorded {
            let p = dir + "/" + file
            guard fileExists(p) else { throw Hxa079Error.io(path: p, message: "missing: the fixture's manifest records it (\(advice))") }
            let actual = try sha256HexOfFile(p)
            if actual != hash {
                throw Hxa079Error.io(path: p, message: "SHA-256 \(actual.prefix(16))… differs from \(hash.prefix(16))… recorded in \(path)/manifest.json: \(advice)")
            }
        }
        let names = Set(recorded.map { $0.0 })
        for e in try directoryEntries(dir) where (e.hasSuffix(".safetensors") || e.hasSuffix(".index.json")) && !names.contains(e) {
            throw Hxa079Error.io(path: dir + "/" + e, message: "a model file the fixture's manifest does not record (\(advice))")
        }
    }
}

/// The files that make up model directory `dir` with their SHA-256, as
/// recorded in a manifest: config.json, the shard index when sharded, and
/// every weight file, by file name.
package func modelFileHashes(_ dir: ModelDirectory) throws -> [(String, String)] {
    var files: [(String, String)] = [("config.json", try sha256HexOfFile(dir.path + "/config.json"))]
    let index = dir.path + "/model.safetensors.index.json"
    if dir.isSharded && fileExists(index) { files.append(("model.safetensors.index.json", try sha256HexOfFile(index))) }
    for p in dir.weightFiles {
        files.append((String(p.split(separator: "/").last ?? ""), try sha256HexOfFile(p)))
    }
    return files
}

/// Writes `text` to standard error as it is.
func writeStandardError(_ text: String) {
    fputs(text, stderr)
}

/// Writes a preset model exactly as `hxa079 init-model --preset P --seed S --dtype D [--layers N]`
/// does (same tensors, same metadata, so the same bytes).
package func writePresetModel(preset: Preset, seed: UInt64, dtype: DType, layers: Int?, to dir: String) throws {
    var shape = preset.shape
    if let layers, layers < shape.config.numLayers { shape = shape.truncated(toLayers: layers) }
    try writeRandomModelDirectory(shape: shape, seed: seed, to: dir, dtype: dtype,
                                  metadata: presetModelMetadata(preset: preset, seed: seed))
}
