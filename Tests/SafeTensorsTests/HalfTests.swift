// HalfTests.swift — bf16 and f16 conversions: exhaustive round trips over all
// 65536 patterns, exhaustive tie checks at every rounding midpoint, hand-picked
// ties with their derivations, and a cross-check of f16 against the Float16
// type (used only here, as an independent implementation).
import Testing
@testable import SafeTensors

@Suite struct HalfTests {
    @Test func everyBF16PatternRoundTrips() {
        var failures: [UInt16] = []
        for b in 0...UInt16.max {
            let x = floatFromBF16(b)
            // bf16 is the top half of a binary32, so the conversion is a shift.
            if x.bitPattern != UInt32(b) << 16 { failures.append(b) }
            if x.isNaN {
                let back = bf16Bits(x)
                if !floatFromBF16(back).isNaN || (back & 0x8000) != (b & 0x8000) { failures.append(b) }
            } else if bf16Bits(x) != b {
                failures.append(b)
            }
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5))")
    }

    @Test func everyF16PatternRoundTrips() {
        var failures: [UInt16] = []
        for h in 0...UInt16.max {
            let x = floatFromF16(h)
            if x.isNaN {
                let back = f16Bits(x)
                if !floatFromF16(back).isNaN || (back & 0x8000) != (h & 0x8000) { failures.append(h) }
            } else if f16Bits(x) != h {
                failures.append(h)
            }
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5))")
    }

    #if arch(x86_64) || arch(arm64)
    @Test func f16DecodeMatchesFloat16Type() {
        var failures: [UInt16] = []
        for h in 0...UInt16.max {
            let mine = floatFromF16(h)
            let theirs = Float(Float16(bitPattern: h))
            if mine.isNaN ? !theirs.isNaN : mine.bitPattern != theirs.bitPattern { failures.append(h) }
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5))")
    }

    /// Every f16 rounding midpoint (and its two Float neighbours), plus a
    /// spread of 2^20 Float patterns, against Float16's own conversion.
    @Test func f16EncodeMatchesFloat16Type() {
        var inputs: [Float] = []
        for h in UInt16(0)..<0x7C00 {  // all finite non-negative f16 values
            let lo = Double(floatFromF16(h))
            let hi = h == 0x7BFF ? 65536.0 : Double(floatFromF16(h + 1))
            let mid = Float((lo + hi) / 2)  // exact: a midpoint needs 12 significant bits
            for x in [mid.nextDown, mid, mid.nextUp, Float(lo)] { inputs.append(x); inputs.append(-x) }
        }
        var bits: UInt32 = 0
        for _ in 0..<(1 << 20) { inputs.append(Float(bitPattern: bits)); bits &+= 4093 }
        var failures: [Float] = []
        for x in inputs where !x.isNaN {
            if f16Bits(x) != Float16(x).bitPattern { failures.append(x) }
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5).map(\.bitPattern))")
    }
    #endif

    /// Every bf16 midpoint: for each finite bf16 value b, the Float exactly
    /// halfway to the next one is (b << 16) | 0x8000. Just below rounds to b,
    /// just above to b + 1, and the midpoint itself to whichever is even.
    @Test func bf16EveryMidpointRoundsToNearestEven() {
        var failures: [UInt32] = []
        for b in UInt16(0)..<0x7F80 {
            for sign: UInt32 in [0, 0x8000_0000] {
                let mid = sign | (UInt32(b) << 16) | 0x8000
                let even = (b & 1) == 0 ? b : b + 1
                let s = UInt16(sign >> 16)
                if bf16Bits(Float(bitPattern: mid - 1)) != s | b { failures.append(mid - 1) }
                if bf16Bits(Float(bitPattern: mid)) != s | even { failures.append(mid) }
                if bf16Bits(Float(bitPattern: mid + 1)) != s | (b + 1) { failures.append(mid + 1) }
            }
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5))")
    }

    @Test func bf16HandPickedTies() {
        // bf16 keeps 7 fraction bits, so near 1.0 its spacing is 2^-7.
        // 1 + 2^-8 (0x3F80_8000) is halfway between 1.0 (0x3F80, even) and
        // 1 + 2^-7 (0x3F81, odd): ties to even → 0x3F80.
        #expect(bf16Bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2^-8 is halfway between 0x3F81 (odd) and 1 + 2^-6 (0x3F82) → 0x3F82.
        #expect(bf16Bits(1 + 3 * 0x1p-8) == 0x3F82)
        // One Float ulp above the tie is nearer the upper neighbour → 0x3F81.
        #expect(bf16Bits((1 + 0x1p-8 as Float).nextUp) == 0x3F81)
        #expect(bf16Bits(-(1 + 0x1p-8)) == 0xBF80)
        // 0.1f = 0x3DCC_CCCD: the dropped half 0xCCCD > 0x8000 rounds up → 0x3DCD.
        #expect(bf16Bits(0.1) == 0x3DCD)
        // Float.greatestFiniteMagnitude = 0x7F7F_FFFF lies above the midpoint
        // 0x7F7F_8000 between bf16 max (0x7F7F) and 2^128 → overflows to +inf.
        #expect(bf16Bits(.greatestFiniteMagnitude) == 0x7F80)
        // Float subnormal 0x0000_8000 is halfway between 0 and 0x0001 → 0.
        #expect(bf16Bits(Float(bitPattern: 0x0000_8000)) == 0x0000)
        // 0x0001_8000 is halfway between 0x0001 (odd) and 0x0002 → 0x0002.
        #expect(bf16Bits(Float(bitPattern: 0x0001_8000)) == 0x0002)
        #expect(bf16Bits(.infinity) == 0x7F80 && bf16Bits(-.infinity) == 0xFF80)
        #expect(bf16Bits(-0.0) == 0x8000)
        // A signalling NaN whose payload lives only in the low 16 bits would
        // truncate to an infinity; the quiet bit keeps it a NaN.
        #expect(floatFromBF16(bf16Bits(Float(bitPattern: 0x7F80_0001))).isNaN)
        #expect(floatFromBF16(bf16Bits(Float(bitPattern: 0xFF80_0001))).sign == .minus)
    }

    @Test func f16HandPickedTies() {
        // f16 keeps 10 fraction bits; near 1.0 the spacing is 2^-10.
        // 1 + 2^-11 is halfway between 1.0 (0x3C00, even) and 0x3C01 → 0x3C00.
        #expect(f16Bits(1 + 0x1p-11) == 0x3C00)
        // 1 + 3·2^-11 is halfway between 0x3C01 (odd) and 0x3C02 → 0x3C02.
        #expect(f16Bits(1 + 3 * 0x1p-11) == 0x3C02)
        #expect(f16Bits((1 + 0x1p-11 as Float).nextUp) == 0x3C01)
        // Largest finite f16 is 65504 (0x7BFF, odd); the next step would be
        // 65536, so 65520 is the midpoint and ties to the even side: +inf.
        #expect(f16Bits(65520) == 0x7C00)
        #expect(f16Bits(Float(65520).nextDown) == 0x7BFF)
        #expect(f16Bits(65504) == 0x7BFF)
        // Smallest subnormal is 2^-24 (0x0001). 2^-25 is halfway between 0 and
        // it → 0 (even); anything above 2^-25 → 0x0001.
        #expect(f16Bits(0x1p-25) == 0x0000)
        #expect(f16Bits(Float(0x1p-25).nextUp) == 0x0001)
        // 3·2^-25 is halfway between 0x0001 (odd) and 0x0002 → 0x0002.
        #expect(f16Bits(3 * 0x1p-25) == 0x0002)
        // 1023.5·2^-24 is halfway between the largest subnormal 0x03FF (odd)
        // and the smallest normal 2^-14 (0x0400) → 0x0400: the carry out of
        // the subnormal mantissa lands exactly on the normal encoding.
        #expect(f16Bits(1023.5 * 0x1p-24) == 0x0400)
        #expect(f16Bits(0x1p-14) == 0x0400)
        // 1/3 = 0x3EAA_AAAB: the dropped 13 bits 0x0AAB < 0x1000 → truncates to 0x3555.
        #expect(f16Bits(1.0 / 3.0) == 0x3555)
        // 0.1f = 0x3DCC_CCCD → 0x2E66 (dropped bits 0x0CCD < 0x1000).
        #expect(f16Bits(0.1) == 0x2E66)
        #expect(f16Bits(-0.0) == 0x8000)
        #expect(f16Bits(.infinity) == 0x7C00 && f16Bits(-.infinity) == 0xFC00)
        #expect(f16Bits(.leastNonzeroMagnitude) == 0x0000)
        #expect(floatFromF16(f16Bits(Float(bitPattern: 0x7F80_0001))).isNaN)
        // Subnormal decode: 0x0001 = 2^-24, 0x03FF = 1023·2^-24, negative too.
        #expect(floatFromF16(0x0001) == 0x1p-24)
        #expect(floatFromF16(0x83FF) == -1023 * 0x1p-24)
        #expect(floatFromF16(0x7BFF) == 65504)
        #expect(floatFromF16(0x7C00) == .infinity)
    }
}

