// WeightsIO: named tensors ↔ typed weights, with a validation report that
// lists every problem at once (SPEC.md §1.2–§2.7).
//
// Contract:
// - Layer kinds come from the weights: layer i is GQA iff it has
//   `model.layers.i.self_attn.q_proj.weight`, RWKV iff it has
//   `receptance.weight`; both or neither is a problem. A layer list declared in
//   config.json must agree; the problem names the disagreeing layers.
// - LoRA ranks come from the tensor shapes (`*1` columns); the `*2` must have
//   that many rows. `*0` vectors and `r_k` are accepted in any shape with the
//   right element count ([1,1,D] / [H,N] in real checkpoints). The bookkeeping
//   scalars `layer_architecture`, `head_size_record` are accepted in RWKV
//   layers in any shape and dtype, and ignored.
// - Weights must be stored as F64, F32, F16 or BF16.
// - Structural problems (missing / unexpected tensors, wrong shapes, integer
//   dtypes, inconsistent config, disagreeing layer list, layers beyond
//   num_hidden_layers, source problems such as duplicate names) make loading
//   fail, all listed in one `Hxa079Error.invalidModel`. Non-finite weight
//   values are reported separately (`ValidationReport.nonFinite`), so a caller
//   can refuse them (`inspect`) or run anyway after a warning (`forward`, `step`).
// - `validate` keeps no values: with a `SafeTensorsSource` it scans the stored
//   bits chunk by chunk, so a model far larger than memory can be checked.

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

        public init(name: String, count: Int, firstIndex: Int) {
            self.name = name
            self.count = count
            self.firstIndex = firstIndex
        }
    }

    public init() {}

    /// True when there is nothing at all to report.
    public var isClean: Bool { problems.isEmpty && nonFinite.isEmpty }

    /// One line per non-finite tensor, for warnings.
    public var nonFiniteDescriptions: [String] {
        nonFinite.map { Self.nonFiniteText(name: $0.name, count: $0.count, firstIndex: $0.firstIndex) }
    }

    /// `tensor NAME holds N non-finite values[ in PART] (first at flat index I)`: the one wording of
    /// these warnings (validation here, the check as read in StreamedWeights.swift).
    static func nonFiniteText(name: String, count: Int, firstIndex: Int, part: String? = nil) -> String {
        "tensor \(name) holds \(count) non-finite value\(count == 1 ? "" : "s")" + (part.map { " in \($0)" } ?? "")
            + " (first at flat index \(firstIndex))"
    }

    /// Structural problems followed by the non-finite tensors.
    public var allProblems: [String] { problems + nonFiniteDescriptions }
}

/// Sources that can count non-finite values without materialising them.
protocol NonFiniteScanning {
    /// (number of NaN/±Inf values, flat index of the first) of tensor `name`.
    func scanNonFinite(_ name: String) throws -> (count: Int, first: Int)
}

/// Sources that know problems of their own (duplicate names, shard index).
protocol SourceProblemReporting {
    var sourceProblems: [String] { get }
    /// How to show an internal name in a message (the stored name, if different).
    func displayName(_ name: String) -> String
}

