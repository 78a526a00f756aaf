// StepCommand: `hxa079 step` — walk through the checkpoints of one forward
// pass, pausing like a debugger (interface fixed by the issue).
//
//   hxa079 step --model DIR | --fixture DIR [--model DIR] [--ignore-model-hash]  [--tokens 1,2,3 | --tokens-file PATH]
//               [--precision f64|f32] [--engine reference|fast] [--chunk-size L]
//               [--rope-position-limit N] [--kv-window N]
//               [--break PATTERN]… [--compare FILE] [--watch-nan]
//               [--script "n;n;c;p layers.3.rwkv.kk 0:2"]
//
// Contract: the run is an ordinary forward call of the chosen engine from the
// initial state, observed through the one checkpoint mechanism
// (`CheckpointObserver`, here a `DebuggerSession`); nothing is recomputed:
// `s` shows the state the engine reports (`state.layers.{i}.wkv`). With --fixture the
// model is the fixture's (or --model, where it lives now), checked against the
// SHA-256 in its manifest unless --ignore-model-hash, --tokens defaults to the fixture's tokens, and a
// --compare dump is measured against the fixture's float64 truth and budgets
// (only when the tokens are the fixture's). Commands come from a TTY prompt,
// from --script, or from nowhere (run to the end and print a summary).
//
// Exit status: 0 the run ended or `q`; 1 the model, fixture, dump or tokens
// could not be used (one line on stderr); 3 --watch-nan found a non-finite
// value (not in interactive mode); 64 bad command-line arguments.

import ArgumentParser
import Hxa079
import Hxa079Fast
import Hxa079Fixtures
import Hxa079Reference

