// BenchCommand: `hxa079 bench` — speed of the fast path (Hxa079Fast), Float32
// and Float64, next to the readable reference and to this machine's ceilings.
//
// Contract: prints ONE table; `--json FILE` writes the same figures. Random
// weights are generated in Float directly (ModelWeights<Float>.random) so the
// real-size layers fit in memory. Presets:
//   small       C 256, 4×64 heads, 2 KV, 6 layers (GQA 2, 5), I 704, V 4096
//   medium      C 1024, 16×64, 4 KV, 12 layers (GQA 3, 7, 11), I 2816, V 32000
//   reka-layer  one real-size hxa079 layer + one real-size GQA layer, each with
//               its MLP (C 6144, 64×96, 8 KV, I 19648), vocab 512 (tiny, so the
//               head does not dominate); "reka-layer RWKV" is its first layer
//               alone (RWKV + MLP), the row the targets refer to.
// Figures: prefill tok/s (T = 512; 128 for reka-layer) — the state plus the
// last token's logits (`FastModel.prefill`, what generation does after a
// prompt) for the recurrent and the chunked WKV, and `forward` with the
// logits of all T tokens (what fixtures need) — decode tok/s after a 64-token prefill (Float32 and bf16
// matrices), the same prefill and decode in Float64 for small and medium
// (`FastModel64`, rows marked f64, against the Float64 reference and the dgemm
// peak), the WKV op alone (T = 2048, 16 heads of 64); achieved GFLOP/s
// (useful flops: 2 per weight per token, plus WKV and causal attention) and
// GB/s (decode: weight bytes per step / step time) beside the ceilings measured
// in the same run (sgemm and dgemm peaks, 2-thread streaming read); peak RSS (ru_maxrss,
// process-wide and monotone: the figure after each section). The reference runs
// on fewer tokens where the full count would take too long (stated per row).
// Timings are the best of a few repetitions; a shared 2-vCPU machine varies ±15 %.

import ArgumentParser
import Dispatch
import Hxa079
import Hxa079Fast
import Hxa079Reference

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HXA079 {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Benchmark the fast f32/f64 path against the reference and this machine's ceilings.",
            discussion: """
                Presets small, medium and reka-layer (one real-size RWKV layer and one GQA layer, vocab 512). \
                Prints one table; --json writes the same figures. Build in release: \
                swift build -c release && .build/release/hxa079 bench
                """)

        @Option(name: .long, help: "Also write the figures as JSON to this file.")
        var json: String?

        @Flag(name: .long, help: "Fewer repetitions and tokens, skip reka-layer (a smoke run, about 30 s).")
        var quick = false

        @Option(name: .long, help: ArgumentHelp("Only these sections, comma-separated: small, medium, reka-layer, wkv (the machine ceilings always run).", valueName: "LIST"))
        var only: String?

        func validate() throws {
            if let only {
                let known = ["small", "medium", "reka-layer", "wkv"]
                for part in only.split(separator: ",", omittingEmptySubsequences: false) where !known.contains(String(part)) {
                    throw ValidationError("--only: unknown section \"\(part)\" (small, medium, reka-layer, wkv)")
                }
            }
        }

        func run() throws {
            try runReportingErrors {
                var bench = Benchmark(quick: quick, only: only.map { Set($0.split(separator: ",").map(String.init)) })
                try bench.runAll()
                print(bench.table())
                if let json {
                    try writeFileBytes(json, Array(bench.json().utf8))
                    print("wrote \(json)")
                }
            }
        }
    }
}

// MARK: - Measurements

/// One row of the table.
fileprivate struct BenchRow {
    var preset: String
    var measure: String
    var fast: Double            // tokens/s (or GB/s, GFLOP/s for ceilings)
    var unit: String
    var reference: Double?      // same unit
    var referenceNote: String = ""
    var gflops: Double? = nil
    var gbps: Double? = nil
    var note: String = ""
    /// Decode rows: weight bytes read per step (for the bandwidth floor).
    var stepBytes: Double? = nil
    /// The GEMM ceiling the GFLOP/s are a share of: sgemm for f32 rows, dgemm for f64 rows,
    /// our bf16 GEMM for the bf16 engine's rows.
    var peak: Peak = .sgemm

    enum Peak: String { case sgemm, dgemm, bf16 = "bf16 GEMM" }
}

