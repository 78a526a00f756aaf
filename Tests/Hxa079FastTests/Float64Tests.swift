// Float64Tests: the fast engine in Float64 (`FastModel64`, issue 18
// deliverable 1) against the readable Float64 reference, at every kernel level.
//
// Contract: the same weights (Double) in both engines. Model: EVERY checkpoint
// an observer sees, call by call, and the final state, on the fast-path sweep
// of ModelTests (head_dim 96 with GQA at layer 0 and KV = 1, widths off the
// SIMD multiples, recurrent and chunked, 300 tokens in 3 attention blocks;
// every call after the first starts from the non-zero state the previous one
// left) and on every committed fixture (Fixtures/*, every plan, through the
// Oracle API with the fixture's own float64 truth). Kernels: the WKV op
// (recurrent and chunked), RMSNorm, RoPE, softmax and the element-wise ops.
// Metric: max|Δ|/max|ref| per checkpoint (`maxRelativeError`, ErrorMetrics);
// the bound is 1e-12; the figures measured are beside each bound
// (HXA079_PRINT_MEASUREMENTS=1 prints them).

import Testing
#if canImport(Glibc)
import Glibc
#endif
import CHxa079Kernels
import Hxa079
import Hxa079Oracle
import Hxa079Reference
import Hxa079TestSupport
import RealModule
@testable import Hxa079Fast

/// Max relative error of every WKV state and KV cache (Float64 engines).
func stateError64(_ ref: ModelState<Double>, _ fast: ModelState<Double>) -> Double {
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

/// The repository's Fixtures/ (this file is Tests/Hxa079FastTests/Float64Tests.swift).
let fixturesRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/") + "/Fixtures"
}()

@Suite struct Float64ModelTests {
    /// The bound for the f64 fast engine against the f64 reference, per checkpoint.
    static let bound = 1e-12

    /// Every checkpoint of every call, and the final state, at every level
    /// (the reference runs once per case).
    @Test(arguments: ModelTests.cases)
    func everyCheckpointMatchesFloat64Reference(_ c: ModelCase) throws {
        let weights = ModelWeights<Double>.random(shape: c.shape, options: c.options, seed: c.seed)
        var sd = ModelState<Double>(for: weights)
        var reference: [(tokens: [Int], checkpoints: [Checkpoint])] = []
        for (n, count) in c.calls.enumerated() {
            let tokens = tokenList(count, vocab: c.shape.config.vocabSize, seed: c.seed &+ UInt64(n))
            let observer = CheckpointCollector()
            _ = try Reference.forward(model: weights, tokens: tokens, state: &sd, options: .init(chunkSize: c.chunk),
                                      observer: observer)
            reference.append((tokens, observer.checkpoints))
        }
        let names = CheckpointName.all(layerKinds: weights.layerKinds)
        for level in kernelLevels {
            try FastKernels.withLevel(level) {
                let fast = try FastModel64(weights)
                fast.poisonScratch = true
                var sf = fast.initialState()
                var worst = 0.0
                for (n, call) in reference.enumerated() {
                    let observer = CheckpointCollector()
                    _ = try fast.forward(tokens: call.tokens, state: &sf, chunkSize: c.chunk, observer: observer)
                    #expect(observer.checkpoints.map(\.name) == names, "\(c) call \(n)")
                    for (r, f) in zip(call.checkpoints, observer.checkpoints) {
                        #expect(r.name == f.name && r.shape == f.shape, "\(c) call \(n): \(f.name) \(f.shape) vs \(r.name) \(r.shape)")
                        let e = maxRelativeError(r.values, f.values)
                        worst = max(worst, e)
                        #expect(e <= Self.bound, "\(level) \(c) call \(n) \(r.name): \(e)")
                    }
                }
                // measured over the sweep, 2026-12-02: worst checkpoint 8.0e-15 (odd24, avx2+fma; portable ≤ 5.7e-15),
                // final states ≤ 3.7e-15; bound 1e-12
                measured("f64 \(level) model \(c) worst checkpoint", worst)
                #expect(sf.position == sd.position)
                let es = measured("f64 \(level) model \(c) final state", stateError64(sd, sf))
                #expect(es <= Self.bound, "\(level) \(c): state \(es)")
            }
        }
    }

