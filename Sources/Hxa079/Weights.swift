// Weights: the typed parameters of an hxa079 model, generic over the scalar.
//
// Contract: plain values, row-major flat arrays whose shape and index meaning
// are stated on every field (llama2.c style). No arithmetic lives here except
// `converted(to:)`. Names of the corresponding checkpoint tensors are in
// TensorNames.swift; SPEC.md §2 lists them in both naming schemes.

/// A PyTorch-style linear map y = x·Wᵀ (+ b).
public struct Linear<T: BinaryFloatingPoint>: Equatable {
    /// Rows of W (the output width).
    public var outFeatures: Int
    /// Columns of W (the input width).
    public var inFeatures: Int
    /// W [outFeatures][inFeatures], row-major: weight[o·inFeatures + i].
    public var weight: [T]
    /// b [outFeatures], or nil when the checkpoint has no bias.
    public var bias: [T]?

    public init(outFeatures: Int, inFeatures: Int, weight: [T], bias: [T]? = nil) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.weight = weight
        self.bias = bias
    }
}

/// A low-rank path x·W1·W2 (checkpoint tensors `*1`, `*2`).
public struct LowRank<T: BinaryFloatingPoint>: Equatable {
    /// Input width (C).
    public var inFeatures: Int
    /// D: the rank, read from the tensor shapes.
    public var rank: Int
    /// Output width.
    public var outFeatures: Int
    /// W1 [inFeatures][rank], applied as x·W1: down[i·rank + d].
    public var down: [T]
    /// W2 [rank][outFeatures], applied as u·W2: up[d·outFeatures + o].
    public var up: [T]

    public init(inFeatures: Int, rank: Int, outFeatures: Int, down: [T], up: [T]) {
        self.inFeatures = inFeatures
        self.rank = rank
        self.outFeatures = outFeatures
        self.down = down
        self.up = up
    }
}

/// A sigmoid-gated residual toward the first RWKV layer's value (`v0,v1,v2`)
/// or key (`k0,k1,k2`), SPEC.md (9)/(10). Width Hkv·N.
public struct ResidualGate<T: BinaryFloatingPoint>: Equatable {
    /// `v0`/`k0` [Hkv·N] (stored [1,1,Hkv·N]).
    public var bias: [T]
    /// `v1`,`v2` / `k1`,`k2`.
    public var lora: LowRank<T>

    public init(bias: [T], lora: LowRank<T>) {
        self.bias = bias
        self.lora = lora
    }
}

/// The hxa079 RWKV mixer of one layer (SPEC.md (5)–(24)).
public struct RWKVWeights<T: BinaryFloatingPoint>: Equatable {
    /// Wr [H·N][C] (+ optional br [H·N]).
    public var receptance: Linear<T>
    /// Wk [Hkv·N][C] (+ optional bk).
    public var key: Linear<T>
    /// Wv [Hkv·N][C] (+ optional bv).
    public var value: Linear<T>
    /// Wo [C][H·N] (+ optional bo [C]).
    public var output: Linear<T>
    /// `w0` [H·N]: decay bias.
    public var w0: [T]
    /// `w1` [C][Dw], `w2` [Dw][H·N]: decay LoRA (tanh between them).
    public var decayLoRA: LowRank<T>
    /// `a0` [H·N]: in-context learning rate bias.
    public var a0: [T]
    /// `a1` [C][Da], `a2` [Da][H·N].
    public var iclrLoRA: LowRank<T>
    /// `v0,v1,v2`: value residual gate [Hkv·N]. Unused (and may be absent) in the first RWKV layer.
    public var valueGate: ResidualGate<T>?
    /// `k0,k1,k2`: key residual gate [Hkv·N]. Unused (and may be absent) in the first RWKV layer.
    public var keyGate: ResidualGate<T>?
    /// `g1` [C][Dg], `g2` [Dg][H·N]: output gate (sigmoid between them).
    public var gateLoRA: LowRank<T>
    /// `r_k` [H][N]: bonus weights.
    public var rK: [T]
    /// `r_norm.weight` [N]: per-head RMSNorm of r, shared by all heads; nil when absent.
    public var rNorm: [T]?
    /// `k_norm.weight` [N]: per-head RMSNorm of k; nil when absent.
    public var kNorm: [T]?

