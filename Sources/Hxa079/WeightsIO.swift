// WeightsIO: named tensors ↔ typed weights, with a validation report that
// lists every problem at once (SPEC.md §1–§2).
//
// Contract:
// - Layer kinds come from the weights: layer i is GQA iff it has
//   `model.layers.i.self_attn.q_proj.weight`. A layer list declared in
//   config.json must agree.
// - LoRA ranks come from the tensor shapes. `*0` vectors are accepted in any
//   shape with the right element count ([1,1,D] in real checkpoints).
// - Structural problems (missing / unexpected tensors, wrong shapes,
//   inconsistent config, disagreeing layer list) make loading fail.
//   Non-finite weight values are reported separately as warnings, so a caller
//   can refuse them (`inspect`) or run anyway (`forward`, `step --watch-nan`).

import SafeTensors

/// Everything found wrong with a model, collected in one pass.
public struct ValidationReport: Sendable, Equatable {
    /// Structural problems: the model cannot be run.
    public var problems: [String] = []
    /// Tensors holding NaN or ±Inf, with how many such values.
    public var nonFinite: [NonFiniteTensor] = []

    public struct NonFiniteTensor: Sendable, Equatable {
        public var name: String
        public var count: Int
        public var firstIndex: Int
    }

    public init() {}

    /// True when there is nothing at all to report.
    public var isClean: Bool { problems.isEmpty && nonFinite.isEmpty }

    /// One line per non-finite tensor, for warnings.
    public var nonFiniteDescriptions: [String] {
        nonFinite.map { "tensor \($0.name) holds \($0.count) non-finite value\($0.count == 1 ? "" : "s") (first at flat index \($0.firstIndex))" }
    }
}

/// Reads typed weights out of a `TensorSource`, recording every problem.
/// With `loadValues == false` it checks names, shapes and finiteness but keeps
/// no values (used by `inspect` on models too large to hold).
final class WeightReader<T: BinaryFloatingPoint> {
    let source: TensorSource
    let loadValues: Bool
    let checkFinite: Bool
    var report = ValidationReport()
    var used = Set<String>()

    init(source: TensorSource, loadValues: Bool, checkFinite: Bool) {
        self.source = source
        self.loadValues = loadValues
        self.checkFinite = checkFinite
    }

    func has(_ name: String) -> Bool { source.shape(of: name) != nil }

    /// Reads `name`, whose shape must equal `shape` exactly (or, with
    /// `flexible`, merely have the same element count).
    func read(_ name: String, shape: [Int], flexible: Bool = false) -> [T] {
        used.insert(name)
        guard let actual = source.shape(of: name) else {
            report.problems.append("missing tensor \(name) (expected shape \(shape))")
            return []
        }
        let count = shape.reduce(1, *)
        let ok = flexible ? actual.reduce(1, *) == count : actual == shape
        if !ok {
            report.problems.append("tensor \(name) has shape \(actual), expected \(shape)\(flexible ? " (or any shape with \(count) elements)" : "")")
            return []
        }
        return values(name, count: count)
    }

    /// Reads `name` if present.
    func optional(_ name: String, shape: [Int], flexible: Bool = false) -> [T]? {
        has(name) ? read(name, shape: shape, flexible: flexible) : nil
    }

    /// Reads a LoRA pair `first` [inFeatures, D], `second` [D, outFeatures]; D from the shapes.
    func lowRank(_ first: String, _ second: String, inFeatures: Int, outFeatures: Int) -> LowRank<T> {
        used.insert(first); used.insert(second)
        guard let s1 = source.shape(of: first) else {
            report.problems.append("missing tensor \(first) (expected shape [\(inFeatures), rank])")
            if !has(second) { report.problems.append("missing tensor \(second) (expected shape [rank, \(outFeatures)])") }
            return LowRank(inFeatures: inFeatures, rank: 0, outFeatures: outFeatures, down: [], up: [])
        }
        guard s1.count == 2, s1[0] == inFeatures, s1[1] > 0 else {
            report.problems.append("tensor \(first) has shape \(s1), expected [\(inFeatures), rank] with rank > 0")
            return LowRank(inFeatures: inFeatures, rank: 0, outFeatures: outFeatures, down: [], up: [])
        }
        let rank = s1[1]
        let down = read(first, shape: [inFeatures, rank])
        let up = read(second, shape: [rank, outFeatures])
        return LowRank(inFeatures: inFeatures, rank: rank, outFeatures: outFeatures, down: down, up: up)
    }

    func linear(_ prefix: String, out: Int, in inFeatures: Int) -> Linear<T> {
        let w = read(prefix + ".weight", shape: [out, inFeatures])
        let b = optional(prefix + ".bias", shape: [out])
        return Linear(outFeatures: out, inFeatures: inFeatures, weight: w, bias: b)
    }

