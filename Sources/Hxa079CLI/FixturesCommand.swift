// FixturesCommand: `hxa079 fixtures make` — golden fixtures for other engines.
//
//   hxa079 fixtures make (--model DIR | --preset NAME --seed S [--dtype f32] [--layers N])
//                        (--tokens LIST | --tokens-file PATH) --out DIR [--chunk-size L]
//                        [--plans LIST | --no-standard-plans] [--plan NAME:CALLS[:CHUNKS[:RESTORE]]]…
//                        [--checkpoints all|GLOB,…] [--mutants all|none|LIST] [--engine reference|fast]
//                        [--cross-check-tokens K] [--bundle-model] [--force]
//
// Layout and manifest: SPEC.md §4.6. --out must be absent or empty, or
// --force given (then the earlier fixture is removed as a whole first).
// Every engine streams the model (SPEC.md §2.8). Above the large-model
// threshold (`largeModelParameterThreshold`, 10⁹ parameters) the defaults are
// the one_call plan, a checkpoint subset (`FixtureDefaults`) and no mutants;
// explicit options override them. With `all` a mutant that cannot act on this
// model, these tokens and plans is skipped and recorded with its reason; one
// named in a LIST that cannot act is an error. Progress (run, plan, stage,
// layer i of L, elapsed, ETA) goes to stderr when it is a terminal.
// --engine fast: the truth comes from the fast f64 engine (FastModel64) and
// f32.safetensors from the fast f32 engine (as before); the readable
// reference re-runs the first K tokens and holds every checkpoint of them
// against the truth (ReferenceCrossCheck.swift); mutants default to none
// (they run the reference). Exit status: 0 written; 1 unusable model, tokens
// or --out; 3 the fast truth disagrees with the reference above 1e-12
// (nothing written); 64 bad arguments (an unknown plan name, a checkpoint
// glob that matches nothing).

import ArgumentParser
import Hxa079
import Hxa079Fixtures
import Hxa079Reference
import Hxa079Fast
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HXA079 {
    struct Fixtures: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fixtures",
            abstract: "Make golden fixtures (float64 truth, float32 budgets, mutants) for other engines.",
            subcommands: [Make.self])
    }
}

