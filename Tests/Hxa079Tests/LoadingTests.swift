// LoadingTests: the model-directory reader and writer at library level —
// naming-scheme mapping, the streaming writer against the reference
// safetensors writer, the random-model plan, chunked reads and NaN scans,
// config.json rules (SPEC.md §1.1) and the Reka preset's dimensions.

import Foundation
import Hxa079
import Hxa079TestSupport
import SafeTensors
import Testing

private let allOptions = RandomModelOptions(biases: true, rkNorms: true, qkNorms: true)
private let sweepShape = RandomShapes.shape(hidden: 24, heads: 2, headDim: 8, kvHeads: 1, intermediate: 40, vocab: 48,
                                            layers: 4, gqaLayers: [0, 3], ranks: 4)

/// The weights with the config.json-declared layer list dropped (generated models declare none).
private func undeclared<T>(_ m: ModelWeights<T>) -> ModelWeights<T> {
    var m = m
    m.config.declaredLayerKinds = nil
    return m
}

private func bits<T: BinaryFloatingPoint>(_ v: [T]) -> [UInt64] { v.map { Double($0).bitPattern } }

@Suite("LoadingTests")
struct LoadingTests {
    // MARK: Naming schemes

    @Test func rwkvStyleNamesMapBothWays() {
        let gqa: (Int) -> Bool = { $0 == 3 }
        let table: [(String, String)] = [
            ("emb.weight", "model.embed_tokens.weight"),
            ("ln_out.weight", "model.norm.weight"),
            ("head.weight", "lm_head.weight"),
            ("blocks.0.ln1.weight", "model.layers.0.input_layernorm.weight"),
            ("blocks.12.ln2.weight", "model.layers.12.post_attention_layernorm.weight"),
            ("blocks.1.ffn.gate.weight", "model.layers.1.mlp.gate_proj.weight"),
            ("blocks.1.ffn.up.bias", "model.layers.1.mlp.up_proj.bias"),
            ("blocks.1.ffn.down.weight", "model.layers.1.mlp.down_proj.weight"),
            ("blocks.2.att.receptance.weight", "model.layers.2.self_attn.receptance.weight"),
            ("blocks.2.att.w0", "model.layers.2.self_attn.w0"),
            ("blocks.2.att.ln_r.weight", "model.layers.2.self_attn.r_norm.weight"),
            ("blocks.3.att.ln_r.weight", "model.layers.3.self_attn.q_norm.weight"),
            ("blocks.3.att.ln_k.weight", "model.layers.3.self_attn.k_norm.weight"),
            ("blocks.3.att.q_proj.weight", "model.layers.3.self_attn.q_proj.weight"),
        ]
        for (rwkv, hf) in table {
            #expect(TensorName.canonicalName(rwkv, isGQALayer: gqa) == hf, "\(rwkv)")
            #expect(TensorName.rwkvStyleName(hf) == rwkv, "\(hf)")
        }
        // Names outside the scheme pass through unchanged (and are later unexpected).
        for odd in ["blocks.x.att.w0", "blocks.01.ln1.weight", "blocks.1.ffn.key.weight", "foo", "blocks.1"] {
            #expect(TensorName.canonicalName(odd, isGQALayer: gqa) == odd)
        }
        #expect(TensorName.naming(of: ["emb.weight"]) == .rwkv)
        #expect(TensorName.naming(of: ["model.embed_tokens.weight"]) == .hf)
        #expect(TensorName.naming(of: ["emb.weight", "model.embed_tokens.weight"]) == nil)
        #expect(TensorName.layerIndex(of: "model.layers.17.mlp.up_proj.weight") == 17)
        #expect(TensorName.layerIndex(of: "model.layers.017.x") == nil)
    }

