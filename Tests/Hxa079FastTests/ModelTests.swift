// ModelTests: the whole FastModel against the readable reference.
//
// Contract: random models from the presets and from odd shapes are made in
// Double, rounded to Float for FastModel, and the reference runs (in Float64
// unless stated) on exactly those Float weights widened back, so both engines
// compute the same function of the same parameters. Several calls with carried
// state; logits compared as max|Δ|/max|ref| (the acceptance bound is
// 1e-4 against Float64); final states compared too. Every FastModel here has
// `poisonScratch` on: its scratch is NaN-filled before each pass.
// Bounds are set from measured values (noted beside each).

import Testing
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
@testable import Hxa079Fast

/// One comparison scenario.
struct ModelCase: CustomStringConvertible, Sendable {
    var label: String
    var shape: ModelShape
    var options = RandomModelOptions()
    var calls: [Int]            // tokens per call
    var chunk: Int = 0
    var seed: UInt64 = 7
    var description: String { "\(label), calls \(calls), L \(chunk)" }
}

/// A model whose layout exercises the unusual paths: head_dim 96 with H·N ≠ C,
/// GQA at layer 0 (so the first RWKV layer is layer 1), biases, r/k and q/k
/// norms, a tied head.
let oddShape96 = ModelShape(config: ModelConfig(hiddenSize: 96, numHeads: 2, headDim: 96, numKVHeads: 1,
                                                intermediateSize: 200, vocabSize: 300, numLayers: 3,
                                                rmsNormEps: 1e-5, ropeTheta: 10_000),
                            gqaLayers: [0])
/// Widths that are not multiples of 16 anywhere (SIMD tails): C 80, N 24, G 3.
let oddShape24 = ModelShape(config: ModelConfig(hiddenSize: 80, numHeads: 3, headDim: 24, numKVHeads: 1,
                                                intermediateSize: 120, vocabSize: 211, numLayers: 3,
                                                rmsNormEps: 1e-5, ropeTheta: 500_000),
                            gqaLayers: [2], ranks: (8, 8, 8, 8, 8))
let allOptions = RandomModelOptions(biases: true, rkNorms: true, qkNorms: true, tiedHead: true)

func tokenList(_ n: Int, vocab: Int, seed: UInt64) -> [Int] {
    var rng = SeededRNG(seed: seed, label: "tokens")
    return (0..<n).map { _ in rng.int(below: vocab) }
}

/// Max relative error of every WKV state and KV cache.
func stateError(_ ref: ModelState<Double>, _ fast: ModelState<Float>) -> Double {
    var worst = 0.0
    for (a, b) in zip(ref.layers, fast.layers) {
        switch (a, b) {
        case (.rwkv(let x), .rwkv(let y)): worst = max(worst, maxRelativeError(x.values, y.values))
        case (.gqa(let x), .gqa(let y)):
            worst = max(worst, maxRelativeError(x.keys, y.keys), maxRelativeError(x.values, y.values))
        default: return .infinity
        }
    }
    return worst
}

@Suite struct ModelTests {
    static let cases: [ModelCase] = [
        ModelCase(label: "tiny", shape: Preset.tiny.shape, calls: [9, 1, 1, 6]),
        ModelCase(label: "tiny chunked", shape: Preset.tiny.shape, calls: [13, 1, 7], chunk: 4),
        ModelCase(label: "small", shape: Preset.small.shape, calls: [8, 1, 3], seed: 3),
        ModelCase(label: "small chunked", shape: Preset.small.shape, calls: [13, 1, 5], chunk: 8, seed: 4),
        // long enough for row-parallel stages, 3 causal attention blocks of 128 and WKV step blocks
        ModelCase(label: "small long", shape: Preset.small.shape, calls: [300, 2], seed: 9),
        ModelCase(label: "odd96", shape: oddShape96, options: allOptions, calls: [7, 1, 5], chunk: 3, seed: 5),
        ModelCase(label: "odd96 recurrent", shape: oddShape96, options: allOptions, calls: [6, 1, 1], seed: 6),
        ModelCase(label: "odd24", shape: oddShape24, options: allOptions, calls: [11, 1, 4], chunk: 5, seed: 8),
    ]

