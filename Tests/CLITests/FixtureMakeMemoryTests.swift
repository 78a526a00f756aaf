// FixtureMakeMemoryTests: the peak anonymous memory of `hxa079 fixtures make`
// does not grow with the depth of the model (every engine streams it, SPEC.md
// §2.8, §4.6), measured as StreamingMemoryTests measures `forward`: the
// largest RssAnon sampled from the child's /proc status (`runSamplingMemory`),
// on the first 8 and all 48 layers of the same deep thin model (bf16), one
// plan, no mutants, a truth of `logits` only (so the recorded checkpoints do
// not grow with depth either). Held in memory, the 40 extra layers would add
// 40 layers in float64 (the truth) and float32 (the budgets) to the peak.

import Foundation
import Testing
import Hxa079
import Hxa079TestSupport

#if os(Linux)
@Suite struct FixtureMakeMemoryTests {
    @Test func fixturesMakePeakDoesNotGrowWithDepth() throws {
        let deep = try TempDir("fx-deep48"), shallow = try TempDir("fx-deep8"), out = try TempDir("fx-deep-out")
        let full = ModelWeights<Double>.random(shape: deepThinShape, seed: 11)
        var first8 = full
        first8.layers = Array(full.layers.prefix(8))
        first8.config.numLayers = 8
        _ = try writeModelDirectory(full, to: deep.path, dtype: .BF16)
        _ = try writeModelDirectory(first8, to: shallow.path, dtype: .BF16)
        let perLayer = full.layers[1...].map { l in l.mlp.gate.weight.count * 3 }.max() ?? 0   // MLP dominates
        for engine in [["--engine", "reference"], ["--engine", "fast"]] {
            func make(_ model: String, _ name: String) throws -> (status: Int32, anonPeak: Int, hwm: Int, stderr: String) {
                try runSamplingMemory(["fixtures", "make", "--model", model, "--tokens", "1,2,3,4,5,6,7,8", "--out", out.sub(name + engine[1]),
                                       "--plans", "one_call", "--mutants", "none", "--checkpoints", "logits"] + engine)
            }
            let a = try make(shallow.path, "8"), b = try make(deep.path, "48")
            #expect(a.status == 0 && b.status == 0, "\(engine): \(a.stderr) \(b.stderr)")
            let growth = b.anonPeak - a.anonPeak
            // Held in memory: 40 more layers in f64 (truth) and f32 (budgets), MLP alone.
            let heldExtra = 40 * perLayer * (8 + 4)
            // What does grow with depth: the state of the 40 extra layers (35 RWKV: H·N·N values; 5 GQA: a KV
            // cache of 8 tokens) of the f64 and the f32 engine, each held by its runner and as the call's
            // working copy, and as Double when the runner hands the final state over (filtered afterwards).
            let H = 2, N = 64
            let stateValues = 35 * H * N * N + 5 * 8 * 2 * N
            let bound = 3 * stateValues * (8 + 4) + 2 * stateValues * 8 + (1 << 20)
            let figures = "\(engine.joined(separator: " ")): RssAnon peak \(a.anonPeak >> 10) KiB (8 layers) → \(b.anonPeak >> 10) KiB (48 layers), growth \(growth >> 10) KiB (bound \(bound >> 10) KiB), VmHWM \(a.hwm >> 10) → \(b.hwm >> 10) KiB; holding 40 more layers would add ≈ \(heldExtra >> 10) KiB"
            // Measured 2026-12-02 (2-core machine): growth 6504 KiB (reference) and 6500 KiB (fast), bound
            // 15844 KiB — the states; holding the extra layers would add 92160 KiB, far above the bound.
            // 2026-12-03, with the fast f64 truth and the reference's cross-check (issue 18): 6512 KiB
            // (reference), 9008 KiB (fast: one more f64 state, the reference's beside the fast f64 truth's).
            #expect(bound < heldExtra / 3)
            #expect(a.anonPeak > 0 && growth < bound, "\(figures)")
            print("fixtures make memory \(figures)")
        }
    }
}
#endif
