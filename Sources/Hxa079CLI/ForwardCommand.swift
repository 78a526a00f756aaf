// ForwardCommand: `hxa079 forward` — run a model on a token list and dump
// checkpoints and state (interface fixed by the issue; other tools drive it).
//
//   hxa079 forward --model DIR (--tokens 1,2,3 | --tokens-file PATH) [--precision f64|f32]
//                  [--engine reference|fast] [--chunk-size L]
//                  [--rope-position-limit N] [--kv-window N]   (RWKV-Infer's behaviours, reference only)
//                  [--state-in FILE] [--state-out FILE]
//                  --dump FILE [--checkpoints default|all|GLOB,…]
//
// The dump is a safetensors file in the run's precision (F64 for f64, F32 for
// f32) holding `logits` [T, V] and `layers.{i}.out` [T, C] for every layer;
// `--checkpoints all` adds every named checkpoint (SPEC.md §4) and the state
// tensors after the call.

import ArgumentParser
import Hxa079
import Hxa079Reference
import Hxa079Fast
import SafeTensors

extension HXA079 {
    struct Forward: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forward",
            abstract: "Run a model on tokens; dump logits, layer outputs, checkpoints and state.")

        @Option(name: .long, help: "Model directory (config.json + model.safetensors or shards).")
        var model: String

        @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids, e.g. 1,2,3.")
        var tokens: String?

        @Option(name: .long, help: "File of token ids separated by commas and/or whitespace (instead of --tokens).")
        var tokensFile: String?

        @OptionGroup var runOptions: RunOptions
        var precision: Precision? { runOptions.precision }
        var engine: EngineKind { runOptions.engine }
        var chunkSize: Int { runOptions.chunkSize }

        @Option(name: .long, help: "Continue from this state file (safetensors).")
        var stateIn: String?

        @Option(name: .long, help: "Write the state after the call to this file (safetensors).")
        var stateOut: String?

        @Option(name: .long, help: "Write checkpoints to this safetensors file.")
        var dump: String?

        @Option(name: .long, help: "Which checkpoints to dump: default (logits + layers.*.out), all, or comma-separated globs.")
        var checkpoints: String = "default"

        func validate() throws {
            if tokens == nil && tokensFile == nil { throw ValidationError("give --tokens LIST or --tokens-file PATH") }
            if let tokens { _ = try parseTokens(tokens) }
        }

        func run() throws {
            try runReportingErrors {
                guard let ids = try tokenIDs(list: tokens, file: tokensFile) else { throw ValidationError("give --tokens LIST or --tokens-file PATH") }
                try runOptions.requireCallFits(tokens: ids.count)
                let directory = try ModelDirectory(path: model)
                let selection = CheckpointSelection(checkpoints)
                let result: ForwardResult
                switch (engine, runOptions.resolvedPrecision) {
                case (.reference, .f64): result = try runReference(Double.self, directory: directory, tokens: ids, selection: selection)
                case (.reference, .f32): result = try runReference(Float.self, directory: directory, tokens: ids, selection: selection)
                case (.fast, .f64): result = try runFast(Double.self, directory: directory, tokens: ids, selection: selection)
                case (.fast, .f32): result = try runFast(Float.self, directory: directory, tokens: ids, selection: selection)
                case (.reference, .bf16): result = try runReference(Float.self, directory: directory, tokens: ids, selection: selection, bf16: true)
                case (.fast, .bf16): result = try runFast(Float.self, directory: directory, tokens: ids, selection: selection, bf16: true)
                }
                print(result.summary)
            }
        }

        /// Runs the reference in `T`, writes the dump and the state; `bf16`: its
        /// bf16 profile (weights rounded as read, SPEC.md §4.7), written as BF16.
        func runReference<T: ReferenceScalar>(_: T.Type, directory: ModelDirectory, tokens: [Int],
                                              selection: CheckpointSelection, bf16: Bool = false) throws -> ForwardResult {
            // layers read as they run, checked for NaN/Inf as they are read (SPEC.md §2.8)
            let streamed = try StreamedWeights<T>(directory: directory, checkFinite: false, nonFinite: printWarning)
            let weights: any WeightProvider<T> = bf16 ? StoredWeights(streamed, in: .bf16) : streamed
            var options = runOptions.forwardOptions
            if bf16 { options.profile = .bf16 }
            try selection.requireMatches(layerKinds: weights.layerKinds)
            var state = try stateIn.map { try ModelState<T>(path: $0, config: weights.config, layerKinds: weights.layerKinds) }
                ?? ModelState(config: weights.config, layerKinds: weights.layerKinds)
            let start = state.position
            let collector = CheckpointCollector(filter: selection.matches)
            let progress = ProgressObserver(inner: dump == nil ? nil : collector, layers: weights.config.numLayers)
            let logits = try Reference.forward(weights: weights, tokens: tokens, state: &state,
                                               options: options,
                                               observer: progress.observer)
            progress.finish()
            let precision: Precision = bf16 ? .bf16 : T.self == Double.self ? .f64 : .f32
            try finish(collector: collector, state: state, dtype: precision.dtype, selection: selection)
            return ForwardResult(tokens: tokens.count, startPosition: start, vocab: weights.config.vocabSize,
                                 lastLogits: Array(logits.suffix(weights.config.vocabSize)).map { Double($0) },
                                 precision: precision.rawValue, engine: "reference",
                                 dump: dump, stateOut: stateOut, compat: runOptions.compatLabel)
        }

        /// Runs the fast engine in `T` (Float: f32, Double: f64; `bf16`: the bf16
        /// engine, T = Float, written as BF16), writes the dump and the state.
        func runFast<T: FastScalar>(_: T.Type, directory: ModelDirectory, tokens: [Int],
                                    selection: CheckpointSelection, bf16: Bool = false) throws -> ForwardResult {
            // layers read as they run, checked for NaN/Inf as they are read (SPEC.md §2.8)
            let fast = try FastEngine<T>.streaming(directory, bf16: bf16, nonFinite: printWarning)
            try selection.requireMatches(layerKinds: fast.layerKinds)
            var state = try stateIn.map { try ModelState<T>(path: $0, config: fast.config, layerKinds: fast.layerKinds) }
                ?? fast.initialState()
            let start = state.position
            let collector = CheckpointCollector(filter: selection.matches)
            let progress = ProgressObserver(inner: dump == nil ? nil : collector, layers: fast.config.numLayers)
            let logits = try fast.forward(tokens: tokens, state: &state, chunkSize: chunkSize,
                                          longContext: runOptions.longContext, observer: progress.observer)
            progress.finish()
            let precision: Precision = bf16 ? .bf16 : T.self == Double.self ? .f64 : .f32
            try finish(collector: collector, state: state, dtype: precision.dtype, selection: selection)
            return ForwardResult(tokens: tokens.count, startPosition: start, vocab: fast.config.vocabSize,
                                 lastLogits: Array(logits.suffix(fast.config.vocabSize)).map { Double($0) },
                                 precision: precision.rawValue, engine: "fast", dump: dump, stateOut: stateOut,
                                 compat: runOptions.compatLabel)
        }

        /// Writes the dump (with the state tensors when `all`) and the state file.
        func finish<T: BinaryFloatingPoint>(collector: CheckpointCollector, state: ModelState<T>, dtype: DType,
                                            selection: CheckpointSelection) throws {
            if let dump {
                let precision = dtype == .F64 ? "f64" : dtype == .BF16 ? "bf16" : "f32"
                var writer = SafeTensorsWriter(metadata: ["generator": "hxa079 forward", "precision": precision])
                for c in collector.checkpoints {
                    let data: TensorData
                    switch dtype {
                    case .F64: data = .f64(c.values)
                    case .BF16: data = .bf16(c.values.map { bf16Bits(Float($0)) })   // exact: a bf16 run's values
                    default: data = .f32(c.values.map { Float($0) })
                    }
                    try writer.add(c.name, shape: c.shape, data)
                }
                if selection.includesState { try state.add(to: &writer, dtype: dtype) }
                try writer.write(to: dump)
            }
            if let stateOut { try state.write(to: stateOut, dtype: dtype) }
        }
    }
}

