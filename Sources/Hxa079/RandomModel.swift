// RandomModel: seeded random hxa079 models at realistic scales, and the
// named presets (`tiny`, `small`, `medium`, `reka`).
//
// Contract: the same (preset or shape, options, seed) gives the same weights.
// Each tensor draws from its own named sub-stream, so a model written with
// `layers: n` is exactly the first n layers of the full one.
//
// Scales (chosen so activations look like a trained model's, not like noise):
// - projections N(0, 1/fan_in); MLP down and mixer outputs half that std;
// - norms γ = 1 + N(0, 0.1²);
// - decay bias w0 spread like RWKV-7's initialisation,
//   w0[n] = −6 + 5·(n/(N−1))^(0.85 + √(layer ratio)) + N(0, 0.3²) per head,
//   so per-step decays range from ≈ 0.998 to ≈ 0.7;
// - ICLR bias a0 ~ N(0, 0.3²) (σ(a0) ≈ 0.5); residual-gate biases ~ 0.5 + N(0, 0.3²);
// - LoRA first halves N(0, 1/C), second halves small N(0, (0.1/√D)²);
// - r_k ~ N(0, 0.1²); biases (when enabled) N(0, 0.05²).

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

    public init(config: ModelConfig, gqaLayers: Set<Int>, ranks: (decay: Int, iclr: Int, value: Int, key: Int, gate: Int)? = nil) {
        self.config = config
        self.gqaLayers = gqaLayers
        self.ranks = ranks ?? ModelShape.trainingRanks(attentionWidth: config.attentionWidth)
    }

    public static func == (a: ModelShape, b: ModelShape) -> Bool {
        a.config == b.config && a.gqaLayers == b.gqaLayers && a.ranks == b.ranks
    }

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
    /// Add r/k/v/o and q/k/v/o and MLP biases.
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
            // RWKV-Reka-3.1-Flash (SPEC.md §1): ranks 320/128/96/96/384 follow from trainingRanks(6144).
            return ModelShape(config: ModelConfig(hiddenSize: 6144, numHeads: 64, headDim: 96, numKVHeads: 8,
                                                  intermediateSize: 19648, vocabSize: 100352, numLayers: 44,
                                                  rmsNormEps: 1e-5, ropeTheta: 8_000_000),
                              gqaLayers: [8, 15, 22, 29, 36, 43])
        }
    }
}

extension ModelShape {
    /// The first `n` layers of this shape.
    public func truncated(toLayers n: Int) -> ModelShape {
        var s = self
        s.config.numLayers = n
        s.gqaLayers = gqaLayers.filter { $0 < n }
        return s
    }
}