    @Test(arguments: kernelLevels, cases)
    func matchesFloat64Reference(_ level: FastKernels.Level, _ c: ModelCase) throws {
        try FastKernels.withLevel(level) {
            let weights = ModelWeights<Double>.random(shape: c.shape, options: c.options, seed: c.seed).converted(to: Float.self)
            let reference = weights.converted(to: Double.self)
            let fast = try FastModel(weights)
            fast.poisonScratch = true
            var sd = ModelState<Double>(for: reference)
            var sf = fast.initialState()
            for (n, count) in c.calls.enumerated() {
                let tokens = tokenList(count, vocab: c.shape.config.vocabSize, seed: c.seed &+ UInt64(n))
                let ref = try Reference.forward(model: reference, tokens: tokens, state: &sd, options: .init(chunkSize: c.chunk))
                let out = try fast.forward(tokens: tokens, state: &sf, chunkSize: c.chunk)
                let e = measured("\(level) model \(c) call \(n) logits", maxRelativeError(ref, out))
                // measured ≤ 1.6e-6 (small, call 2) over these cases, odd shapes ≤ 1.0e-6 (portable; 2026-12-02); bound 1e-5
                // (the acceptance is 1e-4)
                #expect(e < 1e-5, "\(c) call \(n): logits \(e)")
            }
            #expect(sf.position == sd.position)
            let es = measured("\(level) model \(c) final state", stateError(sd, sf))
            #expect(es < 1e-5, "\(c): state \(es)")   // measured ≤ 1.4e-6 (small); bound 1e-5
        }
    }

    @Test(arguments: kernelLevels)
    func matchesFloat32Reference(_ level: FastKernels.Level) throws {
        try FastKernels.withLevel(level) {
            let weights = ModelWeights<Float>.random(shape: Preset.small.shape, seed: 11)
            let fast = try FastModel(weights)
            fast.poisonScratch = true
            var sr = ModelState<Float>(for: weights), sf = fast.initialState()
            for (n, count) in [6, 1].enumerated() {
                let tokens = tokenList(count, vocab: weights.config.vocabSize, seed: 40 + UInt64(n))
                let ref = try Reference.forward(model: weights, tokens: tokens, state: &sr)
                let out = try fast.forward(tokens: tokens, state: &sf)
                let e = measured("\(level) model small f32 reference call \(n)", maxRelativeError(ref, out))
                #expect(e < 1e-5, "call \(n): \(e)")   // measured ≤ 1.8e-6 (small, T=10; 1.71e-6 avx2+fma, avx512f, 1.5e-6 portable, 2026-12-02); bound 1e-5
            }
        }
    }

    /// `prefill` = `forward` with only the last row of logits: the same state
    /// bit for bit (same kernels up to the head), and the last row of the
    /// Float64 reference within the model budget. Runs 600 tokens so the
    /// 512-row passes are split (the first pass skips the head entirely).
    @Test(arguments: kernelLevels, [0, 16])
    func prefillReturnsTheLastRow(_ level: FastKernels.Level, chunk: Int) throws {
        try FastKernels.withLevel(level) {
            let weights = ModelWeights<Double>.random(shape: Preset.small.shape, seed: 31).converted(to: Float.self)
            let reference = weights.converted(to: Double.self)
            let fast = try FastModel(weights)
            fast.poisonScratch = true
            let V = weights.config.vocabSize
            var sd = ModelState<Double>(for: reference), sf = fast.initialState(), sp = fast.initialState()
            for (n, count) in [600, 3, 1].enumerated() {
                let tokens = tokenList(count, vocab: V, seed: 50 + UInt64(n))
                let ref = try Reference.forward(model: reference, tokens: tokens, state: &sd, options: .init(chunkSize: chunk))
                _ = try fast.forward(tokens: tokens, state: &sf, chunkSize: chunk)
                let last = try fast.prefill(tokens: tokens, state: &sp, chunkSize: chunk)
                #expect(last.count == V)
                let e = measured("\(level) prefill L \(chunk) call \(n) last logits", maxRelativeError(Array(ref.suffix(V)), last))
                #expect(e < 1e-5, "call \(n): \(e)")   // measured ≤ 1.3e-6 (T=600, every level, 2026-12-02); bound 1e-5 as the model tests
                #expect(sp == sf, "call \(n): prefill and forward states differ")
            }
            var bad = fast.initialState()
            #expect(throws: Hxa079Error.self) { _ = try fast.prefill(tokens: [V], state: &bad) }
            #expect(bad == fast.initialState())
        }
    }

