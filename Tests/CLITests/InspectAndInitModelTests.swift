// InspectAndInitModelTests: valid models in every published layout are
// accepted by `inspect` and load bit-identically; `init-model` writes exactly
// the seeded random models of the library, in every dtype / naming / shard
// layout, and rejects bad arguments without writing anything.

import Foundation
import Hxa079TestSupport
import Hxa079
import SafeTensors
import Testing

@Suite("CLITests: valid layouts and inspect")
struct ValidLayoutTests {
    /// (naming, shards) layouts of the same model.
    static let layouts: [(TensorNaming, Int)] = [(.hf, 1), (.rwkv, 1), (.hf, 3), (.rwkv, 4)]

    @Test(arguments: 0..<layouts.count)
    func everyLayoutInspectsCleanAndLoadsTheSameBits(layout: Int) throws {
        let (naming, shards) = Self.layouts[layout]
        let options = RandomModelOptions(biases: true, rkNorms: true, qkNorms: true)
        let reference = try TempDir("reference")
        try writeValidModel(reference.path, dtype: .F64, options: options)
        let tmp = try TempDir("layout")
        try writeValidModel(tmp.path, naming: naming, shards: shards, dtype: .F64, options: options)

        let r = try runHxa079(["inspect", "--model", tmp.path])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        #expect(r.stdout.contains("validation  OK: no problems, all values finite"), "\(r)")
        #expect(r.stdout.contains("\(naming.label) names"), "\(r)")
        #expect(r.stdout.contains("RRA"), "\(r)")

        let dir = try ModelDirectory(path: tmp.path)
        #expect(dir.naming == naming)
        #expect(dir.isSharded == (shards > 1))
        #expect(dir.weightFiles.count == shards)
        let (loaded, report) = try dir.load(as: Double.self)
        #expect(report.isClean)
        let (single, _) = try ModelDirectory(path: reference.path).load(as: Double.self)
        #expect(sameBits(loaded, single) == nil, "\(sameBits(loaded, single) ?? "")")
        #expect(sameBits(loaded, corpusWeights(options: options)) == nil)
    }

    @Test func bookkeepingScalarsAreAcceptedAndIgnored() throws {
        let tmp = try TempDir("bookkeeping")
        try writeValidModel(tmp.path, naming: .rwkv)
        try editTensors(tmp.path) { t in
            for i in 0..<2 {
                t.append(StoredTensor(name: "blocks.\(i).att.layer_architecture", shape: [], data: .f32([78])))
                t.append(StoredTensor(name: "blocks.\(i).att.head_size_record", shape: [1], data: .i64([8])))
            }
        }
        let r = try runHxa079(["inspect", "--model", tmp.path])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stdout.contains("ignored (bookkeeping)"), "\(r)")
        let (loaded, _) = try ModelDirectory(path: tmp.path).load(as: Float.self)
        #expect(sameBits(loaded, corpusWeights().converted(to: Float.self)) == nil)
    }

    @Test func inspectPrintsConfigLayerMapRanksCountsAndDtypes() throws {
        let tmp = try TempDir("inspect")
        try writeValidModel(tmp.path, dtype: .BF16)
        let r = try runHxa079(["inspect", "--model", tmp.path])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let plan = RandomModelPlan(shape: corpusShape, seed: 1)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func line(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) } }
        #expect(line("config      hidden_size          16") != nil, "\(r.stdout)")
        #expect(lines.contains { $0.contains("num_key_value_heads  1") && $0.contains("group size 2") }, "\(r.stdout)")
        #expect(line("layers      RRA") != nil, "\(r.stdout)")
        #expect(r.stdout.contains("2 RWKV, 1 GQA at 2"), "\(r.stdout)")
        #expect(line("LoRA ranks  4/4/4/4/8  (decay/iclr/value/key/gate; all 2 RWKV layers)") != nil, "\(r.stdout)")
        // Counts from the shapes: embedding V·C, head V·C, the rest by kind.
        #expect(lines.contains { $0.contains("embedding") && $0.contains("512") }, "\(r.stdout)")
        #expect(lines.contains { $0.contains("head") && $0.contains("512") }, "\(r.stdout)")
        let total = plan.parameterCount
        #expect(lines.contains { $0.contains("total") && $0.contains(groupedForTest(total)) }, "\(r.stdout)")
        #expect(line("dtypes      BF16") != nil, "\(r.stdout)")
        #expect(r.stdout.contains("model.safetensors"), "\(r.stdout)")
    }

    @Test func inspectWithoutModelIsAUsageError() throws {
        let r = try runHxa079(["inspect"])
        #expect(r.exitedNormally && r.status != 0, "\(r)")
        #expect(r.stderr.contains("--model"), "\(r)")
    }
}

