// Norms: RMSNorm (SPEC.md (2)) and rotate-half RoPE (SPEC.md (3)–(4)) on rows.
//
// Contract: twins of Hxa079Reference `rmsNorm` / `rmsNormRows` and
// `applyRoPE`, generic over the element type T (Float, Double).
// RMSNorm: y_c = γ_c·(x_c·(1/sqrt(mean(x²) + ε))), ε inside the
// root; the sum of squares is reassociated (SIMD16 partial sums). RoPE: the
// cos/sin of angle(p, j) = p·inv_freq_j are computed in Double (a table kept
// across calls, `RoPETable`): for Float with inv_freq = θ^(−2j/N) and rounded
// to Float once, which is more accurate than the Float reference's Float
// angle; for Double with SPEC (3a)'s inv_freq = 1/pow(θ, fl(2j/N)), the
// reference's own evaluation, so the f64 table equals the reference's cos/sin.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hxa079
import SafeTensors

/// Σ x² over n values (reassociated).
@inline(__always) func sumOfSquares<T: FastScalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
    var a0 = SIMD16<T>(), a1 = SIMD16<T>()
    var i = 0
    while i + 32 <= n {
        let u = load16(x, i), v = load16(x, i + 16)
        a0 = a0 + u * u
        a1 = a1 + v * v
        i += 32
    }
    if i + 16 <= n { let u = load16(x, i); a0 = a0 + u * u; i += 16 }
    var s = hsum(a0 + a1)
    while i < n { s = s + x[i] * x[i]; i += 1 }
    return s
}

/// Y [rows][n] = RMSNorm of every row of X [rows][n] with γ [n] (x and y may alias).
func rmsNormRows<T: FastScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, rows: Int, count n: Int,
                                weight: UnsafePointer<T>, eps: T) {
    parallelRows(rows, perRow: n) { t0, t1 in
        for t in t0..<t1 {
            let xr = x + t * n, yr = y + t * n
            let inv = 1 / (sumOfSquares(xr, n) / T(n) + eps).squareRoot()
            let iv = splat(inv)
            var i = 0
            while i + 16 <= n { store16(yr, i, load16(weight, i) * (load16(xr, i) * iv)); i += 16 }
            while i < n { yr[i] = weight[i] * (xr[i] * inv); i += 1 }
        }
    }
}

/// cos/sin of the RoPE angles for positions base..<base + rows: [rows][N/2]
/// each, angle(p, j) = p·inv_freq_j evaluated in Double, rounded to T once
/// (inv_freq as the contract above says).
///
/// The table only grows: a call at positions start..<start + count that ends
/// within `cachedPositions` extends the table from position 0 to its end (the
/// rows already there are kept), so a session computes each position's
/// cos/sin once; beyond that the table holds just the call's positions.
struct RoPETable<T: FastScalar> {
    var cos: [T] = []
    var sin: [T] = []
    var half = 0
    /// First position of row 0.
    var base = 0
    var rows = 0
    var theta = 0.0
    /// The bf16 engine: every cos/sin entry rounded to bf16 (SPEC.md §4.7 point 3).
    var roundsToBF16 = false
    private var inverseFrequencies: [Double] = []
    /// Positions kept from 0 (8192 × 48 pairs = 3 MiB at head_dim 96 in Float).
    static var cachedPositions: Int { 8192 }

    init(start: Int, count: Int, headDim: Int, theta: Double) {
        refill(start: start, count: count, headDim: headDim, theta: theta)
    }

    /// Makes the table cover positions start..<start + count.
    mutating func refill(start: Int, count: Int, headDim: Int, theta: Double) {
        let h = headDim / 2
        if h != half || theta != self.theta || inverseFrequencies.count != h {
            inverseFrequencies = T.self == Double.self
                ? (0..<h).map { j in 1 / pow(theta, Double(2 * j) / Double(headDim)) }   // SPEC (3a), as the reference
                : (0..<h).map { j in pow(theta, -Double(2 * j) / Double(headDim)) }
            half = h
            self.theta = theta
            base = 0
            rows = 0
            cos = []
            sin = []
        }
        if start >= base && start + count <= base + rows { return }
        let end = start + count
        if base == 0 && end <= RoPETable.cachedPositions {
            let old = rows
            cos += [T](repeating: 0, count: (end - old) * h)
            sin += [T](repeating: 0, count: (end - old) * h)
            rows = end
            fill(from: old, to: end)
        } else {
            base = start
            rows = count
            cos = [T](repeating: 0, count: count * h)
            sin = [T](repeating: 0, count: count * h)
            fill(from: 0, to: count)
        }
    }