extension HXA079.Fixtures {
    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "make",
            abstract: "Write one fixture directory: inputs, f64 truth, f32 values, budgets, mutants, manifest.json.",
            discussion: """
                Every engine streams the model layer by layer (memory holds one layer, not the model). \
                Models with more than 10^9 parameters (\(largeModelParameterThreshold); the count `hxa079 inspect` prints) \
                get the large-model defaults: only the one_call plan; the truth holds every checkpoint of the first and \
                the last layer, embed, layers.*.out, final_norm, logits and state.position \
                (\(FixtureDefaults.largeModelCheckpoints(layers: 44).joined(separator: ",")) for 44 layers); \
                no mutants. --plans, --no-standard-plans, --checkpoints and --mutants override them. \
                Smaller models: all standard plans, every checkpoint, all mutants. \
                --engine fast: the f64 truth from the fast f64 engine and f32.safetensors from the fast f32 engine; \
                the readable reference re-runs the first K tokens (--cross-check-tokens, default: at most about as long as \
                the fast truth takes, by a fixed rule) and every checkpoint of them must agree with the truth of every plan \
                within 1e-12 relative (recorded as reference_cross_check); mutants default to none. \
                Exit status: 0 written, 1 unusable model, tokens or --out, \
                3 the fast truth disagrees with the reference (nothing written), 64 bad arguments.
                """)

        @Option(name: .long, help: "Model directory to make the fixture from (referenced by path and SHA-256, not copied).")
        var model: String?

        @Option(name: .long, help: "Preset model instead of --model: tiny, small, medium or reka.")
        var preset: Preset?

        @Option(name: .long, parsing: .unconditional, help: "Seed of the preset model (the same default as init-model).")
        var seed: UInt64 = defaultPresetSeed

        @Option(name: .long, help: "Storage dtype of the preset model: f64, f32 or bf16.")
        var dtype: String = "f32"

        @Option(name: .long, parsing: .unconditional, help: "Use only the first N layers of the preset.")
        var layers: Int?

        @Flag(name: .long, inversion: .prefixedNo, help: "Copy the preset model into the fixture (default: only for tiny).")
        var bundleModel: Bool?

        @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids.")
        var tokens: String?

        @Option(name: .long, help: "File of token ids separated by commas and/or whitespace (instead of --tokens).")
        var tokensFile: String?

        @Option(name: .long, help: "Output fixture directory: absent or empty, or give --force.")
        var out: String

        @Flag(name: .long, help: "Replace the fixture already in --out (removed as a whole first).")
        var force = false

        @Option(name: .long, parsing: .unconditional, help: "Chunk size of the standard chunked_prefill plan.")
        var chunkSize: Int = 4

        @Option(name: .long, parsing: .singleValue,
                help: "Extra split plan NAME:CALLS[:CHUNKS[:RESTORE_AFTER]], e.g. mine:5,12,3:0,4,0:1 (repeatable).")
        var plan: [String] = []

        @Flag(name: .long, help: "Do not add the standard plans (one_call, token_by_token, chunked_prefill, save_restore).")
        var noStandardPlans = false

        @Option(name: .long, help: "Standard plans to run, comma-separated: one_call, token_by_token, chunked_prefill, save_restore (default: all four; one_call for a large model).")
        var plans: String?

        @Option(name: .long, help: "Checkpoints the truth holds: all, or comma-separated globs over checkpoint names, e.g. layers.0.*,layers.*.out,logits (default: all; a subset for a large model).")
        var checkpoints: String?

        @Option(name: .long, help: "Mutants to record: all (default; none for a large model; those that cannot act here are skipped and recorded), none, or a comma-separated list (each must act).")
        var mutants: String?

        @Option(name: .long, help: "Profiles whose budgets to measure beside the f32 one: all (default: f32 local, bf16, f16; none for a large model), none, or a comma-separated list of f32, bf16, f16 (SPEC.md §4.6).")
        var profiles: String?

        @Option(name: .long, help: "reference (default) or fast: the f64 truth from the fast f64 engine, checked by the reference on the first tokens, and f32.safetensors from the fast f32 engine.")
        var engine: EngineKind = .reference

        @Option(name: .long, parsing: .unconditional,
                help: ArgumentHelp("With --engine fast: the tokens (1…T) the reference re-runs to check the truth (default: the cost rule, SPEC.md §4.6).",
                                   valueName: "K"))
        var crossCheckTokens: Int?

        func validate() throws {
            if tokens == nil && tokensFile == nil { throw ValidationError("give --tokens LIST or --tokens-file PATH") }
            if let tokens { _ = try parseTokens(tokens) }
            guard (model == nil) != (preset == nil) else { throw ValidationError("give exactly one of --model and --preset") }
            if chunkSize < 1 { throw ValidationError("--chunk-size must be ≥ 1, got \(chunkSize)") }
            if let layers, layers < 1 { throw ValidationError("--layers must be ≥ 1, got \(layers)") }
            if layers != nil && preset == nil { throw ValidationError("--layers applies to --preset only") }
            if crossCheckTokens != nil && engine != .fast {
                throw ValidationError("--cross-check-tokens applies to --engine fast only (the reference's own truth needs no check)")
            }
            if let k = crossCheckTokens, k < 1 { throw ValidationError("--cross-check-tokens must be ≥ 1, got \(k)") }
        }

        func run() throws {
            try runReportingErrors {
                guard let ids = try tokenIDs(list: tokens, file: tokensFile) else { throw ValidationError("give --tokens LIST or --tokens-file PATH") }
                guard (model == nil) != (preset == nil) else { throw ValidationError("give exactly one of --model and --preset") }
                if plans != nil && noStandardPlans { throw usageError("give --plans LIST or --no-standard-plans, not both") }
                let source: FixtureSpec.ModelSource
                var command = "hxa079 fixtures make"
                if let preset {
                    guard let st = DType(rawValue: dtype.uppercased()), [.F64, .F32, .BF16].contains(st) else {
                        throw ValidationError("--dtype must be f64, f32 or bf16")
                    }
                    source = .preset(preset, seed: seed, dtype: st, layers: layers, bundle: bundleModel ?? (preset == .tiny))
                    command += " --preset \(preset.rawValue) --seed \(seed) --dtype \(dtype.lowercased())"
                    if let layers { command += " --layers \(layers)" }
                    if let b = bundleModel { command += b ? " --bundle-model" : " --no-bundle-model" }
                } else {
                    source = .directory(model ?? "")
                    command += " --model \(model ?? "")"
                }
                // The defaults depend on the model's size, known from its headers (or the preset's shape).
                let size = try source.size()
                let large = FixtureDefaults.isLarge(size, threshold: Self.largeModelThreshold())

                let standard = SplitPlan.standard(tokens: ids.count, chunkSize: chunkSize)
                var planList: [SplitPlan]
                if let plans {
                    planList = try standardPlans(named: plans, from: standard, tokens: ids.count)
                } else if noStandardPlans {
                    planList = []
                } else {
                    planList = large ? standard.filter { FixtureDefaults.largeModelPlans.contains($0.name) } : standard
                }
                for text in plan { planList.append(try parsePlan(text)) }
                if planList.isEmpty { throw ValidationError("no split plan: drop --no-standard-plans or add --plan") }
                var seen = Set<String>()
                for p in planList where !seen.insert(p.name).inserted {
                    throw usageError("plan \(p.name) is given twice (by --plans and --plan, or by two --plan); every plan needs its own name")
                }

                if let k = crossCheckTokens, k > ids.count {
                    throw usageError("--cross-check-tokens \(k) is more than the \(ids.count) tokens of the fixture")
                }
                // Mutants run the readable reference: none by default when the truth is fast.
                let mutantText = mutants ?? (large || engine == .fast ? "none" : "all")
                let mutantList: [Mutant]
                switch mutantText {
                case "all": mutantList = Mutant.allCases
                case "none": mutantList = []
                default:
                    mutantList = try mutantText.split(separator: ",").map { name in
                        guard let m = Mutant(rawValue: String(name)) else {
                            throw ValidationError("unknown mutant \(name) (known: \(Mutant.allCases.map { $0.rawValue }.joined(separator: ", ")))")
                        }
                        return m
                    }
                }

                let selection: [String]?
                switch checkpoints {
                case nil: selection = large ? FixtureDefaults.largeModelCheckpoints(layers: size.layerKinds.count) : nil
                case "all": selection = nil
                case let text?:
                    let globs = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                    if globs.contains(where: { $0.isEmpty }) { throw usageError("--checkpoints \"\(text)\" has an empty glob") }
                    let names = fixtureCheckpointNames(layerKinds: size.layerKinds)
                    if let g = unmatchedCheckpointGlobs(globs, layerKinds: size.layerKinds).first {
                        throw usageError("--checkpoints \"\(g)\" matches no checkpoint of this model; closest: "
                                         + closestNames(to: g, in: names).joined(separator: ", ") + " (all, or globs such as layers.*.rwkv.wkv)")
                    }
                    selection = globs
                }

                command += " --tokens \(ids.map(String.init).joined(separator: ",")) --out \(out)"
                if chunkSize != 4 { command += " --chunk-size \(chunkSize)" }
                if let plans { command += " --plans \(plans)" }
                for p in plan { command += " --plan \(p)" }
                if noStandardPlans { command += " --no-standard-plans" }
                if let checkpoints { command += " --checkpoints \(checkpoints)" }
                if let mutants, mutants != "all" || large || engine == .fast { command += " --mutants \(mutants)" }
                if engine != .reference { command += " --engine \(engine.rawValue)" }
                if let k = crossCheckTokens { command += " --cross-check-tokens \(k)" }
                let profileList: [BudgetClass]
                switch profiles {
                case nil: profileList = large ? [] : FixtureSpec.allProfiles
                case "all": profileList = FixtureSpec.allProfiles
                case "none": profileList = []
                case let text?:
                    profileList = try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
                        guard let p = BudgetClass(rawValue: String(item)), p != .float64 else {
                            throw usageError("--profiles: \"\(item)\" is not f32, bf16 or f16 (or give all / none)")
                        }
                        return p
                    }
                }
                if let profiles { command += " --profiles \(profiles)" }

                let name = String(out.split(separator: "/").last ?? "fixture")
                var maker = FixtureMaker()
                maker.force = force
                maker.explicitMutants = mutantText != "all" && mutantText != "none"
                if engine == .fast {   // both streamed (SPEC.md §2.8)
                    maker.float32Engine = { fastFixtureRunner(try FastModel(streaming: $0)) }
                    maker.float32EngineName = "fast"
                    maker.truthEngine = Self.plantedTruthEngine() ?? { fastFixtureRunner(try FastModel64(streaming: $0)) }
                    maker.truthEngineName = "fast f64"
                    maker.crossCheckTokens = crossCheckTokens
                }
                let progressLine = FixtureProgressLine()
                maker.progress = { progressLine.update($0) }
                let manifest: Manifest
                do {
                    manifest = try maker.make(FixtureSpec(name: name, model: source, tokens: ids, plans: planList,
                                                          mutants: mutantList, checkpoints: selection, command: command,
                                                          profiles: profileList), out: out)
                } catch let disagreement as CrossCheckDisagreement {
                    progressLine.finish()
                    printError(disagreement.description)
                    throw ExitCode(3)
                } catch {
                    progressLine.finish()
                    throw error
                }
                progressLine.finish()
                print("fixture \(manifest.name): \(manifest.checkpoints.count) checkpoints × \(manifest.plans.count) plans, \(manifest.mutants.count) mutants → \(out)")
                if let selection {
                    print("  checkpoints: \(selection.joined(separator: ","))" + (checkpoints == nil ? " (the large-model default)" : ""))
                }
                if let c = manifest.referenceCrossCheck {
                    let worst = c.maxRelative.max { $0.1 < $1.1 }
                    print("  truth: \(manifest.truthEngine); reference cross-check on the first \(c.tokens) of \(ids.count) tokens: "
                          + "\(c.maxRelative.count) checkpoints × \(c.plans.count) plans, worst max rel "
                          + (worst.map { "\(formatNumber($0.1)) at \($0.0)" } ?? "- (no checkpoint on the token axis selected)")
                          + " (bound \(c.bound))")
                }
                if engine == .fast && mutants == nil {
                    print("  mutants: none by default with --engine fast (they run the reference; --mutants all adds them)")
                }
                if large && (plans == nil && !noStandardPlans || mutants == nil) {
                    print("  large model (\(size.parameters) parameters > \(Self.largeModelThreshold())): defaults "
                          + "one_call, a checkpoint subset, no mutants (see fixtures make --help)")
                }
                for m in manifest.mutants {
                    print("  mutant \(pad(m.name, 28)) first affected \(m.firstAffected) (max rel \(formatNumber(m.distance.maxRel)))")
                }
                for m in manifest.undetectableMutants {
                    print("  undetectable \(pad(m.name, 22)) inside the float64 tolerance everywhere (worst max rel \(formatNumber(m.worstDistance.maxRel)))")
                }
                for m in manifest.skippedMutants {
                    print("  skipped \(pad(m.name, 27)) \(m.reason)")
                }
            }
        }

        /// The large-model threshold; `HXA079_FIXTURES_LARGE_MODEL_PARAMETERS`
        /// lowers it for tests only (so a tiny model can be "large" in CI).
        static func largeModelThreshold() -> Int {
            if let text = getenv("HXA079_FIXTURES_LARGE_MODEL_PARAMETERS").map({ String(cString: $0) }), let n = Int(text), n >= 0 { return n }
            return largeModelParameterThreshold
        }

        /// Tests only: `HXA079_FIXTURES_PLANT_TRUTH_MUTANT=NAME` makes the "fast"
        /// truth the reference with that mutant, to show that the cross-check refuses it.
        static func plantedTruthEngine() -> ((ModelDirectory) throws -> EngineRunner)? {
            guard let name = getenv("HXA079_FIXTURES_PLANT_TRUTH_MUTANT").map({ String(cString: $0) }),
                  let mutant = Mutant(rawValue: name) else { return nil }
            return { EngineRunner.reference(weights: try StreamedWeights<Double>(directory: $0, checkFinite: false), mutant: mutant) }
        }

        /// The standard plans named in `--plans`, in the order given.
        func standardPlans(named text: String, from standard: [SplitPlan], tokens: Int) throws -> [SplitPlan] {
            let known = ["one_call", "token_by_token", "chunked_prefill", "save_restore"]
            var out: [SplitPlan] = []
            for name in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                guard known.contains(name) else {
                    throw usageError("--plans: unknown plan \"\(name)\" (standard plans: \(known.joined(separator: ", ")); add others with --plan NAME:CALLS)")
                }
                guard let p = standard.first(where: { $0.name == name }) else {
                    throw usageError("--plans: plan \(name) needs more than \(name == "chunked_prefill" ? 3 : 1) token(s); these are \(tokens)")
                }
                if out.contains(where: { $0.name == name }) { throw usageError("--plans: plan \(name) is named twice") }
                out.append(p)
            }
            return out
        }

        /// Prints `message` as the one line on stderr and gives the exit status of bad arguments (64).
        func usageError(_ message: String) -> ExitCode {
            printError(message)
            return ExitCode.validationFailure
        }

        func parsePlan(_ text: String) throws -> SplitPlan {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            func ints(_ s: String) throws -> [Int] {
                try s.split(separator: ",").map { guard let v = Int($0) else { throw ValidationError("--plan \(text): \"\($0)\" is not an integer") }; return v }
            }
            guard parts.count >= 2, !parts[0].isEmpty else { throw ValidationError("--plan \(text): expected NAME:CALLS[:CHUNKS[:RESTORE_AFTER]]") }
            let calls = try ints(parts[1])
            let chunks = parts.count > 2 && !parts[2].isEmpty ? try ints(parts[2]) : nil
            let restore = parts.count > 3 ? try ints(parts[3]) : []
            return SplitPlan(name: parts[0], calls: calls, chunkSizes: chunks, restoreAfter: restore)
        }
    }
}

