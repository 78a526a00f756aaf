// FastModel: the optimized forward pass of an hxa079 model, in Float32
// (`FastModel` = `FastEngine<Float>`, `--engine fast --precision f32`) or in
// Float64 (`FastModel64` = `FastEngine<Double>`, `--precision f64`), and as
// the bf16 engine (`storesBF16`, `--precision bf16`: FastEngine<Float> storing
// bf16 at the bf16 profile's storage points — each a visible `store(…)` — with
// bf16 matrix products; BF16Engine.swift): ONE
// implementation generic over the element type (Scalar.swift), with
// cblas_sgemm/sgemv or cblas_dgemm/dgemv and the float or double build of
// each C kernel. (The element type is `Real` here: T is the number of
// tokens of a call, as in SPEC.md.)
//
// Contract: computes the same function as Hxa079Reference `Reference.forward`
// (SPEC.md (1)–(37)) — same equations, same order of stages, same checkpoint
// names and shapes, same errors, same state layout (`ModelState<Real>`,
// WKV state S [H][N value][N key], KV cache [P][Hkv][N]) — with the sums
// reassociated (OpenBLAS GEMM/GEMV with FMA inside, SIMD16 partial sums) and
// the transcendental functions replaced by the polynomial versions of the C
// kernels (rows_body.h). That freedom exists only in this module.
//
// Per call of T tokens (rows):
//   embed → per layer [RMSNorm → RWKV or GQA mixer → residual → RMSNorm →
//   SwiGLU MLP → residual] → final RMSNorm → head.
// Projections: cblas_sgemm for T > 1; for T = 1 cblas_sgemv on big matrices
// and our GEMV on small ones (Gemv.swift); products that read the same input
// run as one stacked matrix (r/k/v, q/k/v, MLP gate/up; Packing.swift); bf16
// weights are widened on the fly (DenseMatrix.swift). WKV: WKVKernels.swift
// (recurrent, or chunked when chunkSize ≥ 1 and T > 1). Hot loops run as C
// kernels at the level NativeKernels.swift selects (portable, AVX2+FMA, AVX-512).
// Row-wise stages (norms, RoPE, activations, softmax rows) are split over
// the cores by rows when a call is long enough (`parallelRows`).
// `prefill` is `forward` that puts only the last row through the head.
// RWKV-Infer's long-context options (`LongContextOptions`, SPEC.md (4a),
// (27a)): the RoPE rows clamped by `ropePosition`, the caches evicted by
// `KVCache.evictOldest` once per call — the reference's functions.
//
// State and failure: the state is validated before anything runs. With no
// observer nothing after validation can throw, so the state is moved out,
// updated in place (no copy of the WKV states) and moved back. With an
// observer, which may throw to stop the run, a copy is updated and committed
// only at the end, so a throwing observer leaves the state unchanged.
//
// Allocation: scratch buffers live in a Workspace sized for the largest call
// so far (calls longer than 512 tokens without an observer run in passes of
// 512, which bounds it; attention scores are held for one block of query
// rows at a time, O(P) for P cached rows); a decode step allocates only the returned logits
// array, the amortized growth of the KV caches, and the checkpoints an
// observer asked for.
//
// Threads: one FastModel runs one forward at a time (its workspace is shared
// by its calls); use one instance per thread. OpenBLAS threads the
// projections; the WKV heads, GEMV rows and row-wise stages are split over
// the cores with Dispatch (never nested inside an OpenBLAS call).

import CHxa079Kernels
import Hxa079
import SafeTensors

/// The fast engine in Float32 (`--engine fast --precision f32`).
public typealias FastModel = FastEngine<Float>
/// The fast engine in Float64 (`--engine fast --precision f64`).
public typealias FastModel64 = FastEngine<Double>

public final class FastEngine<Real: FastScalar> {
    let packed: PackedModel<Real>
    /// The bf16 engine (`--precision bf16`, BF16Engine.swift): values stored
    /// in bfloat16 at the bf16 profile's storage points (SPEC.md §4.7) and at
    /// the inputs of the big matrix products; Float arithmetic in between.
    public let storesBF16: Bool
    private var workspace: Workspace<Real>?
    private var rope = RoPETable<Real>(start: 0, count: 0, headDim: 2, theta: 10)
    /// Tests: NaN-fill all scratch before every pass so unwritten elements show.
    var poisonScratch = false
    /// Longest pass when no observer is attached (bounds the workspace).
    static var maxRowsPerPass: Int { 512 }
    /// Query rows per block of causal attention in a pass (T > 1).
    static var attentionBlock: Int { 128 }

    /// Packs `weights` for the kernels (matrices shared with the caller's arrays).
    @_specialize(where Real == Float)
    @_specialize(where Real == Double)
    public init(_ weights: ModelWeights<Real>) throws {
        packed = try PackedModel(weights, source: MatrixSource())
        storesBF16 = false
    }

    /// Packs `weights`; with `bf16Matrices` the big matrices (projections,
    /// MLP, head, embedding) are rounded to bfloat16 (nearest even) and kept
    /// that way (Float; Double widens them back): decode reads half the bytes;
    /// LoRA, norms and biases stay in Real.
    @_specialize(where Real == Float)
    @_specialize(where Real == Double)
    public init(_ weights: ModelWeights<Real>, bf16Matrices: Bool) throws {
        var source = MatrixSource()
        source.roundToBF16 = bf16Matrices
        packed = try PackedModel(weights, source: source)
        storesBF16 = false
    }