/// Which checkpoints a dump keeps.
struct CheckpointSelection {
    let patterns: [String]
    let includesState: Bool

    init(_ text: String) {
        switch text {
        case "default": patterns = ["logits", "layers.*.out"]; includesState = false
        case "all": patterns = ["*"]; includesState = true
        default:
            patterns = text.split(separator: ",").map { String($0) }
            includesState = patterns.contains { globMatches($0, "state.position") }
        }
    }

    func matches(_ name: String) -> Bool { patterns.contains { globMatches($0, name) } }

    /// Every name a dump of this model can hold: the activation checkpoints and the state tensors.
    static func names(layerKinds: [LayerKind]) -> [String] {
        CheckpointName.all(layerKinds: layerKinds) + CheckpointName.stateNames(layerKinds: layerKinds)
    }

    /// Throws (exit 64) when a pattern matches no name of this model, naming the closest valid names.
    func requireMatches(layerKinds: [LayerKind]) throws {
        let names = Self.names(layerKinds: layerKinds)
        for p in patterns where !names.contains(where: { globMatches(p, $0) }) {
            printError("--checkpoints \"\(p)\" matches no checkpoint of this model; closest: "
                       + closestNames(to: p, in: names).joined(separator: ", ") + " (default, all, or globs such as layers.*.rwkv.wkv)")
            throw ExitCode.validationFailure
        }
    }
}

/// What `forward` prints.
struct ForwardResult {
    var tokens: Int
    var startPosition: Int
    var vocab: Int
    var lastLogits: [Double]
    var precision: String
    var engine: String
    var dump: String?
    var stateOut: String?
    /// The RWKV-Infer options in force (`RunOptions.compatLabel`).
    var compat = ""

    var summary: String {
        var best = 0
        for (i, v) in lastLogits.enumerated() where v > lastLogits[best] { best = i }
        var lines = ["forward: \(tokens) token\(tokens == 1 ? "" : "s") at positions \(startPosition)..<\(startPosition + tokens), \(engine) \(precision)\(compat)"]
        if !lastLogits.isEmpty {
            lines.append("last position: argmax token \(best), logit \(lastLogits[best])")
        }
        if let dump { lines.append("dump: \(dump)") }
        if let stateOut { lines.append("state: \(stateOut)") }
        return lines.joined(separator: "\n")
    }
}