extension Preset: ExpressibleByArgument {}

/// The progress line of `fixtures make` on stderr (only when it is a
/// terminal): run i of n, plan, stage, layer i of L, share done, elapsed and
/// estimated time left, redrawn at most five times a second (and whenever a
/// run or a preparatory step starts).
final class FixtureProgressLine {
    let enabled = isatty(STDERR_FILENO) != 0
    let start = monotonicSeconds()
    private var lastDraw = -1.0
    private var lastRun = -1
    private var drawn = false

    func update(_ p: FixtureProgress) {
        guard enabled else { return }
        let now = monotonicSeconds()
        let newRun = p.run != lastRun || p.layers == 0
        if now - lastDraw < 0.2 && p.done < p.total && !newRun { return }
        lastDraw = now
        lastRun = p.run
        let elapsed = now - start
        var text = "fixtures make: "
        if p.layers == 0 {
            text += "\(p.stage) · \(seconds(elapsed)) elapsed"
        } else {
            let share = Double(p.done) / Double(max(p.total, 1))
            let eta = share > 0 ? seconds(elapsed * (1 - share) / share) : "?"
            let where_ = p.layer < p.layers ? "layer \(p.layer + 1) of \(p.layers)" : "head (after layer \(p.layers) of \(p.layers))"
            text += "run \(p.run) of \(p.runs), plan \(p.plan ?? "-"), \(p.stage), \(where_) · \(Int(share * 100))% · "
                + "\(seconds(elapsed)) elapsed · ETA \(eta)"
        }
        fputs("\r\u{1B}[K" + text, stderr)
        drawn = true
    }

    func finish() {
        if drawn { fputs("\r\u{1B}[K", stderr) }
    }

    private func seconds(_ s: Double) -> String {
        s < 60 ? "\((s * 10).rounded() / 10) s" : "\(Int(s) / 60) min \(Int(s) % 60) s"
    }
}

/// The fast engine (Float32 or Float64) as a fixture runner; streamed or in memory as `fast` is.
func fastFixtureRunner<Real: FastScalar>(_ fast: FastEngine<Real>) -> EngineRunner {
    let box = StateBox(fast.initialState())
    let dtype: DType = Real.self == Double.self ? .F64 : .F32
    return EngineRunner(
        name: dtype == .F64 ? "fast f64" : "fast f32",
        reset: { box.state = fast.initialState() },
        run: { tokens, chunk, observer in
            _ = try fast.forward(tokens: tokens, state: &box.state, chunkSize: chunk, observer: observer)
        },
        saveAndRestore: { path in
            try box.state.write(to: path, dtype: dtype)
            box.state = try ModelState<Real>(path: path, config: fast.config, layerKinds: fast.layerKinds)
        },
        stateTensors: { box.state.checkpoints() })
}