    /// Tests: packs `weights` with head blocks of `headBlockRows` rows (nil = the default).
    init(_ weights: ModelWeights<Real>, headBlockRows: Int?) throws {
        packed = try PackedModel(weights, source: MatrixSource(), headBlockRows: headBlockRows)
        storesBF16 = false
    }

    init(packed: PackedModel<Real>, storesBF16: Bool = false) {
        self.packed = packed
        self.storesBF16 = storesBF16
        rope.roundsToBF16 = storesBF16
    }

    /// True when the layers are read from the model files as they run (Loading.swift).
    public var isStreamed: Bool { packed.streamed != nil }

    public var config: ModelConfig { packed.config }
    public var layerKinds: [LayerKind] { packed.layerKinds }
    /// True when the big matrices are held as bfloat16.
    public var usesBF16Matrices: Bool { packed.head.isBF16 }
    /// Bytes of weights one decode step reads (for bandwidth figures).
    public var decodeWeightBytes: Int { packed.decodeWeightBytes }

    public func initialState() -> ModelState<Real> { ModelState(config: config, layerKinds: layerKinds) }

    /// Runs `tokens` through the model, continuing from `state`.
    ///
    /// - Parameters:
    ///   - chunkSize: 0 = recurrent WKV; L ≥ 1 = chunked WKV with chunks of L
    ///     (L > 128 runs as chunks of 128; T = 1 always runs the recurrence).
    ///   - longContext: RWKV-Infer's RoPE clamp and KV window (SPEC.md (4a),
    ///     (27a)); off by default (the truth). With a window the call may hold
    ///     at most that many tokens, and the state's caches at most that many rows.
    /// - Returns: logits [Real][V].
    /// - Throws: `Hxa079Error.tokenOutOfRange`, `.invalidState`,
    ///   `.invalidArgument`, or what the observer throws (state unchanged).
    @_specialize(where Real == Float)
    @_specialize(where Real == Double)
    public func forward(tokens: [Int], state: inout ModelState<Real>, chunkSize: Int = 0,
                        longContext: LongContextOptions = .init(),
                        observer: (any CheckpointObserver)? = nil) throws -> [Real] {
        try validate(tokens: tokens, state: state, chunkSize: chunkSize, longContext: longContext)
        let n = tokens.count, V = config.vocabSize
        if n == 0 { return [] }
        var logits = [Real](repeating: .nan, count: n * V)
        try logits.withUnsafeMutableBufferPointer { lp in
            guard let out = lp.baseAddress else { return }
            if let observer {
                var s = state
                evictForCall(&s, tokens: n, longContext: longContext)
                try pass(tokens[...], state: &s, chunkSize: chunkSize, longContext: longContext, observer: observer,
                         logits: out, endsCall: true)
                state = s
            } else {
                try runInPasses(tokens, state: &state, chunkSize: chunkSize, longContext: longContext, logits: out,
                                lastRowOnly: false)
            }
        }
        return logits
    }

    /// Runs `tokens` through the model, continuing from `state`, and returns
    /// only the logits of the LAST token [V] — what generation needs after a
    /// prompt. Same state afterwards as `forward`; the head is applied to one
    /// row instead of T (for the medium preset that is a fifth of the flops).
    ///
    /// - Throws: as `forward` (state unchanged on error).
    @_specialize(where Real == Float)
    @_specialize(where Real == Double)
    public func prefill(tokens: [Int], state: inout ModelState<Real>, chunkSize: Int = 0,
                        longContext: LongContextOptions = .init()) throws -> [Real] {
        try validate(tokens: tokens, state: state, chunkSize: chunkSize, longContext: longContext)
        if tokens.isEmpty { return [] }
        var logits = [Real](repeating: .nan, count: config.vocabSize)
        try logits.withUnsafeMutableBufferPointer { lp in
            guard let out = lp.baseAddress else { return }
            try runInPasses(tokens, state: &state, chunkSize: chunkSize, longContext: longContext, logits: out,
                            lastRowOnly: true)
        }
        return logits
    }

    /// Everything that can be wrong with a call, checked before anything runs.
    private func validate(tokens: [Int], state: ModelState<Real>, chunkSize: Int, longContext: LongContextOptions) throws {
        let V = config.vocabSize
        for (i, token) in tokens.enumerated() where token < 0 || token >= V {
            throw Hxa079Error.tokenOutOfRange(token: token, index: i, vocabSize: V)
        }
        if chunkSize < 0 { throw Hxa079Error.invalidArgument("chunk size must be ≥ 0, got \(chunkSize)") }
        if let problem = longContext.problem(tokens: tokens.count) { throw Hxa079Error.invalidArgument(problem) }
        let problems = state.problems(config: config, layerKinds: layerKinds, kvWindow: longContext.kvWindow)
        if !problems.isEmpty { throw Hxa079Error.invalidState(problems) }
    }

    /// (27a) RWKV-Infer's window: evicts the oldest rows of every GQA cache
    /// ONCE per call of `tokens` tokens, before any of its passes (the
    /// reference evicts in each GQA mixer before its rows are appended; the
    /// caches of different layers are independent, so this is the same rule).
    private func evictForCall(_ s: inout ModelState<Real>, tokens: Int, longContext: LongContextOptions) {
        guard let window = longContext.kvWindow else { return }
        for i in s.layers.indices {
            guard case .gqa(var cache) = s.layers[i] else { continue }
            s.layers[i] = .gqa(KVCache(kvHeads: 0, headDim: 0))   // release: cache is unique
            cache.evictOldest(window: window, tokens: tokens)
            s.layers[i] = .gqa(cache)
        }
    }

