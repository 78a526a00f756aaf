// WKVKernels: the WKV recurrence (SPEC.md (17)–(20)) and its chunked form
// (SPEC.md (40)–(48)) on the fast path: the driver around the C kernels
// (CHxa079Kernels: wkv_body.h, wkv_chunked_body.h), generic over the element
// type (Float: the float kernels, Double: their `_f64` builds).
//
// Contract: the same function as Hxa079Reference `WKV.recurrent` /
// `WKV.chunked` — same inputs r, g (log decay), k̃, v, α, β laid out
// [T][H][K] / [T][H][V], same outputs o [T][H][V] (unscaled), and the public
// entry points keep the canonical state layout S [H][V][K] (row = value
// index i, column = key index j) in and out. Reassociation is allowed here:
//
// - Inside the kernels the state is TRANSPOSED, St [H][K][V]
//   (St[j][i] = S[i][j]): every update and read-out is then a loop over rows j
//   of a vector over the value index i, with no horizontal reductions
//   (`transposeState` converts at the boundary).
// - `hxa_wkv_step_canonical` (T = 1, decode) works on the canonical layout
//   directly, one value row at a time with two dot products, so a decode step
//   needs no transposition of the whole state.
// - The chunked kernel `hxa_wkv_chunked_t`: per chunk all the decays are
//   running products of d (exp(G_i), exp(G_n − G_j) and the relative decays
//   of (41)–(43a) alike, so (47) holds for any g ≤ 0 without an exp of a
//   positive number and without a division), the interaction matrices are
//   formed with lanes over the earlier step (upper-triangle terms never
//   formed), and the state enters through two register-blocked products:
//   [R; O] = [Ad; Qd]·S_0ᵀ, then the forward substitution (44) and the rest
//   of (45), then (46) S_n = S_0·diag(exp G_n) + Vcᵀ·Kt + Saᵀ·Bt. Those
//   products are over half of its time and run near the FMA peak at the AVX
//   levels; the rest is the intra-chunk work and memory: the per-step inputs
//   of a group of heads are gathered once per chunk (a step row of one array
//   is one page at H·K = 1024, so reading it head by head costs a TLB miss per
//   row) and the next block is prefetched while one computes. The heads are
//   split into one contiguous run per core for that reason.
// - Heads are independent: `parallelFor` splits them over the cores when the
//   call is big enough to pay for waking a second thread.

import CHxa079Kernels
import Hxa079

// MARK: - Inputs

/// Pointers to the per-step inputs of one WKV call; element (t, h, j) of a
/// key-sized array is at (t·H + h)·K + j, of a value-sized array (t·H + h)·V + i.
struct WKVArgs<T> {
    var steps: Int
    var heads: Int
    var keySize: Int
    var valueSize: Int
    /// r [T][H][K].
    var r: UnsafePointer<T>
    /// g [T][H][K]: log decay (≤ 0).
    var logDecay: UnsafePointer<T>
    /// d = exp(g) [T][H][K], precomputed by the caller; nil: the kernels
    /// evaluate exp(g) as they go.
    var decay: UnsafePointer<T>?
    /// k̃ [T][H][K].
    var k: UnsafePointer<T>
    /// v [T][H][V].
    var v: UnsafePointer<T>
    /// α [T][H][K].
    var alpha: UnsafePointer<T>
    /// β [T][H][K].
    var beta: UnsafePointer<T>
    /// o [T][H][V], written.
    var out: UnsafeMutablePointer<T>
}

/// Largest chunk the kernel runs; a larger L is run as chunks of this size
/// (the same function, only the rounding differs; bounds the scratch).
let maxKernelChunk = 128

/// Work (multiply-adds) above which a WKV call is split over the cores.
let wkvParallelThreshold = 1 << 18

// MARK: - Layout

/// Transposes every head's N×M block: dst[h][c][r] = src[h][r][c] for src [H][rows][cols].
func transposeState<T>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, heads: Int, rows: Int, cols: Int) {
    let block = 16
    for h in 0..<heads {
        let s = src + h * rows * cols, d = dst + h * rows * cols
        var r0 = 0
        while r0 < rows {
            let r1 = min(r0 + block, rows)
            var c0 = 0
            while c0 < cols {
                let c1 = min(c0 + block, cols)
                for r in r0..<r1 {
                    for c in c0..<c1 { d[c * rows + r] = s[r * cols + c] }
                }
                c0 = c1
            }
            r0 = r1
        }
    }
}

// MARK: - Driver

/// Reusable buffers of the WKV driver (one per model / per public call).
final class WKVWorkspace<T: FastScalar> {
    private(set) var transposed: UnsafeMutablePointer<T>? = nil
    private var transposedCount = 0

    /// Scratch of the chunked kernel, one buffer per worker (pointer, elements).
    private var chunkScratch: [(UnsafeMutablePointer<T>, Int)] = []

    deinit {
        transposed?.deallocate()
        for (p, _) in chunkScratch { p.deallocate() }
    }

    /// At least `floats` elements of scratch private to `worker`, for `hxa_wkv_chunked_t`.
    func chunkScratch(worker: Int, floats: Int) -> UnsafeMutablePointer<T> {
        while chunkScratch.count <= worker {
            chunkScratch.append((UnsafeMutablePointer<T>.allocate(capacity: max(floats, 1)), max(floats, 1)))
        }
        if chunkScratch[worker].1 < floats {
            chunkScratch[worker].0.deallocate()
            chunkScratch[worker] = (UnsafeMutablePointer<T>.allocate(capacity: floats), floats)
        }
        return chunkScratch[worker].0
    }