    @Test func everyModelTensorRoundTripsThroughRWKVStyle() {
        let model = ModelWeights<Float>.random(shape: sweepShape, options: allOptions, seed: 4)
        let gqa = Set(model.layerKinds.enumerated().filter { $0.element == .gqa }.map(\.offset))
        for t in model.namedTensors() {
            let rwkv = TensorName.rwkvStyleName(t.name)
            #expect(rwkv != t.name, "\(t.name) has no RWKV-style name")
            #expect(TensorName.canonicalName(rwkv, isGQALayer: { gqa.contains($0) }) == t.name, "\(t.name) → \(rwkv)")
        }
    }

    // MARK: Writer

    @Test(arguments: [DType.F64, .F32, .BF16, .F16])
    func streamingWriterIsByteIdenticalToTheReferenceWriter(dtype: DType) throws {
        let scratch = try TempDir("loading")
        let model = ModelWeights<Double>.random(shape: sweepShape, options: allOptions, seed: 9)
        let metadata = ["format": "pt", "note": "a \"quoted\" value"]
        try writeModelDirectory(model, to: scratch.path, dtype: dtype, metadata: metadata)
        var writer = SafeTensorsWriter(metadata: metadata)
        for t in model.namedTensors() {
            let data: TensorData
            switch dtype {
            case .F64: data = .f64(t.values)
            case .F32: data = .f32(t.values.map { Float($0) })
            case .BF16: data = .bf16(t.values.map { bf16Bits(Float($0)) })
            default: data = .f16(t.values.map { f16Bits(Float($0)) })
            }
            try writer.add(t.name, shape: t.shape, data)
        }
        let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/model.safetensors")))
        #expect(written == writer.serialize())
    }

    @Test func shardsSplitTheTensorsAndTheIndexListsThemAll() throws {
        let scratch = try TempDir("loading")
        let model = ModelWeights<Float>.random(shape: sweepShape, seed: 2)
        let result = try writeModelDirectory(model, to: scratch.path, dtype: .F32, naming: .rwkv, shards: 5)
        #expect(result.files.map { $0.path.split(separator: "/").last.map(String.init) ?? "" } == shardFileNames(5))
        let index = try JSONValue.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/model.safetensors.index.json"))))
        let map = index["weight_map"]?.objectValue ?? []
        #expect(map.count == model.namedTensors().count)
        #expect(Set(map.compactMap { $0.1.stringValue }) == Set(shardFileNames(5)))
        #expect(index["metadata"]?["total_size"]?.intValue == model.namedTensors().reduce(0) { $0 + $1.values.count * 4 })
        let dir = try ModelDirectory(path: scratch.path)
        #expect(dir.isSharded && dir.naming == .rwkv)
        #expect(undeclared(try dir.load(as: Float.self).0) == model)
    }

    @Test func writingAnotherLayoutRemovesTheOldFiles() throws {
        let scratch = try TempDir("loading")
        let model = ModelWeights<Float>.random(shape: sweepShape, seed: 2)
        try writeModelDirectory(model, to: scratch.path, dtype: .F32, shards: 3)
        try writeModelDirectory(model, to: scratch.path, dtype: .F32)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["config.json", "model.safetensors"])
        try writeModelDirectory(model, to: scratch.path, dtype: .F32, shards: 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
                == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"])
    }

    @Test func singleFileWinsOverAnIndex() throws {
        // SPEC.md §2.1: model.safetensors, when present, is used alone.
        let scratch = try TempDir("loading")
        let a = ModelWeights<Float>.random(shape: sweepShape, seed: 1)
        try writeModelDirectory(a, to: scratch.path, dtype: .F32, shards: 2)
        let other = try TempDir("loading")
        let b = ModelWeights<Float>.random(shape: sweepShape, seed: 2)
        try writeModelDirectory(b, to: other.path, dtype: .F32)
        try FileManager.default.copyItem(atPath: other.path + "/model.safetensors", toPath: scratch.path + "/model.safetensors")
        let dir = try ModelDirectory(path: scratch.path)
        #expect(!dir.isSharded)
        #expect(undeclared(try dir.load(as: Float.self).0) == b)
    }

    // MARK: Random models