extension HXA079 {
    struct Step: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "step",
            abstract: "Step through the checkpoints of a forward pass like a debugger.",
            discussion: """
                The run pauses at the first checkpoint (or, with --break, at the first breakpoint) \
                and prints its name, shape, dtype, min/max/mean/RMS, NaN/Inf counts and first values; \
                with --compare also the dump's tensor and the difference, marked pass/FAIL against the \
                fixture's budget when --fixture is given.

                \(DebuggerCommand.helpText)

                Commands are read at the prompt `(hxa079) ` when stdin is a terminal, else taken from \
                --script; when the script ends (or without a terminal and a script) the run goes on to \
                the end, still printing breakpoint hits, and prints a summary.

                Exit status: 0 the run ended or q; 1 unusable model, fixture, dump or tokens; \
                3 --watch-nan found a NaN or Inf (not in interactive mode); 64 bad arguments.
                """)

        @Option(name: .long, help: "Model directory (config.json + model.safetensors or shards); with --fixture, the fixture's model where it lives now.")
        var model: String?

        @Option(name: .long, help: "Fixture directory: its model, its tokens, its truth and budgets for --compare.")
        var fixture: String?

        @Flag(name: .long, help: "With --fixture: run the model even if its files differ from the SHA-256 in the manifest.")
        var ignoreModelHash = false

        @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids (default with --fixture: the fixture's tokens).")
        var tokens: String?

        @Option(name: .long, help: "File of token ids separated by commas and/or whitespace (instead of --tokens).")
        var tokensFile: String?

        @OptionGroup var runOptions: RunOptions
        var precision: Precision? { runOptions.precision }
        var engine: EngineKind { runOptions.engine }
        var chunkSize: Int { runOptions.chunkSize }

        @Option(name: .customLong("break"), help: "Pause at checkpoints matching this glob (repeatable), e.g. 'layers.*.rwkv.wkv'.")
        var breakpoints: [String] = []

        @Option(name: .long, help: "Another engine's dump (safetensors with checkpoint names) to compare at each pause.")
        var compare: String?

        @Option(name: .long, help: "With --compare and --fixture: the budgets to hold the dump to: f64, f32, bf16 or f16 (default: each tensor's dtype).")
        var profile: BudgetClass?

        @Flag(name: .long, help: "Stop at the first checkpoint holding a NaN or Inf and name the element (exit status 3).")
        var watchNan = false

        @Option(name: .long, help: "Commands to run instead of prompting, separated by ';', e.g. \"n;n;p embed 0:2;c\".")
        var script: String?

        func validate() throws {
            if model == nil && fixture == nil { throw ValidationError("give --model DIR or --fixture DIR") }
            if fixture == nil && tokens == nil && tokensFile == nil { throw ValidationError("--tokens is required with --model (or --tokens-file PATH)") }
            if fixture == nil && ignoreModelHash { throw ValidationError("--ignore-model-hash applies only with --fixture") }
            if let tokens { _ = try parseTokens(tokens) }
            for b in breakpoints where b.isEmpty || b.contains(" ") {
                throw ValidationError("--break \"\(b)\": a pattern is a non-empty glob without spaces")
            }
        }

        func run() throws {
            var scratch: String? = nil
            defer { if let scratch { removeTree(scratch) } }
            var stop: DebuggerStop? = nil
            try runReportingErrors {
                // Inputs: the fixture (model, tokens, truth) or a model directory.
                var fixtureForTruth: Fixture? = nil
                var regenerated: String? = nil
                let modelPath: String
                var ids: [Int]
                if let fixturePath = fixture {
                    let f = try Fixture(path: fixturePath)
                    let m = f.manifest.model
                    if !m.bundled && model == nil && m.source == "preset" {
                        scratch = try makeTemporaryDirectory(prefix: "hxa079-step")
                        if let preset = m.preset, let seed = m.seed { regenerated = "\(preset), seed \(seed)" }
                    }
                    modelPath = try f.modelDirectory(scratch: scratch ?? fixturePath, model: model, ignoreModelHash: ignoreModelHash)
                    ids = f.tokens
                    if let given = try tokenIDs(list: tokens, file: tokensFile) { ids = given }
                    if ids == f.tokens && f.manifest.startPosition == 0 { fixtureForTruth = f }
                } else {
                    modelPath = model ?? ""
                    ids = try tokenIDs(list: tokens, file: tokensFile) ?? []
                }
                try runOptions.requireCallFits(tokens: ids.count)
                let engine = try loadEngine(directory: try ModelDirectory(path: modelPath))
                for (i, t) in ids.enumerated() where t >= engine.config.vocabSize {
                    throw Hxa079Error.tokenOutOfRange(token: t, index: i, vocabSize: engine.config.vocabSize)
                }
                let names = CheckpointName.all(layerKinds: engine.layerKinds)
                let unmatched = DebuggerSession.unmatched(breakpoints, names: names)
                if !unmatched.isEmpty {
                    printError("--break \(unmatched.map { "\"\($0)\"" }.joined(separator: ", ")) matches no checkpoint of this model (names look like layers.0.rwkv.wkv)")
                    throw ExitCode.validationFailure
                }
                let comparator = try compare.map { try DumpComparator(path: $0, fixture: fixtureForTruth, profile: profile, model: model, ignoreModelHash: ignoreModelHash) }

                let style = TerminalStyle.forStdout()
                let session = DebuggerSession(
                    settings: .init(config: engine.config, layerKinds: engine.layerKinds, precision: engine.precision,
                                    breakpoints: breakpoints, watchNaN: watchNan, comparator: comparator),
                    input: DebuggerInput.forProcess(script: script), style: style)
                printHeader(modelPath: modelPath, regenerated: regenerated, engine: engine, tokens: ids, names: names,
                            fixtureTruth: fixture == nil ? nil : fixtureForTruth != nil, comparator: comparator,
                            interactive: session.input.isInteractive, style: style)
                do {
                    try engine.run(ids, session)
                    for line in session.summary(engine: engine.label, tokens: ids.count) { print(line) }
                } catch let s as DebuggerStop {
                    session.finishProgress()
                    stop = s
                    switch s {
                    case .quit(let at):
                        print("quit at \(at ?? "the start") (\(session.seenCount) of \(names.count) checkpoints)")
                    case .nonFinite(let name, let side):
                        print(style.red("stopped by --watch-nan at \(name)") + " (checkpoint \(session.seenCount) of \(names.count)); exit status 3"
                              + " (non-finite in the \(side))")
                    }
                }
            }
            if case .nonFinite = stop { throw ExitCode(3) }
        }

        /// The first lines: what runs, on what, and how to drive it.
        func printHeader(modelPath: String, regenerated: String?, engine: LoadedEngine, tokens: [Int], names: [String], fixtureTruth: Bool?,
                         comparator: DumpComparator?, interactive: Bool, style: TerminalStyle) {
            let map = String(engine.layerKinds.map { $0.letter })
            print(style.bold("hxa079 step") + ": model \(modelPath) (\(engine.layerKinds.count) layers \(map)), \(engine.label), "
                  + (chunkSize == 0 ? "recurrent WKV" : "chunked WKV (chunks of \(chunkSize))")
                  + ", \(tokens.count) token\(tokens.count == 1 ? "" : "s"), \(names.count) checkpoints")
            if let fixture, let truth = fixtureTruth {
                let m = regenerated.map { "its model (regenerated from preset \($0))" } ?? "its model"
                print("fixture \(fixture): " + (truth ? m + " and tokens" + (comparator == nil ? "" : "; the dump is held to its truth and budgets")
                                                      : m + "; the tokens differ from the fixture's, so its truth and budgets do not apply"))
            }
            if let comparator {
                print("compare: \(comparator.path) (\(comparator.dtypes), \(comparator.tensors.count) tensors), "
                      + "differences against \(comparator.referenceDescription)")
                if !names.contains(where: { comparator.tensors[$0] != nil }) {
                    printWarning("\(comparator.path) holds none of this model's checkpoint names")
                }
            }
            if !breakpoints.isEmpty { print("breakpoints: " + breakpoints.joined(separator: ", ")) }
            if watchNan { print("watching for NaN/Inf") }
            if interactive { print("h lists the commands") }
        }

        /// A model loaded for the chosen engine and precision.
        struct LoadedEngine {
            var config: ModelConfig
            var layerKinds: [LayerKind]
            /// `reference f64`, `fast f32`.
            var label: String
            var precision: String
            var run: ([Int], DebuggerSession) throws -> Void
        }

        func loadEngine(directory: ModelDirectory) throws -> LoadedEngine {
            switch (engine, runOptions.resolvedPrecision) {
            case (.reference, .f64): return try referenceEngine(Double.self, directory: directory)
            case (.reference, .f32): return try referenceEngine(Float.self, directory: directory)
            case (.fast, .f64): return try fastEngine(Double.self, directory: directory)
            case (.fast, .f32): return try fastEngine(Float.self, directory: directory)
            case (.reference, .bf16): return try referenceEngine(Float.self, directory: directory, bf16: true)
            case (.fast, .bf16): return try fastEngine(Float.self, directory: directory, bf16: true)
            }
        }

        func fastEngine<T: FastScalar>(_: T.Type, directory: ModelDirectory, bf16: Bool = false) throws -> LoadedEngine {
            // layers read as they run, checked for NaN/Inf as they are read (SPEC.md §2.8)
            let fast = try FastEngine<T>.streaming(directory, bf16: bf16, nonFinite: printWarning)
            let chunk = chunkSize, longContext = runOptions.longContext
            let precision = bf16 ? "bf16" : T.self == Double.self ? "f64" : "f32"
            return LoadedEngine(config: fast.config, layerKinds: fast.layerKinds, label: "fast \(precision)" + runOptions.compatLabel,
                                precision: precision) { ids, observer in
                var state = fast.initialState()
                _ = try fast.forward(tokens: ids, state: &state, chunkSize: chunk, longContext: longContext, observer: observer)
            }
        }

        func referenceEngine<T: ReferenceScalar>(_: T.Type, directory: ModelDirectory, bf16: Bool = false) throws -> LoadedEngine {
            // layers read as they run, checked for NaN/Inf as they are read (SPEC.md §2.8)
            let streamed = try StreamedWeights<T>(directory: directory, checkFinite: false, nonFinite: printWarning)
            let weights: any WeightProvider<T> = bf16 ? StoredWeights(streamed, in: .bf16) : streamed
            let precision = bf16 ? "bf16" : T.self == Double.self ? "f64" : "f32"
            var options = runOptions.forwardOptions
            if bf16 { options.profile = .bf16 }
            return LoadedEngine(config: weights.config, layerKinds: weights.layerKinds, label: "reference \(precision)" + runOptions.compatLabel,
                                precision: precision) { ids, observer in
                var state = ModelState<T>(config: weights.config, layerKinds: weights.layerKinds)
                _ = try Reference.forward(weights: weights, tokens: ids, state: &state, options: options, observer: observer)
            }
        }
    }
}
