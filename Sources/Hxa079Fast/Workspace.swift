// Workspace: the scratch buffers of one FastEngine (elements of T), sized for a number of rows
// (tokens per pass) and reused by every call.
//
// Contract: allocated when a call needs more rows than the current capacity,
// never freed between calls; a decode step (T = 1) therefore allocates no
// scratch. With `poison` set (tests), every buffer is NaN-filled before each
// pass so a stage that forgets to write an element shows up as NaN downstream.

import Hxa079

final class Workspace<T: FastScalar> {
    typealias P = UnsafeMutablePointer<T>

    let rows: Int
    private let block: P
    private let total: Int

    // [rows][C]
    let x: P, h: P, xn: P, mix: P, mlpOut: P
    // [rows][H·N]
    let r: P, w: P, a: P, kH: P, vH: P, kk: P, kS: P, logDecay: P, decay: P, alpha: P, beta: P
    let o: P, bonus: P, gate: P, gated: P
    // [rows][Hkv·N]
    let k: P, v: P, kMix: P, vMix: P, zv: P, zk: P, kFirst: P, vFirst: P
    // [rows][max LoRA width]
    let lora: P
    /// MLP [gate | up] outputs [rows][2I]; silu(gate)·up overwrites the gate half.
    let gu: P
    /// Stacked r/k/v (q/k/v) projection outputs [rows][H·N + 2·Hkv·N].
    let proj: P
    /// bf16 prefill: widened weight blocks.
    let wide: P

    /// The bf16 engine: bits of one matrix product's input [rows][max(C, H·N, I)] (nil otherwise).
    let bits: UnsafeMutablePointer<UInt16>?

    let wkv = WKVWorkspace<T>()
    /// Attention scores of one block of query rows [≤ FastEngine.attentionBlock][P], grown on demand (O(P), not O(T·P)).
    private(set) var scores: P? = nil
    private var scoresCount = 0

    init(rows: Int, config c: ModelConfig, loraWidth: Int, wideFloats: Int, bf16Inputs: Bool = false) {
        self.rows = rows
        if bf16Inputs {
            let n = rows * max(c.hiddenSize, c.attentionWidth, c.intermediateSize) + 64
            let b = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
            b.initialize(repeating: 0, count: n)
            bits = b
        } else {
            bits = nil
        }
        let C = c.hiddenSize, HN = c.attentionWidth, KN = c.kvWidth, I = c.intermediateSize
        var widths: [Int] = Array(repeating: C, count: 5)
        widths += Array(repeating: HN, count: 15)
        widths += Array(repeating: KN, count: 8)
        widths += [max(loraWidth, 1), 2 * I, HN + 2 * KN]
        // Every view padded to a multiple of 16 elements plus 16, so SIMD tails stay inside it.
        var sizes: [Int] = widths.map { (w: Int) -> Int in (rows * w + 31) & ~15 }
        sizes.append((wideFloats + 31) & ~15)
        total = sizes.reduce(0, +)
        block = P.allocate(capacity: total)
        block.initialize(repeating: 0, count: total)
        var views: [P] = []
        var off = 0
        for s in sizes { views.append(block + off); off += s }
        x = views[0]; h = views[1]; xn = views[2]; mix = views[3]; mlpOut = views[4]
        r = views[5]; w = views[6]; a = views[7]; kH = views[8]; vH = views[9]; kk = views[10]; kS = views[11]
        logDecay = views[12]; decay = views[13]; alpha = views[14]; beta = views[15]
        o = views[16]; bonus = views[17]; gate = views[18]; gated = views[19]
        k = views[20]; v = views[21]; kMix = views[22]; vMix = views[23]; zv = views[24]; zk = views[25]
        kFirst = views[26]; vFirst = views[27]
        lora = views[28]; gu = views[29]; proj = views[30]
        wide = views[31]
    }

    deinit {
        block.deallocate()
        scores?.deallocate()
        bits?.deallocate()
    }

    func scoreBuffer(count: Int) -> P {
        if let s = scores, scoresCount >= count { return s }
        scores?.deallocate()
        let s = P.allocate(capacity: max(count, 16) + 16)
        scores = s
        scoresCount = max(count, 16)
        return s
    }

    func poison() {
        block.update(repeating: .nan, count: total)
    }
}