    public init(receptance: Linear<T>, key: Linear<T>, value: Linear<T>, output: Linear<T>,
                w0: [T], decayLoRA: LowRank<T>, a0: [T], iclrLoRA: LowRank<T>,
                valueGate: ResidualGate<T>?, keyGate: ResidualGate<T>?, gateLoRA: LowRank<T>,
                rK: [T], rNorm: [T]?, kNorm: [T]?) {
        self.receptance = receptance
        self.key = key
        self.value = value
        self.output = output
        self.w0 = w0
        self.decayLoRA = decayLoRA
        self.a0 = a0
        self.iclrLoRA = iclrLoRA
        self.valueGate = valueGate
        self.keyGate = keyGate
        self.gateLoRA = gateLoRA
        self.rK = rK
        self.rNorm = rNorm
        self.kNorm = kNorm
    }
}

/// The grouped-query attention mixer of one layer (SPEC.md (25)–(31)). No RoPE.
public struct GQAWeights<T: BinaryFloatingPoint>: Equatable {
    /// Wq [H·N][C] (+ optional bq).
    public var query: Linear<T>
    /// Wk [Hkv·N][C] (+ optional bk).
    public var key: Linear<T>
    /// Wv [Hkv·N][C] (+ optional bv).
    public var value: Linear<T>
    /// Wo [C][H·N] (+ optional bo [C]).
    public var output: Linear<T>
    /// `q_norm.weight` [N], nil when absent.
    public var qNorm: [T]?
    /// `k_norm.weight` [N], nil when absent.
    public var kNorm: [T]?

    public init(query: Linear<T>, key: Linear<T>, value: Linear<T>, output: Linear<T>, qNorm: [T]?, kNorm: [T]?) {
        self.query = query
        self.key = key
        self.value = value
        self.output = output
        self.qNorm = qNorm
        self.kNorm = kNorm
    }
}

/// SwiGLU MLP (SPEC.md (32)).
public struct MLPWeights<T: BinaryFloatingPoint>: Equatable {
    /// Wgate [I][C].
    public var gate: Linear<T>
    /// Wup [I][C].
    public var up: Linear<T>
    /// Wdown [C][I].
    public var down: Linear<T>

    public init(gate: Linear<T>, up: Linear<T>, down: Linear<T>) {
        self.gate = gate
        self.up = up
        self.down = down
    }
}

/// The mixer of a layer: its kind is carried by the case.
public enum MixerWeights<T: BinaryFloatingPoint>: Equatable {
    case rwkv(RWKVWeights<T>)
    case gqa(GQAWeights<T>)

    public var kind: LayerKind {
        switch self { case .rwkv: return .rwkv; case .gqa: return .gqa }
    }
}

/// One decoder block (SPEC.md (33)–(34)).
public struct LayerWeights<T: BinaryFloatingPoint>: Equatable {
    /// ln1 γ [C] (`input_layernorm`).
    public var inputNorm: [T]
    /// ln2 γ [C] (`post_attention_layernorm`).
    public var postAttentionNorm: [T]
    public var mixer: MixerWeights<T>
    public var mlp: MLPWeights<T>

    public init(inputNorm: [T], postAttentionNorm: [T], mixer: MixerWeights<T>, mlp: MLPWeights<T>) {
        self.inputNorm = inputNorm
        self.postAttentionNorm = postAttentionNorm
        self.mixer = mixer
        self.mlp = mlp
    }
}

/// A whole model.
public struct ModelWeights<T: BinaryFloatingPoint>: Equatable {
    public var config: ModelConfig
    /// E [V][C]: embedding[token·C + c].
    public var embedding: [T]
    /// The L blocks in order.
    public var layers: [LayerWeights<T>]
    /// Final norm γ [C] (`model.norm`).
    public var finalNorm: [T]
    /// W_head [V][C] (`lm_head.weight`), or nil when tied to `embedding` (SPEC.md (36)).
    public var lmHead: Linear<T>?

