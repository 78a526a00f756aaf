// MLP: the SwiGLU feed-forward block (SPEC.md (32)).
//
// Contract: readable reference, strict arithmetic.

import Hxa079
import RealModule

extension MLPWeights where T: ReferenceScalar {
    /// MLP(u) = (silu(u·Wgateᵀ) ⊙ (u·Wupᵀ))·Wdownᵀ for every row of U [rows][C];
    /// returns [rows][C]. `profile` rounds the intermediates g, v, h only in
    /// its every-intermediate variant (SPEC.md §4.7); the output is the caller's.
    @inlinable
    public func apply(_ u: [T], rows: Int, profile: PrecisionProfile = .f32) -> [T] {
        let C = gate.inFeatures, I = gate.outFeatures
        var out: [T] = []
        out.reserveCapacity(rows * C)
        for t in 0..<rows {
            var g = gate.apply(u, offset: t * C)     // [I]
            var v = up.apply(u, offset: t * C)       // [I]
            profile.storeIntermediate(&g)
            profile.storeIntermediate(&v)
            // (32) h_m = silu(g_m) · v_m
            var h = [T](repeating: 0, count: I)
            for m in 0..<I { h[m] = silu(g[m]) * v[m] }
            profile.storeIntermediate(&h)
            out += down.apply(h)                     // [C]
        }
        return out
    }
}
