// Scalar: the element-wise functions of SPEC.md §0, written once for Float
// and Double.
//
// Contract: readable reference; each function is the formula of SPEC.md §0
// evaluated in the run's precision.

import RealModule

/// The scalar types the reference runs in (Float and Double).
public typealias ReferenceScalar = Real & BinaryFloatingPoint

/// σ(z) = 1 / (1 + e^−z).
@inlinable
package func sigmoid<T: Real>(_ z: T) -> T { 1 / (1 + T.exp(-z)) }

/// softplus(z) = log(1 + e^z), evaluated as max(z, 0) + log1p(e^−|z|), which
/// is the same number without overflow of e^z for large z.
@inlinable
package func softplus<T: Real>(_ z: T) -> T { max(z, 0) + T.log(onePlus: T.exp(-abs(z))) }

/// silu(z) = z·σ(z), evaluated as z / (1 + e^−z) (SPEC.md §0.6).
@inlinable
package func silu<T: Real>(_ z: T) -> T { z / (1 + T.exp(-z)) }

/// c_N = fl(1/√N): √ and the division in binary64, rounded once to T (SPEC.md (21a)).
@inlinable
package func inverseSquareRoot<T: BinaryFloatingPoint>(_ n: Int, as: T.Type = T.self) -> T {
    T(1 / Double(n).squareRoot())
}
