// RandomModel: seeded random hxa079 models at realistic scales, and the
// named presets (`tiny`, `small`, `medium`, `reka`).
//
// Contract: the same (preset or shape, options, seed) gives the same weights.
// Each tensor draws from its own sub-stream named after the tensor, so a
// model truncated to n layers (`ModelShape.truncated(toLayers:)`, which keeps
// the full depth for the w0 spread) is exactly the first n layers of the full
// one. `RandomModelPlan` is the single definition of the tensors (names,
// shapes, draws); `ModelWeights.random` is what the loader reads from it, and
// `writeRandomModelDirectory` streams it to disk chunk by chunk, so a model
// far larger than memory (the `reka` preset) can be generated and written
// with bounded memory. Values are drawn in Double and rounded once to the
// target type, so the Float model is the Double model rounded.
//
// Scales (chosen so activations look like a trained model's, not like noise):
// - projections N(0, 1/fan_in); MLP down and mixer outputs half that std;
// - norms γ = 1 + N(0, 0.1²);
// - decay bias w0 spread like RWKV-7's initialisation,
//   w0[n] = −6 + 5·(n/(N−1))^(0.85 + √(layer ratio)) + N(0, 0.3²) per head,
//   so per-step decays range from ≈ 0.998 to ≈ 0.7;
// - ICLR bias a0 ~ N(0, 0.3²) (σ(a0) ≈ 0.5); residual-gate biases ~ 0.5 + N(0, 0.3²);
// - LoRA first halves N(0, 1/C), second halves small N(0, (0.1/√D)²), except
//   the output gate's g2 ~ N(0, 1/D);
// - r_k ~ N(0, 0.1²); biases (when enabled) N(0, 0.05²); the head never has a
//   bias (SPEC.md §2.3).

import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shape of a random model.
public struct ModelShape: Sendable, Equatable {
    public var config: ModelConfig
    /// Layer indices that are GQA layers.
    public var gqaLayers: Set<Int>
    /// LoRA ranks (Dw, Da, Dv, Dk, Dg).
    public var ranks: (decay: Int, iclr: Int, value: Int, key: Int, gate: Int)
    /// The depth the per-layer w0 spread is computed for; nil means
    /// `config.numLayers`. `truncated(toLayers:)` sets it to the full depth.
    public var referenceDepth: Int?

    public init(config: ModelConfig, gqaLayers: Set<Int>, ranks: (decay: Int, iclr: Int, value: Int, key: Int, gate: Int)? = nil) {
        self.config = config
        self.gqaLayers = gqaLayers
        self.ranks = ranks ?? ModelShape.trainingRanks(attentionWidth: config.attentionWidth)
    }

    public static func == (a: ModelShape, b: ModelShape) -> Bool {
        a.config == b.config && a.gqaLayers == b.gqaLayers && a.ranks == b.ranks && a.depth == b.depth
    }

    /// The depth used for the w0 spread.
    var depth: Int { referenceDepth ?? config.numLayers }

    public var layerKinds: [LayerKind] { (0..<config.numLayers).map { gqaLayers.contains($0) ? .gqa : .rwkv } }

    /// The LoRA ranks of the training code for C' = H·N (SPEC.md §1):
    /// max(32, round(f·C'^e / 32)·32) with (f, e) = (1.7, 0.6), (1.8, 0.5), (1.3, 0.5), (1.3, 0.5), (0.35, 0.8).
    public static func trainingRanks(attentionWidth c: Int) -> (decay: Int, iclr: Int, value: Int, key: Int, gate: Int) {
        func rank(_ f: Double, _ e: Double) -> Int { max(32, Int((f * pow(Double(c), e) / 32).rounded()) * 32) }
        return (rank(1.7, 0.6), rank(1.8, 0.5), rank(1.3, 0.5), rank(1.3, 0.5), rank(0.35, 0.8))
    }
}

