// End-to-end tests of the reference on generated tiny models (SPEC.md (1)–(37)).

import Testing
import Hxa079
import Hxa079Reference
import Hxa079TestSupport
import SafeTensors
import Foundation

/// The model shapes the end-to-end tests sweep: head_dim 16 and 32, GQA at
/// layer 0 / in the middle / last, biases and norms on and off, tied head.
let endToEndCases: [(String, ModelShape, RandomModelOptions)] = [
    ("tiny preset", Preset.tiny.shape, .init()),
    ("gqa at 0, biases, norms", RandomShapes.shape(headDim: 16, layers: 4, gqaLayers: [0, 3]),
     .init(biases: true, rkNorms: true, qkNorms: true)),
    ("head_dim 32, tied, no gqa", RandomShapes.shape(hidden: 40, heads: 2, headDim: 32, kvHeads: 1, layers: 3, gqaLayers: []),
     .init(tiedHead: true)),
    ("G = 4, first-layer gates absent", RandomShapes.shape(heads: 4, headDim: 16, kvHeads: 1, layers: 3, gqaLayers: [1]),
     .init(firstLayerGates: false)),
]

@Test(arguments: 0..<endToEndCases.count)
func tokenByTokenEqualsOneCall(caseIndex: Int) throws {
    let (name, shape, options) = endToEndCases[caseIndex]
    let model = ModelWeights<Double>.random(shape: shape, options: options, seed: 11)
    let tokens = RandomShapes.tokens(13, vocab: shape.config.vocabSize, seed: 5)
    var one = ModelState(for: model)
    let all = try Reference.forward(model: model, tokens: tokens, state: &one)
    var step = ModelState(for: model)
    var pieces: [Double] = []
    for t in tokens { pieces += try Reference.forward(model: model, tokens: [t], state: &step) }
    // The recurrent reference does the same operations in the same order
    // whatever the split (SPEC.md §4.5), so equality is exact.
    #expect(pieces == all, "\(name): token-by-token logits differ, max rel \(maxRelativeError(all, pieces))")
    #expect(step == one, "\(name): final states differ")
    #expect(one.position == tokens.count)
}

@Test func float32AgreesWithFloat64WithinMeasuredBudget() throws {
    for (name, shape, options) in endToEndCases {
        let model = ModelWeights<Double>.random(shape: shape, options: options, seed: 3)
        let tokens = RandomShapes.tokens(32, vocab: shape.config.vocabSize, seed: 9)
        var s64 = ModelState(for: model)
        let l64 = try Reference.forward(model: model, tokens: tokens, state: &s64)
        let model32 = model.converted(to: Float.self)
        var s32 = ModelState(for: model32)
        let l32 = try Reference.forward(model: model32, tokens: tokens, state: &s32)
        let m = ErrorMetrics(reference: l64, candidate: l32)
        // measured 2026-11-27: max rel 5.7e-7 … 8.8e-7, NMSE 2.6e-13 … 4.9e-13 over these
        // four models (T = 32, f32 weights rounded from f64); bounds 1e-5 and 1e-11 (≥ 11× margin).
        #expect(m.maxRel < 1e-5, "\(name): f32 vs f64 logits max rel \(m.maxRel)")
        #expect(m.nmse < 1e-11, "\(name): f32 vs f64 logits NMSE \(m.nmse)")
    }
}

@Test func stateWrittenAndReadBackContinuesBitForBit() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hxa079-state-\(UUID().uuidString)").path
    try makeDirectory(dir)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for precisionIsDouble in [true, false] {
        let (name, shape, options) = endToEndCases[1]
        let model64 = ModelWeights<Double>.random(shape: shape, options: options, seed: 21)
        let tokens = RandomShapes.tokens(10, vocab: shape.config.vocabSize, seed: 2)
        func check<T: ReferenceScalar>(_ model: ModelWeights<T>) throws {
            var s = ModelState(for: model)
            _ = try Reference.forward(model: model, tokens: Array(tokens[..<6]), state: &s)
            let path = dir + "/state-\(T.self).safetensors"
            try s.write(to: path, dtype: T.self == Double.self ? .F64 : .F32)
            var restored = try ModelState<T>(path: path, config: model.config, layerKinds: model.layerKinds)
            #expect(restored == s, "\(name) \(T.self): state read back differs")
            var live = s
            let a = try Reference.forward(model: model, tokens: Array(tokens[6...]), state: &live)
            let b = try Reference.forward(model: model, tokens: Array(tokens[6...]), state: &restored)
            #expect(a == b && live == restored, "\(name) \(T.self): continuation after restore differs")
        }
        if precisionIsDouble { try check(model64) } else { try check(model64.converted(to: Float.self)) }
    }
}

