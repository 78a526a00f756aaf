// MLP: the SwiGLU feed-forward block (SPEC.md (32)).
//
// Contract: readable reference, strict arithmetic.

import Hxa079
import RealModule

extension MLPWeights where T: ReferenceScalar {
    /// MLP(u) = (silu(u·Wgateᵀ) ⊙ (u·Wupᵀ))·Wdownᵀ for every row of U [rows][C];
    /// returns [rows][C].
    @inlinable
    public func apply(_ u: [T], rows: Int) -> [T] {
        let C = gate.inFeatures, I = gate.outFeatures
        var out: [T] = []
        out.reserveCapacity(rows * C)
        for t in 0..<rows {
            let g = gate.apply(u, offset: t * C)     // [I]
            let v = up.apply(u, offset: t * C)       // [I]
            // (32) h_m = silu(g_m) · v_m
            var h = [T](repeating: 0, count: I)
            for m in 0..<I { h[m] = silu(g[m]) * v[m] }
            out += down.apply(h)                     // [C]
        }
        return out
    }
}
