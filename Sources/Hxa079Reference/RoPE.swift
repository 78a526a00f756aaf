// RoPE: rotary position embedding, rotate-half convention (SPEC.md (3)–(4)).
//
// Contract: readable reference. Applied in RWKV layers only, to r (H heads)
// and k (Hkv heads), at true absolute positions p that continue across calls
// (no clamp). Angles are computed in the run's precision from the integer p.
// `ropePosition` (Hxa079, LongContextOptions.swift) applies RWKV-Infer's clamp
// when a run asks for it (SPEC.md (4a)).

import RealModule

/// The frequencies of one head: inv_freq[j] = θ^(−2j/N), j = 0..<N/2 (SPEC.md (3)),
/// evaluated as 1 / pow(θ, fl(2j/N)) (SPEC.md (3a)).
@inlinable
package func ropeInverseFrequencies<T: ReferenceScalar>(headDim: Int, theta: T) -> [T] {
    (0..<(headDim / 2)).map { j in 1 / T.pow(theta, T(2 * j) / T(headDim)) }
}

/// Rotates every head of one token in place.
///
/// - Parameters:
///   - x: the token's vector viewed as [heads][N]; element (h, n) at offset + h·N + n.
///   - position: the absolute position p of the token.
///   - inverseFrequencies: [N/2] from `ropeInverseFrequencies`.
///   - profile: rounds the cos/sin table entries (a storage point, SPEC.md §4.7).
@inlinable
package func applyRoPE<T: ReferenceScalar>(_ x: inout [T], offset: Int = 0, heads: Int, headDim: Int,
                                         position: Int, inverseFrequencies: [T], profile: PrecisionProfile = .f32) {
    let half = headDim / 2
    for j in 0..<half {
        // (3) angle(p, j) = p · inv_freq[j]
        let angle = T(position) * inverseFrequencies[j]
        let c = profile.rounded(T.cos(angle)), s = profile.rounded(T.sin(angle))
        // (4) out[j] = x1_j cos − x2_j sin ; out[N/2 + j] = x2_j cos + x1_j sin
        for h in 0..<heads {
            let i1 = offset + h * headDim + j
            let i2 = i1 + half
            let x1 = x[i1], x2 = x[i2]
            x[i1] = x1 * c - x2 * s
            x[i2] = x2 * c + x1 * s
        }
    }
}
