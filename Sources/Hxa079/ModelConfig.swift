// ModelConfig: the hyper-parameters of an hxa079 model (SPEC.md §1).
//
// Contract: a plain value read from a Llama-style `config.json`. It says
// nothing about which layers are RWKV and which are GQA: that is decided by
// the weights (SPEC.md §1, "a layer is GQA iff it has q_proj.weight"); an
// optional declared layer list must agree with the weights or loading fails.

import SafeTensors

/// The two mixer kinds of an hxa079 stack.
public enum LayerKind: String, Sendable, Equatable, CaseIterable, Codable {
    /// hxa079 RWKV-7-style linear attention (RoPE on r and k).
    case rwkv
    /// Grouped-query softmax attention without positional encoding.
    case gqa

    /// One-letter code used in layer maps: `R` or `A`.
    public var letter: Character { self == .rwkv ? "R" : "A" }
}

/// Hyper-parameters. Symbols are those of SPEC.md §0.
public struct ModelConfig: Sendable, Equatable {
    /// C: width of the residual stream.
    public var hiddenSize: Int
    /// H: number of r/q heads.
    public var numHeads: Int
    /// N: head size (`head_dim`). H·N may differ from C.
    public var headDim: Int
    /// Hkv: number of k/v heads. H must be a multiple of Hkv.
    public var numKVHeads: Int
    /// I: SwiGLU intermediate width.
    public var intermediateSize: Int
    /// V: vocabulary size.
    public var vocabSize: Int
    /// L: number of layers.
    public var numLayers: Int
    /// ε of every RMSNorm (SPEC.md (2)), inside the square root.
    public var rmsNormEps: Double
    /// θ of RoPE (SPEC.md (3)).
    public var ropeTheta: Double
    /// `tie_word_embeddings`: informational; the head is tied iff `lm_head.weight` is absent.
    public var tieWordEmbeddings: Bool
    /// Layer kinds declared by `config.json` (`transformer_layers` or
    /// `layer_types`), if any. Must agree with the weights.
    public var declaredLayerKinds: [LayerKind]?

    public init(hiddenSize: Int, numHeads: Int, headDim: Int, numKVHeads: Int,
                intermediateSize: Int, vocabSize: Int, numLayers: Int,
                rmsNormEps: Double = 1e-5, ropeTheta: Double = 10_000,
                tieWordEmbeddings: Bool = false, declaredLayerKinds: [LayerKind]? = nil) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.headDim = headDim
        self.numKVHeads = numKVHeads
        self.intermediateSize = intermediateSize
        self.vocabSize = vocabSize
        self.numLayers = numLayers
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.declaredLayerKinds = declaredLayerKinds
    }

    /// G = H / Hkv: how many r/q heads share one k/v head.
    public var groupSize: Int { numHeads / numKVHeads }
    /// H·N: width of r, q and of the mixer output before Wo.
    public var attentionWidth: Int { numHeads * headDim }
    /// Hkv·N: width of k and v.
    public var kvWidth: Int { numKVHeads * headDim }

    /// Every structural problem of the configuration, empty when it is usable.
    public func problems() -> [String] {
        var out: [String] = []
        func positive(_ v: Int, _ name: String) { if v <= 0 { out.append("config: \(name) must be positive, got \(v)") } }
        positive(hiddenSize, "hidden_size")
        positive(numHeads, "num_attention_heads")
        positive(headDim, "head_dim")
        positive(numKVHeads, "num_key_value_heads")
        positive(intermediateSize, "intermediate_size")
        positive(vocabSize, "vocab_size")
        positive(numLayers, "num_hidden_layers")
        if numHeads > 0 && numKVHeads > 0 && numHeads % numKVHeads != 0 {
            out.append("config: num_key_value_heads (\(numKVHeads)) does not divide num_attention_heads (\(numHeads))")
        }
        if headDim > 0 && headDim % 2 != 0 {
            out.append("config: head_dim (\(headDim)) must be even for rotate-half RoPE")
        }
        if !(rmsNormEps > 0) || !rmsNormEps.isFinite { out.append("config: rms_norm_eps must be a positive finite number, got \(rmsNormEps)") }
        if !(ropeTheta > 1) || !ropeTheta.isFinite { out.append("config: rope_theta must be a finite number > 1, got \(ropeTheta)") }
        if let kinds = declaredLayerKinds, kinds.count != numLayers {
            out.append("config: the declared layer list has \(kinds.count) entries but num_hidden_layers is \(numLayers)")
        }
        return out
    }

    /// Throws `Hxa079Error.invalidConfig` listing every problem.
    public func validate() throws {
        let p = problems()
        if !p.isEmpty { throw Hxa079Error.invalidConfig(p) }
    }
}

