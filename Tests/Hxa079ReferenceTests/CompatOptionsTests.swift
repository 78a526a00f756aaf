// RWKV-Infer's long-context behaviours as options (SPEC.md (4a), (27a);
// decisions D2, D3): off by default, bitwise the truth while they cannot
// act, and exactly RWKV-Infer's rule when they do.

import Testing
import Hxa079
@testable import Hxa079Reference
import Hxa079TestSupport
import SafeTensors

/// R R A R: GQA at layer 2, G = 2; C 32, 4 heads of 8, vocab 40.
private let compatShape = RandomShapes.shape(hidden: 32, heads: 4, headDim: 8, kvHeads: 2, intermediate: 48, vocab: 40,
                                             layers: 4, gqaLayers: [2], ranks: 4)

/// Runs `tokens` in calls of the given sizes from the initial state; returns
/// the logits of every token, every checkpoint row in order, and the state.
private func run<T: ReferenceScalar>(_ model: ModelWeights<T>, _ tokens: [Int], calls: [Int], options: ForwardOptions = .init())
    throws -> (logits: [T], checkpoints: [Checkpoint], state: ModelState<T>) {
    precondition(calls.reduce(0, +) == tokens.count)
    var state = ModelState(for: model)
    var logits: [T] = []
    var checkpoints: [Checkpoint] = []
    var start = 0
    for n in calls {
        let seen = CheckpointCollector()
        logits += try Reference.forward(model: model, tokens: Array(tokens[start..<(start + n)]), state: &state,
                                        options: options, observer: seen)
        checkpoints += seen.checkpoints
        start += n
    }
    return (logits, checkpoints, state)
}

/// Same names, shapes and values, in the same order.
private func sameCheckpoints(_ a: [Checkpoint], _ b: [Checkpoint]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.shape == $1.shape && $0.values == $1.values }
}

private func bits<T: ReferenceScalar>(_ v: [T]) -> [UInt64] { v.map { UInt64(truncatingIfNeeded: Double($0).bitPattern) } }

@Suite("RWKV-Infer compat options")
struct CompatOptionsTests {
    /// (4a) by hand: one vector rotated at two positions past the limit N uses
    /// the angles of N − 1 both times; below the limit nothing changes.
    @Test func ropePositionsAtOrPastTheLimitShareRowNMinus1() {
        let x: [Double] = [0.3, -1.2, 0.7, 2.0, -0.5, 0.9, 1.1, -0.4]   // one head, N = 8
        let inv = ropeInverseFrequencies(headDim: 8, theta: 10_000.0)
        func rotated(_ p: Int, limit: Int?) -> [Double] {
            var y = x
            applyRoPE(&y, heads: 1, headDim: 8, position: ropePosition(p, limit: limit), inverseFrequencies: inv)
            return y
        }
        #expect(ropePosition(4, limit: 5) == 4 && ropePosition(5, limit: 5) == 4 && ropePosition(900, limit: 5) == 4)
        #expect(ropePosition(900, limit: nil) == 900)
        #expect(rotated(7, limit: 5) == rotated(4, limit: nil))
        #expect(rotated(1000, limit: 5) == rotated(4, limit: nil))
        #expect(rotated(7, limit: 5) != rotated(7, limit: nil))
        #expect(rotated(3, limit: 5) == rotated(3, limit: nil))
        // Row N − 1 by hand for the first pair: angle (N − 1)·inv_freq_0 = 4 rad.
        let y = rotated(123, limit: 5)
        #expect(y[0] == 0.3 * Double.cos(4) - (-0.5) * Double.sin(4))
        #expect(y[4] == -0.5 * Double.cos(4) + 0.3 * Double.sin(4))
    }

