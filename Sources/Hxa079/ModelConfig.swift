// ModelConfig: the hyper-parameters of an hxa079 model (SPEC.md §1).
//
// Contract: a plain value read from a Llama-style `config.json` by the rules
// of SPEC.md §1.1. Parsing collects every problem of the file at once and
// throws `Hxa079Error.invalidConfig` listing them (missing or mistyped fields,
// a bad layer list, an unsupported `rope_scaling` / `hidden_act`). Relations
// between valid fields (H mod Hkv, N even, sizes in range) are `problems()`,
// which the loader adds to its validation report.
// The config says nothing final about which layers are RWKV and which are
// GQA: the weights decide (SPEC.md §1.2); a declared layer list must agree.

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
    /// θ of RoPE (SPEC.md (3)). NaN when config.json omits `rope_theta`, which
    /// SPEC.md §1.1 allows only for a model without RWKV layers.
    public var ropeTheta: Double
    /// `tie_word_embeddings` (SPEC.md §2.7): when true the head is the
    /// embedding and `lm_head.weight` must be absent; when false the head is
    /// `lm_head.weight` if present, else the embedding.
    public var tieWordEmbeddings: Bool
    /// Layer kinds declared by `config.json` (`transformer_layers` or
    /// `layer_types`), if any. Must agree with the weights.
    public var declaredLayerKinds: [LayerKind]?

    /// Largest accepted size field (sanity bound so bad input cannot make the
    /// loader allocate absurd amounts).
    public static let maxDimension = 1 << 31
    /// Largest accepted `num_hidden_layers`.
    public static let maxLayers = 1 << 16

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
    public var groupSize: Int { numKVHeads > 0 ? numHeads / numKVHeads : 0 }
    /// H·N: width of r, q and of the mixer output before Wo.
    public var attentionWidth: Int { numHeads * headDim }
    /// Hkv·N: width of k and v.
    public var kvWidth: Int { numKVHeads * headDim }

    /// Every structural problem of the configuration, empty when it is usable.
    /// `hasRWKVLayers` (known once the weights are read) enables the rules
    /// that only RWKV layers need: N even, `rope_theta` given.
    public func problems(hasRWKVLayers: Bool = true) -> [String] {
        var out: [String] = []
        func size(_ v: Int, _ name: String) {
            if v <= 0 { out.append("config: \(name) must be positive, got \(v)") }
            else if v > Self.maxDimension { out.append("config: \(name) (\(v)) exceeds the limit \(Self.maxDimension)") }
        }
        size(hiddenSize, "hidden_size")
        size(numHeads, "num_attention_heads")
        size(headDim, "head_dim")
        size(numKVHeads, "num_key_value_heads")
        size(intermediateSize, "intermediate_size")
        size(vocabSize, "vocab_size")
        if numLayers <= 0 { out.append("config: num_hidden_layers must be positive, got \(numLayers)") }
        else if numLayers > Self.maxLayers { out.append("config: num_hidden_layers (\(numLayers)) exceeds the limit \(Self.maxLayers)") }
        if numHeads > 0 && numKVHeads > 0 && numHeads % numKVHeads != 0 {
            out.append("config: num_key_value_heads (\(numKVHeads)) does not divide num_attention_heads (\(numHeads))")
        }
        if hasRWKVLayers && headDim > 0 && headDim % 2 != 0 {
            out.append("config: head_dim (\(headDim)) must be even for the rotate-half RoPE of RWKV layers")
        }
        if !(rmsNormEps > 0) || !rmsNormEps.isFinite {
            out.append("config: rms_norm_eps must be a positive finite number, got \(rmsNormEps)")
        }
        if ropeTheta.isNaN {
            if hasRWKVLayers { out.append("config: rope_theta is missing; it is required when any RWKV layer exists") }
        } else if !(ropeTheta > 0) || !ropeTheta.isFinite {
            out.append("config: rope_theta must be a positive finite number, got \(ropeTheta)")
        }
        if let kinds = declaredLayerKinds, kinds.count != numLayers {
            out.append("config: the declared layer list has \(kinds.count) entries but num_hidden_layers is \(numLayers)")
        }
        return out
    }

    /// Field-wise equality; a missing `rope_theta` (NaN) equals a missing one.
    public static func == (a: ModelConfig, b: ModelConfig) -> Bool {
        a.hiddenSize == b.hiddenSize && a.numHeads == b.numHeads && a.headDim == b.headDim
            && a.numKVHeads == b.numKVHeads && a.intermediateSize == b.intermediateSize
            && a.vocabSize == b.vocabSize && a.numLayers == b.numLayers && a.rmsNormEps == b.rmsNormEps
            && (a.ropeTheta == b.ropeTheta || (a.ropeTheta.isNaN && b.ropeTheta.isNaN))
            && a.tieWordEmbeddings == b.tieWordEmbeddings && a.declaredLayerKinds == b.declaredLayerKinds
    }

    /// Throws `Hxa079Error.invalidConfig` listing every problem.
    public func validate() throws {
        let p = problems()
        if !p.isEmpty { throw Hxa079Error.invalidConfig(p) }
    }
}