extension ModelWeights {
    /// A seeded random model of `shape` (see the file comment for the scales).
    public static func random(shape: ModelShape, options: RandomModelOptions = .init(), seed: UInt64) -> ModelWeights<T> {
        var cfg = shape.config
        cfg.tieWordEmbeddings = options.tiedHead
        cfg.declaredLayerKinds = nil
        let C = cfg.hiddenSize, H = cfg.numHeads, N = cfg.headDim, Hkv = cfg.numKVHeads, I = cfg.intermediateSize, V = cfg.vocabSize
        let kinds = shape.layerKinds
        let firstRWKV = kinds.firstIndex(of: .rwkv)

        func normal(_ label: String, _ count: Int, std: Double, mean: Double = 0) -> [T] {
            var rng = SeededRNG(seed: seed, label: label)
            return rng.normals(count, std: std, mean: mean)
        }
        func linear(_ name: String, out: Int, in inF: Int, gain: Double = 1) -> Linear<T> {
            Linear(outFeatures: out, inFeatures: inF,
                   weight: normal(name + ".weight", out * inF, std: gain / Double(inF).squareRoot()),
                   bias: options.biases ? normal(name + ".bias", out, std: 0.05) : nil)
        }
        func lowRank(_ first: String, _ second: String, in inF: Int, rank: Int, out: Int) -> LowRank<T> {
            LowRank(inFeatures: inF, rank: rank, outFeatures: out,
                    down: normal(first, inF * rank, std: 1 / Double(inF).squareRoot()),
                    up: normal(second, rank * out, std: 0.1 / Double(rank).squareRoot()))
        }
        func norm(_ name: String, _ n: Int) -> [T] { normal(name, n, std: 0.1, mean: 1) }

        var layers: [LayerWeights<T>] = []
        for (i, kind) in kinds.enumerated() {
            let a = { (leaf: String) in TensorName.attn(i, leaf) }
            let mixer: MixerWeights<T>
            switch kind {
            case .rwkv:
                // w0: RWKV-7-like spread of decay speeds over the channels of each head.
                let ratio = Double(i) / Double(max(cfg.numLayers - 1, 1))
                var rng = SeededRNG(seed: seed, label: a("w0"))
                var w0 = [T](); w0.reserveCapacity(H * N)
                for _ in 0..<H {
                    for n in 0..<N {
                        let x = N > 1 ? Double(n) / Double(N - 1) : 0
                        w0.append(T(-6 + 5 * pow(x, 0.85 + ratio.squareRoot()) + 0.3 * rng.normal()))
                    }
                }
                let gates = i != firstRWKV || options.firstLayerGates
                func gate(_ p: String, rank: Int) -> ResidualGate<T>? {
                    gates ? ResidualGate(bias: normal(a(p + "0"), Hkv * N, std: 0.3, mean: 0.5),
                                         lora: lowRank(a(p + "1"), a(p + "2"), in: C, rank: rank, out: Hkv * N)) : nil
                }
                mixer = .rwkv(RWKVWeights(
                    receptance: linear(a("receptance"), out: H * N, in: C),
                    key: linear(a("key"), out: Hkv * N, in: C),
                    value: linear(a("value"), out: Hkv * N, in: C),
                    output: linear(a("output"), out: C, in: H * N, gain: 0.5),
                    w0: w0,
                    decayLoRA: lowRank(a("w1"), a("w2"), in: C, rank: shape.ranks.decay, out: H * N),
                    a0: normal(a("a0"), H * N, std: 0.3),
                    iclrLoRA: lowRank(a("a1"), a("a2"), in: C, rank: shape.ranks.iclr, out: H * N),
                    valueGate: gate("v", rank: shape.ranks.value),
                    keyGate: gate("k", rank: shape.ranks.key),
                    gateLoRA: LowRank(inFeatures: C, rank: shape.ranks.gate, outFeatures: H * N,
                                      down: normal(a("g1"), C * shape.ranks.gate, std: 1 / Double(C).squareRoot()),
                                      up: normal(a("g2"), shape.ranks.gate * H * N, std: 1 / Double(shape.ranks.gate).squareRoot())),
                    rK: normal(a("r_k"), H * N, std: 0.1),
                    rNorm: options.rkNorms ? norm(a("r_norm.weight"), N) : nil,
                    kNorm: options.rkNorms ? norm(a("k_norm.weight"), N) : nil))
            case .gqa:
                mixer = .gqa(GQAWeights(
                    query: linear(a("q_proj"), out: H * N, in: C),
                    key: linear(a("k_proj"), out: Hkv * N, in: C),
                    value: linear(a("v_proj"), out: Hkv * N, in: C),
                    output: linear(a("o_proj"), out: C, in: H * N, gain: 0.5),
                    qNorm: options.qkNorms ? norm(a("q_norm.weight"), N) : nil,
                    kNorm: options.qkNorms ? norm(a("k_norm.weight"), N) : nil))
            }
            layers.append(LayerWeights(
                inputNorm: norm(TensorName.inputNorm(i), C),
                postAttentionNorm: norm(TensorName.postAttentionNorm(i), C),
                mixer: mixer,
                mlp: MLPWeights(gate: linear(TensorName.mlp(i, "gate_proj"), out: I, in: C),
                                up: linear(TensorName.mlp(i, "up_proj"), out: I, in: C),
                                down: linear(TensorName.mlp(i, "down_proj"), out: C, in: I, gain: 0.5))))
        }
        return ModelWeights(config: cfg,
                            embedding: normal(TensorName.embedding, V * C, std: 0.5),
                            layers: layers,
                            finalNorm: norm(TensorName.finalNorm, C),
                            lmHead: options.tiedHead ? nil : linear("lm_head", out: V, in: C))
    }
}
