// FixtureMaker: writes one fixture directory (`hxa079 fixtures make`).
//
// Contract: from a model (a preset + seed, or a model directory), a token
// list and split plans, writes inputs, the float64 truth of every checkpoint
// for every plan, the float32 values of this package (reference or fast
// engine) with the budget derived from them, the mutants with their distance
// from the truth, and manifest.json. Deterministic: the same arguments give
// byte-identical files on the same machine.

import Hxa079
import Hxa079Reference
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct FixtureSpec {
    public enum ModelSource {
        /// A preset model, generated and written in `dtype`; bundled in the fixture when `bundle`.
        case preset(Preset, seed: UInt64, dtype: DType, layers: Int?, bundle: Bool)
        /// An existing model directory (referenced by path and hashes, not copied).
        case directory(String)
    }

    public var name: String
    public var model: ModelSource
    public var tokens: [Int]
    public var plans: [SplitPlan]
    public var mutants: [Mutant]
    /// The command line recorded as provenance.
    public var command: String

    public init(name: String, model: ModelSource, tokens: [Int], plans: [SplitPlan], mutants: [Mutant], command: String) {
        self.name = name
        self.model = model
        self.tokens = tokens
        self.plans = plans
        self.mutants = mutants
        self.command = command
    }
}

/// Makes a temporary directory and returns its path.
public func makeTemporaryDirectory(prefix: String = "hxa079") throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let made: String? = template.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress, let p = mkdtemp(base) else { return nil }
        return String(cString: p)
    }
    guard let made else { throw Hxa079Error.io(path: "/tmp", message: "cannot create a temporary directory") }
    return made
}

/// Removes a directory tree (best effort).
public func removeTree(_ path: String) {
    guard isDirectory(path) else { unlink(path); return }
    if let dir = opendir(path) {
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            removeTree(path + "/" + name)
        }
        closedir(dir)
    }
    rmdir(path)
}

public struct FixtureMaker {
    /// Produces the float32 values of a plan; nil = the float32 reference.
    public var float32Engine: ((ModelWeights<Float>) throws -> EngineRunner)?
    public var float32EngineName = "reference"
    /// Called with (done, total) tokens per plan.
    public var progress: ((String, Int, Int) -> Void)?

    public init() {}

