// InitModelCommand: `hxa079 init-model` — write a seeded random model
// directory at a realistic scale.
//
// Contract: the same (preset, flags, seed) always writes the same weights;
// `--layers N` writes exactly the first N layers of the full preset. The
// weights are generated and written tensor by tensor in chunks
// (`writeRandomModelDirectory`), so even the `reka` preset needs little
// memory. The values equal `ModelWeights<Double>.random` (f64) or
// `ModelWeights<Float>.random` rounded to the dtype (f32, bf16, f16).
// Bad arguments are reported before anything is written; --out must be
// absent or empty, or --force given (then the earlier model is removed as a
// whole first: no shard of an earlier layout survives; prepareOutputDirectory).

import ArgumentParser
import Hxa079
import Hxa079Fixtures
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HXA079 {
    struct InitModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init-model",
            abstract: "Write a seeded random hxa079 model directory (config.json + safetensors) at a realistic scale.",
            discussion: """
                Presets:
                \(presetTable())
                reka has the real RWKV-Reka-3.1-Flash dimensions (about 21 B parameters; \
                use --layers to write a slice: --layers 2 --dtype bf16 is about 4.3 GB). \
                Weights are drawn with trained-model-like scales (projections N(0, 1/fan_in), \
                norms 1 + N(0, 0.1²), decay biases spread like RWKV-7's initialisation so that \
                per-step decays range from about 0.998 to 0.7, ICLR around 0.5) \
                from one sub-stream per tensor, generated and written tensor by tensor, \
                so memory stays small at any size. The same preset, flags and seed always \
                give the same weights, and --layers N gives exactly the first N layers of \
                the full model. Default dtype f32; use f64 for exact test fixtures and \
                bf16 for real-size slices.
                """)

        /// Storage dtype of written weights.
        enum DTypeArgument: String, ExpressibleByArgument, CaseIterable {
            case f64, f32, bf16, f16

            var dtype: DType {
                switch self {
                case .f64: return .F64
                case .f32: return .F32
                case .bf16: return .BF16
                case .f16: return .F16
                }
            }
        }

        /// Tensor naming scheme of written weights.
        enum NamingArgument: String, ExpressibleByArgument, CaseIterable {
            case hf, rwkv

            var naming: TensorNaming { self == .hf ? .hf : .rwkv }
        }

        @Option(name: .long, help: "Preset: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
        var preset: String

        @Option(name: .long, parsing: .unconditional, help: "Random seed (the same default as fixtures make --preset).")
        var seed: UInt64 = defaultPresetSeed

        @Option(name: .long, help: "Output directory: absent or empty, or give --force.")
        var out: String

        @Option(name: .long, help: "Storage dtype: f64, f32, bf16 or f16.")
        var dtype: DTypeArgument = .f32

        @Option(name: .long, parsing: .unconditional, help: "Write only the first N layers (1…preset layers).")
        var layers: Int?

        @Option(name: .long, help: ArgumentHelp("Replace the preset's GQA layer list, e.g. 0,3 (\"none\" for an all-RWKV model).", valueName: "list"))
        var gqaLayers: String?

        @Flag(name: .long, help: "Add r/k/v/o, q/k/v/o and MLP biases.")
        var biases = false

        @Flag(name: .long, help: "Add per-head r/k norms (r_norm, k_norm) in RWKV layers.")
        var rkNorms = false

        @Flag(name: .long, help: "Add per-head q/k norms (q_norm, k_norm) in GQA layers.")
        var qkNorms = false

        @Flag(name: .long, help: "Tie the head to the embedding (no lm_head.weight; tie_word_embeddings true).")
        var tied = false

        @Flag(name: .long, help: "Omit v0..v2/k0..k2 in the first RWKV layer (real checkpoints carry them unused).")
        var noFirstLayerGates = false

        @Option(name: .long, help: "Tensor names: hf (model.layers.N.self_attn.*) or rwkv (blocks.N.att.*).")
        var naming: NamingArgument = .hf

        @Option(name: .long, parsing: .unconditional, help: "Write N shards + model.safetensors.index.json instead of one model.safetensors.")
        var shards: Int = 1

        @Flag(name: .long, help: "Replace the model already in --out (removed as a whole first).")
        var force = false

        func validate() throws {
            let p = try resolvedPreset()
            let L = p.shape.config.numLayers
            if let layers, !(1...L).contains(layers) {
                throw ValidationError("--layers must be in 1…\(L) for preset \(p.rawValue), got \(layers)")
            }
            _ = try resolvedGQALayers(layerCount: L)
            if shards < 1 { throw ValidationError("--shards must be ≥ 1, got \(shards)") }
        }

        func run() throws {
            try runReportingErrors {
                let p = try resolvedPreset()
                var shape = p.shape
                let fullLayers = shape.config.numLayers
                if let g = try resolvedGQALayers(layerCount: fullLayers) { shape.gqaLayers = g }
                if let layers { shape = shape.truncated(toLayers: layers) }
                let options = RandomModelOptions(biases: biases, rkNorms: rkNorms, qkNorms: qkNorms, tiedHead: tied,
                                                 firstLayerGates: !noFirstLayerGates)
                try prepareOutputDirectory(out, kind: .model, force: force)
                let metadata = presetModelMetadata(preset: p, seed: seed)
                let start = monotonicSeconds()
                let written = try writeRandomModelDirectory(shape: shape, options: options, seed: seed, to: out,
                                                            dtype: dtype.dtype, naming: naming.naming, shards: shards,
                                                            metadata: metadata)
                let seconds = monotonicSeconds() - start
                let map = String(shape.layerKinds.map { $0.letter })
                let slice = layers.map { "first \($0) of \(fullLayers) layers" } ?? "\(fullLayers) layers"
                print("wrote \(out): preset \(p.rawValue), seed \(seed), \(slice) (\(map)), \(dtype.dtype.rawValue), \(naming.naming.label) names")
                for f in written.files {
                    print("  \(f.path.split(separator: "/").last.map(String.init) ?? f.path)  \(formatBytes(f.bytes))")
                }
                let rate = seconds > 0 ? " (\(formatBytes(Int(Double(written.totalBytes) / seconds)))/s)" : ""
                print("  \(groupedDigits(written.parameters)) parameters, \(written.tensors) tensors, \(formatBytes(written.totalBytes)) in \(written.files.count) file\(written.files.count == 1 ? "" : "s"); \((seconds * 10).rounded() / 10) s\(rate)")
            }
        }

        func resolvedPreset() throws -> Preset {
            guard let p = Preset(rawValue: preset) else {
                throw ValidationError("unknown preset \"\(preset)\"; expected one of \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return p
        }

        /// The --gqa-layers list, or nil when not given.
        func resolvedGQALayers(layerCount L: Int) throws -> Set<Int>? {
            guard let gqaLayers else { return nil }
            let text = gqaLayers.trimmingCharacters()
            if text == "none" || text.isEmpty { return [] }
            var out = Set<Int>()
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                let item = part.trimmingCharacters()
                guard let i = Int(item) else { throw ValidationError("--gqa-layers: \"\(item)\" is not a layer index") }
                guard (0..<L).contains(i) else { throw ValidationError("--gqa-layers: layer \(i) is outside 0..<\(L)") }
                guard out.insert(i).inserted else { throw ValidationError("--gqa-layers: layer \(i) is listed twice") }
            }
            return out
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String { self[...].trimmingCharacters() }
}

/// Two lines per preset for the help text.
private func presetTable() -> String {
    Preset.allCases.map { p in
        let s = p.shape, c = s.config, r = s.ranks
        let gqa = s.gqaLayers.sorted().map(String.init).joined(separator: ",")
        let name = p.rawValue + String(repeating: " ", count: max(0, 8 - p.rawValue.count))
        return "  \(name)C \(c.hiddenSize), H \(c.numHeads) × N \(c.headDim), Hkv \(c.numKVHeads), I \(c.intermediateSize), V \(c.vocabSize), \(c.numLayers) layers\n"
            + "          GQA at \(gqa); LoRA ranks \(r.decay)/\(r.iclr)/\(r.value)/\(r.key)/\(r.gate)"
    }.joined(separator: "\n")
}

/// Seconds on a monotonic clock.
/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
