// FixturesCommand: `hxa079 fixtures make` — golden fixtures for other engines.
//
//   hxa079 fixtures make (--model DIR | --preset NAME --seed S [--dtype f32] [--layers N])
//                        (--tokens LIST | --tokens-file PATH) --out DIR [--chunk-size L] [--plan NAME:CALLS[:CHUNKS[:RESTORE]]]…
//                        [--no-standard-plans] [--mutants all|none|LIST] [--engine reference|fast] [--bundle-model]
//                        [--force]
//
// Layout and manifest: SPEC.md §4.6. --out must be absent or empty, or
// --force given (then the earlier fixture is removed as a whole first).
// With `all` a mutant that cannot act on this model, these tokens and plans is
// skipped and recorded with its reason; one named in a LIST that cannot act
// is an error. Progress (stage, layer, elapsed, ETA) goes to stderr when it
// is a terminal. Exit status: 0 written; 1 unusable model, tokens or --out;
// 64 bad arguments.

import ArgumentParser
import Hxa079
import Hxa079Fixtures
import Hxa079Reference
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
            abstract: "Write one fixture directory: inputs, f64 truth, f32 values, budgets, mutants, manifest.json.")

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

        @Option(name: .long, help: "Mutants to record: all (default; those that cannot act here are skipped and recorded), none, or a comma-separated list (each must act).")
        var mutants: String = "all"

        @Option(name: .long, help: "Engine for f32.safetensors: reference (default) or fast.")
        var engine: EngineKind = .reference

        func validate() throws {
            if tokens == nil && tokensFile == nil { throw ValidationError("give --tokens LIST or --tokens-file PATH") }
            if let tokens { _ = try parseTokens(tokens) }
            guard (model == nil) != (preset == nil) else { throw ValidationError("give exactly one of --model and --preset") }
            if chunkSize < 1 { throw ValidationError("--chunk-size must be ≥ 1, got \(chunkSize)") }
            if let layers, layers < 1 { throw ValidationError("--layers must be ≥ 1, got \(layers)") }
            if layers != nil && preset == nil { throw ValidationError("--layers applies to --preset only") }
        }

        func run() throws {
            try runReportingErrors {
                guard let ids = try tokenIDs(list: tokens, file: tokensFile) else { throw ValidationError("give --tokens LIST or --tokens-file PATH") }
                guard (model == nil) != (preset == nil) else { throw ValidationError("give exactly one of --model and --preset") }
                var plans = noStandardPlans ? [] : SplitPlan.standard(tokens: ids.count, chunkSize: chunkSize)
                for text in plan { plans.append(try parsePlan(text)) }
                if plans.isEmpty { throw ValidationError("no split plan: drop --no-standard-plans or add --plan") }
                let mutantList: [Mutant]
                switch mutants {
                case "all": mutantList = Mutant.allCases
                case "none": mutantList = []
                default:
                    mutantList = try mutants.split(separator: ",").map { name in
                        guard let m = Mutant(rawValue: String(name)) else {
                            throw ValidationError("unknown mutant \(name) (known: \(Mutant.allCases.map { $0.rawValue }.joined(separator: ", ")))")
                        }
                        return m
                    }
                }
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
                command += " --tokens \(ids.map(String.init).joined(separator: ",")) --out \(out)"
                if chunkSize != 4 { command += " --chunk-size \(chunkSize)" }
                for p in plan { command += " --plan \(p)" }
                if noStandardPlans { command += " --no-standard-plans" }
                if mutants != "all" { command += " --mutants \(mutants)" }
                if engine != .reference { command += " --engine \(engine.rawValue)" }

                let name = String(out.split(separator: "/").last ?? "fixture")
                var maker = FixtureMaker()
                maker.force = force
                maker.explicitMutants = mutants != "all" && mutants != "none"
                if engine == .fast {
                    maker.float32Engine = { try fastEngineRunner($0) }
                    maker.float32EngineName = "fast"
                }
                let progressLine = FixtureProgressLine()
                maker.progress = { progressLine.update($0) }
                let manifest: Manifest
                do {
                    manifest = try maker.make(FixtureSpec(name: name, model: source, tokens: ids, plans: plans,
                                                          mutants: mutantList, command: command), out: out)
                } catch {
                    progressLine.finish()
                    throw error
                }
                progressLine.finish()
                print("fixture \(manifest.name): \(manifest.checkpoints.count) checkpoints × \(manifest.plans.count) plans, \(manifest.mutants.count) mutants → \(out)")
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
/// terminal): stage, layer, share done, elapsed and estimated time left,
/// redrawn at most five times a second.
final class FixtureProgressLine {
    let enabled = isatty(STDERR_FILENO) != 0
    let start = monotonicSeconds()
    private var lastDraw = -1.0
    private var drawn = false

    func update(_ p: FixtureProgress) {
        guard enabled else { return }
        let now = monotonicSeconds()
        if now - lastDraw < 0.2 && p.done < p.total { return }
        lastDraw = now
        let elapsed = now - start
        let share = Double(p.done) / Double(max(p.total, 1))
        let eta = share > 0 ? elapsed * (1 - share) / share : 0
        fputs("\r\u{1B}[Kfixtures make: \(p.stage), layer \(p.layer)/\(p.layers) · \(Int(share * 100))% · "
              + "\(seconds(elapsed)) elapsed · ETA \(seconds(eta))", stderr)
        drawn = true
    }

    func finish() {
        if drawn { fputs("\r\u{1B}[K", stderr) }
    }

    private func seconds(_ s: Double) -> String {
        s < 60 ? "\((s * 10).rounded() / 10) s" : "\(Int(s) / 60) min \(Int(s) % 60) s"
    }
}
