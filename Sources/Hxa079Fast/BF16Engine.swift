// BF16Engine: the fast engine as a bf16 engine (`--engine fast --precision
// bf16`): FastEngine<Float> with `storesBF16`, the bf16 profile's storage
// model (SPEC.md §4.7) at Float speed with bf16 matrix products.
//
// Contract: the function of the reference's `bf16` profile, run the fast
// path's way (reassociated sums, polynomial transcendental functions):
// - weights: every parameter rounded to bf16 once (storage point W; the
//   identity for a BF16 checkpoint); the big matrices (projections, MLP,
//   head, embedding) kept as bf16 bits — read in place from the mapping when
//   streamed from a BF16 file, held as bits in memory otherwise; LoRA, norms,
//   biases as bf16 values in Float;
// - activations: rounded to bf16 in place (`store`, `hxa_bf16_round`) at
//   every checkpoint of §4.3 (points 1, 2, 6 of §4.7), the RoPE table
//   (point 3), the WKV kernel inputs g, α, β (point 4) and — besides the
//   profile — at the two matrix-product inputs that are not checkpoints:
//   (y ⊙ gate) of (24) and the MLP hidden h of (32), which variant (b)
//   rounds too (a bf16 product needs bf16 operands);
// - arithmetic: Float everywhere in between — norms, softmax, attention sums,
//   the LoRA paths (sgemm on bf16 values), the WKV recurrence or chunked form
//   inside a call; matrix products with float accumulation (DenseMatrix.swift:
//   vdpbf16ps at kernel level avx512bf16, widened weights and sgemm below);
// - state: the WKV states rounded to bf16 at the end of each call (point 5;
//   not between the passes of a long call); the KV cache holds the rounded
//   k, v rows. Both are kept in Float arrays (`ModelState<Float>`, bf16
//   values), so states and dumps are the f32 engine's formats.
// Held to the bf16 budgets of the fixtures (`compare --profile bf16`, stage-
// local replay) at every kernel level: Tests/Hxa079FastTests/BF16EngineTests.swift.

import CHxa079Kernels
import Hxa079
import SafeTensors

extension FastEngine where Real == Float {
    /// The bf16 engine on `weights` (held in memory): every parameter rounded
    /// to bf16 once, the big matrices kept as bf16 bits.
    public convenience init(bf16 weights: ModelWeights<Float>) throws {
        var source = MatrixSource()
        source.bf16Engine = true
        self.init(packed: try PackedModel(weights, source: source), storesBF16: true)
    }

    /// The bf16 engine on the model in `directory`, held in memory: BF16
    /// matrices kept as their stored bits, everything else rounded to bf16.
    public convenience init(bf16Directory directory: ModelDirectory, headBlockRows: Int? = nil) throws {
        self.init(packed: try Self.packed(directory: directory, keepBF16: true, roundToBF16: true, headBlockRows: headBlockRows),
                  storesBF16: true)
    }

    /// The bf16 engine on the model in `directory`, streamed (SPEC.md §2.8):
    /// BF16 matrices read in place from the mapping, every other tensor read
    /// per layer and rounded to bf16 — the same values as `init(bf16Directory:)`.
    package convenience init(bf16Streaming directory: ModelDirectory, nonFinite: ((String) -> Void)? = nil) throws {
        self.init(packed: try PackedModel(streaming: try StreamedWeights<Float>(directory: directory, checkFinite: false,
                                                                                nonFinite: nonFinite),
                                          roundToBF16: true),
                  storesBF16: true)
    }
}

extension FastEngine {
    /// The engine on the model in `directory`, streamed: the bf16 engine when
    /// `bf16` (Real must be Float: `Hxa079Error.invalidArgument` otherwise), else `init(streaming:)`.
    package static func streaming(_ directory: ModelDirectory, bf16: Bool,
                                  nonFinite: ((String) -> Void)? = nil) throws -> FastEngine<Real> {
        guard bf16 else { return try FastEngine(streaming: directory, nonFinite: nonFinite) }
        guard let engine = try FastEngine<Float>(bf16Streaming: directory, nonFinite: nonFinite) as? FastEngine<Real> else {
            throw Hxa079Error.invalidArgument("the bf16 engine computes in Float32, not \(Real.self)")
        }
        return engine
    }

