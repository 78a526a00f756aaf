// ErrorMetrics: how two tensors are compared everywhere in the package.
//
// Contract: one definition of each metric, used by tests, fixtures, compare
// and the debugger, accumulated in Double:
//   max abs   = max_i |c_i − r_i|
//   max rel   = max abs / max_i |r_i|              ("relative" in this package)
//   NMSE      = Σ (c_i − r_i)² / Σ r_i²            (ggml / llama.cpp convention)
//   NMSE dB   = 10·log10(NMSE)
//   max ULP   = max_i |c_i − r_i| / ulp_f32(r_i)  (ULPs of Float at the reference)
// A NaN or Inf in the candidate where the reference is finite makes every
// metric +Inf; the worst element is reported by flat index.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ErrorMetrics: Sendable, Equatable, Codable {
    public var maxAbs: Double
    public var maxRel: Double
    public var nmse: Double
    public var maxULP: Double
    /// Flat index of the element with the largest |c − r| (or the first non-finite one).
    public var worstIndex: Int
    /// Number of elements compared.
    public var count: Int
    /// Elements where the candidate is non-finite but the reference is not (or vice versa).
    public var nonFiniteMismatches: Int

    public var nmseDB: Double { nmse > 0 ? 10 * log10(nmse) : -.infinity }

    /// Compares `candidate` with `reference` element by element (same length).
    public init<R: Collection, C: Collection>(reference: R, candidate: C)
    where R.Element: BinaryFloatingPoint, C.Element: BinaryFloatingPoint {
        var maxAbs = 0.0, maxRef = 0.0, num = 0.0, den = 0.0, maxULP = 0.0
        var worst = 0, bad = 0, firstBad = -1
        for (i, (r0, c0)) in zip(reference, candidate).enumerated() {
            let r = Double(r0), c = Double(c0)
            if r.isFinite != c.isFinite || (r.isNaN != c.isNaN) {
                bad += 1
                if firstBad < 0 { firstBad = i }
                continue
            }
            if !r.isFinite { continue }   // both ±Inf of any sign/NaN: counted above when they differ
            let d = abs(c - r)
            if d > maxAbs { maxAbs = d; worst = i }
            maxRef = max(maxRef, abs(r))
            num += d * d
            den += r * r
            let ulp = Double(Float(abs(r)).ulp)
            maxULP = max(maxULP, d / ulp)
        }
        self.count = min(reference.count, candidate.count)
        self.nonFiniteMismatches = bad
        if bad > 0 {
            self.maxAbs = .infinity; self.maxRel = .infinity; self.nmse = .infinity; self.maxULP = .infinity
            self.worstIndex = firstBad
        } else {
            self.maxAbs = maxAbs
            self.maxRel = maxRef > 0 ? maxAbs / maxRef : (maxAbs > 0 ? .infinity : 0)
            self.nmse = den > 0 ? num / den : (num > 0 ? .infinity : 0)
            self.maxULP = maxULP
            self.worstIndex = worst
        }
    }
}

/// max|c − r| / max|r| over two arrays: the package's "relative" error.
package func maxRelativeError<R: Collection, C: Collection>(_ reference: R, _ candidate: C) -> Double
where R.Element: BinaryFloatingPoint, C.Element: BinaryFloatingPoint {
    ErrorMetrics(reference: reference, candidate: candidate).maxRel
}

/// The number of elements of `shape`; nil for a negative extent or an
/// overflowing product (shapes come from user files: never trap on them).
package func elementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = p
    }
    return n
}

/// Splits a flat index into coordinates of `shape` (row-major).
package func unravel(_ index: Int, shape: [Int]) -> [Int] {
    var rest = index
    var out = [Int](repeating: 0, count: shape.count)
    for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] > 0 {
        out[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return out
}