    /// One matrix kept as bf16 while the head is Float32 (what `keepBF16` gives
    /// for a checkpoint with a Float32 lm_head): the prefill widening scratch
    /// must still exist, and the result matches the reference on the same
    /// (bf16-valued) weights.
    @Test(arguments: kernelLevels)
    func mixedBF16AndFloat32Matrices(_ level: FastKernels.Level) throws {
        try FastKernels.withLevel(level) {
            var weights = ModelWeights<Double>.random(shape: Preset.tiny.shape, seed: 41).converted(to: Float.self)
            let bits = weights.layers[0].mlp.gate.weight.map(roundToBF16)
            weights.layers[0].mlp.gate.weight = bits.map { Float(bitPattern: UInt32($0) << 16) }
            var source = MatrixSource()
            source.bf16[TensorName.mlp(0, "gate_proj") + ".weight"] = bits
            let fast = FastModel(packed: try PackedModel(weights, source: source))
            fast.poisonScratch = true
            #expect(!fast.usesBF16Matrices)
            let reference = weights.converted(to: Double.self)
            var sd = ModelState<Double>(for: reference), sf = fast.initialState()
            let tokens = tokenList(9, vocab: weights.config.vocabSize, seed: 42)
            let ref = try Reference.forward(model: reference, tokens: tokens, state: &sd)
            let out = try fast.forward(tokens: tokens, state: &sf)
            let e = measured("\(level) mixed bf16/f32 matrices", maxRelativeError(ref, out))
            #expect(e < 1e-5)   // measured ≤ 7.7e-7 over the levels (2026-12-02); bound 1e-5 as the model tests
        }
    }

    @Test(arguments: kernelLevels)
    func everyCheckpointMatchesReference(_ level: FastKernels.Level) throws {
        try FastKernels.withLevel(level) {
            let weights = ModelWeights<Double>.random(shape: oddShape24, options: allOptions, seed: 21).converted(to: Float.self)
            let reference = weights.converted(to: Double.self)
            let fast = try FastModel(weights)
            fast.poisonScratch = true
            var sd = ModelState<Double>(for: reference), sf = fast.initialState()
            _ = try Reference.forward(model: reference, tokens: [1, 2, 3], state: &sd)
            _ = try fast.forward(tokens: [1, 2, 3], state: &sf)
            let refObs = CheckpointCollector(), fastObs = CheckpointCollector()
            let tokens = [5, 9, 200, 7]
            _ = try Reference.forward(model: reference, tokens: tokens, state: &sd, options: .init(chunkSize: 3), observer: refObs)
            _ = try fast.forward(tokens: tokens, state: &sf, chunkSize: 3, observer: fastObs)
            #expect(fastObs.checkpoints.map(\.name) == refObs.checkpoints.map(\.name))
            #expect(fastObs.checkpoints.map(\.name) == CheckpointName.all(layerKinds: fast.layerKinds))
            var worst = 0.0
            for (r, f) in zip(refObs.checkpoints, fastObs.checkpoints) {
                #expect(r.shape == f.shape, "\(r.name): shape \(f.shape) vs \(r.shape)")
                let e = maxRelativeError(r.values, f.values)
                worst = max(worst, e)
                #expect(e < 1e-5, "\(r.name): \(e)")   // measured ≤ 1.2e-6 over all checkpoints and levels (2026-12-02); bound 1e-5
            }
            measured("\(level) checkpoints worst", worst)
        }
    }

