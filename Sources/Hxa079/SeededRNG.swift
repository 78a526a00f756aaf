// SeededRNG: a small deterministic random number generator.
//
// Contract: the same seed gives the same stream on every platform Swift runs
// on (integer arithmetic only; the normal deviates use Glibc log/sin/cos,
// deterministic on one machine). Tests, random models and fixtures draw from
// it so that every failure names a seed that reproduces it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// xoshiro256** seeded through SplitMix64.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// A generator for a named sub-stream: the same (seed, label) pair always
    /// gives the same stream, whatever else was drawn before.
    public init(seed: UInt64, label: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325   // FNV-1a 64
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        self.init(seed: seed ^ h)
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * uniform()
    }

    /// Standard normal deviate (Box–Muller, both deviates used).
    public mutating func normal() -> Double {
        if let z = spareNormal { spareNormal = nil; return z }
        var u1 = uniform()
        while u1 == 0 { u1 = uniform() }
        let u2 = uniform()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = radius * sin(angle)
        return radius * cos(angle)
    }

    /// `count` normal deviates with standard deviation `std` and mean `mean`.
    public mutating func normals<T: BinaryFloatingPoint>(_ count: Int, std: Double = 1, mean: Double = 0, as: T.Type = T.self) -> [T] {
        var out = [T](); out.reserveCapacity(count)
        for _ in 0..<count { out.append(T(mean + std * normal())) }
        return out
    }

    /// Uniform integer in 0..<bound.
    public mutating func int(below bound: Int) -> Int {
        Int(next() % UInt64(max(bound, 1)))
    }
}
