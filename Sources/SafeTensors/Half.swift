// Half.swift — exact bfloat16 and IEEE binary16 conversions done on bit patterns.
//
// Contract:
// - `floatFromBF16` and `floatFromF16` are exact (every bf16/f16 value is a
//   Float), including signed zeros, f16 subnormals, infinities and NaN payloads
//   (a NaN stays NaN with its sign and payload bits shifted into place).
// - `bf16Bits` and `f16Bits` round to nearest, ties to even; overflow goes to
//   ±infinity, underflow to ±0 (f16: through the subnormal range); NaN stays a
//   quiet NaN with the sign kept.
// - Nothing here uses the `Float16` type, so results do not depend on the
//   target CPU or on compiler-rt.

/// bfloat16 bits → Float. Exact: bf16 is the top half of a binary32.
@inlinable
public func floatFromBF16(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Float → bfloat16 bits, round to nearest even. NaN stays (quiet) NaN.
///
/// The rounding adds `0x7FFF + lsb` to the 32-bit pattern and keeps the top
/// 16 bits: below the halfway point nothing carries, above it one carries, and
/// exactly at it the carry happens only when the kept lsb is 1 (ties to even).
/// A carry out of the mantissa correctly bumps the exponent, up to infinity.
@inlinable
public func bf16Bits(_ x: Float) -> UInt16 {
    let u = x.bitPattern
    if x.isNaN {
        // Keep sign and top payload bits, force the quiet bit so truncation can
        // never turn a NaN into an infinity.
        return UInt16(truncatingIfNeeded: u >> 16) | 0x0040
    }
    let lsb = (u >> 16) & 1
    return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ lsb) >> 16)
}

/// IEEE binary16 bits → Float. Exact for every pattern.
@inlinable
public func floatFromF16(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits) & 0x3FF
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24, exact in Float (a normal Float).
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    if exponent == 0x1F {
        // Infinity (mantissa 0) or NaN (payload moved to the top of Float's).
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    // Normal: rebias exponent 15 → 127.
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Float → IEEE binary16 bits, round to nearest even (overflow → ±inf,
/// results below half the smallest subnormal → ±0). NaN stays quiet NaN.
@inlinable
public func f16Bits(_ x: Float) -> UInt16 {
    let u = x.bitPattern
    let sign = UInt16(truncatingIfNeeded: (u >> 16) & 0x8000)
    let magnitude = u & 0x7FFF_FFFF
    if magnitude > 0x7F80_0000 {
        // NaN: quiet bit plus the top payload bits.
        return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
    }
    if magnitude >= 0x477F_F000 {
        // ≥ 65520 = halfway between 65504 (largest f16, odd mantissa 0x3FF) and
        // 2^16: ties go to the even neighbour 2^16, i.e. infinity.
        return sign | 0x7C00
    }
    if magnitude >= 0x3880_0000 {
        // Normal f16 range (≥ 2^-14): rebias 127 → 15, drop 13 mantissa bits.
        var h = (magnitude >> 13) &- (112 << 10)
        let rest = magnitude & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) { h &+= 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }
    // Subnormal f16 (or zero): result = round(|x| × 2^24), at most 1024, which
    // is exactly the encoding of the smallest normal when it rounds up.
    let biased = magnitude >> 23
    if biased == 0 { return sign }  // Float zero or subnormal: far below 2^-25
    let significand = (magnitude & 0x7F_FFFF) | 0x80_0000  // value = sig × 2^(biased-150)
    let shift = 126 &- biased  // |x| × 2^24 = sig × 2^-(126 - biased); here ≥ 14
    if shift >= 25 { return sign }  // < 0.5 ulp of the smallest subnormal
    let q = significand >> shift
    let rest = significand & ((1 << shift) &- 1)
    let half: UInt32 = 1 << (shift &- 1)
    var h = q
    if rest > half || (rest == half && (q & 1) == 1) { h &+= 1 }
    return sign | UInt16(truncatingIfNeeded: h)
}

/// `x` rounded to the nearest bfloat16 value, ties to even (the value a bf16
/// store keeps, as a Float): `floatFromBF16(bf16Bits(x))`. Idempotent.
@inlinable
public func roundedToBF16(_ x: Float) -> Float { floatFromBF16(bf16Bits(x)) }

/// `x` rounded to the nearest IEEE binary16 value, ties to even, overflow to
/// ±infinity (the value an f16 store keeps, as a Float):
/// `floatFromF16(f16Bits(x))`. Idempotent.
@inlinable
public func roundedToF16(_ x: Float) -> Float { floatFromF16(f16Bits(x)) }

/// `x` rounded directly from binary64 to the nearest bfloat16 value, ties to
/// even, overflow to ±infinity: one rounding (going through Float would round
/// twice). Equals `Double(roundedToBF16(Float(x)))` whenever `x` is a Float.
@inlinable
public func roundedToBF16(_ x: Double) -> Double {
    roundedToFormat(x, significandBits: 8, minExponent: -126, maxFinite: 0x1.FEp127)
}

/// `x` rounded directly from binary64 to the nearest IEEE binary16 value,
/// ties to even, through its subnormals, overflow to ±infinity.
@inlinable
public func roundedToF16(_ x: Double) -> Double {
    roundedToFormat(x, significandBits: 11, minExponent: -14, maxFinite: 65504)
}

/// Round to nearest even onto the grid of a binary format with `p`
/// significand bits (the leading one included) and smallest normal exponent
/// `emin`: the grid step at x is 2^(max(⌊log2|x|⌋, emin) − p + 1), so the
/// subnormals share the step of the smallest binade. A result above
/// `maxFinite` overflowed (it is 2^(emax+1)): ±infinity, as IEEE's
/// round-to-nearest does from maxFinite + ½ulp on. NaN, ±∞ and ±0 are kept.
@inlinable
func roundedToFormat(_ x: Double, significandBits p: Int, minExponent emin: Int, maxFinite: Double) -> Double {
    guard x.isFinite, x != 0 else { return x }
    let e = max(Int(x.exponent), emin)
    let step = Double(sign: .plus, exponent: e - (p - 1), significand: 1)
    let r = (x / step).rounded(.toNearestOrEven) * step   // both products exact: powers of two
    if abs(r) > maxFinite { return r < 0 ? -.infinity : .infinity }
    return r
}