    /// The validated call without an observer: passes of at most
    /// `maxRowsPerPass` tokens on the state moved out of `state` (updated in
    /// place, no copy: in memory nothing after validation can throw; streamed,
    /// reading a layer can, so a copy is updated and committed). Logits: all
    /// rows into out [Real][V], or (`lastRowOnly`) the last token's into out [V].
    private func runInPasses(_ tokens: [Int], state: inout ModelState<Real>, chunkSize: Int,
                             longContext: LongContextOptions, logits out: UnsafeMutablePointer<Real>,
                             lastRowOnly: Bool) throws {
        if isStreamed {
            var s = state
            try passes(tokens, state: &s, chunkSize: chunkSize, longContext: longContext, logits: out,
                       lastRowOnly: lastRowOnly)
            state = s
            return
        }
        var s = ModelState<Real>(position: 0, layers: [])
        swap(&s, &state)
        defer { swap(&s, &state) }
        try passes(tokens, state: &s, chunkSize: chunkSize, longContext: longContext, logits: out, lastRowOnly: lastRowOnly)
    }

    /// The call's eviction (once), then its passes.
    private func passes(_ tokens: [Int], state s: inout ModelState<Real>, chunkSize: Int, longContext: LongContextOptions,
                        logits out: UnsafeMutablePointer<Real>, lastRowOnly: Bool) throws {
        let total = tokens.count, V = config.vocabSize
        evictForCall(&s, tokens: total, longContext: longContext)
        var start = 0
        while start < total {
            let n = min(Self.maxRowsPerPass, total - start)
            let head: HeadRows = lastRowOnly ? (start + n == total ? .lastRow : .none) : .all
            try pass(tokens[start..<(start + n)], state: &s, chunkSize: chunkSize, longContext: longContext,
                     observer: nil, logits: lastRowOnly ? out : out + start * V, head: head, endsCall: start + n == total)
            start += n
        }
    }

    // MARK: - One pass

    /// Which rows of a pass go through the head.
    enum HeadRows { case all, lastRow, none }

    private func workspace(rows: Int) -> Workspace<Real> {
        if let w = workspace, w.rows >= rows { return w }
        let cfg = config
        var wide = 0
        if packed.widensBF16 {   // not only the head: keepBF16 can mix; streamed: bf16 read in place
            wide = max(FastMatrix<Real>.scratchFloats(cols: cfg.hiddenSize), FastMatrix<Real>.scratchFloats(cols: cfg.intermediateSize),
                       FastMatrix<Real>.scratchFloats(cols: cfg.attentionWidth))
        }
        workspace = nil
        let w = Workspace<Real>(rows: rows, config: cfg, loraWidth: packed.maxDownWidth, wideFloats: wide,
                                bf16Inputs: storesBF16)
        workspace = w
        return w
    }

    /// One pass over T tokens (the call's eviction already done); logits [T][V] written to `logits`.
    /// `endsCall`: the call's last pass (the bf16 engine stores the WKV states there, §4.7 point 5).
    private func pass(_ tokens: ArraySlice<Int>, state s: inout ModelState<Real>, chunkSize: Int,
                      longContext: LongContextOptions, observer: (any CheckpointObserver)?,
                      logits: UnsafeMutablePointer<Real>, head: HeadRows = .all, endsCall: Bool) throws {
        let cfg = config
        let T = tokens.count, C = cfg.hiddenSize, V = cfg.vocabSize
        let ws = workspace(rows: T)
        if poisonScratch { ws.poison() }
        let eps = Real(cfg.rmsNormEps)
        let limit = longContext.ropePositionLimit
        if layerKinds.contains(.rwkv) {
            // (4a) the table covers the clamped positions of the pass (all of them when limit is nil)
            let first = ropePosition(s.position, limit: limit), last = ropePosition(s.position + T - 1, limit: limit)
            rope.refill(start: first, count: last - first + 1, headDim: cfg.headDim, theta: cfg.ropeTheta)
        }

        // (1) x⁰_t = E[token_t]
        if let streamed = packed.streamed {
            let rows = try streamed.embeddingRows(Array(tokens))
            rows.withUnsafeBufferPointer { rp in if let rb = rp.baseAddress { ws.x.update(from: rb, count: T * C) } }
        } else {
            for (t, token) in tokens.enumerated() { packed.embedding.copyRow(token, into: ws.x + t * C) }
        }
        store(ws.x, T * C)   // storage points: §4.7 point 1 (the identity when E is bf16)
        try report(observer, CheckpointName.embed, [T, C], ws.x)

        var haveFirst = false
        for i in 0..<cfg.numLayers {
            let layer = try packed.layer(i)   // streamed: read and packed now, released after this layer
            // (33) h = x + Mixer(RMSNorm(x; ln1))
            layer.inputNorm.withUnsafeBufferPointer { g in
                if let gb = g.baseAddress { rmsNormRows(ws.x, ws.xn, rows: T, count: C, weight: gb, eps: eps) }
            }
            store(ws.xn, T * C)
            try report(observer, CheckpointName.norm1(i), [T, C], ws.xn)
            switch (layer.mixer, s.layers[i]) {
            case (.rwkv(let m), .rwkv(var wkv)):
                s.layers[i] = .rwkv(WKVState(heads: 0, headDim: 0, values: []))   // release: wkv is unique
                try rwkvMixer(m, layer: i, rows: T, position: s.position, ropeLimit: limit, state: &wkv,
                              haveFirst: &haveFirst, chunkSize: chunkSize, ws: ws, observer: observer, endsCall: endsCall)
                s.layers[i] = .rwkv(wkv)
            case (.gqa(let m), .gqa(var cache)):
                s.layers[i] = .gqa(KVCache(kvHeads: 0, headDim: 0))
                try gqaMixer(m, layer: i, rows: T, cache: &cache, ws: ws, observer: observer)
                s.layers[i] = .gqa(cache)
            default:
                throw Hxa079Error.invalidState(["state.layers.\(i) does not match layer \(i)'s kind"])
            }
            addRows(ws.x, ws.mix, into: ws.h, T * C)
            store(ws.h, T * C)   // the residual stream (§4.7 point 2)
            try report(observer, CheckpointName.mixerResidual(i), [T, C], ws.h)

            // (34) x' = h + MLP(RMSNorm(h; ln2))
            layer.postAttentionNorm.withUnsafeBufferPointer { g in
                if let gb = g.baseAddress { rmsNormRows(ws.h, ws.xn, rows: T, count: C, weight: gb, eps: eps) }
            }
            store(ws.xn, T * C)
            try report(observer, CheckpointName.norm2(i), [T, C], ws.xn)
            mlp(layer, rows: T, ws: ws)
            store(ws.mlpOut, T * C)
            try report(observer, CheckpointName.mlpOut(i), [T, C], ws.mlpOut)
            addRows(ws.h, ws.mlpOut, into: ws.x, T * C)
            store(ws.x, T * C)
            try report(observer, CheckpointName.layerOut(i), [T, C], ws.x)
        }

        // (35) final norm, (36) logits = x̂·W_headᵀ
        packed.finalNorm.withUnsafeBufferPointer { g in
            if let gb = g.baseAddress { rmsNormRows(ws.x, ws.xn, rows: T, count: C, weight: gb, eps: eps) }
        }
        store(ws.xn, T * C)
        try report(observer, CheckpointName.finalNorm, [T, C], ws.xn)
        switch head {
        case .all:
            try applyHead(ws.xn, rows: T, into: logits, ws: ws)
            store(logits, T * V)
            try report(observer, CheckpointName.logits, [T, V], logits)
        case .lastRow:
            try applyHead(ws.xn + (T - 1) * C, rows: 1, into: logits, ws: ws)
            store(logits, V)
        case .none:
            break
        }
        // (37)
        s.position += T
    }

