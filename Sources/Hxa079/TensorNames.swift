// TensorNames: checkpoint tensor names in the package's internal (HF-style)
// scheme, and the mapping to and from the RWKV-style scheme (SPEC.md §2.2).
//
// Contract:
// - Every other file builds tensor names through `TensorName`; the internal
//   scheme is the HF-style one (`model.layers.N.self_attn.*`, …).
// - A checkpoint uses exactly one scheme (SPEC.md §2.2): HF-style iff
//   `model.embed_tokens.weight` is present, RWKV-style iff `emb.weight` is.
//   `naming(of:)` decides; both present is an error the loader reports.
// - `canonicalName` maps an RWKV-style name (`emb`, `ln_out`, `head`,
//   `blocks.N.ln1/ln2`, `blocks.N.ffn.{gate,up,down}`, `blocks.N.att.*`,
//   `ln_r`/`ln_k`) to the internal one; `rwkvStyleName` is its inverse on every
//   name the model defines. Names outside the scheme are returned unchanged
//   (the loader then reports them as unexpected).

/// The two published naming schemes of hxa079 checkpoints (SPEC.md §2.2).
public enum TensorNaming: String, Sendable, Equatable, CaseIterable {
    /// `model.embed_tokens.weight`, `model.layers.N.self_attn.*`, `lm_head.weight` (also the internal scheme).
    case hf
    /// `emb.weight`, `blocks.N.att.*`, `blocks.N.ffn.{gate,up,down}`, `blocks.N.ln1/ln2`, `ln_out`, `head`.
    case rwkv

    /// "HF-style" / "RWKV-style".
    public var label: String { self == .hf ? "HF-style" : "RWKV-style" }
}

public enum TensorName {
    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"
    /// The RWKV-style name of the embedding, which marks an RWKV-style checkpoint.
    public static let rwkvEmbedding = "emb.weight"

    public static func layer(_ i: Int) -> String { "model.layers.\(i)" }
    public static func inputNorm(_ i: Int) -> String { "model.layers.\(i).input_layernorm.weight" }
    public static func postAttentionNorm(_ i: Int) -> String { "model.layers.\(i).post_attention_layernorm.weight" }
    public static func mlp(_ i: Int, _ leaf: String) -> String { "model.layers.\(i).mlp.\(leaf)" }
    /// A mixer tensor: `attn(i, "receptance.weight")`, `attn(i, "w0")`, `attn(i, "q_proj.weight")`, …
    public static func attn(_ i: Int, _ leaf: String) -> String { "model.layers.\(i).self_attn.\(leaf)" }

    /// Bookkeeping scalars some checkpoints carry in every RWKV layer; accepted and ignored.
    public static let ignoredLeaves: Set<String> = ["layer_architecture", "head_size_record"]

    /// The layer index of an internal name `model.layers.N.…`, nil for global tensors.
    public static func layerIndex(of name: String) -> Int? {
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0,
              String(i) == rest[..<dot] else { return nil }
        return i
    }

    /// The scheme of a checkpoint by SPEC.md §2.2, or nil when both markers
    /// are present (an error) or neither is. With neither, callers fall back
    /// to `isRWKVStyle` to decide how to report the missing embedding.
    public static func naming<S: Sequence>(of names: S) -> TensorNaming? where S.Element == String {
        var hf = false, rwkv = false
        for n in names {
            if n == embedding { hf = true }
            if n == rwkvEmbedding { rwkv = true }
        }
        switch (hf, rwkv) {
        case (true, false): return .hf
        case (false, true): return .rwkv
        default: return nil
        }
    }

    /// True when `names` look RWKV-style (`blocks.…`, `emb.weight`, `ln_out.weight`, `head.weight`).
    public static func isRWKVStyle(_ names: [String]) -> Bool {
        names.contains { $0.hasPrefix("blocks.") || $0 == "emb.weight" || $0 == "ln_out.weight" || $0 == "head.weight" }
    }

    /// The internal name of an RWKV-style name. `isGQALayer` decides where
    /// `ln_r` goes (r_norm in RWKV layers, q_norm in GQA layers). Names that are
    /// not RWKV-style are returned unchanged.
    public static func canonicalName(_ name: String, isGQALayer: (Int) -> Bool) -> String {
        for (rwkv, hf) in [("emb.", "model.embed_tokens."), ("ln_out.", "model.norm."), ("head.", "lm_head.")]
        where name.hasPrefix(rwkv) {
            return hf + name.dropFirst(rwkv.count)
        }
        guard name.hasPrefix("blocks.") else { return name }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, let i = Int(parts[1]), i >= 0, String(i) == parts[1] else { return name }
        let tail = { (from: Int) in parts[from...].joined(separator: ".") }
        switch parts[2] {
        case "ln1": return "model.layers.\(i).input_layernorm." + tail(3)
        case "ln2": return "model.layers.\(i).post_attention_layernorm." + tail(3)
        case "ffn":
            guard parts.count >= 5 else { return name }
            let leaf: String
            switch parts[3] {
            case "gate": leaf = "gate_proj"
            case "up": leaf = "up_proj"
            case "down": leaf = "down_proj"
            default: return name
            }
            return "model.layers.\(i).mlp.\(leaf)." + tail(4)
        case "att":
            var leaf = parts[3]
            if leaf == "ln_r" { leaf = isGQALayer(i) ? "q_norm" : "r_norm" }
            if leaf == "ln_k" { leaf = "k_norm" }
            let rest = parts.count > 4 ? "." + tail(4) : ""
            return "model.layers.\(i).self_attn.\(leaf)\(rest)"
        default:
            return name
        }
    }

    /// The RWKV-style name of an internal name (inverse of `canonicalName`).
    /// Names the model does not define are returned unchanged.
    public static func rwkvStyleName(_ name: String) -> String {
        for (hf, rwkv) in [("model.embed_tokens.", "emb."), ("model.norm.", "ln_out."), ("lm_head.", "head.")]
        where name.hasPrefix(hf) {
            return rwkv + name.dropFirst(hf.count)
        }
        guard let i = layerIndex(of: name) else { return name }
        let rest = String(name.dropFirst("model.layers.\(i).".count))
        let block = "blocks.\(i)."
        for (hf, rwkv) in [("input_layernorm.", "ln1."), ("post_attention_layernorm.", "ln2."),
                           ("mlp.gate_proj.", "ffn.gate."), ("mlp.up_proj.", "ffn.up."), ("mlp.down_proj.", "ffn.down."),
                           ("self_attn.r_norm.", "att.ln_r."), ("self_attn.q_norm.", "att.ln_r."),
                           ("self_attn.k_norm.", "att.ln_k."), ("self_attn.", "att.")]
        where rest.hasPrefix(hf) {
            return block + rwkv + rest.dropFirst(hf.count)
        }
        return name
    }
}
