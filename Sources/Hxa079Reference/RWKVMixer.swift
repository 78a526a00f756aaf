// RWKVMixer: the hxa079 RWKV time-mixer of one layer (SPEC.md (5)–(24)).
//
// Contract: readable reference, strict arithmetic, stage by stage over the
// T tokens of a call so that every stage is one named checkpoint (SPEC.md §4).
// The WKV itself is WKV.recurrent (or WKV.chunked when a chunk size is set).
//
// Index conventions in this file: t token of the call (0..<T), h head
// (0..<H), g KV head (0..<Hkv), n channel within a head (0..<N), c channel of
// the residual stream (0..<C). Arrays named […] below are row-major.

import Hxa079
import RealModule

/// k_first and v_first of the current call (SPEC.md (8)): captured by the
/// first RWKV layer in layer order, read by every later RWKV layer.
public struct FirstLayerValues<T: BinaryFloatingPoint> {
    /// k_first [T][Hkv][N] (after the optional k norm and RoPE).
    public var k: [T]
    /// v_first [T][Hkv][N].
    public var v: [T]
}

extension RWKVWeights where T: ReferenceScalar {
    /// Runs the mixer on the normed input of one call.
    ///
    /// - Parameters:
    ///   - x: x̂ [T][C], the block's RMSNorm(x; ln1) (SPEC.md (33)).
    ///   - position: absolute position of the call's first token.
    ///   - state: S [H][N value][N key], updated in place.
    ///   - first: nil before the first RWKV layer; set by it, read by the rest.
    /// - Returns: the mixer output [T][C] (SPEC.md (24)), before the residual add.
    func forward(_ x: [T], tokens: Int, layer: Int, config: ModelConfig, position: Int,
                 state: inout WKVState<T>, first: inout FirstLayerValues<T>?,
                 options: ForwardOptions, observer: (any CheckpointObserver)?) throws -> [T] {
        let mutant = options.mutant, profile = options.profile
        let C = config.hiddenSize, H = config.numHeads, N = config.headDim, Hkv = config.numKVHeads
        let G = config.groupSize
        let eps = T(config.rmsNormEps)
        let name = { (leaf: String) in CheckpointName.rwkv(layer, leaf) }

        // (5) projections: r [T][H·N], k [T][Hkv·N], v [T][Hkv·N]
        var r = receptance.applyRows(x, rows: tokens)
        var k = key.applyRows(x, rows: tokens)
        var v = value.applyRows(x, rows: tokens)
        profile.storeIntermediate(&r)
        profile.storeIntermediate(&k)

        // (6) optional per-head RMSNorm of r and k (one γ [N] shared by the heads)
        if let rNorm { rmsNormPerHead(&r, rows: tokens, heads: H, headDim: N, weight: rNorm, eps: eps); profile.storeIntermediate(&r) }
        if let kNorm { rmsNormPerHead(&k, rows: tokens, heads: Hkv, headDim: N, weight: kNorm, eps: eps); profile.storeIntermediate(&k) }

        let kBeforeRoPE: [T]? = mutant == .kFirstBeforeRoPE ? k : nil   // MUTANT k_first_before_rope only
        // (7) RoPE on r (H heads) and k (Hkv heads) at p = position + t (clamped only on request, (4a))
        let invFreq = ropeInverseFrequencies(headDim: N, theta: T(config.ropeTheta))
        for t in 0..<tokens {
            let p = ropePosition(position + t, limit: options.ropePositionLimit)
            applyRoPE(&r, offset: t * H * N, heads: H, headDim: N, position: p, inverseFrequencies: invFreq, profile: profile)
            applyRoPE(&k, offset: t * Hkv * N, heads: Hkv, headDim: N, position: p, inverseFrequencies: invFreq, profile: profile)
        }
        profile.store(&r)
        profile.store(&k)
        profile.store(&v)
        try observer.record(name("r"), shape: [tokens, H, N], &r)
        try observer.record(name("k"), shape: [tokens, Hkv, N], &k)
        try observer.record(name("v"), shape: [tokens, Hkv, N], &v)

        // (8)–(10) the first RWKV layer captures k_first/v_first; later layers
        // mix toward them in KV-head space, before the expansion.
        var kMixed = k, vMixed = v
        if let firstValues = first {
            if let valueGate {
                for t in 0..<tokens {
                    // (9) v ← v + (v_first − v) ⊙ σ(v0 + x̂·v1·v2)
                    var u = valueGate.lora.down(x, offset: t * C)
                    profile.storeIntermediate(&u)
                    var z = valueGate.lora.up(u)
                    profile.storeIntermediate(&z)
                    for i in 0..<(Hkv * N) {
                        let o = t * Hkv * N + i
                        let gateValue = sigmoid(valueGate.bias[i] + z[i])
                        vMixed[o] = v[o] + (firstValues.v[o] - v[o]) * gateValue
                    }
                }
            }
            if let keyGate {
                for t in 0..<tokens {
                    // (10) k ← k + (k_first − k) ⊙ σ(k0 + x̂·k1·k2)
                    var u = keyGate.lora.down(x, offset: t * C)
                    profile.storeIntermediate(&u)
                    var z = keyGate.lora.up(u)
                    profile.storeIntermediate(&z)
                    for i in 0..<(Hkv * N) {
                        let o = t * Hkv * N + i
                        let gateValue = sigmoid(keyGate.bias[i] + z[i])
                        kMixed[o] = k[o] + (firstValues.k[o] - k[o]) * gateValue
                    }
                }
            }
        } else {
            first = FirstLayerValues(k: kBeforeRoPE ?? k, v: v)   // MUTANT k_first_before_rope: kBeforeRoPE
        }
        profile.store(&kMixed)
        profile.store(&vMixed)
        try observer.record(name("k_mixed"), shape: [tokens, Hkv, N], &kMixed)
        try observer.record(name("v_mixed"), shape: [tokens, Hkv, N], &vMixed)

        // (11) expansion to H heads: head h reads KV head ⌊h/G⌋ (repeat_interleave)
        var kH = [T](repeating: 0, count: tokens * H * N)   // [T][H][N]
        var vH = [T](repeating: 0, count: tokens * H * N)   // [T][H][N]
        for t in 0..<tokens {
            for h in 0..<H {
                let g = mutant == .kvHeadsTiled ? h % Hkv : h / G   // MUTANT kv_heads_tiled: h mod Hkv
                for n in 0..<N {
                    kH[(t * H + h) * N + n] = kMixed[(t * Hkv + g) * N + n]
                    vH[(t * H + h) * N + n] = vMixed[(t * Hkv + g) * N + n]
                }
            }
        }

        // (14) w = −softplus(−(w0 + tanh(x̂·w1)·w2)) − 0.5 and (13) a = σ(a0 + x̂·a1·a2), [T][H·N]
        var w = [T](repeating: 0, count: tokens * H * N)
        var a = [T](repeating: 0, count: tokens * H * N)
        // MUTANT truncated_exp_half only: z = w0 + tanh(x̂·w1)·w2 [T][H·N], kept for its log decay
        var zForMutant: [T]? = mutant == .truncatedExpHalf ? [T](repeating: 0, count: tokens * H * N) : nil
        for t in 0..<tokens {
            var u = decayLoRA.down(x, offset: t * C)
            profile.storeIntermediate(&u)
            for d in 0..<u.count { u[d] = T.tanh(u[d]) }
            profile.storeIntermediate(&u)
            var zw = decayLoRA.up(u)
            profile.storeIntermediate(&zw)
            var ua = iclrLoRA.down(x, offset: t * C)
            profile.storeIntermediate(&ua)
            var za = iclrLoRA.up(ua)
            profile.storeIntermediate(&za)
            for i in 0..<(H * N) {
                let z = w0[i] + zw[i]
                zForMutant?[t * H * N + i] = z
                w[t * H * N + i] = -softplus(-z) - T(0.5)
                a[t * H * N + i] = sigmoid(a0[i] + za[i])
            }
        }
        profile.store(&w)
        profile.store(&a)
        try observer.record(name("w"), shape: [tokens, H, N], &w)
        try observer.record(name("a"), shape: [tokens, H, N], &a)

        // (12) kk_h = k_h / max(‖k_h‖₂, 1e-12), from the unscaled expanded k.
        // ε = 1e-12 is PyTorch F.normalize's default, used by RWKV-Infer.
        let l2Epsilon = T(1e-12)
        var kk = [T](repeating: 0, count: tokens * H * N)
        for t in 0..<tokens {
            for h in 0..<H {
                let o = (t * H + h) * N
                var sumSquares: T = 0
                for n in 0..<N { sumSquares += kH[o + n] * kH[o + n] }
                let norm = max(sumSquares.squareRoot(), l2Epsilon)
                for n in 0..<N { kk[o + n] = kH[o + n] / norm }
            }
        }
        profile.store(&kk)
        // (17) log-decay g = −exp(w) and decay d = exp(g) = exp(−exp(w))
        var logDecay = [T](repeating: 0, count: tokens * H * N)
        var decay = [T](repeating: 0, count: tokens * H * N)
        for i in 0..<decay.count {
            logDecay[i] = -T.exp(w[i])
            if let z = zForMutant { logDecay[i] = -T(0.606531) * sigmoid(z[i]) }   // MUTANT truncated_exp_half
        }
        profile.store(&logDecay)   // g as handed to the WKV kernel
        for i in 0..<decay.count { decay[i] = T.exp(logDecay[i]) }
        profile.store(&decay)
        // (15) k̃ = k ⊙ (1 − w + a), w being the pre-exp value of (14)
        var kScaled = [T](repeating: 0, count: tokens * H * N)
        for i in 0..<kScaled.count { kScaled[i] = kH[i] * (1 - w[i] + a[i]) }
        if mutant == .kScaledWithDecay { for i in 0..<kScaled.count { kScaled[i] = kH[i] * (1 - decay[i] + a[i]) } }   // MUTANT k_scaled_with_decay
        profile.store(&kScaled)
        try observer.record(name("kk"), shape: [tokens, H, N], &kk)
        try observer.record(name("k_scaled"), shape: [tokens, H, N], &kScaled)
        try observer.record(name("decay"), shape: [tokens, H, N], &decay)   // reported; the WKV reads g, made from w

        // (16) α = −kk, β = kk ⊙ a
        var alpha = [T](repeating: 0, count: tokens * H * N)
        var beta = [T](repeating: 0, count: tokens * H * N)
        for i in 0..<alpha.count {
            alpha[i] = -kk[i]
            beta[i] = kk[i] * a[i]
        }
        profile.store(&alpha)   // the kernel's inputs r, g, k̃, v, α, β are all stored
        profile.store(&beta)

        // (18)–(20) the WKV recurrence (or its chunked form, (40)–(49))
        let input = WKVInput(steps: tokens, heads: H, keySize: N, valueSize: N,
                             r: r, logDecay: logDecay, k: kScaled, v: vH, alpha: alpha, beta: beta)
        if mutant == .transposedState { MutantWKV.transposeHeads(&state.values, heads: H, size: N) }   // MUTANT transposed_state
        var o: [T]
        let stateReport = observer.stateCheckpoints
        var tokenStates: [[T]] = []   // the state after each token, when the observer asks for it
        if let mutant, mutant == .removalFromDecayedState || mutant == .readoutFromOldState {
            o = MutantWKV.recurrent(input, state: &state.values, mutant: mutant)   // MUTANT removal_from_decayed_state, readout_from_old_state
        } else if options.chunkSize > 0 {
            o = WKV.chunked(input, chunkSize: options.chunkSize, state: &state.values)
        } else if stateReport == .perToken || profile.stateRounding == .perToken {
            // One step per call of the same recurrence: bitwise the same values (SPEC.md §4.5).
            var rows: [T] = []
            for t in 0..<tokens {
                rows += WKV.recurrent(input.step(t), state: &state.values)
                profile.storeTokenState(&state.values)   // variant: the state stored after every token
                if stateReport == .perToken { tokenStates.append(state.values) }
            }
            o = rows
        } else {
            o = WKV.recurrent(input, state: &state.values)
        }
        profile.store(&state.values)   // the state a call carries is stored in the format
        if !tokenStates.isEmpty { tokenStates[tokenStates.count - 1] = state.values }
        profile.store(&o)
        if stateReport != .none {   // state.layers.{i}.wkv, just before rwkv.wkv (SPEC.md §4.2, §4.4)
            for s in tokenStates.isEmpty ? [state.values] : tokenStates {
                try observer.record(CheckpointName.stateWKV(layer), shape: [H, N, N], s)
            }
        }
        try observer.record(name("wkv"), shape: [tokens, H, N], &o)

        // (22) bonus_h = (Σ_n r_{h,n}·k̃_{h,n}·r_k[h,n])·v_h
        var bonus = [T](repeating: 0, count: tokens * H * N)
        for t in 0..<tokens {
            for h in 0..<H {
                let off = (t * H + h) * N
                var s: T = 0
                for n in 0..<N { s += r[off + n] * kScaled[off + n] * rK[h * N + n] }
                for n in 0..<N { bonus[off + n] = s * vH[off + n] }
            }
        }
        profile.store(&bonus)
        try observer.record(name("bonus"), shape: [tokens, H, N], &bonus)

        // (23) gate = σ(x̂·g1)·g2
        var gate = [T](repeating: 0, count: tokens * H * N)
        for t in 0..<tokens {
            var u = gateLoRA.down(x, offset: t * C)
            profile.storeIntermediate(&u)
            for d in 0..<u.count { u[d] = sigmoid(u[d]) }
            profile.storeIntermediate(&u)
            let z = gateLoRA.up(u)
            for i in 0..<(H * N) { gate[t * H * N + i] = z[i] }
        }
        profile.store(&gate)
        try observer.record(name("gate"), shape: [tokens, H, N], &gate)

        // (21) y = o·N^−½, (22) y += bonus, (24) out = (y ⊙ gate)·Woᵀ (+ bo)
        let scale: T = mutant == .wkvScaleMissing ? 1 : inverseSquareRoot(N)   // c_N, SPEC.md (21a); MUTANT wkv_scale_missing: 1
        var gated = [T](repeating: 0, count: tokens * H * N)
        for i in 0..<gated.count { gated[i] = (o[i] * scale + bonus[i]) * gate[i] }
        profile.storeIntermediate(&gated)
        var out = output.applyRows(gated, rows: tokens)
        profile.store(&out)
        try observer.record(name("mixer_out"), shape: [tokens, C], &out)
        return out
    }
}

extension WKVInput {
    /// Step `t` alone, as a one-step input.
    fileprivate func step(_ t: Int) -> WKVInput {
        let kr = (t * heads * keySize)..<((t + 1) * heads * keySize)
        let vr = (t * heads * valueSize)..<((t + 1) * heads * valueSize)
        return WKVInput(steps: 1, heads: heads, keySize: keySize, valueSize: valueSize, r: Array(r[kr]),
                        logDecay: Array(logDecay[kr]), k: Array(k[kr]), v: Array(v[vr]), alpha: Array(alpha[kr]), beta: Array(beta[kr]))
    }
}