    private func values(_ name: String, count: Int) -> [T] {
        do {
            if loadValues {
                let v: [T] = try source.values(name)
                if checkFinite { scanFinite(name, v.lazy.map { Double($0) }) }
                return v
            } else {
                if checkFinite { scanFinite(name, try source.floats(name).lazy.map { Double($0) }) }
                return []
            }
        } catch {
            report.problems.append("tensor \(name) could not be read: \(error)")
            return []
        }
    }

    private func scanFinite<S: Sequence>(_ name: String, _ values: S) where S.Element == Double {
        var count = 0, first = -1
        for (i, x) in values.enumerated() where !x.isFinite {
            if first < 0 { first = i }
            count += 1
        }
        if count > 0 { report.nonFinite.append(.init(name: name, count: count, firstIndex: first)) }
    }
}

extension ModelWeights {
    /// Layer kinds as the weights say: GQA iff `q_proj.weight` is present.
    public static func detectLayerKinds(config: ModelConfig, source: TensorSource) -> [LayerKind] {
        (0..<max(config.numLayers, 0)).map { i in
            source.shape(of: TensorName.attn(i, "q_proj.weight")) != nil ? .gqa : .rwkv
        }
    }

    /// Checks `source` against `config` without keeping any values.
    public static func validate(config: ModelConfig, source: TensorSource, checkFinite: Bool = true) -> ValidationReport {
        let reader = WeightReader<T>(source: source, loadValues: false, checkFinite: checkFinite)
        _ = build(config: config, reader: reader)
        return reader.report
    }

    /// Reads typed weights. Throws `Hxa079Error.invalidModel` listing every
    /// structural problem; returns non-finite tensors as warnings in the report.
    public static func load(config: ModelConfig, source: TensorSource, checkFinite: Bool = true) throws -> (ModelWeights<T>, ValidationReport) {
        let reader = WeightReader<T>(source: source, loadValues: true, checkFinite: checkFinite)
        let weights = build(config: config, reader: reader)
        if !reader.report.problems.isEmpty { throw Hxa079Error.invalidModel(reader.report.problems) }
        return (weights, reader.report)
    }

    static func build(config: ModelConfig, reader r: WeightReader<T>) -> ModelWeights<T> {
        r.report.problems += config.problems()
        guard config.problems().isEmpty else {
            return ModelWeights(config: config, embedding: [], layers: [], finalNorm: [], lmHead: nil)
        }
        let C = config.hiddenSize, H = config.numHeads, N = config.headDim, Hkv = config.numKVHeads
        let I = config.intermediateSize, V = config.vocabSize
        let kinds = detectLayerKinds(config: config, source: r.source)
        if let declared = config.declaredLayerKinds, declared != kinds {
            let d = String(declared.map { $0.letter }), w = String(kinds.map { $0.letter })
            r.report.problems.append("config declares layer map \(d) but the weights give \(w) (a layer is GQA iff it has q_proj.weight)")
        }
        let firstRWKV = kinds.firstIndex(of: .rwkv)

        let embedding = r.read(TensorName.embedding, shape: [V, C])
        var layers: [LayerWeights<T>] = []
        for (i, kind) in kinds.enumerated() {
            let a = { (leaf: String) in TensorName.attn(i, leaf) }
            let mixer: MixerWeights<T>
            switch kind {
            case .rwkv:
                if !r.has(a("receptance.weight")) && !r.has(a("key.weight")) {
                    r.report.problems.append("layer \(i) has neither q_proj.weight (GQA) nor receptance.weight (RWKV)")
                }
                for leaf in TensorName.ignoredLeaves where r.has(a(leaf)) { r.used.insert(a(leaf)) }
                let isFirst = i == firstRWKV
                func gate(_ name: String) -> ResidualGate<T>? {
                    let present = r.has(a(name + "0")) || r.has(a(name + "1")) || r.has(a(name + "2"))
                    if isFirst && !present { return nil }
                    let bias = r.read(a(name + "0"), shape: [Hkv * N], flexible: true)
                    let lora = r.lowRank(a(name + "1"), a(name + "2"), inFeatures: C, outFeatures: Hkv * N)
                    return ResidualGate(bias: bias, lora: lora)
                }
                let w = RWKVWeights<T>(
                    receptance: r.linear(a("receptance"), out: H * N, in: C),
                    key: r.linear(a("key"), out: Hkv * N, in: C),
                    value: r.linear(a("value"), out: Hkv * N, in: C),
                    output: r.linear(a("output"), out: C, in: H * N),
                    w0: r.read(a("w0"), shape: [H * N], flexible: true),
                    decayLoRA: r.lowRank(a("w1"), a("w2"), inFeatures: C, outFeatures: H * N),
                    a0: r.read(a("a0"), shape: [H * N], flexible: true),
                    iclrLoRA: r.lowRank(a("a1"), a("a2"), inFeatures: C, outFeatures: H * N),
                    valueGate: gate("v"), keyGate: gate("k"),
                    gateLoRA: r.lowRank(a("g1"), a("g2"), inFeatures: C, outFeatures: H * N),
                    rK: r.read(a("r_k"), shape: [H, N], flexible: true),
                    rNorm: r.optional(a("r_norm.weight"), shape: [N]),
                    kNorm: r.optional(a("k_norm.weight"), shape: [N]))
                mixer = .rwkv(w)
            case .gqa:
                mixer = .gqa(GQAWeights<T>(
                    query: r.linear(a("q_proj"), out: H * N, in: C),
                    key: r.linear(a("k_proj"), out: Hkv * N, in: C),
                    value: r.linear(a("v_proj"), out: Hkv * N, in: C),
                    output: r.linear(a("o_proj"), out: C, in: H * N),
                    qNorm: r.optional(a("q_norm.weight"), shape: [N]),
                    kNorm: r.optional(a("k_norm.weight"), shape: [N])))
            }
            let mlp = MLPWeights<T>(
                gate: r.linear(TensorName.mlp(i, "gate_proj"), out: I, in: C),
                up: r.linear(TensorName.mlp(i, "up_proj"), out: I, in: C),
                down: r.linear(TensorName.mlp(i, "down_proj"), out: C, in: I))
            layers.append(LayerWeights(inputNorm: r.read(TensorName.inputNorm(i), shape: [C]),
                                       postAttentionNorm: r.read(TensorName.postAttentionNorm(i), shape: [C]),
                                       mixer: mixer, mlp: mlp))
        }
        let finalNorm = r.read(TensorName.finalNorm, shape: [C])
        let head: Linear<T>? = r.has(TensorName.lmHead) ? r.linear("lm_head", out: V, in: C) : nil
        let unexpected = r.source.tensorNames.filter { !r.used.contains($0) }
        for name in unexpected { r.report.problems.append("unexpected tensor \(name)") }
        return ModelWeights(config: config, embedding: embedding, layers: layers, finalNorm: finalNorm, lmHead: head)
    }
}