fileprivate struct Benchmark {
    let quick: Bool
    var rows: [BenchRow] = []
    var sgemmPeak = 0.0
    var dgemmPeak = 0.0
    /// Our bf16 GEMM on n³ (the bf16 engine's product) and vdpbf16ps on registers (nil below avx512bf16), GFLOP/s.
    var bf16Peak = 0.0
    var bf16InstructionPeak: Double? = nil
    var bandwidth = 0.0
    var peakRSS: [(String, Double)] = []
    var machine: [(String, String)] = []

    /// The sections to run (nil: all; reka-layer never with --quick).
    let only: Set<String>?

    init(quick: Bool, only: Set<String>? = nil) {
        self.quick = quick
        self.only = only
    }

    func runs(_ section: String) -> Bool { only?.contains(section) ?? true }

    mutating func runAll() throws {
        machine = [("cpu", cpuModel()), ("cores", "\(sysconf(Int32(_SC_NPROCESSORS_ONLN)))"),
                   ("openblas_core", BlasInfo.coreName), ("openblas_threads", "\(BlasInfo.threads)"),
                   ("kernels", FastKernels.name)]
        ceilings()
        if runs("small") { try preset("small", shape: Preset.small.shape, prefill: 512, refPrefill: quick ? 16 : 64, refDecode: quick ? 2 : 8) }
        if runs("medium") {
            try preset("medium", shape: Preset.medium.shape, prefill: quick ? 128 : 512, refPrefill: quick ? 4 : 16, refDecode: quick ? 1 : 4)
        }
        if !quick && runs("reka-layer") { try rekaLayer() }
        if runs("wkv") { try wkvOp() }
        ceilings(again: true)
    }

    // MARK: Ceilings

    /// The ceilings are measured at the start and again at the end of the run;
    /// the table keeps the better of the two (the machine is shared).
    mutating func ceilings(again: Bool = false) {
        let n = quick ? 1024 : 2048
        var rng = SeededRNG(seed: 1, label: "sgemm")
        let a: [Float] = rng.normals(n * n), b: [Float] = rng.normals(n * n)
        var c = [Float](repeating: 0, count: n * n)
        let t = bestTime(quick ? 2 : 3) { BlasInfo.squareGemm(a, b, n: n, into: &c) }
        sgemmPeak = max(sgemmPeak, 2 * Double(n * n * n) / t / 1e9)
        let a64 = a.map { Double($0) }, b64 = b.map { Double($0) }
        var c64 = [Double](repeating: 0, count: n * n)
        let t64 = bestTime(quick ? 2 : 3) { BlasInfo.squareGemm(a64, b64, n: n, into: &c64) }
        dgemmPeak = max(dgemmPeak, 2 * Double(n * n * n) / t64 / 1e9)
        bandwidth = max(bandwidth, streamingReadBandwidth(bytes: quick ? 256 << 20 : 1 << 30))
        let tb = BF16Peak.squareGemmSeconds(n: n, reps: quick ? 2 : 3, now: benchClock)
        bf16Peak = max(bf16Peak, 2 * Double(n * n * n) / tb / 1e9)
        if let p = BF16Peak.gflops(rounds: quick ? 1 << 19 : 1 << 21, now: benchClock) {
            bf16InstructionPeak = max(bf16InstructionPeak ?? 0, p)
        }
        if again {
            rows[0].fast = sgemmPeak
            rows[1].fast = dgemmPeak
            rows[2].fast = bandwidth
            rows[3].fast = bf16Peak
            if let p = bf16InstructionPeak { rows[4].fast = p }
            for i in 0..<(bf16InstructionPeak == nil ? 4 : 5) { rows[i].note = "best of start and end of run" }
            return
        }
        rows.append(BenchRow(preset: "machine", measure: "sgemm \(n)³, OpenBLAS \(BlasInfo.threads) threads", fast: sgemmPeak,
                             unit: "GFLOP/s", reference: nil))
        rows.append(BenchRow(preset: "machine", measure: "dgemm \(n)³, OpenBLAS \(BlasInfo.threads) threads", fast: dgemmPeak,
                             unit: "GFLOP/s", reference: nil))
        rows.append(BenchRow(preset: "machine", measure: "streaming read, \(min(2, cores())) threads", fast: bandwidth,
                             unit: "GB/s", reference: nil))
        rows.append(BenchRow(preset: "machine", measure: "bf16 GEMM \(n)³, ours (\(FastKernels.name))", fast: bf16Peak,
                             unit: "GFLOP/s", reference: nil))
        if let p = bf16InstructionPeak {
            rows.append(BenchRow(preset: "machine", measure: "vdpbf16ps on registers, \(min(2, cores())) threads", fast: p,
                                 unit: "GFLOP/s", reference: nil))
        }
        noteRSS("ceilings")
    }

    // MARK: Presets

    /// Useful flops of one token at context position p (2 per weight, WKV, causal attention).
    static func flopsPerToken<S: BinaryFloatingPoint>(_ c: ModelConfig, _ layers: [LayerWeights<S>], position p: Int) -> Double {
        var f = 2.0 * Double(c.vocabSize * c.hiddenSize)
        for l in layers {
            f += 2 * Double(l.mlp.gate.weight.count + l.mlp.up.weight.count + l.mlp.down.weight.count)
            switch l.mixer {
            case .rwkv(let m):
                f += 2 * Double(m.receptance.weight.count + m.key.weight.count + m.value.weight.count + m.output.weight.count)
                for lr in [m.decayLoRA, m.iclrLoRA, m.gateLoRA] + [m.valueGate?.lora, m.keyGate?.lora].compactMap({ $0 }) {
                    f += 2 * Double(lr.down.count + lr.up.count)
                }
                f += 9 * Double(c.numHeads * c.headDim * c.headDim)
            case .gqa(let m):
                f += 2 * Double(m.query.weight.count + m.key.weight.count + m.value.weight.count + m.output.weight.count)
                f += 4 * Double(c.numHeads * c.headDim * (p + 1))
            }
        }
        return f
    }

    mutating func preset(_ name: String, shape: ModelShape, prefill T: Int, refPrefill: Int, refDecode: Int) throws {
        let weights = ModelWeights<Float>.random(shape: shape, seed: 42)
        try measureModel(name, weights: weights, prefill: T, chunk: 32, refPrefill: refPrefill, refDecode: refDecode,
                         decodeSteps: quick ? 8 : 32, reps: quick ? 1 : 3, f64: true)
        noteRSS(name)
    }

    mutating func rekaLayer() throws {
        var cfg = Preset.reka.shape.config
        cfg.numLayers = 2
        cfg.vocabSize = 512
        let shape = ModelShape(config: cfg, gqaLayers: [1])
        let weights = ModelWeights<Float>.random(shape: shape, seed: 42)
        try measureModel("reka-layer", weights: weights, prefill: 128, chunk: 32, refPrefill: 2, refDecode: 1,
                         decodeSteps: 8, reps: 2)
        var one = weights
        one.layers = [weights.layers[0]]
        one.config.numLayers = 1
        try measureModel("reka-layer RWKV", weights: one, prefill: 128, chunk: 32, refPrefill: 0, refDecode: 0,
                         decodeSteps: 8, reps: 2)
        noteRSS("reka-layer")
    }

    mutating func measureModel(_ name: String, weights: ModelWeights<Float>, prefill T: Int, chunk: Int,
                               refPrefill: Int, refDecode: Int, decodeSteps: Int, reps: Int, f64: Bool = false) throws {
        try measureEngine(name, weights: weights, prefill: T, chunk: chunk, refPrefill: refPrefill, refDecode: refDecode,
                          decodeSteps: decodeSteps, reps: reps)
        // the same model and tokens in Float64: FastModel64 beside the Float64 reference
        if f64 {
            try measureEngine(name, weights: weights.converted(to: Double.self), prefill: T, chunk: chunk,
                              refPrefill: refPrefill, refDecode: refDecode, decodeSteps: decodeSteps, reps: reps)
        }
    }

    /// The prefill and decode rows of one model in `S` (Float: f32 rows with
    /// the bf16 decode row; Double: rows marked f64, against dgemm), each with
    /// the readable reference in the same precision on fewer tokens.
    mutating func measureEngine<S: FastScalar & ReferenceScalar>(
        _ name: String, weights: ModelWeights<S>, prefill T: Int, chunk: Int,
        refPrefill: Int, refDecode: Int, decodeSteps: Int, reps: Int
    ) throws {
        let f64 = S.self == Double.self
        let tag = f64 ? ", f64" : ""
        let peak: BenchRow.Peak = f64 ? .dgemm : .sgemm
        let V = weights.config.vocabSize
        var rng = SeededRNG(seed: 7, label: name)
        let tokens = (0..<T).map { _ in rng.int(below: V) }
        let model = try FastEngine<S>(weights)
        let allLogitsFlops = (0..<T).reduce(0.0) { $0 + Benchmark.flopsPerToken(weights.config, weights.layers, position: $1) }
        let headFlops = 2.0 * Double(V * weights.config.hiddenSize)
        let lastLogitsFlops = allLogitsFlops - Double(T - 1) * headFlops

        // prefill (state + the last token's logits, `FastModel.prefill`), recurrent and chunked;
        // then `forward` with logits for all T tokens (what fixtures need; f32 only)
        var forms = [("recurrent", 0, false), ("chunked L=\(chunk)", chunk, false)]
        if !f64 { forms.append(("recurrent, logits for all T", 0, true)) }
        for (label, L, all) in forms {
            let t = try Benchmark.prefillSeconds(model, tokens: tokens, chunk: L, allLogits: all, reps: reps)
            let rate = Double(T) / t
            rows.append(BenchRow(preset: name, measure: "prefill T=\(T), \(label)\(tag)", fast: rate, unit: "tok/s",
                                 reference: nil, gflops: (all ? allLogitsFlops : lastLogitsFlops) / t / 1e9, peak: peak))
        }
        // reference prefill (the reference in S, all logits) on fewer tokens, in the same WKV form as the row
        if refPrefill > 0, let i = rows.lastIndex(where: { $0.preset == name && $0.measure.hasPrefix("prefill") }) {
            for (k, (_, L, _)) in forms.enumerated() {
                let t = try bestTimeThrowing(1) {
                    var s = ModelState<S>(for: weights)
                    _ = try Reference.forward(model: weights, tokens: Array(tokens.prefix(refPrefill)), state: &s,
                                              options: .init(chunkSize: L))
                }
                let row = i - (forms.count - 1) + k
                rows[row].reference = Double(refPrefill) / t
                rows[row].referenceNote = "T=\(refPrefill)"
            }
        }

        // the bf16 engine (f32 only): the same prefill forms, against our bf16 GEMM, with the ratio to the f32 row
        let bf16Engine: FastEngine<Float>? = f64 ? nil : try FastEngine<Float>(bf16: weights.converted(to: Float.self))
        if let b = bf16Engine {
            for (label, L, all) in forms {
                let t = try Benchmark.prefillSeconds(b, tokens: tokens, chunk: L, allLogits: all, reps: reps)
                let rate = Double(T) / t
                let f32Rate = rows.last { $0.preset == name && $0.measure == "prefill T=\(T), \(label)" }?.fast ?? .nan
                rows.append(BenchRow(preset: name, measure: "prefill T=\(T), \(label), bf16 engine", fast: rate, unit: "tok/s",
                                     reference: nil, gflops: (all ? allLogitsFlops : lastLogitsFlops) / t / 1e9,
                                     note: "\(fmt(rate / f32Rate))× the f32 row", peak: .bf16))
            }
        }

        // decode after a 64-token prefill: full-precision matrices, and (f32) bf16 matrices
        let prefix = Array(tokens.prefix(64))
        let decodeTokens = (0..<decodeSteps).map { _ in rng.int(below: V) }
        let decodeFlops = Benchmark.flopsPerToken(weights.config, weights.layers, position: 64 + decodeSteps / 2)
        for bf16 in f64 ? [false] : [false, true] {
            let m = bf16 ? try FastEngine<S>(weights, bf16Matrices: true) : model
            let perToken = try Benchmark.decodeSeconds(m, prefix: prefix, steps: decodeTokens, chunk: chunk, reps: reps)
            rows.append(BenchRow(preset: name, measure: "decode after 64\(bf16 ? ", bf16 matrices" : "")\(tag)",
                                 fast: 1 / perToken, unit: "tok/s", reference: nil,
                                 gflops: decodeFlops / perToken / 1e9, gbps: Double(m.decodeWeightBytes) / perToken / 1e9,
                                 note: "", stepBytes: Double(m.decodeWeightBytes), peak: peak))
        }
        if let b = bf16Engine {
            let perToken = try Benchmark.decodeSeconds(b, prefix: prefix, steps: decodeTokens, chunk: chunk, reps: reps)
            let f32Rate = rows.last { $0.preset == name && $0.measure == "decode after 64" }?.fast ?? .nan
            rows.append(BenchRow(preset: name, measure: "decode after 64, bf16 engine", fast: 1 / perToken, unit: "tok/s",
                                 reference: nil, gflops: decodeFlops / perToken / 1e9,
                                 gbps: Double(b.decodeWeightBytes) / perToken / 1e9,
                                 note: "\(fmt(perToken > 0 ? 1 / perToken / f32Rate : .nan))× the f32 row",
                                 stepBytes: Double(b.decodeWeightBytes), peak: .bf16))
        }
        if refDecode > 0, let i = rows.lastIndex(where: { $0.preset == name && $0.measure == "decode after 64\(tag)" }) {
            let short = Array(tokens.prefix(max(refPrefill, 1)))
            var s = ModelState<S>(for: weights)
            _ = try Reference.forward(model: weights, tokens: short, state: &s)
            let saved = s
            let t = try bestTimeThrowing(1) {
                var s2 = saved
                for tok in decodeTokens.prefix(refDecode) { _ = try Reference.forward(model: weights, tokens: [tok], state: &s2) }
            }
            rows[i].reference = Double(refDecode) / t
            rows[i].referenceNote = "\(refDecode) steps after \(short.count)"
        }
    }

    /// Best seconds of `prefill` (or `forward` with every token's logits) of `tokens` from the empty state, after a warm-up.
    static func prefillSeconds<S: FastScalar>(_ m: FastEngine<S>, tokens: [Int], chunk L: Int, allLogits: Bool,
                                              reps: Int) throws -> Double {
        var state = m.initialState()
        _ = try m.forward(tokens: Array(tokens.prefix(8)), state: &state, chunkSize: L)   // warm-up
        return try bestTimeThrowing(reps) {
            var s = m.initialState()
            if allLogits { _ = try m.forward(tokens: tokens, state: &s, chunkSize: L) }
            else { _ = try m.prefill(tokens: tokens, state: &s, chunkSize: L) }
        }
    }

    /// Best seconds per decode step of `steps` one-token calls after a prefill of `prefix`.
    static func decodeSeconds<S: FastScalar>(_ m: FastEngine<S>, prefix: [Int], steps: [Int], chunk: Int,
                                             reps: Int) throws -> Double {
        var state = m.initialState()
        _ = try m.forward(tokens: prefix, state: &state, chunkSize: chunk)
        let saved = state
        let t = try bestTimeThrowing(reps) {
            var s = saved
            for tok in steps { _ = try m.forward(tokens: [tok], state: &s) }
        }
        return t / Double(steps.count)
    }

    // MARK: WKV op

    mutating func wkvOp() throws {
        let T = quick ? 512 : 2048, H = 16, N = 64
        var rng = SeededRNG(seed: 3, label: "wkv-bench")
        var r = [Float](), g = [Float](), k = [Float](), alpha = [Float](), beta = [Float]()
        for _ in 0..<(T * H) {
            let kk: [Double] = (0..<N).map { _ in rng.normal() }
            let norm = kk.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<N {
                let a = rng.uniform(0.05, 0.95), w = rng.uniform(-6, -0.5)
                r.append(Float(rng.normal())); g.append(Float(-exp(w))); k.append(Float(rng.normal() * (1 - w + a)))
                alpha.append(Float(-kk[j] / norm)); beta.append(Float(kk[j] / norm * a))
            }
        }
        let v: [Float] = rng.normals(T * H * N)
        let reps = quick ? 2 : 5
        let flops = 9.0 * Double(T * H * N * N)
        var results: [(String, Double)] = []
        for (label, L) in [("recurrent", 0), ("chunked L=16", 16), ("chunked L=32", 32), ("chunked L=64", 64)] {
            let t = try bestTimeThrowing(reps) {
                var state = [Float](repeating: 0, count: H * N * N)
                _ = try FastWKV.run(steps: T, heads: H, keySize: N, valueSize: N, r: r, logDecay: g, k: k, v: v,
                                    alpha: alpha, beta: beta, state: &state, chunkSize: L)
            }
            results.append((label, t))
        }
        // reference on fewer steps (Float32 reference)
        let refT = quick ? 64 : 256
        let input = WKVInput<Float>(steps: refT, heads: H, keySize: N, valueSize: N, r: Array(r.prefix(refT * H * N)),
                                    logDecay: Array(g.prefix(refT * H * N)), k: Array(k.prefix(refT * H * N)),
                                    v: Array(v.prefix(refT * H * N)), alpha: Array(alpha.prefix(refT * H * N)),
                                    beta: Array(beta.prefix(refT * H * N)))
        let refRec = bestTime(1) { var s = [Float](repeating: 0, count: H * N * N); _ = WKV.recurrent(input, state: &s) }
        let refChunk = bestTime(1) { var s = [Float](repeating: 0, count: H * N * N); _ = WKV.chunked(input, chunkSize: 32, state: &s) }
        let bestChunk = results.dropFirst().min { $0.1 < $1.1 } ?? ("chunked", .infinity)
        for (label, t) in results {
            let isRec = label == "recurrent"
            rows.append(BenchRow(preset: "wkv op", measure: "T=\(T), 16×64, \(label)\(label == bestChunk.0 ? " (best)" : "")",
                                 fast: Double(T) / t, unit: "tok/s",
                                 reference: Double(refT) / (isRec ? refRec : refChunk),
                                 referenceNote: "T=\(refT)\(isRec ? "" : ", L=32")", gflops: flops / t / 1e9))
        }
        noteRSS("wkv")
    }

    // MARK: Helpers

    mutating func noteRSS(_ label: String) { peakRSS.append((label, peakRSSMegabytes())) }

    func table() -> String {
        var out = "hxa079 bench — fast path (Hxa079Fast, f32 and f64) vs the readable reference\n"
        out += machine.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "\n\n"
        out += "| preset | measure | fast | reference | fast/ref | GFLOP/s | GB/s | note |\n"
        out += "|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            let ref = r.reference.map { "\(fmt($0)) (\(r.referenceNote))" } ?? "—"
            let ratio = r.reference.map { "\(fmt(r.fast / $0))×" } ?? "—"
            let ceiling = r.peak == .dgemm ? dgemmPeak : r.peak == .bf16 ? bf16Peak : sgemmPeak
            let gf = r.gflops.map { "\(fmt($0)) (\(fmt(100 * $0 / ceiling))% of \(r.peak.rawValue))" } ?? "—"
            let gb = r.gbps.map { "\(fmt($0)) (\(fmt(100 * $0 / bandwidth))% of stream)" } ?? "—"
            var note = r.note
            if let bytes = r.stepBytes {
                let floor = bandwidth * 1e9 / bytes
                note = "bandwidth floor \(fmt(floor)) tok/s (\(fmt(bytes / 1e6)) MB/step): \(fmt(100 * r.fast / floor))% of it"
                    + (r.note.isEmpty ? "" : "; " + r.note)
            }
            out += "| \(r.preset) | \(r.measure) | \(fmt(r.fast)) \(r.unit) | \(ref) | \(ratio) | \(gf) | \(gb) | \(note) |\n"
        }
        out += "\npeak RSS (ru_maxrss, process-wide, after each section): "
        out += peakRSS.map { "\($0.0) \(fmt($0.1)) MB" }.joined(separator: ", ") + "\n"
        out += "reference = Hxa079Reference (readable scalar code) in the row's precision (Float32; Float64 for the f64 rows, "
            + "FastModel64 against the dgemm peak) on the token counts shown; reka-layer uses vocab 512.\n"
        return out
    }

    func json() -> String {
        func q(_ s: String) -> String {
            var o = "\""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": o += "\\\""
                case "\\": o += "\\\\"
                case "\n": o += "\\n"
                default: o.unicodeScalars.append(ch)
                }
            }
            return o + "\""
        }
        func n(_ x: Double?) -> String { x.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }
        var out = "{\n  \"machine\": {" + machine.map { "\(q($0.0)): \(q($0.1))" }.joined(separator: ", ") + "},\n"
        out += "  \"sgemm_gflops\": \(n(sgemmPeak)),\n  \"dgemm_gflops\": \(n(dgemmPeak)),\n  \"stream_read_gbps\": \(n(bandwidth)),\n"
        out += "  \"bf16_gemm_gflops\": \(n(bf16Peak)),\n  \"bf16_instruction_gflops\": \(n(bf16InstructionPeak)),\n"
        out += "  \"peak_rss_mb\": {" + peakRSS.map { "\(q($0.0)): \(n($0.1))" }.joined(separator: ", ") + "},\n"
        out += "  \"rows\": [\n"
        out += rows.map { r in
            "    {\"preset\": \(q(r.preset)), \"measure\": \(q(r.measure)), \"fast\": \(n(r.fast)), \"unit\": \(q(r.unit)), "
            + "\"reference\": \(n(r.reference)), \"reference_note\": \(q(r.referenceNote)), \"gflops\": \(n(r.gflops)), "
            + "\"gbps\": \(n(r.gbps)), \"peak\": \(q(r.peak.rawValue)), \"step_bytes\": \(n(r.stepBytes)), "
            + "\"bandwidth_floor_tok_s\": \(n(r.stepBytes.map { bandwidth * 1e9 / $0 })), \"note\": \(q(r.note))}"
        }.joined(separator: ",\n")
        out += "\n  ]\n}\n"
        return out
    }
}