    @Test func randomModelIsItsPlanTensorByTensor() throws {
        for options in [RandomModelOptions(), allOptions, RandomModelOptions(tiedHead: true, firstLayerGates: false)] {
            let plan = RandomModelPlan(shape: sweepShape, options: options, seed: 13)
            let d = ModelWeights<Double>.random(shape: sweepShape, options: options, seed: 13)
            let f = ModelWeights<Float>.random(shape: sweepShape, options: options, seed: 13)
            #expect(d.namedTensors().map(\.name) == plan.orderedNames)
            for t in d.namedTensors() {
                #expect(t.shape == plan.shape(of: t.name))
                #expect(bits(t.values) == bits(try plan.doubles(t.name)), "\(t.name)")
            }
            for t in f.namedTensors() { #expect(bits(t.values) == bits(try plan.floats(t.name)), "\(t.name)") }
            #expect(f == d.converted(to: Float.self))
            #expect(plan.parameterCount == d.namedTensors().reduce(0) { $0 + $1.values.count })
        }
    }

    @Test(arguments: [DType.F64, .F32, .BF16])
    func streamedRandomModelEqualsTheWrittenInMemoryModel(dtype: DType) throws {
        let streamed = try TempDir("streamed"), inMemory = try TempDir("in-memory")
        try writeRandomModelDirectory(shape: sweepShape, options: allOptions, seed: 21, to: streamed.path, dtype: dtype,
                                      naming: .rwkv, shards: 2)
        if dtype == .F64 {
            try writeModelDirectory(ModelWeights<Double>.random(shape: sweepShape, options: allOptions, seed: 21),
                                    to: inMemory.path, dtype: dtype, naming: .rwkv, shards: 2)
        } else {
            try writeModelDirectory(ModelWeights<Float>.random(shape: sweepShape, options: allOptions, seed: 21),
                                    to: inMemory.path, dtype: dtype, naming: .rwkv, shards: 2)
        }
        for name in ["config.json", "model.safetensors.index.json"] + shardFileNames(2) {
            let a = try Data(contentsOf: URL(fileURLWithPath: streamed.path + "/" + name))
            let b = try Data(contentsOf: URL(fileURLWithPath: inMemory.path + "/" + name))
            #expect(a == b, "\(name) differs")
        }
    }

    @Test func truncatedShapeIsThePrefixOfTheFullModel() {
        let full = ModelWeights<Double>.random(shape: sweepShape, options: allOptions, seed: 5)
        for n in 1...3 {
            let slice = ModelWeights<Double>.random(shape: sweepShape.truncated(toLayers: n), options: allOptions, seed: 5)
            #expect(slice.layers == Array(full.layers.prefix(n)), "layers 0..<\(n)")
            #expect(slice.embedding == full.embedding && slice.lmHead == full.lmHead && slice.finalNorm == full.finalNorm)
            #expect(slice.config.numLayers == n)
        }
    }

    @Test func rekaPresetHasTheRealDimensions() {
        let shape = Preset.reka.shape
        let c = shape.config
        let dims: [Int] = [c.hiddenSize, c.numHeads, c.headDim, c.numKVHeads, c.intermediateSize, c.vocabSize, c.numLayers]
        #expect(dims == [6144, 64, 96, 8, 19648, 100352, 44] as [Int])
        #expect(shape.gqaLayers == [8, 15, 22, 29, 36, 43])
        let r = shape.ranks, t = ModelShape.trainingRanks(attentionWidth: 6144)
        let ranks: [Int] = [r.decay, r.iclr, r.value, r.key, r.gate], formula: [Int] = [t.decay, t.iclr, t.value, t.key, t.gate]
        #expect(ranks == [320, 128, 96, 96, 384] as [Int])
        #expect(formula == ranks)
        #expect(c.rmsNormEps == 1e-5 && c.ropeTheta == 8_000_000)
        let plan = RandomModelPlan(shape: shape, seed: 0)
        // SPEC.md §1.5: about 21.3 B parameters.
        #expect((21_200_000_000...21_400_000_000).contains(plan.parameterCount), "\(plan.parameterCount)")
        let slice = RandomModelPlan(shape: shape.truncated(toLayers: 2), seed: 0)
        #expect(slice.layerKinds == [.rwkv, .rwkv])
        #expect(slice.shape(of: TensorName.attn(1, "w1")) == [6144, 320])
        #expect(slice.shape(of: TensorName.attn(1, "g2")) == [384, 6144])
        #expect(slice.shape(of: TensorName.attn(1, "v2")) == [96, 768])
        #expect(slice.shape(of: TensorName.attn(0, "r_k")) == [64, 96])
        #expect(slice.shape(of: TensorName.attn(0, "w0")) == [1, 1, 6144])
    }

    // MARK: Reading

    @Test(arguments: [DType.F64, .F32, .F16, .BF16])
    func chunkedReadsEqualTheSafeTensorsReader(dtype: DType) throws {
        let scratch = try TempDir("loading")
        // Big enough to cross several 4 MiB chunks, with an odd element count.
        let n = (3 << 20) / dtype.byteSize * 2 + 7
        var rng = SeededRNG(seed: 3)
        let values: [Float] = rng.normals(n, std: 2)
        let data: TensorData
        switch dtype {
        case .F64: data = .f64(values.map { Double($0) / 3 })
        case .F32: data = .f32(values)
        case .F16: data = .f16(values.map(f16Bits))
        default: data = .bf16(values.map(bf16Bits))
        }
        var writer = SafeTensorsWriter()
        try writer.add("small", shape: [3], .f32([1, 2, 3]))
        try writer.add("big", shape: [n], data)
        try writer.add("matrix", shape: [5, 3], .f32((0..<15).map { Float($0) }))
        let path = scratch.path + "/x.safetensors"
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        let source = SafeTensorsSource(files: [(path, file)])
        #expect(bits(try source.doubles("big")) == bits(try file.doubles("big")))
        #expect(bits(try source.floats("big")) == bits(try file.floats("big")))
        #expect(try source.floats("small") == [1, 2, 3])
        // Row ranges (elements of a rank-1 tensor): across chunk boundaries, empty, refused out of range.
        let whole = try file.doubles("big")
        let rows = 5..<(n - 2)
        #expect(bits(try source.doubles("big", rows: rows)) == bits(Array(whole[rows])))
        #expect(bits(try source.floats("big", rows: rows)) == bits(Array(try file.floats("big")[rows])))
        #expect(try source.floats("big", rows: 7..<7).isEmpty)
        #expect(throws: Hxa079Error.self) { _ = try source.doubles("big", rows: (n - 1)..<(n + 1)) }
        #expect(throws: Hxa079Error.self) { _ = try source.doubles("small", rows: -1..<1) }
        #expect(try source.floats("matrix", rows: 1..<3) == [3, 4, 5, 6, 7, 8])
        #expect(try source.floats("matrix", rows: 4..<5) == [12, 13, 14])
    }

    @Test(arguments: [DType.F64, .F32, .F16, .BF16])
    func nonFiniteScanCountsStoredNaNAndInf(dtype: DType) throws {
        let scratch = try TempDir("loading")
        let shape = RandomShapes.shape(hidden: 8, heads: 1, headDim: 8, kvHeads: 1, intermediate: 8, vocab: 16,
                                       layers: 1, gqaLayers: [], ranks: 2)
        var model = ModelWeights<Double>.random(shape: shape, seed: 1)
        model.embedding[3] = .nan
        model.embedding[9] = -.infinity
        model.embedding[10] = .infinity
        model.finalNorm[0] = 65000  // large but finite in every dtype
        try writeModelDirectory(model, to: scratch.path, dtype: dtype)
        let dir = try ModelDirectory(path: scratch.path)
        let report = dir.validate()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.nonFinite == [.init(name: TensorName.embedding, count: 3, firstIndex: 3)])
        #expect(try dir.load(as: Double.self).1.nonFinite == report.nonFinite)
    }