/// Optional parts of a random model.
public struct RandomModelOptions: Sendable, Equatable {
    /// Add r/k/v/o and q/k/v/o and MLP biases (the head never has one, SPEC.md §2.3).
    public var biases = false
    /// Add per-head r/k norms in RWKV layers.
    public var rkNorms = false
    /// Add per-head q/k norms in GQA layers.
    public var qkNorms = false
    /// Omit `lm_head.weight` (head tied to the embedding).
    public var tiedHead = false
    /// Give the first RWKV layer v0..v2 / k0..k2 (real checkpoints do; unused there).
    public var firstLayerGates = true

    public init(biases: Bool = false, rkNorms: Bool = false, qkNorms: Bool = false, tiedHead: Bool = false, firstLayerGates: Bool = true) {
        self.biases = biases
        self.rkNorms = rkNorms
        self.qkNorms = qkNorms
        self.tiedHead = tiedHead
        self.firstLayerGates = firstLayerGates
    }
}

/// Named presets (`hxa079 init-model --preset`).
public enum Preset: String, CaseIterable, Sendable {
    case tiny, small, medium, reka

    public var shape: ModelShape {
        switch self {
        case .tiny:
            return ModelShape(config: ModelConfig(hiddenSize: 64, numHeads: 4, headDim: 16, numKVHeads: 2,
                                                  intermediateSize: 160, vocabSize: 256, numLayers: 4,
                                                  rmsNormEps: 1e-5, ropeTheta: 10_000),
                              gqaLayers: [2], ranks: (8, 8, 8, 8, 16))
        case .small:
            return ModelShape(config: ModelConfig(hiddenSize: 256, numHeads: 4, headDim: 64, numKVHeads: 2,
                                                  intermediateSize: 704, vocabSize: 4096, numLayers: 6,
                                                  rmsNormEps: 1e-5, ropeTheta: 10_000),
                              gqaLayers: [2, 5])
        case .medium:
            return ModelShape(config: ModelConfig(hiddenSize: 1024, numHeads: 16, headDim: 64, numKVHeads: 4,
                                                  intermediateSize: 2816, vocabSize: 32000, numLayers: 12,
                                                  rmsNormEps: 1e-5, ropeTheta: 1_000_000),
                              gqaLayers: [3, 7, 11])
        case .reka:
            // RWKV-Reka-3.1-Flash (SPEC.md §1.5); the ranks equal trainingRanks(6144).
            return ModelShape(config: ModelConfig(hiddenSize: 6144, numHeads: 64, headDim: 96, numKVHeads: 8,
                                                  intermediateSize: 19648, vocabSize: 100352, numLayers: 44,
                                                  rmsNormEps: 1e-5, ropeTheta: 8_000_000),
                              gqaLayers: [8, 15, 22, 29, 36, 43], ranks: (320, 128, 96, 96, 384))
        }
    }
}

extension ModelShape {
    /// The first `n` layers of this shape (random weights equal to the full
    /// model's first n layers).
    public func truncated(toLayers n: Int) -> ModelShape {
        var s = self
        s.referenceDepth = depth
        s.config.numLayers = n
        s.gqaLayers = gqaLayers.filter { $0 < n }
        return s
    }
}

/// The tensors of a seeded random model — names, checkpoint shapes and how
/// each is drawn — in `namedTensors()` order. Values are generated on demand
/// (it is a `TensorSource`), never stored.
public struct RandomModelPlan: TensorSource {
    /// How one tensor is drawn, element by element from its own sub-stream.
    enum Draw {
        /// mean + std·z, z standard normal.
        case normal(std: Double, mean: Double)
        /// w0 of a layer: −6 + 5·x^exponent + 0.3·z with x = n/(N−1) for channel n of each head.
        case decayBias(headDim: Int, exponent: Double)
    }

    struct Entry {
        let name: String
        let shape: [Int]
        let draw: Draw
        var count: Int { shape.reduce(1, *) }
    }

    /// The model's config (tie flag from the options, no declared layer list).
    public let config: ModelConfig
    public let layerKinds: [LayerKind]
    public let seed: UInt64
    let entries: [Entry]
    private let index: [String: Int]
    private let sorted: [String]