    @Test func onlyWantedCheckpointsAreReported() throws {
        final class Picky: CheckpointObserver {
            var asked = 0, got: [String] = []
            func wants(_ name: String) -> Bool { asked += 1; return name.hasSuffix(".out") || name == "logits" }
            func observe(_ checkpoint: Checkpoint) throws { got.append(checkpoint.name) }
        }
        let fast = try FastModel(ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 2))
        var s = fast.initialState()
        let o = Picky()
        _ = try fast.forward(tokens: [1, 2], state: &s, observer: o)
        #expect(o.got == ["layers.0.out", "layers.1.out", "layers.2.out", "layers.3.out", "logits"])
        #expect(o.asked == CheckpointName.all(layerKinds: fast.layerKinds).count)
    }

    @Test func rejectsBadInputAndKeepsStateOnObserverThrow() throws {
        struct Stop: Error {}
        final class Stopper: CheckpointObserver {
            func wants(_ name: String) -> Bool { true }
            func observe(_ checkpoint: Checkpoint) throws { if checkpoint.name == "layers.3.mixer_residual" { throw Stop() } }
        }
        let weights = ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 3)
        let fast = try FastModel(weights)
        var s = fast.initialState()
        _ = try fast.forward(tokens: [3, 4, 5], state: &s)
        let before = s
        #expect(throws: Hxa079Error.tokenOutOfRange(token: 256, index: 1, vocabSize: 256)) {
            _ = try fast.forward(tokens: [1, 256], state: &s)
        }
        #expect(throws: Hxa079Error.tokenOutOfRange(token: -1, index: 0, vocabSize: 256)) {
            _ = try fast.forward(tokens: [-1], state: &s)
        }
        #expect(throws: Hxa079Error.self) { _ = try fast.forward(tokens: [1], state: &s, chunkSize: -1) }
        var wrong = ModelState<Float>(position: 0, layers: [])
        #expect(throws: Hxa079Error.self) { _ = try fast.forward(tokens: [1], state: &wrong) }
        var badPosition = s
        badPosition.position += 1
        #expect(throws: Hxa079Error.self) { _ = try fast.forward(tokens: [1], state: &badPosition) }
        #expect(throws: Stop.self) { _ = try fast.forward(tokens: [7, 8], state: &s, observer: Stopper()) }
        #expect(s == before)
        #expect(try fast.forward(tokens: [], state: &s).isEmpty)
        #expect(s == before)
    }

    @Test func rejectsMalformedWeights() throws {
        var weights = ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 4)
        weights.finalNorm.removeLast()
        #expect(throws: Hxa079Error.self) { _ = try FastModel(weights) }
        var w2 = ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 4)
        if case .rwkv(var m) = w2.layers[1].mixer {
            m.output.weight.removeLast()
            w2.layers[1].mixer = .rwkv(m)
        }
        #expect(throws: Hxa079Error.self) { _ = try FastModel(w2) }
    }

    @Test(arguments: kernelLevels)
    func longCallRunsInPassesLikeOneCall(_ level: FastKernels.Level) throws {
        try FastKernels.withLevel(level) {
            // > 512 tokens without an observer run in passes of 512; with an observer in one pass.
            let weights = ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 5)
            let fast = try FastModel(weights)
            let tokens = tokenList(600, vocab: 256, seed: 9)
            var s1 = fast.initialState(), s2 = fast.initialState()
            let a = try fast.forward(tokens: tokens, state: &s1)
            let b = try fast.forward(tokens: tokens, state: &s2, observer: CheckpointCollector(filter: { $0 == "logits" }))
            let e = measured("\(level) passes vs one pass", maxRelativeError(b, a))
            #expect(e < 1e-5)   // measured 2.7e-7 (other GEMM row blocking); bound 1e-5
            #expect(s1.position == 600 && s2.position == 600)
        }
    }
}

