// Model: the whole forward pass of an hxa079 model (SPEC.md (1), (33)–(37)).
//
// Contract: readable reference, generic over Float and Double, strict
// arithmetic. One call consumes T tokens starting at `state.position`,
// reports every named checkpoint (SPEC.md §4) to the observer in execution
// order, and returns the logits of every position. The state is updated only
// when the whole call succeeds. Parameters come from a `WeightProvider`
// (SPEC.md §2.8): in memory (`ModelWeights`) or streamed from the files
// (`StreamedWeights`: a layer is read when it runs and released after it,
// the head is applied in blocks of rows), with bitwise equal results.

import Hxa079
import RealModule

/// How a forward call computes the WKV, in which storage precision, and
/// whether it emulates RWKV-Infer's long-context behaviours (off by default).
public struct ForwardOptions: Sendable, Equatable {
    /// 0: token-by-token recurrence (SPEC.md (18)–(20)); L ≥ 1: chunked form
    /// with chunks of L tokens (SPEC.md (40)–(49)).
    public var chunkSize: Int
    /// A known-wrong variant to run instead of the model (fixtures only; nil = the model).
    public var mutant: Mutant?
    /// Where values are rounded to a storage format (SPEC.md §4.7; `.f32` =
    /// nothing beyond 𝔽). Reaches both mixers with the options.
    public var profile: PrecisionProfile
    /// RWKV-Infer's RoPE clamp (SPEC.md (4a), decision D2): nil = off (the
    /// truth); N ≥ 1 = positions ≥ N use the angles of position N − 1.
    public var ropePositionLimit: Int?
    /// RWKV-Infer's KV window (SPEC.md (27a), decision D3): nil = off (the
    /// truth, the whole cache); N ≥ 1 = each GQA cache keeps at most N rows,
    /// the oldest evicted once per call before its attention. A call may then
    /// hold at most N tokens.
    public var kvWindow: Int?

    public init(chunkSize: Int = 0, mutant: Mutant? = nil, profile: PrecisionProfile = .f32,
                ropePositionLimit: Int? = nil, kvWindow: Int? = nil) {
        self.chunkSize = chunkSize
        self.mutant = mutant
        self.profile = profile
        self.ropePositionLimit = ropePositionLimit
        self.kvWindow = kvWindow
    }

    /// Why these options cannot run a call of `tokens` tokens; nil when they can.
    public func problem(tokens: Int) -> String? {
        if chunkSize < 0 { return "chunk size must be ≥ 0, got \(chunkSize)" }
        return longContext.problem(tokens: tokens)
    }

    /// The RoPE clamp and KV window as the engines share them (LongContextOptions.swift).
    public var longContext: LongContextOptions {
        LongContextOptions(ropePositionLimit: ropePositionLimit, kvWindow: kvWindow)
    }
}

/// The readable reference engine.
public enum Reference {
    /// Runs `tokens` through `model`, continuing from `state`.
    ///
    /// - Returns: logits [T][V].
    /// - Throws: `Hxa079Error.tokenOutOfRange`, `.invalidState`,
    ///   `.invalidArgument`, or whatever the observer throws. On a throw the
    ///   state is unchanged.
    public static func forward<T: ReferenceScalar>(model: ModelWeights<T>, tokens: [Int], state: inout ModelState<T>,
                                                  options: ForwardOptions = .init(),
                                                  observer: (any CheckpointObserver)? = nil) throws -> [T] {
        try forward(weights: model, tokens: tokens, state: &state, options: options, observer: observer)
    }