    // MARK: config.json (SPEC.md §1.1)

    private func config(_ extra: [(String, JSONValue)] = [], removing: Set<String> = []) throws -> ModelConfig {
        let base: [(String, JSONValue)] = [
            ("hidden_size", 64), ("num_attention_heads", 4), ("intermediate_size", 128), ("vocab_size", 100),
            ("num_hidden_layers", 4), ("rms_norm_eps", 1e-5), ("rope_theta", 500_000),
        ]
        var members = base.filter { !removing.contains($0.0) }
        for (k, v) in extra {
            if let i = members.firstIndex(where: { $0.0 == k }) { members[i].1 = v } else { members.append((k, v)) }
        }
        return try ModelConfig(json: .object(members))
    }

    @Test func configDefaultsFollowTheSpec() throws {
        let c = try config()
        #expect(c.headDim == 16 && c.numKVHeads == 4 && !c.tieWordEmbeddings && c.declaredLayerKinds == nil)
        let nulls = try config([("head_dim", .null), ("num_key_value_heads", .null), ("rope_scaling", .null)])
        #expect(nulls == c)
        let noTheta = try config(removing: ["rope_theta"])
        #expect(noTheta.ropeTheta.isNaN && noTheta == noTheta)
        #expect(noTheta.problems(hasRWKVLayers: true).contains { $0.contains("rope_theta is missing") })
        #expect(noTheta.problems(hasRWKVLayers: false).isEmpty)
        let odd = try config([("head_dim", 15)])
        #expect(odd.problems(hasRWKVLayers: false).isEmpty)
        #expect(!odd.problems(hasRWKVLayers: true).isEmpty)
        let listed = try config([("transformer_layers", [1, 3]), ("layer_types", ["rwkv", "gqa", "hxa079", "full_attention"])])
        #expect(listed.declaredLayerKinds == [.rwkv, .gqa, .rwkv, .gqa])
        // The written config parses back to the same value.
        let written = try ModelConfig(json: c.json(layerKinds: [.rwkv, .rwkv, .gqa, .rwkv]))
        var expected = c
        expected.declaredLayerKinds = [.rwkv, .rwkv, .gqa, .rwkv]
        #expect(written == expected)
    }