// MARK: - Weights → named tensors

extension ModelWeights {
    /// Every parameter under its internal (HF-style) name with its checkpoint
    /// shape (`*0` vectors as [1,1,D], as real checkpoints store them), in a
    /// stable order.
    public func namedTensors() -> [(name: String, shape: [Int], values: [T])] {
        var out: [(String, [Int], [T])] = []
        let C = config.hiddenSize, H = config.numHeads, N = config.headDim
        func linear(_ prefix: String, _ l: Linear<T>) {
            out.append((prefix + ".weight", [l.outFeatures, l.inFeatures], l.weight))
            if let b = l.bias { out.append((prefix + ".bias", [l.outFeatures], b)) }
        }
        func lowRank(_ first: String, _ second: String, _ l: LowRank<T>) {
            out.append((first, [l.inFeatures, l.rank], l.down))
            out.append((second, [l.rank, l.outFeatures], l.up))
        }
        out.append((TensorName.embedding, [config.vocabSize, C], embedding))
        for (i, layer) in layers.enumerated() {
            let a = { (leaf: String) in TensorName.attn(i, leaf) }
            out.append((TensorName.inputNorm(i), [C], layer.inputNorm))
            out.append((TensorName.postAttentionNorm(i), [C], layer.postAttentionNorm))
            switch layer.mixer {
            case .rwkv(let w):
                linear(a("receptance"), w.receptance)
                linear(a("key"), w.key)
                linear(a("value"), w.value)
                linear(a("output"), w.output)
                out.append((a("w0"), [1, 1, w.w0.count], w.w0))
                lowRank(a("w1"), a("w2"), w.decayLoRA)
                out.append((a("a0"), [1, 1, w.a0.count], w.a0))
                lowRank(a("a1"), a("a2"), w.iclrLoRA)
                if let g = w.valueGate {
                    out.append((a("v0"), [1, 1, g.bias.count], g.bias))
                    lowRank(a("v1"), a("v2"), g.lora)
                }
                if let g = w.keyGate {
                    out.append((a("k0"), [1, 1, g.bias.count], g.bias))
                    lowRank(a("k1"), a("k2"), g.lora)
                }
                lowRank(a("g1"), a("g2"), w.gateLoRA)
                out.append((a("r_k"), [H, N], w.rK))
                if let n = w.rNorm { out.append((a("r_norm.weight"), [N], n)) }
                if let n = w.kNorm { out.append((a("k_norm.weight"), [N], n)) }
            case .gqa(let w):
                linear(a("q_proj"), w.query)
                linear(a("k_proj"), w.key)
                linear(a("v_proj"), w.value)
                linear(a("o_proj"), w.output)
                if let n = w.qNorm { out.append((a("q_norm.weight"), [N], n)) }
                if let n = w.kNorm { out.append((a("k_norm.weight"), [N], n)) }
            }
            linear(TensorName.mlp(i, "gate_proj"), layer.mlp.gate)
            linear(TensorName.mlp(i, "up_proj"), layer.mlp.up)
            linear(TensorName.mlp(i, "down_proj"), layer.mlp.down)
        }
        out.append((TensorName.finalNorm, [C], finalNorm))
        if let h = lmHead { linear("lm_head", h) }
        return out
    }
}