    public init(shape: ModelShape, options: RandomModelOptions = .init(), seed: UInt64) {
        var cfg = shape.config
        cfg.tieWordEmbeddings = options.tiedHead
        cfg.declaredLayerKinds = nil
        config = cfg
        self.seed = seed
        let kinds = shape.layerKinds
        layerKinds = kinds
        let C = cfg.hiddenSize, H = cfg.numHeads, N = cfg.headDim, Hkv = cfg.numKVHeads, I = cfg.intermediateSize
        let firstRWKV = kinds.firstIndex(of: .rwkv)
        var out: [Entry] = []
        func normal(_ name: String, _ shape: [Int], std: Double, mean: Double = 0) {
            out.append(Entry(name: name, shape: shape, draw: .normal(std: std, mean: mean)))
        }
        // Projections N(0, gain²/fan_in); biases N(0, 0.05²).
        func linear(_ prefix: String, out o: Int, in i: Int, gain: Double = 1, bias: Bool = options.biases) {
            normal(prefix + ".weight", [o, i], std: gain / Double(i).squareRoot())
            if bias { normal(prefix + ".bias", [o], std: 0.05) }
        }
        func lowRank(_ first: String, _ second: String, in i: Int, rank: Int, out o: Int, upStd: Double) {
            normal(first, [i, rank], std: 1 / Double(i).squareRoot())
            normal(second, [rank, o], std: upStd)
        }
        func norm(_ name: String, _ n: Int) { normal(name, [n], std: 0.1, mean: 1) }
        let ranks = shape.ranks
        normal(TensorName.embedding, [cfg.vocabSize, C], std: 0.5)
        for (i, kind) in kinds.enumerated() {
            let a = { (leaf: String) in TensorName.attn(i, leaf) }
            norm(TensorName.inputNorm(i), C)
            norm(TensorName.postAttentionNorm(i), C)
            switch kind {
            case .rwkv:
                linear(a("receptance"), out: H * N, in: C)
                linear(a("key"), out: Hkv * N, in: C)
                linear(a("value"), out: Hkv * N, in: C)
                linear(a("output"), out: C, in: H * N, gain: 0.5)
                // RWKV-7-like spread of decay speeds over the channels of each head.
                let ratio = Double(i) / Double(max(shape.depth - 1, 1))
                out.append(Entry(name: a("w0"), shape: [1, 1, H * N], draw: .decayBias(headDim: N, exponent: 0.85 + ratio.squareRoot())))
                lowRank(a("w1"), a("w2"), in: C, rank: ranks.decay, out: H * N, upStd: 0.1 / Double(ranks.decay).squareRoot())
                normal(a("a0"), [1, 1, H * N], std: 0.3)
                lowRank(a("a1"), a("a2"), in: C, rank: ranks.iclr, out: H * N, upStd: 0.1 / Double(ranks.iclr).squareRoot())
                if i != firstRWKV || options.firstLayerGates {
                    for (p, rank) in [("v", ranks.value), ("k", ranks.key)] {
                        normal(a(p + "0"), [1, 1, Hkv * N], std: 0.3, mean: 0.5)
                        lowRank(a(p + "1"), a(p + "2"), in: C, rank: rank, out: Hkv * N, upStd: 0.1 / Double(rank).squareRoot())
                    }
                }
                lowRank(a("g1"), a("g2"), in: C, rank: ranks.gate, out: H * N, upStd: 1 / Double(ranks.gate).squareRoot())
                normal(a("r_k"), [H, N], std: 0.1)
                if options.rkNorms { norm(a("r_norm.weight"), N); norm(a("k_norm.weight"), N) }
            case .gqa:
                linear(a("q_proj"), out: H * N, in: C)
                linear(a("k_proj"), out: Hkv * N, in: C)
                linear(a("v_proj"), out: Hkv * N, in: C)
                linear(a("o_proj"), out: C, in: H * N, gain: 0.5)
                if options.qkNorms { norm(a("q_norm.weight"), N); norm(a("k_norm.weight"), N) }
            }
            linear(TensorName.mlp(i, "gate_proj"), out: I, in: C)
            linear(TensorName.mlp(i, "up_proj"), out: I, in: C)
            linear(TensorName.mlp(i, "down_proj"), out: C, in: I, gain: 0.5)
        }
        norm(TensorName.finalNorm, C)
        if !options.tiedHead { linear("lm_head", out: cfg.vocabSize, in: C, bias: false) }
        entries = out
        var idx: [String: Int] = [:]
        for (k, e) in out.enumerated() { idx[e.name] = k }
        index = idx
        sorted = idx.keys.sorted()
    }