@Suite struct BF16Tests {
    /// The reference on weights whose big matrices are rounded to bf16, in Float64.
    static func bf16Reference(_ w: ModelWeights<Float>) -> ModelWeights<Double> {
        func r(_ a: [Float]) -> [Float] { a.map { Float(bitPattern: UInt32(roundToBF16($0)) << 16) } }
        func rl(_ l: Linear<Float>) -> Linear<Float> { var l = l; l.weight = r(l.weight); return l }
        var m = w
        m.embedding = r(m.embedding)
        m.lmHead = m.lmHead.map(rl)
        for i in m.layers.indices {
            m.layers[i].mlp.gate = rl(m.layers[i].mlp.gate)
            m.layers[i].mlp.up = rl(m.layers[i].mlp.up)
            m.layers[i].mlp.down = rl(m.layers[i].mlp.down)
            switch m.layers[i].mixer {
            case .rwkv(var x):
                x.receptance = rl(x.receptance); x.key = rl(x.key); x.value = rl(x.value); x.output = rl(x.output)
                m.layers[i].mixer = .rwkv(x)
            case .gqa(var x):
                x.query = rl(x.query); x.key = rl(x.key); x.value = rl(x.value); x.output = rl(x.output)
                m.layers[i].mixer = .gqa(x)
            }
        }
        return m.converted(to: Double.self)
    }

    @Test(arguments: kernelLevels)
    func bf16MatricesMatchRoundedReference(_ level: FastKernels.Level) throws {
        try FastKernels.withLevel(level) {
            let weights = ModelWeights<Double>.random(shape: Preset.small.shape, seed: 31).converted(to: Float.self)
            let reference = BF16Tests.bf16Reference(weights)
            let fast = try FastModel(weights, bf16Matrices: true)
            fast.poisonScratch = true
            #expect(fast.usesBF16Matrices)
            var sd = ModelState<Double>(for: reference), sf = fast.initialState()
            for (n, count) in [6, 1, 1].enumerated() {   // bf16 prefill (widened blocks + sgemm) then decode (bf16 GEMV)
                let tokens = tokenList(count, vocab: 4096, seed: 50 + UInt64(n))
                let ref = try Reference.forward(model: reference, tokens: tokens, state: &sd)
                let out = try fast.forward(tokens: tokens, state: &sf)
                let e = measured("\(level) bf16 small call \(n)", maxRelativeError(ref, out))
                #expect(e < 1e-5, "call \(n): \(e)")   // measured ≤ 1.1e-6 (T=9); bound 1e-5
            }
        }
    }

    @Test func directoryLoadKeepsBF16() throws {
        let weights = ModelWeights<Double>.random(shape: oddShape24, options: allOptions, seed: 32).converted(to: Float.self)
        let path = "/tmp/hxa079-fast-test-\(getpid())-bf16"
        try writeModelDirectory(weights, to: path, dtype: .BF16)
        defer { _ = system("rm -rf '\(path)'") }
        let dir = try ModelDirectory(path: path)
        let kept = try FastModel(directory: dir, keepBF16: true)
        let widened = try FastModel(directory: dir, keepBF16: false)
        #expect(kept.usesBF16Matrices)
        #expect(!widened.usesBF16Matrices)
        let (loaded, _) = try dir.load(as: Double.self)
        var sd = ModelState<Double>(for: loaded), s1 = kept.initialState(), s2 = widened.initialState()
        for (n, count) in [8, 1].enumerated() {
            let tokens = tokenList(count, vocab: 211, seed: 60 + UInt64(n))
            let ref = try Reference.forward(model: loaded, tokens: tokens, state: &sd)
            let a = try kept.forward(tokens: tokens, state: &s1)
            let b = try widened.forward(tokens: tokens, state: &s2)
            let ea = measured("bf16 dir kept call \(n)", maxRelativeError(ref, a))
            let eb = measured("bf16 dir widened call \(n)", maxRelativeError(ref, b))
            #expect(ea < 1e-5 && eb < 1e-5, "call \(n): \(ea), \(eb)")   // measured ≤ 4.6e-7; bound 1e-5
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
