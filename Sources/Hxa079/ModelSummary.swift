// ModelSummary: what a model directory holds, for `hxa079 inspect` —
// parameter counts per group, layer map, LoRA ranks, dtypes and file sizes.
//
// Contract: computed from the headers alone; no tensor is read.

import SafeTensors

/// What a model directory holds, computed from headers only.
public struct ModelSummary: Sendable {
    public struct File: Sendable {
        public var path: String
        public var bytes: Int
        public var tensors: Int
    }

    public struct DTypeUsage: Sendable {
        public var dtype: DType
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    /// LoRA ranks of one RWKV layer, from the `*1` shapes; nil when absent.
    public struct LayerRanks: Sendable, Equatable {
        public var layer: Int
        public var decay: Int?
        public var iclr: Int?
        public var value: Int?
        public var key: Int?
        public var gate: Int?

        /// "320/128/96/96/384" with "-" for absent ranks.
        public var text: String {
            [decay, iclr, value, key, gate].map { $0.map(String.init) ?? "-" }.joined(separator: "/")
        }
    }

    /// Kinds of parameters, in display order.
    public enum Group: String, CaseIterable, Sendable {
        case embedding = "embedding"
        case rwkvMixers = "RWKV mixers"
        case gqaMixers = "GQA mixers"
        case mlps = "MLPs"
        case norms = "norms"
        case head = "head"
        case bookkeeping = "ignored (bookkeeping)"
        case unrecognized = "unrecognized"
    }

    public var files: [File]
    public var naming: TensorNaming
    public var sharded: Bool
    /// One letter per layer: R (receptance.weight), A (q_proj.weight), ? (neither or both).
    public var layerMap: String
    /// Per RWKV layer.
    public var loraRanks: [LayerRanks]
    /// Element counts per group (norms include the per-head r/k/q norms).
    public var parameters: [Group: Int]
    public var totalParameters: Int
    public var dtypes: [DTypeUsage]
}

extension ModelDirectory {
    /// Parameter counts, layer map, ranks, dtypes and file sizes, from the
    /// headers alone (no tensor is read).
    public func summary() -> ModelSummary {
        let names = source.tensorNames
        let has = { (n: String) in self.source.shape(of: n) != nil }
        let maxLayer = min(names.compactMap { TensorName.layerIndex(of: $0) }.max() ?? -1, ModelConfig.maxLayers - 1)
        let L = (1...ModelConfig.maxLayers).contains(config.numLayers) ? config.numLayers : maxLayer + 1
        var letters: [Character] = []
        var ranks: [ModelSummary.LayerRanks] = []
        for i in 0..<L {
            let q = has(TensorName.attn(i, "q_proj.weight")), r = has(TensorName.attn(i, "receptance.weight"))
            letters.append(q == r ? "?" : (q ? "A" : "R"))
            if r && !q {
                func rank(_ leaf: String) -> Int? {
                    guard let s = source.shape(of: TensorName.attn(i, leaf)), s.count == 2 else { return nil }
                    return s[1]
                }
                ranks.append(.init(layer: i, decay: rank("w1"), iclr: rank("a1"), value: rank("v1"), key: rank("k1"), gate: rank("g1")))
            }
        }
        var groups: [ModelSummary.Group: Int] = [:]
        var dtypes: [DType: ModelSummary.DTypeUsage] = [:]
        var total = 0
        for name in names {
            guard let count = source.elementCount(of: name), let dtype = source.dtype(of: name) else { continue }
            let group: ModelSummary.Group
            if name.hasPrefix("model.embed_tokens.") { group = .embedding }
            else if name.hasPrefix("lm_head.") { group = .head }
            else if name.hasPrefix("model.norm.") { group = .norms }
            else if let i = TensorName.layerIndex(of: name) {
                let rest = name.dropFirst("model.layers.\(i).".count)
                if rest.hasPrefix("input_layernorm.") || rest.hasPrefix("post_attention_layernorm.") { group = .norms }
                else if rest.hasPrefix("mlp.") { group = .mlps }
                else if rest.hasPrefix("self_attn.") {
                    let leaf = rest.dropFirst("self_attn.".count)
                    if TensorName.ignoredLeaves.contains(String(leaf)) { group = .bookkeeping }
                    else if leaf.hasPrefix("r_norm.") || leaf.hasPrefix("k_norm.") || leaf.hasPrefix("q_norm.") { group = .norms }
                    else { group = has(TensorName.attn(i, "q_proj.weight")) ? .gqaMixers : .rwkvMixers }
                } else { group = .unrecognized }
            } else { group = .unrecognized }
            groups[group, default: 0] += count
            total += count
            var u = dtypes[dtype] ?? .init(dtype: dtype, tensors: 0, parameters: 0, bytes: 0)
            u.tensors += 1
            u.parameters += count
            u.bytes += count * dtype.byteSize
            dtypes[dtype] = u
        }
        let files = source.files.map { f in
            ModelSummary.File(path: f.path, bytes: fileSize(f.path) ?? 0, tensors: f.file.tensors.count)
        }
        return ModelSummary(files: files, naming: source.naming, sharded: isSharded, layerMap: String(letters),
                            loraRanks: ranks, parameters: groups, totalParameters: total,
                            dtypes: dtypes.values.sorted { $0.bytes > $1.bytes })
    }
}