    @Test func configProblemsAreAllListed() throws {
        do {
            _ = try config([("hidden_size", 1.5), ("vocab_size", "x"), ("hidden_act", "relu"), ("tie_word_embeddings", 1),
                            ("transformer_layers", [0, 9]), ("layer_types", ["rwkv"])], removing: ["rms_norm_eps"])
            Issue.record("accepted a broken config")
        } catch Hxa079Error.invalidConfig(let problems) {
            for e in ["\"hidden_size\" is not an integer", "\"vocab_size\" is not an integer", "missing field \"rms_norm_eps\"",
                      "hidden_act must be \"silu\"", "\"tie_word_embeddings\" is not a boolean",
                      "transformer_layers names layer 9", "layer_types has 1 entries but num_hidden_layers is 4"] {
                #expect(problems.contains { $0.contains(e) }, "missing \(e) in \(problems)")
            }
        }
        let huge = try config([("num_hidden_layers", .number(Double(1 << 40)))])
        #expect(huge.problems().contains { $0.contains("exceeds the limit") })
    }

    @Test func tiedHeadIsAllowedWithoutTheFlagButNotTheOtherWayRound() throws {
        // SPEC.md §2.7: without lm_head.weight the head is the embedding.
        let scratch = try TempDir("loading")
        var model = ModelWeights<Double>.random(shape: sweepShape, seed: 8)
        model.lmHead = nil
        try writeModelDirectory(model, to: scratch.path, dtype: .F64)
        let (loaded, _) = try ModelDirectory(path: scratch.path).load(as: Double.self)
        #expect(loaded.lmHead == nil && loaded.embedding == model.embedding)
    }
}