@Test func firstRWKVLayerCapturesKFirstEvenAfterAGQALayer() throws {
    // Layers: A R R A — layer 1 is the first RWKV layer (SPEC.md (8)).
    let shape = RandomShapes.shape(layers: 4, gqaLayers: [0, 3])
    let model = ModelWeights<Double>.random(shape: shape, seed: 4)
    var state = ModelState(for: model)
    let seen = CheckpointCollector()
    _ = try Reference.forward(model: model, tokens: [1, 2, 3], state: &state, observer: seen)
    let k1 = try #require(seen["layers.1.rwkv.k"]), km1 = try #require(seen["layers.1.rwkv.k_mixed"])
    let v1 = try #require(seen["layers.1.rwkv.v"]), vm1 = try #require(seen["layers.1.rwkv.v_mixed"])
    // In the capturing layer the mixes are identities…
    #expect(k1.values == km1.values && v1.values == vm1.values)
    // …and layer 2 mixes toward layer 1's values: k_mixed − k = (k_first − k)⊙σ(·), elementwise
    // between k and k_first, and strictly different from k.
    let k2 = try #require(seen["layers.2.rwkv.k"]), km2 = try #require(seen["layers.2.rwkv.k_mixed"])
    #expect(k2.values != km2.values)
    for i in 0..<k2.values.count {
        let lo = min(k2.values[i], k1.values[i]), hi = max(k2.values[i], k1.values[i])
        #expect(km2.values[i] >= lo && km2.values[i] <= hi, "k_mixed[\(i)] outside [k, k_first]")
    }
}

@Test func everyCheckpointIsReportedInExecutionOrder() throws {
    let shape = RandomShapes.shape(layers: 3, gqaLayers: [1])
    let model = ModelWeights<Double>.random(shape: shape, seed: 8)
    var state = ModelState(for: model)
    let seen = CheckpointCollector()
    _ = try Reference.forward(model: model, tokens: [1, 2], state: &state, observer: seen)
    #expect(seen.checkpoints.map { $0.name } == CheckpointName.all(layerKinds: model.layerKinds))
    for c in seen.checkpoints {
        #expect(c.shape.reduce(1, *) == c.values.count, "\(c.name): shape \(c.shape) vs \(c.values.count) values")
        #expect(c.shape.first == 2, "\(c.name): first axis is T")
    }
}

@Test func badInputIsRefusedWithoutChangingTheState() throws {
    let model = ModelWeights<Double>.random(shape: RandomShapes.shape(), seed: 1)
    var state = ModelState(for: model)
    _ = try Reference.forward(model: model, tokens: [1], state: &state)
    let before = state
    #expect(throws: Hxa079Error.tokenOutOfRange(token: 64, index: 1, vocabSize: 64)) {
        try Reference.forward(model: model, tokens: [3, 64], state: &state)
    }
    #expect(throws: Hxa079Error.self) { try Reference.forward(model: model, tokens: [-1], state: &state) }
    #expect(state == before)
    var wrong = state
    wrong.position = 7   // GQA cache holds 1 position
    #expect(throws: Hxa079Error.self) { try Reference.forward(model: model, tokens: [1], state: &wrong) }
}

@Test func modelWrittenToDiskLoadsBackIdentically() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hxa079-model-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (_, shape, options) = endToEndCases[1]
    let model = ModelWeights<Double>.random(shape: shape, options: options, seed: 12)
    try writeModelDirectory(model, to: dir, dtype: .F64)
    let (loaded, report) = try ModelDirectory(path: dir).load(as: Double.self)
    #expect(report.isClean)
    // config.json records the layer list; everything else must round-trip exactly.
    #expect(loaded.config.declaredLayerKinds == model.layerKinds)
    var same = loaded
    same.config.declaredLayerKinds = nil
    #expect(Bool(same == model), "weights read back differ from the weights written")
}