    /// Computes rows r0..<r1 (positions base + r).
    private mutating func fill(from r0: Int, to r1: Int) {
        let h = half, inv = inverseFrequencies, first = base, bf16 = roundsToBF16
        cos.withUnsafeMutableBufferPointer { cp in sin.withUnsafeMutableBufferPointer { sp in
            guard let cb = cp.baseAddress, let sb = sp.baseAddress else { return }
            parallelRows(r1 - r0, perRow: 8 * h) { t0, t1 in
                for r in (r0 + t0)..<(r0 + t1) {
                    let p = Double(first + r)
                    for j in 0..<h {
                        let angle = p * inv[j]
                        let c = T(Glibc.cos(angle)), s = T(Glibc.sin(angle))
                        cb[r * h + j] = bf16 ? T(roundedToBF16(Float(c))) : c
                        sb[r * h + j] = bf16 ? T(roundedToBF16(Float(s))) : s
                    }
                }
            }
        }}
    }
}

/// Rotates x [rows][heads][N] in place; row t is at position start + t and
/// uses the angles of `ropePosition(start + t, limit:)` (SPEC.md (4a): the
/// position itself when `limit` is nil), which the table must cover
/// (`refill(start:count:…)` first, over the clamped positions).
func applyRoPERows<T: FastScalar>(_ x: UnsafeMutablePointer<T>, rows: Int, heads: Int, headDim N: Int, start: Int,
                                  limit: Int? = nil, table: RoPETable<T>) {
    let half = N / 2
    precondition(ropePosition(start, limit: limit) >= table.base
                 && ropePosition(start + rows - 1, limit: limit) < table.base + table.rows && half == table.half,
                 "RoPE table does not cover the positions")
    table.cos.withUnsafeBufferPointer { cp in
        table.sin.withUnsafeBufferPointer { sp in
            guard let cb = cp.baseAddress, let sb = sp.baseAddress else { return }
            parallelRows(rows, perRow: heads * N) { t0, t1 in
                for t in t0..<t1 {
                    let row = ropePosition(start + t, limit: limit) - table.base
                    let c = cb + row * half, s = sb + row * half
                    for h in 0..<heads {
                        let p = x + (t * heads + h) * N
                        var j = 0
                        while j + 16 <= half {
                            let x1 = load16(p, j), x2 = load16(p, j + half)
                            let cv = load16(c, j), sv = load16(s, j)
                            store16(p, j, x1 * cv - x2 * sv)
                            store16(p, j + half, x2 * cv + x1 * sv)
                            j += 16
                        }
                        while j < half {
                            let x1 = p[j], x2 = p[j + half]
                            p[j] = x1 * c[j] - x2 * s[j]
                            p[j + half] = x2 * c[j] + x1 * s[j]
                            j += 1
                        }
                    }
                }
            }
        }
    }
}

/// Public array-level twins for the cross-check tests (Float or Double).
public enum FastNorms {
    /// RMSNorm of every row of x [rows][count].
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rmsNorm<T: FastScalar>(_ x: [T], rows: Int, count: Int, weight: [T], eps: T) throws -> [T] {
        guard x.count == rows * count, weight.count == count else {
            throw Hxa079Error.invalidArgument("rmsNorm: x has \(x.count) values, weight \(weight.count); expected \(rows * count) and \(count)")
        }
        var y = [T](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            guard let xb = xp.baseAddress, let wb = wp.baseAddress, let yb = yp.baseAddress else { return }
            rmsNormRows(xb, yb, rows: rows, count: count, weight: wb, eps: eps)
        }}}
        return y
    }

    /// RoPE of x [rows][heads][N] where row t is at absolute position start + t.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rope<T: FastScalar>(_ x: [T], rows: Int, heads: Int, headDim: Int, start: Int, theta: Double) throws -> [T] {
        guard x.count == rows * heads * headDim, headDim % 2 == 0 else {
            throw Hxa079Error.invalidArgument("rope: x has \(x.count) values, expected \(rows * heads * headDim) with an even head_dim")
        }
        var y = x
        let table = RoPETable<T>(start: start, count: rows, headDim: headDim, theta: theta)
        y.withUnsafeMutableBufferPointer { yp in
            guard let yb = yp.baseAddress else { return }
            applyRoPERows(yb, rows: rows, heads: heads, headDim: headDim, start: start, table: table)
        }
        return y
    }
}