    func transposedState(count: Int) -> UnsafeMutablePointer<T> {
        if let t = transposed, transposedCount >= count { return t }
        transposed?.deallocate()
        let t = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        transposed = t
        transposedCount = count
        return t
    }
}

/// Runs one WKV call on the canonical state S [H][V][K] (updated in place).
/// chunkSize 0 (or T = 1): the recurrence; L ≥ 1: the chunked form.
/// T = 1 runs on the canonical layout; otherwise the state is transposed in
/// and out around the transposed-layout kernels.
func runWKV<T: FastScalar>(_ a: WKVArgs<T>, state: UnsafeMutablePointer<T>, chunkSize: Int, workspace ws: WKVWorkspace<T>) {
    let H = a.heads, K = a.keySize, V = a.valueSize, steps = a.steps
    guard steps > 0, H > 0 else { return }
    let work = steps * H * K * V
    // more parts than cores (dynamic hand-out), so a busy core does not hold up the call
    let ways = work >= wkvParallelThreshold && workerCount > 1 ? min(H, 4 * workerCount) : 1
    @inline(__always) func range(_ w: Int) -> (Int, Int) { (H * w / ways, H * (w + 1) / ways) }
    let kernels = T.fastKernels
    if steps == 1 {
        parallelFor(ways) { w in
            let (h0, h1) = range(w)
            kernels.wkvStepCanonical(a, state, h0, h1)
        }
        return
    }
    let st = ws.transposedState(count: H * K * V)
    transposeState(state, st, heads: H, rows: V, cols: K)
    if chunkSize <= 0 {
        parallelFor(ways) { w in
            let (h0, h1) = range(w)
            kernels.wkvRecurrentT(a, st, h0, h1)
        }
    } else {
        let L = min(chunkSize, maxKernelChunk, steps)
        // one contiguous run of heads per core: the kernel gathers each step's inputs for
        // a group of heads at once, so larger runs read memory in longer stretches
        let parts = ways > 1 ? min(H, workerCount) : 1
        let floats = kernels.wkvChunkedScratch(L, K, V)
        let scratch = (0..<parts).map { ws.chunkScratch(worker: $0, floats: floats) }
        parallelFor(parts) { w in
            kernels.wkvChunkedT(a, L, st, H * w / parts, H * (w + 1) / parts, scratch[w])
        }
    }
    transposeState(st, state, heads: H, rows: K, cols: V)
}

/// The WKV op on arrays, for tests and benchmarks (the model calls `runWKV`
/// on its own buffers).
public enum FastWKV {
    /// Runs the WKV of `steps` steps (SPEC.md (17)–(20)); the twin of
    /// `WKV.recurrent` (chunkSize 0) and `WKV.chunked` (chunkSize L ≥ 1),
    /// in Float or Double.
    ///
    /// - Parameters: r, logDecay (g = −exp(w) ≤ 0), k (k̃), alpha, beta [T][H][K]; v [T][H][V].
    ///   state: S [H][V][K], updated in place.
    /// - Returns: o [T][H][V], unscaled.
    /// - Throws: `Hxa079Error.invalidArgument` when an array has the wrong length.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func run<T: FastScalar>(steps: Int, heads H: Int, keySize K: Int, valueSize V: Int,
                                          r: [T], logDecay: [T], k: [T], v: [T], alpha: [T], beta: [T],
                                          state: inout [T], chunkSize: Int = 0) throws -> [T] {
        guard steps >= 0, H >= 0, K >= 0, V >= 0 else { throw Hxa079Error.invalidArgument("WKV: negative size") }
        let kn = steps * H * K, vn = steps * H * V
        for (name, arr, n) in [("r", r, kn), ("logDecay", logDecay, kn), ("k", k, kn), ("alpha", alpha, kn),
                               ("beta", beta, kn), ("v", v, vn), ("state", state, H * V * K)] where arr.count != n {
            throw Hxa079Error.invalidArgument("WKV: \(name) has \(arr.count) values, expected \(n)")
        }
        if chunkSize < 0 { throw Hxa079Error.invalidArgument("WKV: chunk size must be ≥ 0, got \(chunkSize)") }
        var out = [T](repeating: .nan, count: vn)
        if vn == 0 { return out }
        let ws = WKVWorkspace<T>()
        r.withUnsafeBufferPointer { rp in logDecay.withUnsafeBufferPointer { gp in k.withUnsafeBufferPointer { kp in
        v.withUnsafeBufferPointer { vp in alpha.withUnsafeBufferPointer { ap in beta.withUnsafeBufferPointer { bp in
        out.withUnsafeMutableBufferPointer { op in
        state.withUnsafeMutableBufferPointer { sp in
            guard let rb = rp.baseAddress, let gb = gp.baseAddress, let kb = kp.baseAddress, let vb = vp.baseAddress,
                  let ab = ap.baseAddress, let bb = bp.baseAddress, let ob = op.baseAddress,
                  let sb = sp.baseAddress else { return }
            // decay nil: the kernels evaluate d = exp(g) (17b) as they go
            let args = WKVArgs(steps: steps, heads: H, keySize: K, valueSize: V, r: rb, logDecay: gb, decay: nil,
                               k: kb, v: vb, alpha: ab, beta: bb, out: ob)
            runWKV(args, state: sb, chunkSize: chunkSize, workspace: ws)
        }}}}}}}}
        return out
    }
}
