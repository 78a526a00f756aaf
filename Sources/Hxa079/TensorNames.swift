// TensorNames: checkpoint tensor names in the package's internal (HF-style)
// scheme, and the mapping from the RWKV-style scheme (SPEC.md §2).
//
// Contract: every other file builds tensor names through `TensorName`; the
// RWKV-style names (`blocks.N.att.*`, `emb`, `ln_out`, `head`) are mapped to
// the internal ones once, at load time, by `canonicalName(_:isGQALayer:)`.

public enum TensorName {
    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"

    public static func layer(_ i: Int) -> String { "model.layers.\(i)" }
    public static func inputNorm(_ i: Int) -> String { "model.layers.\(i).input_layernorm.weight" }
    public static func postAttentionNorm(_ i: Int) -> String { "model.layers.\(i).post_attention_layernorm.weight" }
    public static func mlp(_ i: Int, _ leaf: String) -> String { "model.layers.\(i).mlp.\(leaf)" }
    /// A mixer tensor: `attn(i, "receptance.weight")`, `attn(i, "w0")`, `attn(i, "q_proj.weight")`, …
    public static func attn(_ i: Int, _ leaf: String) -> String { "model.layers.\(i).self_attn.\(leaf)" }

    /// Bookkeeping scalars some checkpoints carry in every RWKV layer; accepted and ignored.
    public static let ignoredLeaves: Set<String> = ["layer_architecture", "head_size_record"]

    /// True when `names` use the RWKV-style scheme (`blocks.N.…`, `emb.weight`).
    public static func isRWKVStyle(_ names: [String]) -> Bool {
        names.contains { $0.hasPrefix("blocks.") || $0 == "emb.weight" || $0 == "ln_out.weight" || $0 == "head.weight" }
    }

    /// The internal name of a tensor named in either scheme. `isGQALayer`
    /// decides where `ln_r` goes (r_norm in RWKV layers, q_norm in GQA layers).
    /// Names that are not RWKV-style are returned unchanged.
    public static func canonicalName(_ name: String, isGQALayer: (Int) -> Bool) -> String {
        switch name {
        case "emb.weight": return embedding
        case "ln_out.weight": return finalNorm
        case "head.weight": return lmHead
        default: break
        }
        guard name.hasPrefix("blocks.") else { return name }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, let i = Int(parts[1]) else { return name }
        let rest = parts[2...].joined(separator: ".")
        switch parts[2] {
        case "ln1": return "model.layers.\(i).input_layernorm." + parts[3...].joined(separator: ".")
        case "ln2": return "model.layers.\(i).post_attention_layernorm." + parts[3...].joined(separator: ".")
        case "ffn":
            guard parts.count >= 5 else { return name }
            let leaf: String
            switch parts[3] {
            case "gate": leaf = "gate_proj"
            case "up": leaf = "up_proj"
            case "down": leaf = "down_proj"
            default: leaf = parts[3]
            }
            return "model.layers.\(i).mlp.\(leaf)." + parts[4...].joined(separator: ".")
        case "att":
            guard parts.count >= 4 else { return name }
            var leaf = parts[3]
            if leaf == "ln_r" { leaf = isGQALayer(i) ? "q_norm" : "r_norm" }
            if leaf == "ln_k" { leaf = "k_norm" }
            let tail = parts.count > 4 ? "." + parts[4...].joined(separator: ".") : ""
            return "model.layers.\(i).self_attn.\(leaf)\(tail)"
        default:
            return "model.layers.\(i).\(rest)"
        }
    }
}