    public init(config: ModelConfig, embedding: [T], layers: [LayerWeights<T>], finalNorm: [T], lmHead: Linear<T>?) {
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
    }

    /// The kind of every layer, in order.
    public var layerKinds: [LayerKind] { layers.map { $0.mixer.kind } }

    /// Index of the first RWKV layer in layer order (the one that captures
    /// v_first/k_first, SPEC.md (8)), or nil for a model without RWKV layers.
    public var firstRWKVLayer: Int? { layerKinds.firstIndex(of: .rwkv) }

    /// Layer map such as `RRRRRRRRARRRRRRA…`.
    public var layerMap: String { String(layerKinds.map { $0.letter }) }
}

// MARK: - Scalar conversion

extension Linear {
    /// The same map with `f` applied to every parameter.
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> Linear<U> {
        Linear<U>(outFeatures: outFeatures, inFeatures: inFeatures, weight: weight.map(f), bias: bias?.map(f))
    }
}

extension LowRank {
    /// The same path with `f` applied to every parameter.
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> LowRank<U> {
        LowRank<U>(inFeatures: inFeatures, rank: rank, outFeatures: outFeatures, down: down.map(f), up: up.map(f))
    }
}

extension ResidualGate {
    /// The same gate with `f` applied to every parameter.
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> ResidualGate<U> {
        ResidualGate<U>(bias: bias.map(f), lora: lora.mapped(f))
    }
}

extension RWKVWeights {
    /// The same mixer with `f` applied to every parameter.
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> RWKVWeights<U> {
        RWKVWeights<U>(receptance: receptance.mapped(f), key: key.mapped(f),
                       value: value.mapped(f), output: output.mapped(f),
                       w0: w0.map(f), decayLoRA: decayLoRA.mapped(f),
                       a0: a0.map(f), iclrLoRA: iclrLoRA.mapped(f),
                       valueGate: valueGate?.mapped(f), keyGate: keyGate?.mapped(f),
                       gateLoRA: gateLoRA.mapped(f), rK: rK.map(f),
                       rNorm: rNorm?.map(f), kNorm: kNorm?.map(f))
    }
}

extension GQAWeights {
    /// The same mixer with `f` applied to every parameter.
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> GQAWeights<U> {
        GQAWeights<U>(query: query.mapped(f), key: key.mapped(f),
                      value: value.mapped(f), output: output.mapped(f),
                      qNorm: qNorm?.map(f), kNorm: kNorm?.map(f))
    }
}

extension LayerWeights {
    /// The same layer with `f` applied to every parameter.
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> LayerWeights<U> {
        let m: MixerWeights<U>
        switch mixer {
        case .rwkv(let w): m = .rwkv(w.mapped(f))
        case .gqa(let w): m = .gqa(w.mapped(f))
        }
        return LayerWeights<U>(inputNorm: inputNorm.map(f), postAttentionNorm: postAttentionNorm.map(f), mixer: m,
                               mlp: MLPWeights<U>(gate: mlp.gate.mapped(f), up: mlp.up.mapped(f), down: mlp.down.mapped(f)))
    }
}

extension ModelWeights {
    /// The same model with `f` applied to every parameter (one walk over the
    /// parameters: `converted(to:)` and the reference's precision profiles use it).
    public func mapped<U: BinaryFloatingPoint>(_ f: (T) -> U) -> ModelWeights<U> {
        ModelWeights<U>(
            config: config,
            embedding: embedding.map(f),
            layers: layers.map { $0.mapped(f) },
            finalNorm: finalNorm.map(f),
            lmHead: lmHead?.mapped(f))
    }

    /// The same model with every parameter rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> ModelWeights<U> { mapped { U($0) } }
}

extension Linear {
    /// The same parameters rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> Linear<U> { mapped { U($0) } }
}

extension LowRank {
    /// The same parameters rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> LowRank<U> { mapped { U($0) } }
}

extension ResidualGate {
    /// The same parameters rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> ResidualGate<U> { mapped { U($0) } }
}

extension RWKVWeights {
    /// The same parameters rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> RWKVWeights<U> { mapped { U($0) } }
}

extension GQAWeights {
    /// The same parameters rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> GQAWeights<U> { mapped { U($0) } }
}
