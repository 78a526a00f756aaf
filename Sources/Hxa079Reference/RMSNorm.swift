// RMSNorm (SPEC.md (2)).
//
// Contract: readable reference. ε (the model's `rms_norm_eps`, 1e-5 for
// Reka, from config.json) sits inside the square root; γ multiplies after
// normalising, in the run's precision.

import RealModule

/// RMSNorm of `count` values at `x[offset]`:
/// y_c = γ_c · (x_c / sqrt(mean_c(x_c²) + ε)).
@inlinable
package func rmsNorm<T: ReferenceScalar>(_ x: [T], offset: Int = 0, count: Int, weight: [T], eps: T) -> [T] {
    // (2) mean of squares, summed left to right
    var sumSquares: T = 0
    for c in 0..<count { sumSquares += x[offset + c] * x[offset + c] }
    let inverseRMS = 1 / (sumSquares / T(count) + eps).squareRoot()
    // (2) normalise, then scale by γ
    var y = [T](repeating: 0, count: count)
    for c in 0..<count { y[c] = weight[c] * (x[offset + c] * inverseRMS) }
    return y
}

/// RMSNorm of every row of X [rows][count] with one γ [count].
@inlinable
package func rmsNormRows<T: ReferenceScalar>(_ x: [T], rows: Int, count: Int, weight: [T], eps: T) -> [T] {
    var y: [T] = []
    y.reserveCapacity(rows * count)
    for t in 0..<rows { y += rmsNorm(x, offset: t * count, count: count, weight: weight, eps: eps) }
    return y
}

/// Per-head RMSNorm in place (SPEC.md (2b)): X [rows][heads][N], every head
/// vector normalised over its N channels with one γ [N] shared by all heads.
@inlinable
package func rmsNormPerHead<T: ReferenceScalar>(_ x: inout [T], rows: Int, heads: Int, headDim: Int, weight: [T], eps: T) {
    for t in 0..<rows {
        for h in 0..<heads {
            let o = (t * heads + h) * headDim
            let y = rmsNorm(x, offset: o, count: headDim, weight: weight, eps: eps)
            for n in 0..<headDim { x[o + n] = y[n] }
        }
    }
}
