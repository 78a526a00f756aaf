// ModelState: everything carried from one call to the next (SPEC.md (37)).
//
// Contract: a value. Copying it, saving it to a state file and reading it back
// gives a state that continues bit-for-bit identically. Nothing else is
// carried: no token shift, no v_first/k_first.

/// The WKV state of one RWKV layer.
public struct WKVState<T: BinaryFloatingPoint>: Equatable {
    /// H.
    public var heads: Int
    /// N.
    public var headDim: Int
    /// S [H][N value][N key]: values[(h·N + i)·N + j] = S_h[i, j] (SPEC.md (18)–(20)).
    public var values: [T]

    public init(heads: Int, headDim: Int, values: [T]? = nil) {
        self.heads = heads
        self.headDim = headDim
        self.values = values ?? [T](repeating: 0, count: heads * headDim * headDim)
    }
}

/// The key/value cache of one GQA layer (SPEC.md (27)). Kept whole (no
/// eviction) unless a run emulates RWKV-Infer's window (SPEC.md (27a)): then
/// it holds the newest P = min(position, N) positions, row r = absolute
/// position (position − P) + r.
public struct KVCache<T: BinaryFloatingPoint>: Equatable {
    /// Hkv.
    public var kvHeads: Int
    /// N.
    public var headDim: Int
    /// K [P][Hkv][N]: keys as cached (after the optional k norm, no RoPE).
    public var keys: [T]
    /// V [P][Hkv][N].
    public var values: [T]

    public init(kvHeads: Int, headDim: Int, keys: [T] = [], values: [T] = []) {
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.keys = keys
        self.values = values
    }

    /// P: number of cached positions.
    public var count: Int { kvHeads * headDim == 0 ? 0 : keys.count / (kvHeads * headDim) }

    /// RWKV-Infer's eviction (SPEC.md (27a)), done once per call before the
    /// call's rows are appended: with a window of N rows and a call of
    /// `tokens` ≤ N tokens, keeps the newest max(0, min(P, N − tokens)) rows
    /// and drops the rest, oldest first (INF `rwkvengine/hrwkv7.py` 932-934,
    /// 966-975, 842-897). Nothing happens while P + tokens ≤ N.
    public mutating func evictOldest(window: Int, tokens: Int) {
        let kept = max(0, min(count, window - tokens))
        let drop = (count - kept) * kvHeads * headDim
        if drop > 0 {
            keys.removeFirst(drop)
            values.removeFirst(drop)
        }
    }
}

/// The state of one layer; its case matches the layer's kind.
public enum LayerState<T: BinaryFloatingPoint>: Equatable {
    case rwkv(WKVState<T>)
    case gqa(KVCache<T>)
}

/// The whole carried state of one sequence.
public struct ModelState<T: BinaryFloatingPoint>: Equatable {
    /// p: the absolute position of the next token (number of tokens consumed).
    public var position: Int
    /// One entry per layer, in layer order.
    public var layers: [LayerState<T>]

    public init(position: Int, layers: [LayerState<T>]) {
        self.position = position
        self.layers = layers
    }

    /// The state before the first token: zero WKV states, empty caches, p = 0.
    public init(config: ModelConfig, layerKinds: [LayerKind]) {
        self.position = 0
        self.layers = layerKinds.map { kind in
            switch kind {
            case .rwkv: return .rwkv(WKVState(heads: config.numHeads, headDim: config.headDim))
            case .gqa: return .gqa(KVCache(kvHeads: config.numKVHeads, headDim: config.headDim))
            }
        }
    }

    /// The initial state for `model`.
    public init(for model: ModelWeights<T>) {
        self.init(config: model.config, layerKinds: model.layerKinds)
    }

    /// The same state with every number rounded to `U` (exact when widening).
    public func converted<U: BinaryFloatingPoint>(to: U.Type) -> ModelState<U> {
        ModelState<U>(position: position, layers: layers.map { layer in
            switch layer {
            case .rwkv(let s): return .rwkv(WKVState<U>(heads: s.heads, headDim: s.headDim, values: s.values.map { U($0) }))
            case .gqa(let c): return .gqa(KVCache<U>(kvHeads: c.kvHeads, headDim: c.headDim,
                                                      keys: c.keys.map { U($0) }, values: c.values.map { U($0) }))
            }
        })
    }

    /// Problems that make this state unusable with `config`/`layerKinds`; empty when it fits.
    /// Every GQA cache must hold P = position rows, or P = min(position, N)
    /// for a run with a KV window of N rows (`kvWindow`, SPEC.md (27a)).
    public func problems(config: ModelConfig, layerKinds: [LayerKind], kvWindow: Int? = nil) -> [String] {
        var out: [String] = []
        if position < 0 { out.append("state.position is negative (\(position))") }
        if layers.count != layerKinds.count {
            out.append("state has \(layers.count) layers, the model has \(layerKinds.count)")
            return out
        }
        for (i, (layer, kind)) in zip(layers, layerKinds).enumerated() {
            switch (layer, kind) {
            case (.rwkv(let s), .rwkv):
                let n = config.numHeads * config.headDim * config.headDim
                if s.heads != config.numHeads || s.headDim != config.headDim || s.values.count != n {
                    out.append("state.layers.\(i).wkv has shape [\(s.heads), \(s.headDim), \(s.headDim)] (\(s.values.count) values), expected [\(config.numHeads), \(config.headDim), \(config.headDim)]")
                }
            case (.gqa(let c), .gqa):
                let w = config.numKVHeads * config.headDim
                if c.kvHeads != config.numKVHeads || c.headDim != config.headDim || c.keys.count != c.values.count || c.keys.count % max(w, 1) != 0 {
                    out.append("state.layers.\(i).k/v do not have shape [P, \(config.numKVHeads), \(config.headDim)]")
                } else if let n = kvWindow, c.count != min(position, n) {
                    out.append("state.layers.\(i).k holds \(c.count) positions; with a KV window of \(n) rows and state.position \(position) it must hold \(min(position, n))")
                } else if kvWindow == nil && c.count != position {
                    out.append("state.layers.\(i).k holds \(c.count) positions but state.position is \(position)"
                               + (c.count < position ? " (a state made with a KV window: run with the same window)" : ""))
                }
            case (.rwkv, .gqa):
                out.append("state.layers.\(i) is an RWKV state but layer \(i) is GQA")
            case (.gqa, .rwkv):
                out.append("state.layers.\(i) is a KV cache but layer \(i) is RWKV")
            }
        }
        return out
    }
}