    /// Long calls without an observer run in passes of 512 and `prefill`
    /// skips the head: the logits and the state still match the reference.
    @Test(arguments: [0, 16])
    func passesAndPrefillMatchFloat64Reference(chunk: Int) throws {
        let weights = ModelWeights<Double>.random(shape: Preset.tiny.shape, seed: 33)
        let V = weights.config.vocabSize
        let tokens = tokenList(600, vocab: V, seed: 34)
        var sd = ModelState<Double>(for: weights)
        let ref = try Reference.forward(model: weights, tokens: tokens, state: &sd, options: .init(chunkSize: chunk))
        for level in kernelLevels {
            try FastKernels.withLevel(level) {
                let fast = try FastModel64(weights)
                fast.poisonScratch = true
                var sf = fast.initialState(), sp = fast.initialState()
                let out = try fast.forward(tokens: tokens, state: &sf, chunkSize: chunk)
                let last = try fast.prefill(tokens: tokens, state: &sp, chunkSize: chunk)
                let e = measured("f64 \(level) 600 tokens L \(chunk) logits", maxRelativeError(ref, out))
                let el = measured("f64 \(level) 600 tokens L \(chunk) prefill", maxRelativeError(Array(ref.suffix(V)), last))
                let es = measured("f64 \(level) 600 tokens L \(chunk) state", stateError64(sd, sf))
                // measured ≤ 2.3e-15 (logits), ≤ 1.8e-15 (prefill), ≤ 2.0e-15 (state) at every level, 2026-12-02; bound 1e-12
                #expect(e <= Float64ModelTests.bound && el <= Float64ModelTests.bound && es <= Float64ModelTests.bound,
                        "\(level) L \(chunk): logits \(e), prefill \(el), state \(es)")
                #expect(sp == sf)
            }
        }
    }

    /// Every plan of every committed fixture, through the Oracle API (the
    /// engine keeps a `ModelState<Double>`: the float64 budget), against the
    /// fixture's float64 truth.
    @Test(arguments: ["tiny", "small"])
    func committedFixturesMatchTheirFloat64Truth(fixture name: String) throws {
        let oracle = try OracleFixture(path: fixturesRoot + "/" + name)
        for level in kernelLevels {
            try FastKernels.withLevel(level) {
                let engine = try oracle.withModelDirectory { try FastModel64(directory: ModelDirectory(path: $0)) }
                var worst = 0.0
                for plan in oracle.planNames {
                    let candidate = try oracle.record(plan: plan, initialState: engine.initialState()) { tokens, state, chunk, observer in
                        _ = try engine.forward(tokens: tokens, state: &state, chunkSize: chunk, observer: observer)
                    }
                    let report = try oracle.check(candidate, plan: plan)
                    #expect(report.passed, "\(name) \(plan) \(level): \(report)")
                    #expect(report.missing.isEmpty, "\(name) \(plan): missing \(report.missing)")
                    #expect(candidate.tensors.count == oracle.checkpointNames.count, "\(name) \(plan)")
                    for (checkpoint, t) in candidate.tensors {
                        let e = maxRelativeError(try oracle.truth(plan: plan, name: checkpoint), t.values)
                        worst = max(worst, e)
                        #expect(e <= Float64ModelTests.bound, "\(name) \(plan) \(level) \(checkpoint): \(e)")
                    }
                }
                // measured 2026-12-02: tiny ≤ 3.5e-15, small ≤ 4.5e-15 (portable, avx2+fma); bound 1e-12
                measured("f64 \(level) fixture \(name) worst checkpoint", worst)
            }
        }
    }
}

@Suite struct Float64KernelTests {
    /// The WKV op in Double against the reference on the same inputs (the Float
    /// cases of FastWKVKernelTests, widened).
    @Test(arguments: kernelLevels, FastWKVKernelTests.cases)
    func wkvMatchesFloat64Reference(_ level: FastKernels.Level, _ c: WKVCase) throws {
        let x = c.inputs()
        let d = { (a: [Float]) in a.map { Double($0) } }
        let input = WKVInput<Double>(steps: c.steps, heads: c.heads, keySize: c.keySize, valueSize: c.valueSize,
                                     r: d(x.r), logDecay: d(x.g), k: d(x.k), v: d(x.v), alpha: d(x.alpha), beta: d(x.beta))
        var refState = d(x.state)
        let ref = c.chunk > 0 ? WKV.chunked(input, chunkSize: c.chunk, state: &refState)
                              : WKV.recurrent(input, state: &refState)
        var state = d(x.state)
        let out = try FastKernels.withLevel(level) {
            try FastWKV.run(steps: c.steps, heads: c.heads, keySize: c.keySize, valueSize: c.valueSize,
                            r: input.r, logDecay: input.logDecay, k: input.k, v: input.v, alpha: input.alpha,
                            beta: input.beta, state: &state, chunkSize: c.chunk)
        }
        let eo = measured("f64 wkv \(level) out \(c)", maxRelativeError(ref, out))
        let es = measured("f64 wkv \(level) state \(c)", maxRelativeError(refState, state))
        // measured ≤ 8.5e-16 (out and state) over these cases at every level, 2026-12-02; bound 1e-12
        #expect(eo <= 1e-12, "\(c): out \(eo)")
        #expect(es <= 1e-12, "\(c): state \(es)")
    }