    /// (36) logits [rows][V] = x̂·W_headᵀ in blocks of `headBlockRows` rows of
    /// W_head: the packed group in memory, each block read from the files
    /// when streamed — the same products either way.
    private func applyHead(_ x: UnsafePointer<Real>, rows T: Int, into logits: UnsafeMutablePointer<Real>, ws: Workspace<Real>) throws {
        let C = config.hiddenSize, V = config.vocabSize
        guard packed.streamed != nil else {
            packed.head.apply(x, ldx: C, count: T, into: logits, ldy: V, scratch: ws.wide, bf16Bits: ws.bits)
            return
        }
        var r0 = 0
        while r0 < V {
            let r1 = min(V, r0 + packed.headBlockRows)
            let block = try packed.streamedHeadBlock(r0..<r1)   // in place from the mapping when the kernels can read it
            block.apply(x, ldx: C, count: T, into: logits + r0, ldy: V, scratch: ws.wide, bf16Bits: ws.bits)
            r0 = r1
        }
    }

    // MARK: - RWKV mixer (SPEC.md (5)–(24))

    private func rwkvMixer(_ m: RWKVLayerFast<Real>, layer: Int, rows T: Int, position: Int, ropeLimit: Int?,
                           state: inout WKVState<Real>,
                           haveFirst: inout Bool, chunkSize: Int, ws: Workspace<Real>, observer: (any CheckpointObserver)?,
                           endsCall: Bool) throws {
        let cfg = config
        let C = cfg.hiddenSize, H = cfg.numHeads, N = cfg.headDim, Hkv = cfg.numKVHeads, G = cfg.groupSize
        let HN = H * N, KN = Hkv * N, D = m.downWidth
        let eps = Real(cfg.rmsNormEps)
        let name = { (leaf: String) in CheckpointName.rwkv(layer, leaf) }
        let kernels = Real.fastKernels

        // (5) r, k, v projections (one stacked product)
        projectStacked(m.rkv, rows: T, ws: ws, widths: (HN, KN), into: (ws.r, ws.k, ws.v))
        // (13),(14),(9),(10),(23) first halves: x̂·[w1|a1|v1|k1|g1] in one product
        if storesBF16, bf16DotProducts, let bits = ws.bits, let db = m.downBits {
            loraBF16(ws.xn, ldx: C, cols: C, weights: db, rows: T, outputs: D, into: ws.lora, bits: bits)
        } else {
            m.down.withUnsafeBufferPointer { dp in
                guard let db = dp.baseAddress else { return }
                if T == 1 { gemvCols(db, ldw: D, rows: C, cols: D, x: ws.xn, y: ws.lora) }
                else { Blas.gemmNN(m: T, n: D, k: C, a: ws.xn, lda: C, b: db, ldb: D, c: ws.lora, ldc: D) }
            }
        }
        store(ws.lora, T * D)   // bf16 engine: the LoRA down outputs, inputs of the ups (variant (b), SPEC.md §4.7)
        // (6) optional per-head norms, (7) RoPE on r (H heads) and k (Hkv heads), positions clamped only on request (4a)
        if let g = m.rNorm { g.withUnsafeBufferPointer { gp in
            if let gb = gp.baseAddress { rmsNormRows(ws.r, ws.r, rows: T * H, count: N, weight: gb, eps: eps) } } }
        if let g = m.kNorm { g.withUnsafeBufferPointer { gp in
            if let gb = gp.baseAddress { rmsNormRows(ws.k, ws.k, rows: T * Hkv, count: N, weight: gb, eps: eps) } } }
        applyRoPERows(ws.r, rows: T, heads: H, headDim: N, start: position, limit: ropeLimit, table: rope)
        applyRoPERows(ws.k, rows: T, heads: Hkv, headDim: N, start: position, limit: ropeLimit, table: rope)
        store(ws.r, T * HN); store(ws.k, T * KN); store(ws.v, T * KN)
        try report(observer, name("r"), [T, H, N], ws.r)
        try report(observer, name("k"), [T, Hkv, N], ws.k)
        try report(observer, name("v"), [T, Hkv, N], ws.v)

        // (8)–(10) the first RWKV layer captures k_first/v_first; later ones mix toward them
        var kM = UnsafePointer(ws.k), vM = UnsafePointer(ws.v)
        if !haveFirst {
            ws.kFirst.update(from: ws.k, count: T * KN)
            ws.vFirst.update(from: ws.v, count: T * KN)
            haveFirst = true
        } else {
            if let up = m.valueUp, let bias = m.v0 {
                loraUp(up, rows: T, width: D, ws: ws, into: ws.zv)
                residualMix(raw: ws.v, first: ws.vFirst, z: ws.zv, bias: bias, into: ws.vMix, rows: T, width: KN)
                store(ws.vMix, T * KN)
                vM = UnsafePointer(ws.vMix)
            }
            if let up = m.keyUp, let bias = m.k0 {
                loraUp(up, rows: T, width: D, ws: ws, into: ws.zk)
                residualMix(raw: ws.k, first: ws.kFirst, z: ws.zk, bias: bias, into: ws.kMix, rows: T, width: KN)
                store(ws.kMix, T * KN)
                kM = UnsafePointer(ws.kMix)
            }
        }
        try report(observer, name("k_mixed"), [T, Hkv, N], kM)
        try report(observer, name("v_mixed"), [T, Hkv, N], vM)

        // (14) tanh(x̂·w1), (23) σ(x̂·g1) in place on the fused down output; then the up halves
        parallelRows(T, perRow: 4 * D) { t0, t1 in
            for t in t0..<t1 {
                let row = ws.lora + t * D
                kernels.unary(HXA_TANH, row + m.decayUp.offset, row + m.decayUp.offset, m.decayUp.rank)
                kernels.unary(HXA_SIGMOID, row + m.gateUp.offset, row + m.gateUp.offset, m.gateUp.rank)
            }
        }
        store(ws.lora, T * D)   // bf16 engine: tanh and σ between down and up (variant (b))
        loraUp(m.decayUp, rows: T, width: D, ws: ws, into: ws.w)
        loraUp(m.iclrUp, rows: T, width: D, ws: ws, into: ws.a)
        loraUp(m.gateUp, rows: T, width: D, ws: ws, into: ws.gate)
        // (14) w = −softplus(−(w0 + z)) − 0.5 = log σ(w0 + z) − 0.5 ; (13) a = σ(a0 + z)
        m.w0.withUnsafeBufferPointer { w0p in m.a0.withUnsafeBufferPointer { a0p in
            guard let w0 = w0p.baseAddress, let a0 = a0p.baseAddress else { return }
            parallelRows(T, perRow: 8 * HN) { t0, t1 in
                for t in t0..<t1 {
                    let wr = ws.w + t * HN, ar = ws.a + t * HN
                    kernels.decayIclrRow(w0, a0, wr, ar, HN)
                }
            }
        }}
        store(ws.w, T * HN); store(ws.a, T * HN)
        try report(observer, name("w"), [T, H, N], ws.w)
        try report(observer, name("a"), [T, H, N], ws.a)

        // (11) expansion (head h reads KV head ⌊h/G⌋), (12) kk, (15) k̃, (17) g and d, (16) α, β
        parallelRows(T, perRow: 16 * HN) { t0, t1 in
            for t in t0..<t1 {
                for h in 0..<H {
                    let src = (t * Hkv + h / G) * N, dst = (t * H + h) * N
                    let kh = ws.kH + dst
                    kh.update(from: kM + src, count: N)
                    (ws.vH + dst).update(from: vM + src, count: N)
                    let norm = max(sumOfSquares(kh, N).squareRoot(), 1e-12)
                    kernels.wkvInputs(kh, ws.w + dst, ws.a + dst, norm, ws.kk + dst, ws.kS + dst, ws.logDecay + dst,
                                   ws.decay + dst, ws.alpha + dst, ws.beta + dst, N)
                }
            }
        }
        if storesBF16 {
            // the kernel inputs g, α, β (§4.7 point 4) and the checkpoints kk, k̃ stored; d = exp(g) of the
            // stored g in Float is what the WKV reads, reported as stored (the `decay` checkpoint)
            store(ws.kk, T * HN); store(ws.kS, T * HN); store(ws.logDecay, T * HN)
            store(ws.alpha, T * HN); store(ws.beta, T * HN)
            kernels.unary(HXA_EXP, ws.logDecay, ws.decay, T * HN)
        }
        try report(observer, name("kk"), [T, H, N], ws.kk)
        try report(observer, name("k_scaled"), [T, H, N], ws.kS)
        try report(observer, name("decay"), [T, H, N], ws.decay, stored: true)

        // (18)–(20) WKV
        let args = WKVArgs(steps: T, heads: H, keySize: N, valueSize: N, r: ws.r, logDecay: ws.logDecay, decay: ws.decay,
                           k: ws.kS, v: ws.vH, alpha: ws.alpha, beta: ws.beta, out: ws.o)
        state.values.withUnsafeMutableBufferPointer { sp in
            guard let sb = sp.baseAddress else { return }
            runWKV(args, state: sb, chunkSize: T > 1 ? chunkSize : 0, workspace: ws.wkv)
            if endsCall { store(sb, sp.count) }   // the state a call carries (§4.7 point 5)
        }
        // state.layers.{i}.wkv [H, N, N] just before rwkv.wkv (SPEC.md §4.2, §4.4): this
        // engine reports it once per call, also when asked per token.
        if observer.stateCheckpoints != .none {
            try state.values.withUnsafeBufferPointer { sp in
                guard let sb = sp.baseAddress else { return }
                try report(observer, CheckpointName.stateWKV(layer), [H, N, N], sb)
            }
        }
        store(ws.o, T * HN)
        try report(observer, name("wkv"), [T, H, N], ws.o)

        // (22) bonus_h = (Σ_n r·k̃·r_k)·v_h
        m.rK.withUnsafeBufferPointer { rkp in
            guard let rk = rkp.baseAddress else { return }
            parallelRows(T, perRow: 2 * HN) { t0, t1 in
                for t in t0..<t1 {
                    for h in 0..<H {
                        let off = (t * H + h) * N
                        let s = splat(dot3(ws.r + off, ws.kS + off, rk + h * N, N))
                        mapVector(ws.vH + off, ws.bonus + off, N) { s * $0 }
                    }
                }
            }
        }
        store(ws.bonus, T * HN); store(ws.gate, T * HN)
        try report(observer, name("bonus"), [T, H, N], ws.bonus)
        try report(observer, name("gate"), [T, H, N], ws.gate)

        // (21) y = o·N^−½, (22) + bonus, (24) out = (y ⊙ gate)·Woᵀ
        let scale = splat(1 / Real(N).squareRoot())
        parallelRows(T, perRow: HN) { t0, t1 in
            var e = t0 * HN
            let end = t1 * HN
            while e + 16 <= end {
                store16(ws.gated, e, (load16(ws.o, e) * scale + load16(ws.bonus, e)) * load16(ws.gate, e))
                e += 16
            }
            while e < end { ws.gated[e] = (ws.o[e] * scale[0] + ws.bonus[e]) * ws.gate[e]; e += 1 }
        }
        store(ws.gated, T * HN)   // bf16 engine: the product's input (variant (b)'s rounding of (24))
        m.output.apply(ws.gated, ldx: HN, count: T, into: ws.mix, ldy: C, scratch: ws.wide, bf16Bits: ws.bits)
        store(ws.mix, T * C)
        try report(observer, name("mixer_out"), [T, C], ws.mix)
    }