    /// (4a) in a whole model: layer 0's r and k (after RoPE) of one token id
    /// repeated at positions ≥ N are bitwise equal (no token shift, so the
    /// rows before RoPE are equal); without the limit they differ.
    @Test func clampedPositionsGiveEqualRotatedRowsInTheModel() throws {
        let model = ModelWeights<Double>.random(shape: compatShape, seed: 1801)
        let tokens = [3, 9, 17, 5, 17, 8, 17, 17]   // token 17 at positions 2, 4, 6, 7
        for name in ["layers.0.rwkv.r", "layers.0.rwkv.k"] {
            let clamped = try run(model, tokens, calls: [8], options: .init(ropePositionLimit: 5)).checkpoints.last { $0.name == name }!
            let truth = try run(model, tokens, calls: [8]).checkpoints.last { $0.name == name }!
            let w = clamped.values.count / 8
            func row(_ c: Checkpoint, _ t: Int) -> ArraySlice<Double> { c.values[(t * w)..<((t + 1) * w)] }
            #expect(row(clamped, 4) == row(clamped, 6) && row(clamped, 6) == row(clamped, 7), "\(name): positions 4, 6, 7 all use row 4")
            #expect(row(truth, 4) != row(truth, 6) && row(truth, 6) != row(truth, 7))
            #expect(row(clamped, 4) == row(truth, 4), "\(name): row N − 1 is position N − 1's")
            #expect(row(clamped, 2) == row(truth, 2), "\(name): positions below the limit are the truth")
        }
    }

    /// With the limit ≥ T and the window ≥ T nothing acts: every checkpoint,
    /// the logits and the state are bitwise the truth, in Float and Double.
    @Test func optionsThatCannotActAreBitwiseTheTruth() throws {
        func check<T: ReferenceScalar>(_: T.Type) throws {
            let model = ModelWeights<Double>.random(shape: compatShape, seed: 1802).converted(to: T.self)
            let tokens = RandomShapes.tokens(24, vocab: 40, seed: 1803)
            let truth = try run(model, tokens, calls: [24])
            for options in [ForwardOptions(ropePositionLimit: 24, kvWindow: 24), ForwardOptions(ropePositionLimit: 1000, kvWindow: 1000)] {
                let r = try run(model, tokens, calls: [24], options: options)
                #expect(bits(r.logits) == bits(truth.logits))
                #expect(sameCheckpoints(r.checkpoints, truth.checkpoints))
                #expect(r.state == truth.state)
            }
        }
        try check(Float.self)
        try check(Double.self)
    }

    /// (27a) on a hand-built cache: row r holds keys [r, 100 + r] and values
    /// [−r, −100 − r]; eviction keeps exactly the newest max(0, min(P, N − T)) rows.
    @Test func evictionKeepsExactlyTheNewestRows() {
        func cache(_ P: Int) -> KVCache<Double> {
            KVCache(kvHeads: 1, headDim: 2, keys: (0..<P).flatMap { [Double($0), Double(100 + $0)] },
                    values: (0..<P).flatMap { [Double(-$0), Double(-100 - $0)] })
        }
        func keptRows(_ P: Int, window: Int, tokens: Int) -> [Int] {
            var c = cache(P)
            c.evictOldest(window: window, tokens: tokens)
            #expect(c.values == c.keys.map { -$0 })
            return stride(from: 0, to: c.keys.count, by: 2).map { Int(c.keys[$0]) }
        }
        #expect(keptRows(5, window: 8, tokens: 3) == [0, 1, 2, 3, 4])   // P + T = N: nothing evicted
        #expect(keptRows(5, window: 6, tokens: 1) == [0, 1, 2, 3, 4])
        #expect(keptRows(6, window: 6, tokens: 1) == [1, 2, 3, 4, 5])   // full cache, one token: a sliding window
        #expect(keptRows(5, window: 6, tokens: 3) == [2, 3, 4])         // the call's rows count: keep N − T
        #expect(keptRows(6, window: 6, tokens: 6) == [])                // a call of N tokens sees only itself
        #expect(keptRows(0, window: 4, tokens: 4) == [])
    }