// MARK: - Rounding directly from binary64 (the profiles' binary64-arithmetic variant)

@Test func roundingFromDoubleAgreesWithTheFloatPathOnEveryFloat() {
    // A Float widened to Double rounds to the same value through either path (one rounding each).
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for i in 0..<200_000 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let bits = i < 65_536 ? UInt32(i) << 16 | UInt32(i & 0xFFFF) : UInt32(truncatingIfNeeded: state >> 32)
        let x = Float(bitPattern: bits)
        if x.isNaN { continue }
        #expect(roundedToBF16(Double(x)) == Double(roundedToBF16(x)), "bf16 0x\(String(bits, radix: 16))")
        #expect(roundedToF16(Double(x)) == Double(roundedToF16(x)), "f16 0x\(String(bits, radix: 16))")
    }
}

@Test func roundingFromDoubleIsNearestEvenWhereGoingThroughFloatWouldRoundTwice() {
    // 1 + 2⁻⁸ + 2⁻³⁰: above the bf16 tie 1 + 2⁻⁸, so it rounds up to 1 + 2⁻⁷ directly; through Float
    // it first becomes the tie 1 + 2⁻⁸ (2⁻³⁰ is below binary32's half ulp) and then goes down to 1 (even).
    let x = 1 + 0x1p-8 + 0x1p-30
    #expect(roundedToBF16(x) == 1 + 0x1p-7)
    #expect(Double(roundedToBF16(Float(x))) == 1)
    // The same for binary16 at 1 + 2⁻¹¹ + 2⁻³⁰.
    let y = 1 + 0x1p-11 + 0x1p-30
    #expect(roundedToF16(y) == 1 + 0x1p-10)
    #expect(Double(roundedToF16(Float(y))) == 1)
    // Overflow, subnormals, signs and specials (binary64 inputs throughout).
    let roundedToBF16: (Double) -> Double = SafeTensors.roundedToBF16, roundedToF16: (Double) -> Double = SafeTensors.roundedToF16
    #expect(roundedToBF16(0x1.FEp127) == 0x1.FEp127)
    #expect(roundedToBF16(0x1.FFp127) == .infinity)            // the tie above the largest finite (odd) overflows
    #expect(roundedToF16(65519.99) == 65504 && roundedToF16(65520) == .infinity && roundedToF16(-70000) == -.infinity)
    #expect(roundedToF16(0x1p-25) == 0 && roundedToF16(0x1.8p-25) == 0x1p-24)   // tie to even (0), above it up
    #expect(roundedToBF16(0x1p-134) == 0 && roundedToBF16(0x1.8p-134) == 0x1p-133)
    #expect(roundedToBF16(-0.0).sign == .minus && roundedToBF16(Double.nan).isNaN && roundedToF16(-Double.infinity) == -.infinity)
}