    /// y [T][out] = lora[:, offset..<offset+rank] · W2.
    private func loraUp(_ up: LoRAUp<Real>, rows T: Int, width D: Int, ws: Workspace<Real>, into y: UnsafeMutablePointer<Real>) {
        if storesBF16, bf16DotProducts, let bits = ws.bits, let wb = up.bits {
            loraBF16(ws.lora + up.offset, ldx: D, cols: up.rank, weights: wb, rows: T, outputs: up.outFeatures, into: y, bits: bits)
            return
        }
        up.weight.withUnsafeBufferPointer { wp in
            guard let w = wp.baseAddress else { return }
            if T == 1 {
                gemvCols(w, ldw: up.outFeatures, rows: up.rank, cols: up.outFeatures, x: ws.lora + up.offset, y: y)
            } else {
                Blas.gemmNN(m: T, n: up.outFeatures, k: up.rank, a: ws.lora + up.offset, lda: D, b: w,
                            ldb: up.outFeatures, c: y, ldc: up.outFeatures)
            }
        }
    }

    /// The bf16 engine's LoRA product: y [T][outputs] = X [T][cols] (ldx, bf16
    /// values) · Wᵀ for W [outputs][cols] bf16 bits (BF16Products.swift).
    private func loraBF16(_ x: UnsafePointer<Real>, ldx: Int, cols: Int, weights: [UInt16], rows T: Int, outputs: Int,
                          into y: UnsafeMutablePointer<Real>, bits: UnsafeMutablePointer<UInt16>) {
        let xf = UnsafeRawPointer(x).assumingMemoryBound(to: Float.self)
        let yf = UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self)
        packBF16(xf, ldx: ldx, rows: T, cols: cols, into: bits, ldb: cols)
        weights.withUnsafeBufferPointer { wp in
            guard let wb = wp.baseAddress else { return }
            gemmBF16(bits, lda: cols, wb, ldw: cols, k: cols, yf, ldc: outputs, m: T, n: outputs)
        }
    }

    /// (9)/(10) out = raw + (first − raw) ⊙ σ(bias + z), rows of `width`.
    private func residualMix(raw: UnsafePointer<Real>, first: UnsafePointer<Real>, z: UnsafePointer<Real>, bias: [Real],
                             into out: UnsafeMutablePointer<Real>, rows T: Int, width W: Int) {
        bias.withUnsafeBufferPointer { bp in
            guard let b = bp.baseAddress else { return }
            parallelRows(T, perRow: 8 * W) { t0, t1 in
                for t in t0..<t1 {
                    let o = t * W
                    Real.fastKernels.residualMix(raw + o, first + o, z + o, b, out + o, W)
                }
            }
        }
    }

    // MARK: - GQA mixer (SPEC.md (25)–(31))

    private func gqaMixer(_ m: GQALayerFast<Real>, layer: Int, rows T: Int, cache: inout KVCache<Real>, ws: Workspace<Real>,
                          observer: (any CheckpointObserver)?) throws {
        let cfg = config
        let C = cfg.hiddenSize, H = cfg.numHeads, N = cfg.headDim, Hkv = cfg.numKVHeads, G = cfg.groupSize
        let HN = H * N, KN = Hkv * N
        let eps = Real(cfg.rmsNormEps)
        let name = { (leaf: String) in CheckpointName.gqa(layer, leaf) }
        let q = ws.r
        // (25) projections (one stacked product), (26) optional per-head norms; no RoPE
        projectStacked(m.qkv, rows: T, ws: ws, widths: (HN, KN), into: (q, ws.k, ws.v))
        if let g = m.qNorm { g.withUnsafeBufferPointer { gp in
            if let gb = gp.baseAddress { rmsNormRows(q, q, rows: T * H, count: N, weight: gb, eps: eps) } } }
        if let g = m.kNorm { g.withUnsafeBufferPointer { gp in
            if let gb = gp.baseAddress { rmsNormRows(ws.k, ws.k, rows: T * Hkv, count: N, weight: gb, eps: eps) } } }
        store(q, T * HN); store(ws.k, T * KN); store(ws.v, T * KN)   // the cache rows (§4.7 point 6)
        try report(observer, name("q"), [T, H, N], q)
        try report(observer, name("k"), [T, Hkv, N], ws.k)
        try report(observer, name("v"), [T, Hkv, N], ws.v)

        // (27) append to the cache (after the call's (27a) eviction, `evictForCall`)
        cache.keys.append(contentsOf: UnsafeBufferPointer(start: ws.k, count: T * KN))
        cache.values.append(contentsOf: UnsafeBufferPointer(start: ws.v, count: T * KN))
        let P = cache.count, P0 = P - T

        // (28)–(30) causal softmax attention, per head, rows t see cache rows ≤ P0 + t.
        // Scores of one block of query rows at a time: [attentionBlock][P], O(P) memory
        // whatever T (no [T][P] matrix: at T = P = 40 000 that would be 12.8 GB in f64).
        let scores = ws.scoreBuffer(count: min(T, Self.attentionBlock) * P)
        let scale = 1 / Real(N).squareRoot()
        cache.keys.withUnsafeBufferPointer { kp in cache.values.withUnsafeBufferPointer { vp in
            guard let keys = kp.baseAddress, let values = vp.baseAddress else { return }
            if storesBF16 && bf16DotProducts && T > 1 {   // no OpenBLAS in the bf16 engine (BF16Products.swift)
                let f = { (p: UnsafePointer<Real>) in UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
                attentionBF16(q: f(q), keys: f(keys), values: f(values), rows: T, cached: P, heads: H, kvHeads: Hkv,
                              headDim: N, block: Self.attentionBlock,
                              scores: UnsafeMutableRawPointer(scores).assumingMemoryBound(to: Float.self),
                              out: UnsafeMutableRawPointer(ws.o).assumingMemoryBound(to: Float.self))
                return
            }
            for h in 0..<H {
                let g = h / G
                if T == 1 {
                    gemvRows(keys + g * N, ldw: KN, rows: P, cols: N, x: q + h * N, y: scores)
                    softmaxRow(scores, valid: P, total: P, scale: scale)
                    gemvCols(values + g * N, ldw: KN, rows: P, cols: N, x: scores, y: ws.o + h * N)
                    continue
                }
                // blocks of query rows [b0, b1) see keys 0..<P0 + b1 only: the products skip
                // most of the masked upper triangle (for T = 512 in blocks of 128, 5/8 of
                // the full score matrix is formed)
                var b0 = 0
                while b0 < T {
                    let b1 = min(b0 + Self.attentionBlock, T), Pb = P0 + b1
                    // block row r = query row b0 + r, with leading dimension P as the [T][P] layout had
                    Blas.gemmNT(m: b1 - b0, n: Pb, k: N, a: q + b0 * HN + h * N, lda: HN, b: keys + g * N, ldb: KN,
                                c: scores, ldc: P)
                    parallelRows(b1 - b0, perRow: 4 * Pb) { r0, r1 in
                        for r in r0..<r1 {
                            softmaxRow(scores + r * P, valid: P0 + b0 + r + 1, total: Pb, scale: scale)
                        }
                    }
                    Blas.gemmNN(m: b1 - b0, n: N, k: Pb, a: scores, lda: P, b: values + g * N, ldb: KN,
                                c: ws.o + b0 * HN + h * N, ldc: HN)
                    b0 = b1
                }
            }
        }}
        store(ws.o, T * HN)
        try report(observer, name("attn"), [T, H, N], ws.o)
        // (31) out = attn·Woᵀ
        m.output.apply(ws.o, ldx: HN, count: T, into: ws.mix, ldy: C, scratch: ws.wide, bf16Bits: ws.bits)
        store(ws.mix, T * C)
        try report(observer, name("mixer_out"), [T, C], ws.mix)
    }

    /// X̂·[W1; W2; W3]ᵀ for the stacked matrix of (5) or (25) into ws.proj, then
    /// split per row into the three outputs [T][HN], [T][KN], [T][KN].
    private func projectStacked(_ m: FastMatrix<Real>, rows T: Int, ws: Workspace<Real>, widths: (Int, Int),
                                into out: (UnsafeMutablePointer<Real>, UnsafeMutablePointer<Real>, UnsafeMutablePointer<Real>)) {
        let (HN, KN) = widths
        let W = HN + 2 * KN, C = config.hiddenSize
        m.apply(ws.xn, ldx: C, count: T, into: ws.proj, ldy: W, scratch: ws.wide, bf16Bits: ws.bits)
        parallelRows(T, perRow: W) { t0, t1 in
            for t in t0..<t1 {
                let row = ws.proj + t * W
                (out.0 + t * HN).update(from: row, count: HN)
                (out.1 + t * KN).update(from: row + HN, count: KN)
                (out.2 + t * KN).update(from: row + HN + KN, count: KN)
            }
        }
    }

    // MARK: - MLP (SPEC.md (32))

    private func mlp(_ layer: LayerFast<Real>, rows T: Int, ws: Workspace<Real>) {
        swiGLU(gateUp: layer.gateUp, down: layer.down, x: ws.xn, rows: T, gu: ws.gu, out: ws.mlpOut, scratch: ws.wide,
               bf16Bits: storesBF16 ? ws.bits : nil)
    }

    // MARK: - Checkpoints

    /// Reports `count(shape)` values at `p` if an observer wants `name` (nothing is converted otherwise).
    /// `stored`: the bf16 engine reports the values rounded to bf16 (a buffer it keeps in Float, `decay`).
    private func report(_ observer: (any CheckpointObserver)?, _ name: @autoclosure () -> String, _ shape: [Int],
                        _ p: UnsafePointer<Real>, stored: Bool = false) throws {
        guard let observer else { return }
        let n = name()
        guard observer.wants(n) else { return }
        let count = shape.reduce(1, *)
        let rounds = stored && storesBF16
        let values = [Double](unsafeUninitializedCapacity: count) { buf, initialized in
            for i in 0..<count { buf[i] = rounds ? Double(roundedToBF16(Float(p[i]))) : Double(p[i]) }
            initialized = count
        }
        try observer.observe(Checkpoint(name: n, shape: shape, values: values))
    }

    private func report(_ observer: (any CheckpointObserver)?, _ name: @autoclosure () -> String, _ shape: [Int],
                        _ p: UnsafeMutablePointer<Real>, stored: Bool = false) throws {
        try report(observer, name(), shape, UnsafePointer(p), stored: stored)
    }
}

