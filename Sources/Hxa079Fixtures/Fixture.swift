// Fixture: a fixture directory opened for reading.
//
// Contract: layout (SPEC.md §4.6)
//   manifest.json        everything a consumer needs to interpret the rest
//   inputs.safetensors   tokens I64 [T], positions I64 [T], plans.<plan>.{calls,chunk_sizes,restore_after} I64
//   f64.safetensors      <plan>/<checkpoint>: the float64 truth (F64; state.position I64)
//   f32.safetensors      <plan>/<checkpoint>: this package's float32 values (F32)
//   mutants.safetensors  <mutant>/<checkpoint>: known-wrong variants (F64), when made
//   model/               config.json + model.safetensors, when the model is bundled
// A model that is not bundled is regenerated from its preset and seed and
// checked against the recorded SHA-256 of every file.

import Hxa079
import SafeTensors

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

    /// This package's float32 values of `name` under `plan`.
    public func float32(plan: String, name: String) throws -> [Double] {
        try values(float32File, "\(plan)/\(name)")
    }

    /// A mutant's values of `name` (on its recorded plan).
    public func mutant(_ mutant: String, name: String) throws -> [Double] {
        guard let f = mutantsFile else { throw Hxa079Error.io(path: path, message: "this fixture has no mutants.safetensors") }
        return try values(f, "\(mutant)/\(name)")
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

    /// The model directory: bundled, or regenerated into `scratch` and checked against the recorded hashes.
    public func modelDirectory(scratch: String) throws -> String {
        let m = manifest.model
        if m.bundled { return path + "/" + m.path }
        guard m.source == "preset", let presetName = m.preset, let preset = Preset(rawValue: presetName), let seed = m.seed,
              let dtype = DType(rawValue: m.dtype) else {
            return m.path   // a user model referenced by path
        }
        let dir = scratch + "/model-\(presetName)-\(seed)"
        try writePresetModel(preset: preset, seed: seed, dtype: dtype, layers: m.config.numLayers, to: dir)
        for (file, hash) in m.files {
            let actual = sha256Hex(try readFileBytes(dir + "/" + file))
            if actual != hash {
                throw Hxa079Error.invalidModel(["regenerated \(file) has SHA-256 \(actual), the fixture recorded \(hash): this machine does not reproduce the preset bit for bit"])
            }
        }
        return dir
    }
}

/// Writes a preset model exactly as `hxa079 init-model --preset P --seed S --dtype D [--layers N]`
/// does (same tensors, same metadata, so the same bytes).
public func writePresetModel(preset: Preset, seed: UInt64, dtype: DType, layers: Int?, to dir: String) throws {
    var shape = preset.shape
    if let layers, layers < shape.config.numLayers { shape = shape.truncated(toLayers: layers) }
    try writeRandomModelDirectory(shape: shape, seed: seed, to: dir, dtype: dtype,
                                  metadata: presetModelMetadata(preset: preset, seed: seed))
}
