// VectorMath: SIMD16<Float> building blocks of the fast path — unaligned
// loads/stores, branch-free selects, exp, sigmoid, tanh, log-sigmoid, silu —
// and the array-level loops built from them.
//
// Contract: every function here is the Float twin of a scalar in
// Hxa079Reference/Scalar.swift (`sigmoid`, `softplus`, `silu`, RealModule's
// exp/tanh), computed with polynomial approximations (≤ 2 ulp for exp, a few
// ulp for the others over the ranges the model produces; measured in
// Tests/Hxa079FastTests/KernelTests.swift). Reassociation and approximation are
// allowed HERE (fast path), never in the reference.
//
// Codegen rules (the package builds for baseline x86-64: SSE2, no FMA):
// - only `*`, `+`, `-` and integer bit operations on SIMD vectors; never
//   `addProduct` (a libm call per lane without FMA), never float comparisons,
//   `min`/`max`/`clamped`/`replacing(with:where:)` on vectors (the standard
//   library lowers those lane by lane); selects are done on the bit patterns,
//   with masks from the sign bit of a difference;
// - everything `@inline(__always)` so the loops specialise and vectorise.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

typealias F16 = SIMD16<Float>
typealias I16 = SIMD16<Int32>

@inline(__always) func load16(_ p: UnsafePointer<Float>, _ i: Int) -> F16 {
    UnsafeRawPointer(p + i).loadUnaligned(as: F16.self)
}
@inline(__always) func load16(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> F16 {
    UnsafeRawPointer(p + i).loadUnaligned(as: F16.self)
}
@inline(__always) func store16(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ v: F16) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: F16.self)
}
@inline(__always) func splat(_ x: Float) -> F16 { F16(repeating: x) }

@inline(__always) func bitsOf(_ x: F16) -> I16 { unsafeBitCast(x, to: I16.self) }
@inline(__always) func floatsOf(_ x: I16) -> F16 { unsafeBitCast(x, to: F16.self) }

/// All-ones lanes where a < b (exact: the sign of a rounded difference is the
/// sign of the true difference), zero elsewhere; NaN lanes are unspecified.
@inline(__always) func lessMask(_ a: F16, _ b: F16) -> I16 { bitsOf(a - b) &>> 31 }
/// Lane-wise `mask ? a : b` on the bit patterns.
@inline(__always) func select(_ mask: I16, _ a: F16, _ b: F16) -> F16 {
    floatsOf((bitsOf(a) & mask) | (bitsOf(b) & ~mask))
}
/// All-ones lanes where x is NaN.
@inline(__always) func nanMask(_ x: F16) -> I16 {
    (I16(repeating: 0x7F80_0000) &- (bitsOf(x) & I16(repeating: 0x7FFF_FFFF))) &>> 31
}
/// |x| (clears the sign bit).
@inline(__always) func vabs(_ x: F16) -> F16 { floatsOf(bitsOf(x) & I16(repeating: 0x7FFF_FFFF)) }
/// Lane-wise maximum (for finite or infinite lanes).
@inline(__always) func vmax(_ a: F16, _ b: F16) -> F16 { select(lessMask(a, b), b, a) }
/// Lane-wise minimum.
@inline(__always) func vmin(_ a: F16, _ b: F16) -> F16 { select(lessMask(a, b), a, b) }

/// Sum of the 16 lanes by halving (reassociated).
@inline(__always) func hsum(_ v: F16) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// e^x lane-wise: Cody–Waite reduction by ln 2, degree-6 polynomial, 2^n
/// built in two halves so results underflow gracefully down to e^−104.
/// Max error 1 ulp over [−87, 88]; e^(>88.7) = +inf, e^(<−104) = 0, NaN → NaN.
@inline(__always) func vexp(_ x0: F16) -> F16 {
    let lo = splat(-104), hi = splat(89)
    var x = select(lessMask(x0, lo), lo, x0)
    x = select(lessMask(hi, x), hi, x)
    let magic = splat(12_582_912)                         // 1.5·2^23: adding it rounds to an integer
    let shifted = x * splat(1.442_695_04) + magic
    let n = shifted - magic
    let ni = bitsOf(shifted) &- bitsOf(magic)
    var r = x - n * splat(0.693_359_375)
    r = r - n * splat(-2.121_944_4e-4)
    var p = splat(1.987_569_15e-4)
    p = p * r + splat(1.398_199_95e-3)
    p = p * r + splat(8.333_451_9e-3)
    p = p * r + splat(4.166_579_59e-2)
    p = p * r + splat(1.666_666_55e-1)
    p = p * r + splat(5.000_000_12e-1)
    let e = p * (r * r) + r + splat(1)
    let n1 = ni &>> 1, n2 = ni &- n1
    let y = e * floatsOf((n1 &+ 127) &<< 23) * floatsOf((n2 &+ 127) &<< 23)
    return floatsOf(bitsOf(y) | nanMask(x0))
}