// MARK: - Small row kernels

/// MLP(x) = (silu(x·Wgateᵀ) ⊙ (x·Wupᵀ))·Wdownᵀ for X [T][C], with the stacked
/// [Wgate; Wup] [2I][C] as one product into gu [T][2I] (scratch; silu(g)·u
/// overwrites each row's gate half, which W_down then reads with stride 2I);
/// out [T][C].
/// `bf16Bits` (the bf16 engine): both products take bf16 inputs — x is
/// stored already, and each row's h = silu(g)·u is rounded to bf16 here
/// (variant (b)'s rounding of h, SPEC.md §4.7) — with that scratch.
func swiGLU<Real: FastScalar>(gateUp: FastMatrix<Real>, down: FastMatrix<Real>, x: UnsafePointer<Real>, rows T: Int,
                              gu: UnsafeMutablePointer<Real>, out: UnsafeMutablePointer<Real>,
                              scratch: UnsafeMutablePointer<Real>, bf16Bits: UnsafeMutablePointer<UInt16>? = nil) {
    let siluMul = Real.fastKernels.siluMul
    let C = gateUp.cols, I = gateUp.rows / 2
    gateUp.apply(x, ldx: C, count: T, into: gu, ldy: 2 * I, scratch: scratch, bf16Bits: bf16Bits)
    parallelRows(T, perRow: 4 * I) { t0, t1 in
        for t in t0..<t1 {
            let g = gu + t * 2 * I
            siluMul(g, g + I, g, I)
            if bf16Bits != nil { roundRowToBF16(g, I) }
        }
    }
    down.apply(gu, ldx: 2 * I, count: T, into: out, ldy: C, scratch: scratch, bf16Bits: bf16Bits)
}

