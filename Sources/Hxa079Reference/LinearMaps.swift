// LinearMaps: y = x·Wᵀ (+ b) and the low-rank paths x·W1·W2.
//
// Contract: readable reference, strict arithmetic: every dot product is a
// left-to-right sum over the input index, the bias added after the sum.
// No BLAS (the fast path uses it).

import Hxa079

extension Linear {
    /// y [out] = W·x (+ b) for x [in] starting at `x[offset]`.
    /// y[o] = (Σ_i W[o][i]·x[i]) + b[o]
    @inlinable
    public func apply(_ x: [T], offset: Int = 0) -> [T] {
        var y = [T](repeating: 0, count: outFeatures)
        for o in 0..<outFeatures {
            var acc: T = 0
            let row = o * inFeatures
            for i in 0..<inFeatures { acc += weight[row + i] * x[offset + i] }
            if let bias { acc += bias[o] }
            y[o] = acc
        }
        return y
    }

    /// Applies the map to every row of X [T][in]; returns Y [T][out].
    @inlinable
    public func applyRows(_ x: [T], rows: Int) -> [T] {
        var y: [T] = []
        y.reserveCapacity(rows * outFeatures)
        for t in 0..<rows { y += apply(x, offset: t * inFeatures) }
        return y
    }
}

extension LowRank {
    /// u [rank] = x·W1 for x [in] at `x[offset]`: u[d] = Σ_i x[i]·W1[i][d].
    @inlinable
    public func down(_ x: [T], offset: Int = 0) -> [T] {
        var u = [T](repeating: 0, count: rank)
        for d in 0..<rank {
            var acc: T = 0
            for i in 0..<inFeatures { acc += x[offset + i] * down[i * rank + d] }
            u[d] = acc
        }
        return u
    }

    /// y [out] = u·W2 for u [rank]: y[o] = Σ_d u[d]·W2[d][o].
    @inlinable
    public func up(_ u: [T]) -> [T] {
        var y = [T](repeating: 0, count: outFeatures)
        for o in 0..<outFeatures {
            var acc: T = 0
            for d in 0..<rank { acc += u[d] * up[d * outFeatures + o] }
            y[o] = acc
        }
        return y
    }
}
