// LongContextOptions: RWKV-Infer's long-context behaviours (SPEC.md (4a),
// (27a), decisions D2/D3), named so that every engine applies the same rule.
//
// Contract: off by default (the truth: unclamped RoPE positions, the whole KV
// cache). The reference (`ForwardOptions`) and the fast engine
// (`FastEngine.forward(…, longContext:)`) both take these values, check them
// with `problem(tokens:)`, clamp positions with `ropePosition(_:limit:)` and
// evict with `KVCache.evictOldest(window:tokens:)` (ModelState.swift): one
// rule, one implementation.

/// RWKV-Infer's RoPE clamp and KV window for one call.
public struct LongContextOptions: Sendable, Equatable {
    /// nil = off (the truth); N ≥ 1 = positions ≥ N use the angles of position N − 1 (SPEC.md (4a)).
    public var ropePositionLimit: Int?
    /// nil = off (the whole cache); N ≥ 1 = each GQA cache keeps at most N
    /// rows, the oldest evicted once per call before its attention (SPEC.md (27a)).
    /// A call may then hold at most N tokens.
    public var kvWindow: Int?

    public init(ropePositionLimit: Int? = nil, kvWindow: Int? = nil) {
        self.ropePositionLimit = ropePositionLimit
        self.kvWindow = kvWindow
    }

    /// True when both are off.
    public var isOff: Bool { ropePositionLimit == nil && kvWindow == nil }

    /// Why these options cannot run a call of `tokens` tokens; nil when they can.
    public func problem(tokens: Int) -> String? {
        if let n = ropePositionLimit, n < 1 { return "the RoPE position limit must be ≥ 1, got \(n)" }
        if let n = kvWindow, n < 1 { return "the KV window must be ≥ 1, got \(n)" }
        if let n = kvWindow, tokens > n {
            // RWKV-Infer keeps only the call's first N rows and aligns the causal
            // mask bottom-right, so queries see the wrong rows (SPEC.md (27a)).
            return "a call of \(tokens) tokens exceeds the KV window of \(n) rows; split it into calls of at most \(n) tokens"
        }
        return nil
    }
}

/// The position whose angles token position `p` uses (SPEC.md (4a)): p itself
/// (the truth, `limit` nil), or min(p, N − 1) with RWKV-Infer's table of N =
/// `limit` rows (INF `rwkvengine/hrwkv7.py` 433: `positions.clamp(max=max_seq_len − 1)`).
@inlinable
package func ropePosition(_ p: Int, limit: Int?) -> Int {
    guard let limit else { return p }
    return min(p, limit - 1)
}