/// out = a + b over n values.
@inline(__always) func addRows<Real: FastScalar>(_ a: UnsafePointer<Real>, _ b: UnsafePointer<Real>,
                                                into out: UnsafeMutablePointer<Real>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(out, i, load16(a, i) + load16(b, i)); i += 16 }
    while i < n { out[i] = a[i] + b[i]; i += 1 }
}

@inline(__always) func addRows<Real: FastScalar>(_ a: UnsafeMutablePointer<Real>, _ b: UnsafeMutablePointer<Real>,
                               into out: UnsafeMutablePointer<Real>, _ n: Int) {
    addRows(UnsafePointer(a), UnsafePointer(b), into: out, n)
}

/// Σ a·b·c over n values (reassociated).
@inline(__always) func dot3<Real: FastScalar>(_ a: UnsafePointer<Real>, _ b: UnsafePointer<Real>, _ c: UnsafePointer<Real>,
                                             _ n: Int) -> Real {
    var acc = SIMD16<Real>()
    var i = 0
    while i + 16 <= n { acc = acc + load16(a, i) * load16(b, i) * load16(c, i); i += 16 }
    var s = hsum(acc)
    while i < n { s = s + a[i] * b[i] * c[i]; i += 1 }
    return s
}

/// Scales row[0..<valid] by `scale`, replaces it by its softmax (max subtracted),
/// and zeroes row[valid..<total] (future positions).
func softmaxRow<Real: FastScalar>(_ row: UnsafeMutablePointer<Real>, valid: Int, total: Int, scale: Real) {
    Real.fastKernels.softmaxRow(row, valid, total, scale)
}