    /// (27a)–(30) in the mixer: a windowed call attends over exactly the kept
    /// rows plus its own — bitwise the unwindowed mixer on a cache trimmed by hand.
    @Test func windowedAttentionIsTheTruthOnTheKeptRows() throws {
        let model = ModelWeights<Double>.random(shape: compatShape, seed: 1804)
        guard case .gqa(let w) = model.layers[2].mixer else { Issue.record("layer 2 is not GQA"); return }
        let cfg = model.config, C = cfg.hiddenSize, rowWidth = cfg.numKVHeads * cfg.headDim
        var rng = SeededRNG(seed: 1805, label: "x")
        let history = (0..<(7 * C)).map { _ in rng.uniform(-1, 1) }, x = (0..<(3 * C)).map { _ in rng.uniform(-1, 1) }
        var full = KVCache<Double>(kvHeads: cfg.numKVHeads, headDim: cfg.headDim)
        _ = try w.forward(history, tokens: 7, layer: 2, config: cfg, position: 0, cache: &full, observer: nil)
        // Window 6 after 7 tokens: the cache holds the 6 newest (positions 1…6); a call of 3 keeps 3 of them (4…6).
        var windowed = full
        windowed.keys.removeFirst(rowWidth); windowed.values.removeFirst(rowWidth)
        var trimmed = full
        trimmed.keys.removeFirst(4 * rowWidth); trimmed.values.removeFirst(4 * rowWidth)
        let a = try w.forward(x, tokens: 3, layer: 2, config: cfg, position: 7, cache: &windowed,
                              options: .init(kvWindow: 6), observer: nil)
        let b = try w.forward(x, tokens: 3, layer: 2, config: cfg, position: 3, cache: &trimmed, observer: nil)
        #expect(a == b)
        #expect(windowed == trimmed && windowed.count == 6)
    }