/// Reads typed weights out of a `TensorSource`, recording every problem.
/// With `loadValues == false` it checks names, shapes, dtypes and finiteness
/// but keeps no values (used by `inspect` on models too large to hold).
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


    /// `name` as the checkpoint spells it.
    func shown(_ name: String) -> String {
        (source as? SourceProblemReporting)?.displayName(name) ?? name
    }

    func problem(_ text: String) { report.problems.append(text) }

    /// Reads `name`, whose shape must equal `shape` exactly (or, with
    /// `flexible`, merely have the same element count).
    func read(_ name: String, shape: [Int], flexible: Bool = false) -> [T] {
        used.insert(name)
        guard let actual = source.shape(of: name) else {
            problem("missing tensor \(shown(name)) (expected shape \(shape))")
            return []
        }
        let count = elementCount(shape)
        let ok = flexible ? count != nil && elementCount(actual) == count : actual == shape
        if !ok {
            let any = flexible ? " (or any shape with \(count.map(String.init) ?? "too many") elements)" : ""
            problem("tensor \(shown(name)) has shape \(actual), expected \(shape)\(any)")
            return []
        }
        guard checkDType(name) else { return [] }
        return values(name)
    }

    /// True when `name` is stored in a float dtype; records a problem otherwise.
    func checkDType(_ name: String) -> Bool {
        guard let d = source.dtype(of: name), !d.isFloatingPoint else { return true }
        problem("tensor \(shown(name)) has integer dtype \(d.rawValue); weights must be F64, F32, F16 or BF16")
        return false
    }

    /// Reads `name` if present.
    func optional(_ name: String, shape: [Int], flexible: Bool = false) -> [T]? {
        has(name) ? read(name, shape: shape, flexible: flexible) : nil
    }

    /// Reads a LoRA pair `first` [inFeatures, D], `second` [D, outFeatures]; D from the shapes.
    func lowRank(_ first: String, _ second: String, inFeatures: Int, outFeatures: Int) -> LowRank<T> {
        used.insert(first); used.insert(second)
        let empty = LowRank<T>(inFeatures: inFeatures, rank: 0, outFeatures: outFeatures, down: [], up: [])
        guard let s1 = source.shape(of: first) else {
            problem("missing tensor \(shown(first)) (expected shape [\(inFeatures), rank])")
            if !has(second) { problem("missing tensor \(shown(second)) (expected shape [rank, \(outFeatures)])") }
            return empty
        }
        guard s1.count == 2, s1[0] == inFeatures, s1[1] > 0 else {
            problem("tensor \(shown(first)) has shape \(s1), expected [\(inFeatures), rank] with rank > 0")
            if !has(second) { problem("missing tensor \(shown(second)) (expected shape [rank, \(outFeatures)])") }
            return empty
        }
        let rank = s1[1]
        if let s2 = source.shape(of: second), s2.count == 2, s2[1] == outFeatures, s2[0] != rank {
            problem("LoRA rank mismatch: \(shown(first)) is \(s1) (rank \(rank)) but \(shown(second)) is \(s2), expected [\(rank), \(outFeatures)]")
            return empty
        }
        let down = read(first, shape: [inFeatures, rank])
        let up = read(second, shape: [rank, outFeatures])
        return LowRank(inFeatures: inFeatures, rank: rank, outFeatures: outFeatures, down: down, up: up)
    }

    func linear(_ prefix: String, out: Int, in inFeatures: Int, bias allowBias: Bool = true) -> Linear<T> {
        let w = read(prefix + ".weight", shape: [out, inFeatures])
        let b = allowBias ? optional(prefix + ".bias", shape: [out]) : nil
        return Linear(outFeatures: out, inFeatures: inFeatures, weight: w, bias: b)
    }

    private func values(_ name: String) -> [T] {
        do {
            if loadValues {
                // Concrete paths for Float and Double: this generic code is not
                // specialized across modules, and a generic array cast or
                // per-element witness calls would cost ~100× the read itself.
                if T.self == Float.self {
                    let v = try source.floats(name)
                    if checkFinite { note(name, nonFiniteCount(v)) }
                    return unsafeBitCast(v, to: [T].self)  // T is Float
                }
                if T.self == Double.self {
                    let v = try source.doubles(name)
                    if checkFinite { note(name, nonFiniteCount(v)) }
                    return unsafeBitCast(v, to: [T].self)  // T is Double
                }
                let d = try source.doubles(name)
                if checkFinite { note(name, nonFiniteCount(d)) }
                return d.map { T($0) }
            }
            if checkFinite {
                if let scanner = source as? NonFiniteScanning {
                    let (n, first) = try scanner.scanNonFinite(name)
                    if n > 0 { report.nonFinite.append(.init(name: shown(name), count: n, firstIndex: first)) }
                } else {
                    note(name, nonFiniteCount(try source.doubles(name)))
                }
            }
            return []
        } catch {
            problem("tensor \(shown(name)) could not be read: \(error)")
            return []
        }
    }

    private func note(_ name: String, _ scan: (count: Int, first: Int)) {
        if scan.count > 0 { report.nonFinite.append(.init(name: shown(name), count: scan.count, firstIndex: scan.first)) }
    }

    // Two concrete copies on purpose: `WeightReader<T>` is not specialized
    // (see `values`); one generic count made `forward` on the medium preset
    // (f32) take 2.6 s of CPU instead of 0.6 s (measured 2026-12-02).

    /// (number of NaN/±Inf values, index of the first or -1).
    private func nonFiniteCount(_ values: [Float]) -> (count: Int, first: Int) {
        var count = 0, first = -1
        for i in values.indices where !values[i].isFinite {
            if first < 0 { first = i }
            count += 1
        }
        return (count, first)
    }

    /// (number of NaN/±Inf values, index of the first or -1).
    private func nonFiniteCount(_ values: [Double]) -> (count: Int, first: Int) {
        var count = 0, first = -1
        for i in values.indices where !values[i].isFinite {
            if first < 0 { first = i }
            count += 1
        }
        return (count, first)
    }
}