    /// Tensor names in `namedTensors()` order.
    public var orderedNames: [String] { entries.map { $0.name } }
    /// Number of parameters.
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.count } }

    /// Calls `emit` with consecutive chunks (at most `chunk` values) of entry `e`.
    func generate(_ e: Entry, chunk: Int = writeChunkElements, _ emit: ([Double]) throws -> Void) rethrows {
        var rng = SeededRNG(seed: seed, label: e.name)
        let total = e.count
        var done = 0
        var buffer: [Double] = []
        buffer.reserveCapacity(min(chunk, total))
        while done < total {
            let n = min(chunk, total - done)
            buffer.removeAll(keepingCapacity: true)
            switch e.draw {
            case .normal(let std, let mean):
                for _ in 0..<n { buffer.append(mean + std * rng.normal()) }
            case .decayBias(let N, let exponent):
                for k in done..<(done + n) {
                    let c = k % N
                    let x = N > 1 ? Double(c) / Double(N - 1) : 0
                    buffer.append(-6 + 5 * pow(x, exponent) + 0.3 * rng.normal())
                }
            }
            try emit(buffer)
            done += n
        }
    }

    // TensorSource
    public var tensorNames: [String] { sorted }
    public func shape(of name: String) -> [Int]? { index[name].map { entries[$0].shape } }
    public func dtype(of name: String) -> DType? { index[name] == nil ? nil : .F64 }

    public func doubles(_ name: String) throws -> [Double] {
        guard let k = index[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        var out: [Double] = []
        out.reserveCapacity(entries[k].count)
        generate(entries[k]) { out.append(contentsOf: $0) }
        return out
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let k = index[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        var out: [Float] = []
        out.reserveCapacity(entries[k].count)
        generate(entries[k]) { chunk in for v in chunk { out.append(Float(v)) } }
        return out
    }

    /// The tensors as producers for the streaming writer.
    var plannedTensors: [PlannedTensor] {
        entries.map { e in PlannedTensor(name: e.name, shape: e.shape) { emit in try self.generate(e, emit) } }
    }
}

extension ModelWeights {
    /// A seeded random model of `shape` (see the file comment for the scales):
    /// exactly what the loader reads from `RandomModelPlan(shape:options:seed:)`.
    public static func random(shape: ModelShape, options: RandomModelOptions = .init(), seed: UInt64) -> ModelWeights<T> {
        let plan = RandomModelPlan(shape: shape, options: options, seed: seed)
        return build(config: plan.config, reader: WeightReader<T>(source: plan, loadValues: true, checkFinite: false))
    }
}

/// Generates a seeded random model and writes it as a model directory,
/// streaming each tensor in chunks (memory stays bounded whatever the size).
/// The files equal `writeModelDirectory(ModelWeights<Double>.random(...))`
/// for F64 and `ModelWeights<Float>.random(...)` for F32 / F16 / BF16.
@discardableResult
package func writeRandomModelDirectory(shape: ModelShape, options: RandomModelOptions = .init(), seed: UInt64,
                                      to path: String, dtype: DType, naming: TensorNaming = .hf, shards: Int = 1,
                                      metadata: [String: String]? = nil) throws -> WrittenModel {
    let plan = RandomModelPlan(shape: shape, options: options, seed: seed)
    return try writeModelFiles(plan.plannedTensors, config: plan.config.json(layerKinds: plan.layerKinds), to: path,
                               dtype: dtype, naming: naming, shards: shards, metadata: metadata)
}

/// The safetensors metadata `hxa079 init-model` writes; fixtures regenerate
/// preset models with the same, so the files hash identically.
package func presetModelMetadata(preset: Preset, seed: UInt64) -> [String: String] {
    ["format": "pt", "generator": "hxa079 init-model", "preset": preset.rawValue, "seed": "\(seed)"]
}