    /// Runs `tokens` through the model `weights` provides, reading each layer
    /// when it runs (streamed from the files with `StreamedWeights`: memory
    /// holds one layer at a time, SPEC.md §2.8). Same results, bit for bit,
    /// as the same model held in memory.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    package static func forward<T: ReferenceScalar>(weights: any WeightProvider<T>, tokens: [Int], state: inout ModelState<T>,
                                                   options: ForwardOptions = .init(),
                                                   observer: (any CheckpointObserver)? = nil) throws -> [T] {
        let cfg = weights.config
        let C = cfg.hiddenSize, V = cfg.vocabSize
        let T_ = tokens.count
        for (i, token) in tokens.enumerated() where token < 0 || token >= V {
            throw Hxa079Error.tokenOutOfRange(token: token, index: i, vocabSize: V)
        }
        if let problem = options.problem(tokens: T_) { throw Hxa079Error.invalidArgument(problem) }
        if let problem = options.profile.problem(scalar: T.self, options: options) { throw Hxa079Error.invalidArgument(problem) }
        let profile = options.profile
        let problems = state.problems(config: cfg, layerKinds: weights.layerKinds, kvWindow: options.kvWindow)
        if !problems.isEmpty { throw Hxa079Error.invalidState(problems) }
        if T_ == 0 { return [] }

        var s = state
        let eps = T(cfg.rmsNormEps)

        // (1) x⁰_t = E[token_t]: x [T][C]
        var x = try weights.embeddingRows(tokens)
        profile.store(&x)   // storage point (SPEC.md §4.7); identity when E is stored in the format
        try observer.record(CheckpointName.embed, shape: [T_, C], &x)

        var first: FirstLayerValues<T>? = nil
        for i in 0..<cfg.numLayers {
            let layer = try weights.layer(i)   // read (streamed: from the files) now, released after this layer
            // (33) h = x + Mixer(RMSNorm(x; ln1))
            var xhat = rmsNormRows(x, rows: T_, count: C, weight: layer.inputNorm, eps: eps)
            profile.store(&xhat)
            try observer.record(CheckpointName.norm1(i), shape: [T_, C], &xhat)
            let mixed: [T]
            switch (layer.mixer, s.layers[i]) {
            case (.rwkv(let w), .rwkv(var wkv)):
                mixed = try w.forward(xhat, tokens: T_, layer: i, config: cfg, position: s.position,
                                      state: &wkv, first: &first, options: options, observer: observer)
                s.layers[i] = .rwkv(wkv)
            case (.gqa(let w), .gqa(var cache)):
                mixed = try w.forward(xhat, tokens: T_, layer: i, config: cfg, position: s.position,
                                      cache: &cache, options: options, observer: observer)
                s.layers[i] = .gqa(cache)
            default:
                throw Hxa079Error.invalidState(["state.layers.\(i) does not match layer \(i)'s kind"])
            }
            var h = [T](repeating: 0, count: T_ * C)
            for e in 0..<h.count { h[e] = x[e] + mixed[e] }
            profile.store(&h)   // the residual stream
            try observer.record(CheckpointName.mixerResidual(i), shape: [T_, C], &h)

            // (34) x' = h + MLP(RMSNorm(h; ln2))
            var u = rmsNormRows(h, rows: T_, count: C, weight: layer.postAttentionNorm, eps: eps)
            profile.store(&u)
            try observer.record(CheckpointName.norm2(i), shape: [T_, C], &u)
            var m = layer.mlp.apply(u, rows: T_, profile: profile)
            profile.store(&m)
            try observer.record(CheckpointName.mlpOut(i), shape: [T_, C], &m)
            for e in 0..<x.count { x[e] = h[e] + m[e] }
            profile.store(&x)   // the residual stream
            try observer.record(CheckpointName.layerOut(i), shape: [T_, C], &x)
        }

        // (35) final norm, (36) logits = x̂·W_headᵀ (tied: W_head = E)
        var xf = rmsNormRows(x, rows: T_, count: C, weight: try weights.finalNormWeights(), eps: eps)
        profile.store(&xf)
        try observer.record(CheckpointName.finalNorm, shape: [T_, C], &xf)
        // W_head is applied in blocks of rows [r0, r1): logits[t][r0 + o] = block row o · x̂_t
        var logits = [T](repeating: 0, count: T_ * V)
        var r0 = 0
        while r0 < V {
            let r1 = min(V, r0 + weights.headBlockRows), B = r1 - r0
            let block = Linear(outFeatures: B, inFeatures: C, weight: try weights.headRows(r0..<r1), bias: nil)
            let y = block.applyRows(xf, rows: T_)   // [T][B]
            for t in 0..<T_ { for o in 0..<B { logits[t * V + r0 + o] = y[t * B + o] } }
            r0 = r1
        }
        profile.store(&logits)
        try observer.record(CheckpointName.logits, shape: [T_, V], &logits)

        // (37) advance the position; commit the state
        s.position += T_
        state = s
        return logits
    }
}