    @Test(arguments: [(5, 256), (3, 80), (7, 24), (1, 6144)])
    func rmsNormMatchesReference(rows: Int, count: Int) throws {
        let x = normals(rows * count, seed: 2, std: 2).map { Double($0) }
        let g = normals(count, seed: 3, std: 0.1).map { 1 + Double($0) }
        let ref = rmsNormRows(x, rows: rows, count: count, weight: g, eps: 1e-5)
        let y = try FastNorms.rmsNorm(x, rows: rows, count: count, weight: g, eps: 1e-5)
        let e = measured("f64 rmsNorm \(rows)×\(count)", maxRelativeError(ref, y))
        #expect(e <= 1e-13)   // measured ≤ 3.5e-15 (1×6144); bound 1e-13
    }

    /// The f64 RoPE table is the reference's own evaluation (SPEC (3a)):
    /// identical cos/sin, so the rotation matches to the rounding of its products.
    @Test(arguments: [(64, 4, 0), (96, 3, 100_000), (16, 2, 7), (24, 1, 8191)])
    func ropeMatchesReference(headDim: Int, heads: Int, start: Int) throws {
        let rows = 5
        let x = normals(rows * heads * headDim, seed: 4).map { Double($0) }
        var ref = x
        let inv = ropeInverseFrequencies(headDim: headDim, theta: 500_000.0)
        for t in 0..<rows {
            applyRoPE(&ref, offset: t * heads * headDim, heads: heads, headDim: headDim, position: start + t,
                      inverseFrequencies: inv)
        }
        let y = try FastNorms.rope(x, rows: rows, heads: heads, headDim: headDim, start: start, theta: 500_000)
        let e = measured("f64 rope N \(headDim) p \(start)", maxRelativeError(ref, y))
        #expect(e <= 1e-15)   // measured 0 (the same table and products as the reference); bound 1e-15
    }

    @Test(arguments: kernelLevels, [5, 37, 300])
    func softmaxMatchesReference(_ level: FastKernels.Level, count: Int) throws {
        let valid = count - count / 3
        let x = normals(count, seed: 5, std: 4).map { Double($0) }
        let scale = 0.125
        let s = x.prefix(valid).map { $0 * scale }
        let m = s.max() ?? 0
        let e = s.map { Double.exp($0 - m) }
        let sum = e.reduce(0, +)
        var ref = [Double](repeating: 0, count: count)
        for j in 0..<valid { ref[j] = e[j] / sum }
        var row = x
        row.withUnsafeMutableBufferPointer { p in
            try? FastKernels.withLevel(level) { softmaxRow(p.baseAddress!, valid: valid, total: count, scale: scale) }
        }
        let err = measured("f64 softmax \(level) \(count)", maxRelativeError(ref, row))
        #expect(err <= 1e-14)   // measured ≤ 7.9e-16; bound 1e-14
    }

    /// The element-wise kernels on Double, in ulps of the correctly rounded
    /// Double result (libm / the reference scalars in Double as the reference).
    @Test(arguments: kernelLevels)
    func elementwiseOpsAreWithinAFewUlps(_ level: FastKernels.Level) throws {
        var x: [Double] = stride(from: -30.0, through: 30.0, by: 0.0137).map { $0 }
        x += normals(4000, seed: 1, std: 3).map { Double($0) }
        x += [0, -0.0, 1e-300, -1e-8, 1e-3, 0.2499, 0.2501, 700, 709, -700, -740]
        func ulps(_ ref: [Double], _ got: [Double]) -> Double {
            var worst = 0.0
            for (r, g) in zip(ref, got) {
                if !r.isFinite || abs(r) < Double.leastNormalMagnitude { continue }
                worst = max(worst, abs(g - r) / r.ulp)
            }
            return worst
        }
        let (ex, sg, th, sl, sp) = try FastKernels.withLevel(level) {
            (FastMath.apply(HXA_EXP, x), FastMath.apply(HXA_SIGMOID, x), FastMath.apply(HXA_TANH, x),
             FastMath.apply(HXA_SILU, x), FastMath.apply(HXA_SOFTPLUS, x))
        }
        let e1 = measured("f64 exp \(level) max ulps", ulps(x.map { Double.exp($0) }, ex))
        let e2 = measured("f64 sigmoid \(level) max ulps", ulps(x.map { sigmoid($0) }, sg))
        let e3 = measured("f64 tanh \(level) max ulps", ulps(x.map { Double.tanh($0) }, th))
        let e4 = measured("f64 silu \(level) max ulps", ulps(x.map { silu($0) }, sl))
        let e5 = measured("f64 softplus \(level) max ulps", ulps(x.map { softplus($0) }, sp))
        // measured 2026-12-02 (portable, avx2+fma): exp 1, sigmoid 2, tanh 2, silu 2, softplus 2 ulps; bounds 8 ulps
        #expect(e1 < 8 && e2 < 8 && e3 < 8 && e4 < 8 && e5 < 8, "\(e1) \(e2) \(e3) \(e4) \(e5)")
        let nan: [Double] = try FastKernels.withLevel(level) { FastMath.apply(HXA_EXP, [Double.nan, 800, -800]) }
        #expect(nan[0].isNaN && nan[1] == Double.infinity && nan[2] == 0)
    }
}