// MARK: - config.json

extension ModelConfig {
    /// Layer-type strings of `layer_types` (SPEC.md §1.1).
    static let rwkvTypeNames: Set<String> = ["rwkv", "hxa079"]
    static let gqaTypeNames: Set<String> = ["attention", "gqa", "full_attention"]

    /// Parses a Llama-style `config.json` (SPEC.md §1.1). Required:
    /// `hidden_size`, `num_attention_heads`, `intermediate_size`, `vocab_size`,
    /// `num_hidden_layers`, `rms_norm_eps`. Optional: `head_dim` (default C/H,
    /// C must then be divisible by H), `num_key_value_heads` (default H),
    /// `rope_theta` (NaN when absent), `tie_word_embeddings` (default false),
    /// `transformer_layers`, `layer_types`, `rope_scaling` (must be null),
    /// `hidden_act` (must be "silu"). A null optional field counts as absent.
    /// Other fields are ignored. Throws `invalidConfig` with every problem.
    public init(json: JSONValue, source: String = "config.json") throws {
        guard json.objectValue != nil else { throw Hxa079Error.invalidConfig(["\(source): top level is not a JSON object"]) }
        var problems: [String] = []
        func present(_ key: String) -> JSONValue? {
            guard let v = json[key], !v.isNull else { return nil }
            return v
        }
        func int(_ key: String, required: Bool = true) -> Int? {
            guard let v = present(key) else {
                if required { problems.append("\(source): missing field \"\(key)\"") }
                return nil
            }
            guard let i = v.intValue else {
                problems.append("\(source): field \"\(key)\" is not an integer (got \(v.serialized()))")
                return nil
            }
            return i
        }
        func number(_ key: String, required: Bool) -> Double? {
            guard let v = present(key) else {
                if required { problems.append("\(source): missing field \"\(key)\"") }
                return nil
            }
            guard let d = v.doubleValue else {
                problems.append("\(source): field \"\(key)\" is not a number (got \(v.serialized()))")
                return nil
            }
            return d
        }
        let hidden = int("hidden_size")
        let heads = int("num_attention_heads")
        var headDim = int("head_dim", required: false)
        let kvHeads = int("num_key_value_heads", required: false)
        let inter = int("intermediate_size")
        let vocab = int("vocab_size")
        let layers = int("num_hidden_layers")
        let eps = number("rms_norm_eps", required: true)
        let theta = number("rope_theta", required: false)
        if headDim == nil && present("head_dim") == nil, let c = hidden, let h = heads, c > 0, h > 0 {
            if c % h != 0 {
                problems.append("\(source): head_dim is absent and hidden_size (\(c)) is not divisible by num_attention_heads (\(h))")
            }
            headDim = c / h
        }
        var tie = false
        if let t = present("tie_word_embeddings") {
            if let b = t.boolValue { tie = b } else { problems.append("\(source): field \"tie_word_embeddings\" is not a boolean (got \(t.serialized()))") }
        }
        if let s = present("rope_scaling") {
            problems.append("\(source): rope_scaling must be absent or null (no scaled RoPE is defined), got \(s.serialized())")
        }
        if let a = present("hidden_act"), a.stringValue != "silu" {
            problems.append("\(source): hidden_act must be \"silu\", got \(a.serialized())")
        }
        // Layer lists need a sane L to be checked against.
        let usableL: Int? = layers.flatMap { (1...Self.maxLayers).contains($0) ? $0 : nil }
        var declared: [LayerKind]? = nil
        if let list = present("transformer_layers") {
            if let arr = list.arrayValue {
                var seen = Set<Int>()
                var kinds = [LayerKind](repeating: .rwkv, count: usableL ?? 0)
                for item in arr {
                    guard let i = item.intValue else {
                        problems.append("\(source): transformer_layers holds a non-integer (\(item.serialized()))"); continue
                    }
                    if !seen.insert(i).inserted { problems.append("\(source): transformer_layers lists layer \(i) twice"); continue }
                    if let L = usableL {
                        if i < 0 || i >= L { problems.append("\(source): transformer_layers names layer \(i), outside 0..<\(L)") }
                        else { kinds[i] = .gqa }
                    }
                }
                if usableL != nil { declared = kinds }
            } else { problems.append("\(source): transformer_layers is not a list") }
        }
        if let list = present("layer_types") {
            if let arr = list.arrayValue {
                var kinds: [LayerKind] = []
                var bad = false
                for (i, item) in arr.enumerated() {
                    if let s = item.stringValue, Self.rwkvTypeNames.contains(s) { kinds.append(.rwkv) }
                    else if let s = item.stringValue, Self.gqaTypeNames.contains(s) { kinds.append(.gqa) }
                    else {
                        bad = true
                        problems.append("\(source): layer_types[\(i)] is \(item.serialized()); expected one of \"rwkv\", \"hxa079\", \"attention\", \"gqa\", \"full_attention\"")
                    }
                }
                if let L = usableL, arr.count != L {
                    problems.append("\(source): layer_types has \(arr.count) entries but num_hidden_layers is \(L)")
                } else if !bad {
                    if let d = declared, d != kinds {
                        let differ = zip(d, kinds).enumerated().filter { $0.element.0 != $0.element.1 }.map { String($0.offset) }
                        problems.append("\(source): transformer_layers and layer_types disagree at layers \(differ.joined(separator: ", "))")
                    }
                    declared = kinds
                }
            } else { problems.append("\(source): layer_types is not a list") }
        }
        guard problems.isEmpty, let hidden, let heads, let headDim, let inter, let vocab, let layers, let eps else {
            throw Hxa079Error.invalidConfig(problems)
        }
        self.init(hiddenSize: hidden, numHeads: heads, headDim: headDim, numKVHeads: kvHeads ?? heads,
                  intermediateSize: inter, vocabSize: vocab, numLayers: layers, rmsNormEps: eps,
                  ropeTheta: theta ?? .nan, tieWordEmbeddings: tie, declaredLayerKinds: declared)
    }

    /// The `config.json` this package writes for generated models.
    public func json(layerKinds: [LayerKind]) -> JSONValue {
        let gqa = layerKinds.enumerated().filter { $0.element == .gqa }.map { JSONValue.number(Double($0.offset)) }
        var members: [(String, JSONValue)] = [
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
        ]
        if !ropeTheta.isNaN { members.append(("rope_theta", .number(ropeTheta))) }
        members += [
            ("hidden_act", .string("silu")),
            ("tie_word_embeddings", .bool(tieWordEmbeddings)),
            ("transformer_layers", .array(gqa)),
        ]
        return .object(members)
    }
}