extension ModelWeights {
    /// Layer kinds as the weights say: GQA iff `q_proj.weight` is present.
    public static func detectLayerKinds(config: ModelConfig, source: TensorSource) -> [LayerKind] {
        let L = (0...ModelConfig.maxLayers).contains(config.numLayers) ? config.numLayers : 0
        return (0..<L).map { i in
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
        let emptyModel = ModelWeights(config: config, embedding: [], layers: [], finalNorm: [], lmHead: nil)
        if let s = r.source as? SourceProblemReporting { r.report.problems += s.sourceProblems }
        let kinds = detectLayerKinds(config: config, source: r.source)
        let configProblems = config.problems(hasRWKVLayers: kinds.isEmpty || kinds.contains(.rwkv))
        guard configProblems.isEmpty else {
            r.report.problems += configProblems
            return emptyModel
        }
        let C = config.hiddenSize, V = config.vocabSize, L = config.numLayers
        if let declared = config.declaredLayerKinds, declared != kinds {
            let d = String(declared.map { $0.letter }), w = String(kinds.map { $0.letter })
            let differ = zip(declared, kinds).enumerated().filter { $0.element.0 != $0.element.1 }.map { String($0.offset) }
            r.problem("config.json declares layer map \(d) but the weights give \(w) (a layer is GQA iff it has q_proj.weight); disagreeing layers: \(differ.joined(separator: ", "))")
        }
        // Layers the config does not have.
        let beyond = Set(r.source.tensorNames.compactMap { TensorName.layerIndex(of: $0) }.filter { $0 >= L }).sorted()
        if !beyond.isEmpty {
            r.problem("the weights hold layer\(beyond.count == 1 ? "" : "s") \(beyond.map(String.init).joined(separator: ", ")) but num_hidden_layers is \(L)")
        }
        let embedding = r.read(TensorName.embedding, shape: [V, C])
        // one loading path: the in-memory model is every layer read as `StreamedWeights` reads it
        let layers = kinds.indices.map { i in readLayer(i, kinds: kinds, config: config, reader: r) }
        let finalNorm = r.read(TensorName.finalNorm, shape: [C])
        // SPEC.md §2.3/§2.7: the head has no bias; a tied config forbids lm_head.weight.
        var head: Linear<T>? = nil
        if r.has(TensorName.lmHead) {
            if config.tieWordEmbeddings {
                r.used.insert(TensorName.lmHead)
                r.problem("config.json sets tie_word_embeddings but \(r.shown(TensorName.lmHead)) is present (ambiguous head)")
            } else {
                head = r.linear("lm_head", out: V, in: C, bias: false)
            }
        }
        let other = TensorNaming.rwkv == (r.source as? SafeTensorsSource)?.naming ? "" : " (an RWKV-style name in an HF-style checkpoint?)"
        for name in r.source.tensorNames where !r.used.contains(name) {
            if let i = TensorName.layerIndex(of: name), i >= L { continue }  // reported above, per layer
            let hint = name.hasPrefix("blocks.") || name == TensorName.rwkvEmbedding ? other : ""
            r.problem("unexpected tensor \(r.shown(name))\(hint)")
        }
        return ModelWeights(config: config, embedding: embedding, layers: layers, finalNorm: finalNorm, lmHead: head)
    }

    /// Reads layer `i` (its kind `kinds[i]`) through `r`: the one function
    /// that turns a layer's tensors into `LayerWeights`, used by `load` (every
    /// layer, kept) and by `StreamedWeights` (one layer when it runs).
    /// Precondition: the structure checks of `build` passed (a valid config).
    static func readLayer(_ i: Int, kinds: [LayerKind], config: ModelConfig, reader r: WeightReader<T>) -> LayerWeights<T> {
        let C = config.hiddenSize, H = config.numHeads, N = config.headDim, Hkv = config.numKVHeads
        let I = config.intermediateSize
        let kind = kinds[i], firstRWKV = kinds.firstIndex(of: .rwkv)
        let a = { (leaf: String) in TensorName.attn(i, leaf) }
        let mixer: MixerWeights<T>
        let hasQ = r.has(a("q_proj.weight")), hasR = r.has(a("receptance.weight"))
        if hasQ && hasR {
            r.problem("layer \(i) has both q_proj.weight (GQA) and receptance.weight (RWKV)")
        } else if !hasQ && !hasR {
            r.problem("layer \(i) has neither q_proj.weight (GQA) nor receptance.weight (RWKV)")
        }
        switch kind {
        case .rwkv:
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
        return LayerWeights(inputNorm: r.read(TensorName.inputNorm(i), shape: [C]),
                            postAttentionNorm: r.read(TensorName.postAttentionNorm(i), shape: [C]),
                            mixer: mixer, mlp: mlp)
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