    /// Split invariance: the RoPE limit is per token, so any split gives
    /// bitwise the same run; the window too while position + T ≤ N (nothing
    /// evicted). Past that RWKV-Infer's rule depends on the call boundaries
    /// (SPEC.md (27a)): a token sees N − T + t + 1 rows, so splits differ —
    /// from the first token whose visible rows differ, and not before.
    @Test func splitInvarianceHoldsWhereTheRuleIsPerToken() throws {
        let model = ModelWeights<Double>.random(shape: compatShape, seed: 1806)
        let tokens = RandomShapes.tokens(20, vocab: 40, seed: 1807)
        let V = model.config.vocabSize
        let rope = ForwardOptions(ropePositionLimit: 7)
        let one = try run(model, tokens, calls: [20], options: rope)
        for calls in [[3, 9, 8], [1, 1, 5, 13], Array(repeating: 1, count: 20)] {
            let r = try run(model, tokens, calls: calls, options: rope)
            #expect(bits(r.logits) == bits(one.logits), "rope limit, calls \(calls)")
            #expect(r.state == one.state)
        }
        // Window 20 = T: never evicts, so split invariant and the truth.
        let truth = try run(model, tokens, calls: [20])
        for calls in [[5, 7, 8], Array(repeating: 1, count: 20)] {
            let r = try run(model, tokens, calls: calls, options: .init(kvWindow: 20))
            #expect(bits(r.logits) == bits(truth.logits) && r.state == truth.state, "window 20, calls \(calls)")
        }
        // Window 8. Calls [8, 4, 4, 4] and [4, 4, 4, 4, 4] agree: tokens 0…7 see everything (no eviction
        // yet), and from position 8 both run calls of 4, each keeping N − T = 4 older rows. One-token calls
        // agree on tokens 0…7 and differ from token 8 on: it sees positions 1…8 there, 4…8 in a call of 4.
        let w8 = ForwardOptions(kvWindow: 8)
        let a = try run(model, tokens, calls: [8, 4, 4, 4], options: w8)
        let b = try run(model, tokens, calls: [4, 4, 4, 4, 4], options: w8)
        #expect(bits(a.logits) == bits(b.logits), "same call sizes once the window is full")
        let c = try run(model, tokens, calls: Array(repeating: 1, count: 20), options: w8)
        let prefix = 9 * V   // tokens 0…8
        #expect(bits(Array(c.logits[0..<(8 * V)])) == bits(Array(a.logits[0..<(8 * V)])), "no eviction before position 8")
        #expect(bits(Array(c.logits[(8 * V)..<prefix])) != bits(Array(a.logits[(8 * V)..<prefix])), "call-dependent past the window")
        #expect(a.state != c.state)   // layer 3's WKV state reads layer 2's attention
        for (s, n) in [(a.state, 8), (c.state, 8)] {
            for case .gqa(let cache) in s.layers { #expect(cache.count == n) }
        }
    }

    /// A windowed state (P = min(position, N) < position) saves and restores
    /// exactly, continues bitwise like the state in memory, and a run without
    /// the same window refuses it with a message that names the window.
    @Test func windowedStateRoundTripsAndIsRefusedWithoutTheWindow() throws {
        let model = ModelWeights<Double>.random(shape: compatShape, seed: 1808)
        let tokens = RandomShapes.tokens(14, vocab: 40, seed: 1809)
        let options = ForwardOptions(ropePositionLimit: 6, kvWindow: 6)
        var state = ModelState(for: model)
        _ = try Reference.forward(model: model, tokens: Array(tokens[0..<5]), state: &state, options: options)
        _ = try Reference.forward(model: model, tokens: Array(tokens[5..<10]), state: &state, options: options)
        for case .gqa(let cache) in state.layers { #expect(cache.count == 6) }
        #expect(state.position == 10)
        let tmp = try TempDir("compat-state")
        for (dtype, precision) in [(DType.F64, "f64"), (DType.F32, "f32")] {
            let path = tmp.sub("state-\(precision).safetensors")
            let s = dtype == .F64 ? state : state.converted(to: Float.self).converted(to: Double.self)
            try s.write(to: path, dtype: dtype)
            let back = try ModelState<Double>(path: path, config: model.config, layerKinds: model.layerKinds)
            #expect(back == s, "\(precision) round trip")
        }
        let path = tmp.sub("state-f64.safetensors")
        var restored = try ModelState<Double>(path: path, config: model.config, layerKinds: model.layerKinds)
        var inMemory = state
        let rest = Array(tokens[10...])
        let l1 = try Reference.forward(model: model, tokens: rest, state: &restored, options: options)
        let l2 = try Reference.forward(model: model, tokens: rest, state: &inMemory, options: options)
        #expect(bits(l1) == bits(l2) && restored == inMemory)
        var unwindowed = try ModelState<Double>(path: path, config: model.config, layerKinds: model.layerKinds)
        #expect(throws: Hxa079Error.self) { _ = try Reference.forward(model: model, tokens: rest, state: &unwindowed) }
        #expect(state.problems(config: model.config, layerKinds: model.layerKinds).first?.contains("KV window") == true)
        #expect(state.problems(config: model.config, layerKinds: model.layerKinds, kvWindow: 7).first?.contains("must hold 7") == true)
        #expect(state.problems(config: model.config, layerKinds: model.layerKinds, kvWindow: 6).isEmpty)
    }

    /// Bad values and a call longer than the window are errors, not traps; the state is unchanged.
    @Test func badOptionsAreErrors() throws {
        let model = ModelWeights<Double>.random(shape: compatShape, seed: 1810)
        var state = ModelState(for: model)
        for (options, text) in [(ForwardOptions(ropePositionLimit: 0), "RoPE position limit must be ≥ 1"),
                                (ForwardOptions(kvWindow: -2), "KV window must be ≥ 1"),
                                (ForwardOptions(kvWindow: 4), "a call of 5 tokens exceeds the KV window of 4 rows")] {
            do {
                _ = try Reference.forward(model: model, tokens: [1, 2, 3, 4, 5], state: &state, options: options)
                Issue.record("\(options) ran")
            } catch let e as Hxa079Error {
                #expect("\(e)".contains(text), "\(e)")
            }
            #expect(state == ModelState(for: model))
        }
    }
}
