// VectorMath: SIMD16<T> building blocks (T = Float or Double) of the Swift
// loops of the fast path (norms, RoPE, residual adds: the loops with no C kernel) — unaligned
// loads/stores, splat, horizontal sum, array maps — and `FastMath`, the
// element-wise C kernels (`hxa_unary`) on arrays.
//
// Contract: every function of `FastMath` is the Float (Double) twin of a scalar in
// Hxa079Reference/Scalar.swift (`sigmoid`, `softplus`, `silu`, RealModule's
// exp/tanh), computed by the C kernels' polynomial approximations (errors in
// ulps measured in Tests/Hxa079FastTests/ElementwiseKernelTests.swift).
// Reassociation and approximation are allowed HERE (fast path), never in the
// reference.
//
// Codegen rules for the Swift loops (the package builds for baseline x86-64:
// SSE2, no FMA): only `*`, `+`, `-` on SIMD vectors, never `addProduct` (a
// libm call per lane without FMA); everything `@inline(__always)` so the
// loops specialise and vectorise.

import CHxa079Kernels

@inline(__always) func load16<T: FastScalar>(_ p: UnsafePointer<T>, _ i: Int) -> SIMD16<T> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<T>.self)
}
@inline(__always) func load16<T: FastScalar>(_ p: UnsafeMutablePointer<T>, _ i: Int) -> SIMD16<T> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<T>.self)
}
@inline(__always) func store16<T: FastScalar>(_ p: UnsafeMutablePointer<T>, _ i: Int, _ v: SIMD16<T>) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD16<T>.self)
}
@inline(__always) func splat<T: FastScalar>(_ x: T) -> SIMD16<T> { SIMD16<T>(repeating: x) }

/// Sum of the 16 lanes by halving (reassociated).
@inline(__always) func hsum<T: FastScalar>(_ v: SIMD16<T>) -> T {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

// MARK: - Array loops (n elements; a scalar tail through a padded SIMD lane set)

/// Applies `f` to x[0..<n] into y[0..<n] (x and y may alias).
@inline(__always)
func mapVector<T: FastScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int, _ f: (SIMD16<T>) -> SIMD16<T>) {
    var i = 0
    while i + 16 <= n {
        store16(y, i, f(load16(x, i)))
        i += 16
    }
    if i < n {
        var tmp = SIMD16<T>()
        for l in 0..<(n - i) { tmp[l] = x[i + l] }
        let r = f(tmp)
        for l in 0..<(n - i) { y[i + l] = r[l] }
    }
}

/// The element-wise C kernels on arrays, for the cross-check tests against
/// the scalar reference functions (at the current kernel level); `apply` on
/// [Double] runs the f64 kernels.
public enum FastMath {
    /// e^x element-wise.
    public static func exp(_ x: [Float]) -> [Float] { apply(HXA_EXP, x) }
    /// σ(x) element-wise.
    public static func sigmoid(_ x: [Float]) -> [Float] { apply(HXA_SIGMOID, x) }
    /// tanh(x) element-wise.
    public static func tanh(_ x: [Float]) -> [Float] { apply(HXA_TANH, x) }
    /// silu(x) element-wise.
    public static func silu(_ x: [Float]) -> [Float] { apply(HXA_SILU, x) }
    /// softplus(x) = −log σ(−x) element-wise.
    public static func softplus(_ x: [Float]) -> [Float] { apply(HXA_SOFTPLUS, x) }

    static func apply<T: FastScalar>(_ op: hxa_unary_op, _ x: [T]) -> [T] {
        var y = [T](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let xb = xp.baseAddress, let yb = yp.baseAddress { T.fastKernels.unary(op, xb, yb, x.count) }
            }
        }
        return y
    }
}