    public func make(_ spec: FixtureSpec, out: String) throws -> Manifest {
        let scratch = try makeTemporaryDirectory(prefix: "hxa079-fixture")
        defer { removeTree(scratch) }
        try makeDirectory(out)

        // 1. The model, as stored on disk.
        let modelDir: String
        var record: Manifest.ModelRecord
        switch spec.model {
        case .preset(let preset, let seed, let dtype, let layers, let bundle):
            modelDir = bundle ? out + "/model" : scratch + "/model"
            try writePresetModel(preset: preset, seed: seed, dtype: dtype, layers: layers, to: modelDir)
            record = Manifest.ModelRecord(source: "preset", preset: preset.rawValue, seed: seed, dtype: dtype.rawValue,
                                          path: bundle ? "model" : "(regenerated: hxa079 init-model --preset \(preset.rawValue) --seed \(seed) --dtype \(dtype.rawValue.lowercased())\(layers.map { " --layers \($0)" } ?? ""))",
                                          bundled: bundle, files: [], config: preset.shape.config, layerMap: "")
        case .directory(let path):
            modelDir = path
            record = Manifest.ModelRecord(source: "directory", preset: nil, seed: nil, dtype: "", path: path, bundled: false,
                                          files: [], config: ModelConfig(hiddenSize: 0, numHeads: 0, headDim: 0, numKVHeads: 0,
                                                                         intermediateSize: 0, vocabSize: 0, numLayers: 0), layerMap: "")
        }
        let directory = try ModelDirectory(path: modelDir)
        let (model64, report) = try directory.load(as: Double.self)
        if !report.nonFinite.isEmpty { throw Hxa079Error.invalidModel(report.nonFiniteDescriptions) }
        let model32 = model64.converted(to: Float.self)
        record.config = model64.config
        record.layerMap = model64.layerMap
        record.dtype = directory.source.dtype(of: TensorName.embedding)?.rawValue ?? record.dtype
        var files: [(String, String)] = [("config.json", sha256Hex(try readFileBytes(modelDir + "/config.json")))]
        for p in directory.weightFiles {
            files.append((String(p.split(separator: "/").last ?? ""), sha256Hex(try readFileBytes(p))))
        }
        record.files = files
        for (i, t) in spec.tokens.enumerated() where t < 0 || t >= model64.config.vocabSize {
            throw Hxa079Error.tokenOutOfRange(token: t, index: i, vocabSize: model64.config.vocabSize)
        }
        for plan in spec.plans {
            let p = plan.problems(tokens: spec.tokens.count)
            if !p.isEmpty { throw Hxa079Error.invalidArgument(p.joined(separator: "; ")) }
        }

        // 2. Inputs.
        var inputs = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-inputs", "version": "\(fixtureFormatVersion)"])
        try inputs.add("tokens", shape: [spec.tokens.count], .i64(spec.tokens.map { Int64($0) }))
        try inputs.add("positions", shape: [spec.tokens.count], .i64((0..<spec.tokens.count).map { Int64($0) }))
        for plan in spec.plans {
            try inputs.add("plans.\(plan.name).calls", shape: [plan.calls.count], .i64(plan.calls.map { Int64($0) }))
            try inputs.add("plans.\(plan.name).chunk_sizes", shape: [plan.chunkSizes.count], .i64(plan.chunkSizes.map { Int64($0) }))
            try inputs.add("plans.\(plan.name).restore_after", shape: [plan.restoreAfter.count], .i64(plan.restoreAfter.map { Int64($0) }))
        }
        try inputs.write(to: out + "/inputs.safetensors")

        // 3. Every plan in float64 (truth) and float32; budgets from the worst plan.
        let truthEngine = EngineRunner.reference(model64)
        let f32Engine = try float32Engine?(model32) ?? EngineRunner.reference(model32)
        var truthWriter = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-truth", "version": "\(fixtureFormatVersion)"])
        var f32Writer = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-float32", "version": "\(fixtureFormatVersion)"])
        var order: [(String, [Int])] = []
        var worst: [String: ErrorMetrics] = [:]
        var truthByPlan: [String: [Checkpoint]] = [:]
        for plan in spec.plans {
            let truth = try runPlan(plan, tokens: spec.tokens, engine: truthEngine, scratchDirectory: scratch,
                                    progress: { progress?("\(plan.name) f64", $0, $1) })
            let single = try runPlan(plan, tokens: spec.tokens, engine: f32Engine, scratchDirectory: scratch,
                                     progress: { progress?("\(plan.name) f32", $0, $1) })
            let f32ByName = Dictionary(single.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            if order.isEmpty { order = truth.map { ($0.name, $0.shape) } }
            truthByPlan[plan.name] = truth
            for c in truth {
                try truthWriter.add("\(plan.name)/\(c.name)", shape: c.shape, c.name == CheckpointName.statePosition
                                    ? .i64(c.values.map { Int64($0) }) : .f64(c.values))
                guard let f = f32ByName[c.name] else { continue }
                try f32Writer.add("\(plan.name)/\(c.name)", shape: f.shape, c.name == CheckpointName.statePosition
                                  ? .i64(f.values.map { Int64($0) }) : .f32(f.values.map { Float($0) }))
                let m = ErrorMetrics(reference: c.values, candidate: f.values)
                if let w = worst[c.name] {
                    worst[c.name] = ErrorMetrics.worse(w, m)
                } else {
                    worst[c.name] = m
                }
            }
        }
        try truthWriter.write(to: out + "/f64.safetensors")
        try f32Writer.write(to: out + "/f32.safetensors")
        let checkpoints = order.map { (name, shape) in
            Manifest.CheckpointRecord(name: name, shape: shape, dtype: name == CheckpointName.statePosition ? "I64" : "F64",
                                      budget: name == CheckpointName.statePosition ? nil : worst[name].map { Budget(deriving: $0) })
        }

        // 4. Mutants: run, find where they first differ and where they leave each budget.
        var mutantRecords: [Manifest.MutantRecord] = []
        if !spec.mutants.isEmpty {
            var mutantWriter = SafeTensorsWriter(metadata: ["format": "hxa079-fixture-mutants", "version": "\(fixtureFormatVersion)"])
            for mutant in spec.mutants {
                let planName = mutant.needsCarriedState ? "save_restore" : "one_call"
                guard let plan = spec.plans.first(where: { $0.name == planName }), let truth = truthByPlan[planName] else {
                    throw Hxa079Error.invalidArgument("mutant \(mutant.rawValue) needs the plan \(planName)")
                }
                let run = try runPlan(plan, tokens: spec.tokens, engine: EngineRunner.reference(model64, mutant: mutant),
                                      scratchDirectory: scratch)
                let byName = Dictionary(run.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                var firstAffected: String? = nil, distance: ErrorMetrics? = nil
                var outside64: String? = nil, outside32: String? = nil
                for c in truth {
                    guard let m = byName[c.name] else { continue }
                    try mutantWriter.add("\(mutant.rawValue)/\(c.name)", shape: m.shape, c.name == CheckpointName.statePosition
                                         ? .i64(m.values.map { Int64($0) }) : .f64(m.values))
                    let metrics = ErrorMetrics(reference: c.values, candidate: m.values)
                    if firstAffected == nil && m.values != c.values { firstAffected = c.name; distance = metrics }
                    guard let budget = checkpoints.first(where: { $0.name == c.name })?.budget else { continue }
                    if outside64 == nil && !Tolerance.float64.admits(metrics) { outside64 = c.name }
                    if outside32 == nil && !budget.tolerance.admits(metrics) { outside32 = c.name }
                }
                guard let first = firstAffected, let d = distance else {
                    throw Hxa079Error.invalidArgument("mutant \(mutant.rawValue) changes nothing on this fixture (plan \(planName)); choose other tokens or drop it")
                }
                mutantRecords.append(Manifest.MutantRecord(name: mutant.rawValue, summary: mutant.summary, plan: planName,
                                                           firstAffected: first, distance: d,
                                                           firstOutsideFloat64: outside64, firstOutsideFloat32: outside32))
            }
            try mutantWriter.write(to: out + "/mutants.safetensors")
        }

        // 5. The manifest.
        let manifest = Manifest(name: spec.name, command: spec.command, model: record, tokens: spec.tokens, startPosition: 0,
                                plans: spec.plans, checkpoints: checkpoints, mutants: mutantRecords,
                                float32Engine: float32EngineName)
        try writeFileBytes(out + "/manifest.json", Array((manifest.json().serialized(pretty: true) + "\n").utf8))
        return manifest
    }
}

extension ErrorMetrics {
    /// Element-wise worst of two measurements (for budgets over several plans).
    public static func worse(_ a: ErrorMetrics, _ b: ErrorMetrics) -> ErrorMetrics {
        var w = a.maxRel >= b.maxRel ? a : b
        w.maxAbs = max(a.maxAbs, b.maxAbs)
        w.nmse = max(a.nmse, b.nmse)
        w.maxULP = max(a.maxULP, b.maxULP)
        w.nonFiniteMismatches = max(a.nonFiniteMismatches, b.nonFiniteMismatches)
        return w
    }
}

extension FixtureSpec {
    /// The spec that regenerates a fixture from its manifest (same command string,
    /// so the regenerated manifest is byte-identical).
    public init(manifest m: Manifest) throws {
        let model: ModelSource
        if m.model.source == "preset", let name = m.model.preset, let preset = Preset(rawValue: name), let seed = m.model.seed,
           let dtype = DType(rawValue: m.model.dtype) {
            let layers = m.model.config.numLayers < preset.shape.config.numLayers ? m.model.config.numLayers : nil
            model = .preset(preset, seed: seed, dtype: dtype, layers: layers, bundle: m.model.bundled)
        } else {
            model = .directory(m.model.path)
        }
        let mutants = try m.mutants.map { r in
            guard let mutant = Mutant(rawValue: r.name) else { throw Hxa079Error.invalidArgument("unknown mutant \(r.name) in the manifest") }
            return mutant
        }
        self.init(name: m.name, model: model, tokens: m.tokens, plans: m.plans, mutants: mutants, command: m.command)
    }
}