/// ln(x) lane-wise for x ≥ 1 (finite): exponent split, mantissa in
/// [√½, √2), degree-8 polynomial. Used for log1p of [0, 1] via `vlog1pUnit`.
@inline(__always) func vlogAtLeastOne(_ x: F16) -> F16 {
    let b = bitsOf(x)
    var e = (b &>> 23) &- 127
    var m = floatsOf((b & I16(repeating: 0x007F_FFFF)) | I16(repeating: 0x3F80_0000))   // [1, 2)
    let big = lessMask(splat(1.414_213_56), m)                                           // m > √2
    m = select(big, m * splat(0.5), m)
    e = e &+ (big & I16(repeating: 1))
    let f = m - splat(1)
    let z = f * f
    var p = splat(7.037_683_6e-2)
    p = p * f + splat(-1.151_461_0e-1)
    p = p * f + splat(1.167_699_9e-1)
    p = p * f + splat(-1.242_014_1e-1)
    p = p * f + splat(1.424_932_3e-1)
    p = p * f + splat(-1.666_805_8e-1)
    p = p * f + splat(2.000_071_5e-1)
    p = p * f + splat(-2.499_999_4e-1)
    p = p * f + splat(3.333_333_1e-1)
    let y = p * f * z - splat(0.5) * z + f
    let ef = F16(e)
    return ef * splat(-2.121_944_4e-4) + y + ef * splat(0.693_359_375)
}

/// log(1 + u) lane-wise for u in [0, 1], with the rounding of 1 + u corrected.
@inline(__always) func vlog1pUnit(_ u: F16) -> F16 {
    let w = splat(1) + u
    let correction = (u - (w - splat(1))) / w
    return vlogAtLeastOne(w) + correction
}

/// σ(z) = 1 / (1 + e^−z).
@inline(__always) func vsigmoid(_ z: F16) -> F16 { splat(1) / (splat(1) + vexp(splat(0) - z)) }

/// silu(z) = z·σ(z).
@inline(__always) func vsilu(_ z: F16) -> F16 { z * vsigmoid(z) }

/// log σ(y) = −softplus(−y) = min(y, 0) − log1p(e^−|y|).
@inline(__always) func vlogSigmoid(_ y: F16) -> F16 {
    vmin(y, splat(0)) - vlog1pUnit(vexp(splat(0) - vabs(y)))
}

/// tanh(z): odd polynomial for |z| < 0.625, 1 − 2/(e^{2|z|} + 1) above, sign restored.
@inline(__always) func vtanh(_ z: F16) -> F16 {
    let a = vabs(z)
    let s = a * a
    var p = splat(-5.704_988_7e-3)
    p = p * s + splat(2.063_908_9e-2)
    p = p * s + splat(-5.373_971_6e-2)
    p = p * s + splat(1.333_144_2e-1)
    p = p * s + splat(-3.333_328_2e-1)
    let small = p * s * a + a
    let large = splat(1) - splat(2) / (vexp(a + a) + splat(1))
    let t = select(lessMask(a, splat(0.625)), small, large)
    return floatsOf(bitsOf(t) | (bitsOf(z) & I16(repeating: Int32(bitPattern: 0x8000_0000))))
}

// MARK: - Array loops (n elements; a scalar tail through a padded SIMD lane set)

/// Applies `f` to x[0..<n] into y[0..<n] (x and y may alias).
@inline(__always)
func mapVector(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (F16) -> F16) {
    var i = 0
    while i + 16 <= n {
        store16(y, i, f(load16(x, i)))
        i += 16
    }
    if i < n {
        var tmp = F16()
        for l in 0..<(n - i) { tmp[l] = x[i + l] }
        let r = f(tmp)
        for l in 0..<(n - i) { y[i + l] = r[l] }
    }
}

/// Applies `f` to pairs (x[i], z[i]) into y[i] (y may alias x or z).
@inline(__always)
func mapVector2(_ x: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                _ f: (F16, F16) -> F16) {
    var i = 0
    while i + 16 <= n {
        store16(y, i, f(load16(x, i), load16(z, i)))
        i += 16
    }
    if i < n {
        var a = F16(), b = F16()
        for l in 0..<(n - i) { a[l] = x[i + l]; b[l] = z[i + l] }
        let r = f(a, b)
        for l in 0..<(n - i) { y[i + l] = r[l] }
    }
}

/// Public array-level entry points, for the cross-check tests against the
/// scalar reference functions.
public enum FastMath {
    /// e^x element-wise.
    public static func exp(_ x: [Float]) -> [Float] { apply(x) { vexp($0) } }
    /// σ(x) element-wise.
    public static func sigmoid(_ x: [Float]) -> [Float] { apply(x) { vsigmoid($0) } }
    /// tanh(x) element-wise.
    public static func tanh(_ x: [Float]) -> [Float] { apply(x) { vtanh($0) } }
    /// silu(x) element-wise.
    public static func silu(_ x: [Float]) -> [Float] { apply(x) { vsilu($0) } }
    /// softplus(x) = −log σ(−x) element-wise.
    public static func softplus(_ x: [Float]) -> [Float] { apply(x) { splat(0) - vlogSigmoid(splat(0) - $0) } }

    static func apply(_ x: [Float], _ f: (F16) -> F16) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let xb = xp.baseAddress, let yb = yp.baseAddress { mapVector(xb, yb, x.count, f) }
            }
        }
        return y
    }
}