    /// Storage point (SPEC.md §4.7): n values at p rounded to bf16 in place in
    /// the bf16 engine; nothing otherwise.
    @inline(__always) func store(_ p: UnsafeMutablePointer<Real>, _ n: Int) {
        if storesBF16 { roundRowToBF16(p, n) }
    }
}

/// n Float values at p rounded to bf16 in place (`hxa_bf16_round`), split over
/// the cores when long (element-wise: the split changes nothing). Only the
/// bf16 engine calls it, which is Float (a Double array is left alone).
func roundRowToBF16<Real: FastScalar>(_ p: UnsafeMutablePointer<Real>, _ n: Int) {
    guard Real.self == Float.self, n > 0 else { return }
    let f = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    let ways = n >= 1 << 18 ? workerCount : 1
    parallelFor(ways) { part in
        let i0 = (n * part / ways) & ~15, i1 = part == ways - 1 ? n : (n * (part + 1) / ways) & ~15
        hxa_bf16_round(f + i0, i1 - i0)
    }
}

/// The instruction ceiling of the bf16 products for benchmark figures.
public enum BF16Peak {
    /// GFLOP/s of vdpbf16ps on registers on every core at once
    /// (`hxa_bf16_peak_loop`, 16·64 flops per round), the best of three runs
    /// of `rounds` rounds; nil below kernel level avx512bf16.
    public static func gflops(rounds: Int = 1 << 21, now: () -> Double) -> Double? {
        guard FastKernels.level >= .avx512bf16 else { return nil }
        let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: workerCount)
        defer { sums.deallocate() }
        var best = 0.0
        for _ in 0..<3 {
            let t0 = now()
            parallelFor(workerCount) { part in sums[part] = hxa_bf16_peak_loop(rounds) }
            let dt = now() - t0
            best = max(best, Double(workerCount) * Double(rounds) * 16 * 64 / dt / 1e9)
        }
        return best
    }
}

extension BF16Peak {
    /// Seconds (best of `reps`) of the bf16 engine's matrix product on n × n
    /// operands: Y = X·Wᵀ through `FastMatrix.apply(…, bf16Bits:)`, the code
    /// and split the engine runs (vdpbf16ps at avx512bf16, widened sgemm below).
    public static func squareGemmSeconds(n: Int, reps: Int, now: () -> Double) -> Double {
        var seed: UInt32 = 12345
        func next() -> Float {   // uniform in [-0.5, 0.5), a bf16 value
            seed = seed &* 1664525 &+ 1013904223
            return roundedToBF16(Float(seed >> 8) / Float(1 << 24) - 0.5)
        }
        let w = FastMatrix<Float>(rows: n, cols: n, storage: .bf16((0..<(n * n)).map { _ in bf16Bits(next()) }), bias: nil)
        let x = (0..<(n * n)).map { _ in next() }
        var y = [Float](repeating: 0, count: n * n)
        var wide = [Float](repeating: 0, count: FastMatrix<Float>.scratchFloats(cols: n))
        var bits = [UInt16](repeating: 0, count: n * n)
        var best = Double.infinity
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            wide.withUnsafeMutableBufferPointer { sp in bits.withUnsafeMutableBufferPointer { bp in
                guard let xb = xp.baseAddress, let yb = yp.baseAddress, let sb = sp.baseAddress, let bb = bp.baseAddress else { return }
                for _ in 0..<max(reps, 1) {
                    let t0 = now()
                    w.apply(xb, ldx: n, count: n, into: yb, ldy: n, scratch: sb, bf16Bits: bb)
                    best = min(best, now() - t0)
                }
            }}
        }}
        return best
    }
}