func groupedForTest(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (k, ch) in digits.enumerated() {
        if k > 0 && (digits.count - k) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}

@Suite("CLITests: init-model")
struct InitModelTests {
    @Test func tinyF64IsTheLibraryRandomModel() throws {
        let tmp = try TempDir("init-f64")
        let r = try runHxa079(["init-model", "--preset", "tiny", "--seed", "7", "--out", tmp.path, "--dtype", "f64"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stdout.contains("preset tiny, seed 7, 4 layers (RRAR), F64"), "\(r)")
        let (loaded, _) = try ModelDirectory(path: tmp.path).load(as: Double.self)
        let expected = ModelWeights<Double>.random(shape: Preset.tiny.shape, seed: 7)
        #expect(sameBits(loaded, expected) == nil, "\(sameBits(loaded, expected) ?? "")")
        let inspect = try runHxa079(["inspect", "--model", tmp.path])
        #expect(inspect.exitedNormally && inspect.status == 0, "\(inspect)")
    }

    @Test func f32RWKVNamesShardedIsTheFloatRandomModel() throws {
        let tmp = try TempDir("init-f32")
        let r = try runHxa079(["init-model", "--preset", "tiny", "--seed", "3", "--out", tmp.path,
                               "--naming", "rwkv", "--shards", "3"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let dir = try ModelDirectory(path: tmp.path)
        #expect(dir.naming == .rwkv && dir.weightFiles.count == 3)
        #expect(dir.source.storedName(of: TensorName.embedding) == "emb.weight")
        let (loaded, _) = try dir.load(as: Float.self)
        #expect(sameBits(loaded, ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 3)) == nil)
    }

    @Test func bf16IsTheFloatModelRounded() throws {
        let tmp = try TempDir("init-bf16")
        let r = try runHxa079(["init-model", "--preset", "tiny", "--out", tmp.path, "--dtype", "bf16"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let (loaded, _) = try ModelDirectory(path: tmp.path).load(as: Float.self)
        let exact = ModelWeights<Float>.random(shape: Preset.tiny.shape, seed: 0)
        for (a, b) in zip(loaded.namedTensors(), exact.namedTensors()) {
            #expect(a.values.map(\.bitPattern) == b.values.map { floatFromBF16(bf16Bits($0)).bitPattern }, "\(a.name)")
        }
    }

    @Test func layersWritesTheFirstLayersOfTheFullModel() throws {
        let tmp = try TempDir("init-layers")
        let r = try runHxa079(["init-model", "--preset", "small", "--seed", "5", "--out", tmp.path, "--layers", "3", "--dtype", "f64"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stdout.contains("first 3 of 6 layers (RRA)"), "\(r)")
        let (slice, _) = try ModelDirectory(path: tmp.path).load(as: Double.self)
        let full = ModelWeights<Double>.random(shape: Preset.small.shape, seed: 5)
        #expect(slice.config.numLayers == 3)
        #expect(slice.layers == Array(full.layers.prefix(3)))
        #expect(slice.embedding == full.embedding && slice.finalNorm == full.finalNorm && slice.lmHead == full.lmHead)
    }

    @Test func optionalPartsAndGQALayers() throws {
        let tmp = try TempDir("init-flags")
        let r = try runHxa079(["init-model", "--preset", "tiny", "--seed", "2", "--out", tmp.path, "--dtype", "f64",
                               "--biases", "--rk-norms", "--qk-norms", "--tied", "--gqa-layers", "0,3", "--no-first-layer-gates"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        let (loaded, _) = try ModelDirectory(path: tmp.path).load(as: Double.self)
        #expect(loaded.layerMap == "ARRA")
        #expect(loaded.lmHead == nil && loaded.config.tieWordEmbeddings)
        var shape = Preset.tiny.shape
        shape.gqaLayers = [0, 3]
        let options = RandomModelOptions(biases: true, rkNorms: true, qkNorms: true, tiedHead: true, firstLayerGates: false)
        #expect(sameBits(loaded, ModelWeights<Double>.random(shape: shape, options: options, seed: 2)) == nil)
        guard case .rwkv(let first) = loaded.layers[1].mixer, case .gqa(let gqa) = loaded.layers[0].mixer else {
            Issue.record("layer kinds"); return
        }
        #expect(first.valueGate == nil && first.keyGate == nil && first.rNorm != nil && first.receptance.bias != nil)
        #expect(gqa.qNorm != nil && gqa.kNorm != nil && gqa.query.bias != nil)
    }

    @Test func refusesToOverwriteWithoutForce() throws {
        let tmp = try TempDir("init-force")
        #expect(try runHxa079(["init-model", "--preset", "tiny", "--out", tmp.path]).status == 0)
        let again = try runHxa079(["init-model", "--preset", "tiny", "--out", tmp.path, "--shards", "2"])
        #expect(again.exitedNormally && again.status == 1, "\(again)")
        #expect(again.stderrLines.count == 1 && again.stderr.contains("already holds a model"), "\(again)")
        let forced = try runHxa079(["init-model", "--preset", "tiny", "--out", tmp.path, "--shards", "2", "--force"])
        #expect(forced.exitedNormally && forced.status == 0, "\(forced)")
        // The single file of the first run is gone: exactly one layout remains.
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted()
        #expect(files == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json"], "\(files)")
    }

    static let badArguments: [([String], String)] = [
        (["--preset", "huge"], "unknown preset \"huge\""),
        (["--preset", "tiny", "--layers", "0"], "--layers must be in 1…4"),
        (["--preset", "tiny", "--layers", "5"], "--layers must be in 1…4"),
        (["--preset", "tiny", "--gqa-layers", "4"], "layer 4 is outside 0..<4"),
        (["--preset", "tiny", "--gqa-layers", "1,x"], "\"x\" is not a layer index"),
        (["--preset", "tiny", "--gqa-layers", "1,1"], "layer 1 is listed twice"),
        (["--preset", "tiny", "--shards", "0"], "--shards must be ≥ 1"),
        (["--preset", "tiny", "--shards", "1000"], "cannot split"),
        (["--preset", "tiny", "--dtype", "i32"], "i32"),
        (["--preset", "tiny", "--naming", "gguf"], "gguf"),
    ]

    @Test(arguments: 0..<badArguments.count)
    func badArgumentsAreRefused(index: Int) throws {
        let (args, expected) = Self.badArguments[index]
        let tmp = try TempDir("init-bad")
        let out = tmp.sub("model")
        let r = try runHxa079(["init-model", "--out", out] + args)
        #expect(r.exitedNormally && r.status != 0, "\(args): \(r)")
        #expect(r.stderr.contains(expected), "\(args): \(r)")
        #expect(!FileManager.default.fileExists(atPath: out + "/config.json"), "\(args): wrote a model")
    }
}