// MARK: - Timing and system figures

fileprivate func benchClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

fileprivate func bestTime(_ reps: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<max(reps, 1) {
        let t0 = benchClock()
        body()
        best = min(best, benchClock() - t0)
    }
    return best
}

fileprivate func bestTimeThrowing(_ reps: Int, _ body: () throws -> Void) throws -> Double {
    var best = Double.infinity
    for _ in 0..<max(reps, 1) {
        let t0 = benchClock()
        try body()
        best = min(best, benchClock() - t0)
    }
    return best
}

fileprivate func cores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

/// Streaming read bandwidth: `bytes` of Float summed by min(2, cores) threads, best of 3 (GB/s).
fileprivate func streamingReadBandwidth(bytes: Int) -> Double {
    let n = bytes / 4
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { buffer.deallocate() }
    // distinct values in every page (a buffer of identical pages can be deduplicated by the
    // host of a VM, and then reads faster than real weights: up to 53 GB/s vs 33–37 here)
    for i in 0..<n { (buffer + i).initialize(to: Float(i & 0xFFFF)) }
    let ways = min(2, cores())
    let box = UnsafeMutablePointer<Float>.allocate(capacity: ways)
    defer { box.deallocate() }
    let t = bestTime(3) {
        DispatchQueue.concurrentPerform(iterations: ways) { w in
            let lo = n * w / ways, hi = n * (w + 1) / ways
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
            var i = lo
            let raw = UnsafeRawPointer(buffer)
            while i + 32 <= hi {
                a0 = a0 + raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                a1 = a1 + raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
                i += 32
            }
            let s = a0 + a1
            box[w] = s[0] + s[5] + s[10] + s[15]
        }
    }
    return Double(n * 4) / t / 1e9
}

fileprivate func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024   // Linux: kilobytes
}

fileprivate func cpuModel() -> String {
    guard let bytes = try? readFileBytes("/proc/cpuinfo") else { return "unknown" }
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters() }
    }
    return "unknown"
}

/// A number with about 3 significant digits, no exponent for the usual ranges.
fileprivate func fmt(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    let a = abs(x)
    let decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (x * scale).rounded() / scale
    if decimals == 0 { return "\(Int(rounded))" }
    var s = "\(rounded)"
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: s.index(after: dot), to: s.endIndex)
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
    }
    return s
}