// MARK: - config.json

extension ModelConfig {
    /// Parses a Llama-style `config.json` (SPEC.md §1).
    /// `head_dim` defaults to hidden_size / num_attention_heads, `num_key_value_heads`
    /// to num_attention_heads, `rms_norm_eps` to 1e-5 and `rope_theta` to 10000
    /// (the Llama defaults). Unknown fields are ignored.
    public init(json: JSONValue, source: String = "config.json") throws {
        guard json.objectValue != nil else { throw Hxa079Error.invalidConfig(["\(source): top level is not a JSON object"]) }
        var problems: [String] = []
        func int(_ key: String, default def: Int? = nil) -> Int {
            guard let v = json[key] else {
                if let def { return def }
                problems.append("\(source): missing field \"\(key)\""); return 0
            }
            guard let i = v.intValue else { problems.append("\(source): field \"\(key)\" is not an integer"); return 0 }
            return i
        }
        func double(_ key: String, default def: Double) -> Double {
            guard let v = json[key], v != .null else { return def }
            guard let d = v.doubleValue else { problems.append("\(source): field \"\(key)\" is not a number"); return def }
            return d
        }
        let hidden = int("hidden_size")
        let heads = int("num_attention_heads")
        let headDim = int("head_dim", default: heads > 0 ? hidden / heads : 0)
        let kvHeads = int("num_key_value_heads", default: heads)
        let inter = int("intermediate_size")
        let vocab = int("vocab_size")
        let layers = int("num_hidden_layers")
        let eps = double("rms_norm_eps", default: 1e-5)
        let theta = double("rope_theta", default: 10_000)
        var tie = false
        if let t = json["tie_word_embeddings"], t != .null {
            if let b = t.boolValue { tie = b } else { problems.append("\(source): field \"tie_word_embeddings\" is not a boolean") }
        }
        var declared: [LayerKind]? = nil
        if let list = json["transformer_layers"], list != .null {
            if let arr = list.arrayValue {
                var kinds = [LayerKind](repeating: .rwkv, count: max(layers, 0))
                for item in arr {
                    guard let i = item.intValue else { problems.append("\(source): transformer_layers holds a non-integer"); continue }
                    if i < 0 || i >= layers { problems.append("\(source): transformer_layers names layer \(i), outside 0..<\(layers)") }
                    else { kinds[i] = .gqa }
                }
                declared = kinds
            } else { problems.append("\(source): transformer_layers is not a list") }
        }
        if let list = json["layer_types"], list != .null {
            if let arr = list.arrayValue {
                var kinds: [LayerKind] = []
                for item in arr {
                    switch item.stringValue?.lowercased() {
                    case "rwkv", "hxa079", "linear_attention", "rwkv7": kinds.append(.rwkv)
                    case "attention", "gqa", "full_attention", "transformer", "self_attention": kinds.append(.gqa)
                    default: problems.append("\(source): layer_types holds an unknown layer type \(item.serialized())")
                    }
                }
                if let d = declared, d != kinds, kinds.count == arr.count {
                    problems.append("\(source): transformer_layers and layer_types disagree")
                }
                declared = kinds
            } else { problems.append("\(source): layer_types is not a list") }
        }
        if !problems.isEmpty { throw Hxa079Error.invalidConfig(problems) }
        self.init(hiddenSize: hidden, numHeads: heads, headDim: headDim, numKVHeads: kvHeads,
                  intermediateSize: inter, vocabSize: vocab, numLayers: layers, rmsNormEps: eps,
                  ropeTheta: theta, tieWordEmbeddings: tie, declaredLayerKinds: declared)
    }

    /// The `config.json` this package writes for generated models.
    public func json(layerKinds: [LayerKind]) -> JSONValue {
        let gqa = layerKinds.enumerated().filter { $0.element == .gqa }.map { JSONValue.number(Double($0.offset)) }
        return .object([
            ("architectures", .array([.string("RWKV079ForCausalLM")])),
            ("model_type", .string("hxa079")),
            ("hidden_size", .number(Double(hiddenSize))),
            ("num_attention_heads", .number(Double(numHeads))),
            ("head_dim", .number(Double(headDim))),
            ("num_key_value_heads", .number(Double(numKVHeads))),
            ("intermediate_size", .number(Double(intermediateSize))),
            ("vocab_size", .number(Double(vocabSize))),
            ("num_hidden_layers", .number(Double(numLayers))),
            ("rms_norm_eps", .number(rmsNormEps)),
            ("rope_theta", .number(ropeTheta)),
            ("tie_word_embeddings", .bool(tieWordEmbeddings)),
            ("transformer_layers", .array(gqa)),
        ])
    }
}
