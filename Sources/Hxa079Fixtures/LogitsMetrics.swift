// LogitsMetrics: how far a candidate's next-token distributions are from the
// truth's (SPEC.md §4.6 "Logits metrics"), and the budgets of those figures.
//
// Contract: for logits [T][V] (row t: position t), with p = softmax(truth
// row) and q = softmax(candidate row), both in binary64 with the maximum
// subtracted:
//   KL_t   = Σ_v p_v (log p_v − log q_v)          (nats; log-softmax, no 0·log 0 terms)
//   mean KL, max KL over t; top-1 agreement = fraction of t with argmax p = argmax q
//   (ties: the lowest index); max |Δp| = max over t, v of |p_v − q_v|;
//   max abs = max |candidate − truth| over every logit.
// The truth's top-1/top-2 gap per position (logit of the argmax minus the
// largest other logit) says where a top-1 disagreement is a near-tie: a
// disagreement fails only where the gap exceeds twice the profile's logit
// error (its max-abs tolerance: both logits can move by it); the others are
// reported as near-ties. The budgets come from the honest emulation runs of
// fixtures make: tolerance = safety × the worst honest figure (the profile's
// max-rel safety for max |Δp| and max abs, its NMSE safety for the KLs, which
// are quadratic in the error).

import Hxa079

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The four judged figures of a candidate's logits.
public struct LogitsMeasure: Sendable, Equatable {
    public var meanKL: Double
    public var maxKL: Double
    public var maxDeltaP: Double
    /// max |candidate − truth| over every logit (the logit error).
    public var maxAbs: Double

    public init(meanKL: Double, maxKL: Double, maxDeltaP: Double, maxAbs: Double) {
        self.meanKL = meanKL
        self.maxKL = maxKL
        self.maxDeltaP = maxDeltaP
        self.maxAbs = maxAbs
    }

    /// The tolerances widened by `scale` (the linear figures by s, the KLs by s²), as `Tolerance.scaled`.
    public func scaled(_ s: Double) -> LogitsMeasure {
        LogitsMeasure(meanKL: meanKL * s * s, maxKL: maxKL * s * s, maxDeltaP: maxDeltaP * s, maxAbs: maxAbs * s)
    }

    /// Element-wise maximum.
    public static func worse(_ a: LogitsMeasure, _ b: LogitsMeasure) -> LogitsMeasure {
        LogitsMeasure(meanKL: max(a.meanKL, b.meanKL), maxKL: max(a.maxKL, b.maxKL), maxDeltaP: max(a.maxDeltaP, b.maxDeltaP),
                      maxAbs: max(a.maxAbs, b.maxAbs))
    }
}

/// Measured logits figures and the tolerance derived from them.
public struct LogitsBudget: Sendable, Equatable {
    public var measured: LogitsMeasure
    public var tolerance: LogitsMeasure

    public init(measured: LogitsMeasure, tolerance: LogitsMeasure) {
        self.measured = measured
        self.tolerance = tolerance
    }

    /// safety × measured: `linear` for max |Δp| and max abs, `quadratic` for the KLs.
    public init(deriving measured: LogitsMeasure, linear: Double, quadratic: Double) {
        let d = { (x: Double) in ReducedPrecisionRule.threeDigits(x) }, u = { (x: Double) in ReducedPrecisionRule.threeDigits(x, up: true) }
        self.measured = LogitsMeasure(meanKL: d(measured.meanKL), maxKL: d(measured.maxKL), maxDeltaP: d(measured.maxDeltaP),
                                      maxAbs: d(measured.maxAbs))
        self.tolerance = LogitsMeasure(meanKL: u(quadratic * measured.meanKL), maxKL: u(quadratic * measured.maxKL),
                                       maxDeltaP: u(linear * measured.maxDeltaP), maxAbs: u(linear * measured.maxAbs))
    }
}

/// The logits metrics of one candidate against the truth.
public struct LogitsComparison: Sendable, Equatable {
    public var measure: LogitsMeasure
    public var positions: Int
    /// Fraction of positions whose top-1 token agrees.
    public var top1Agreement: Double
    /// Positions whose top-1 differs although the truth's gap exceeds twice the logit error (failures).
    public var decisiveDisagreements: [Int]
    /// Positions whose top-1 differs within a near-tie (reported, not failed).
    public var nearTies: [Int]
    /// The budget applied; nil: reported only (f64, or no budget in the fixture).
    public var tolerance: LogitsMeasure?

    /// True unless a budget applies and a figure exceeds it or a decisive disagreement exists.
    public var passed: Bool {
        guard let t = tolerance else { return true }
        return measure.meanKL <= t.meanKL && measure.maxKL <= t.maxKL && measure.maxDeltaP <= t.maxDeltaP && decisiveDisagreements.isEmpty
    }

    /// What failed, for the report (nil when passed).
    public var failure: String? {
        guard let t = tolerance, !passed else { return nil }
        var parts: [String] = []
        if measure.meanKL > t.meanKL { parts.append("mean KL \(formatNumber(measure.meanKL)) > \(formatNumber(t.meanKL))") }
        if measure.maxKL > t.maxKL { parts.append("max KL \(formatNumber(measure.maxKL)) > \(formatNumber(t.maxKL))") }
        if measure.maxDeltaP > t.maxDeltaP { parts.append("max |Δp| \(formatNumber(measure.maxDeltaP)) > \(formatNumber(t.maxDeltaP))") }
        if let p = decisiveDisagreements.first {
            parts.append("top-1 differs at \(decisiveDisagreements.count) position(s) beyond a near-tie, first at token \(p)")
        }
        return parts.joined(separator: "; ")
    }

    /// Compares logits [positions][vocab]. `gaps`: the truth's top-1/top-2 gap per position.
    public init(truth: [Double], candidate: [Double], vocab: Int, gaps: [Double], tolerance: LogitsMeasure?) {
        let T = vocab > 0 ? truth.count / vocab : 0
        var sumKL = 0.0, maxKL = 0.0, maxDP = 0.0, maxAbs = 0.0, agree = 0
        var decisive: [Int] = [], ties: [Int] = []
        for t in 0..<T {
            let row = t * vocab
            let lp = logSoftmax(truth, row, vocab), lq = logSoftmax(candidate, row, vocab)
            var kl = 0.0
            for v in 0..<vocab {
                let p = exp(lp[v]), q = exp(lq[v])
                if p > 0 { kl += p * (lp[v] - lq[v]) }
                maxDP = max(maxDP, abs(p - q))
                maxAbs = max(maxAbs, abs(candidate[row + v] - truth[row + v]))
            }
            sumKL += kl
            maxKL = max(maxKL, kl)
            let a = argmax(truth, row, vocab), b = argmax(candidate, row, vocab)
            if a == b {
                agree += 1
            } else if let tol = tolerance, t < gaps.count, gaps[t] > 2 * tol.maxAbs {
                decisive.append(t)
            } else {
                ties.append(t)
            }
        }
        measure = LogitsMeasure(meanKL: T > 0 ? sumKL / Double(T) : 0, maxKL: maxKL, maxDeltaP: maxDP, maxAbs: maxAbs)
        positions = T
        top1Agreement = T > 0 ? Double(agree) / Double(T) : 1
        decisiveDisagreements = decisive
        nearTies = ties
        self.tolerance = tolerance
    }
}

/// The truth's top-1 minus top-2 logit per position of logits [T][V] (0 for V < 2).
public func topLogitGaps(_ logits: [Double], vocab: Int) -> [Double] {
    guard vocab >= 2 else { return [Double](repeating: 0, count: vocab > 0 ? logits.count / vocab : 0) }
    return (0..<(logits.count / vocab)).map { t in
        var first = -Double.infinity, second = -Double.infinity
        for v in 0..<vocab {
            let x = logits[t * vocab + v]
            if x > first { second = first; first = x } else if x > second { second = x }
        }
        return first - second
    }
}

/// log softmax of row `row ..< row + n` of `x` (maximum subtracted; non-finite rows give nan).
private func logSoftmax(_ x: [Double], _ row: Int, _ n: Int) -> [Double] {
    var m = -Double.infinity
    for v in 0..<n { m = max(m, x[row + v]) }
    var s = 0.0
    for v in 0..<n { s += exp(x[row + v] - m) }
    let l = log(s)
    return (0..<n).map { x[row + $0] - m - l }
}

/// Index of the largest value of the row (the lowest index among equal ones).
private func argmax(_ x: [Double], _ row: Int, _ n: Int) -> Int {
    var best = 0
    for v in 1..<max(n, 1) where x[row + v] > x[row + best] { best = v }
    return best
}
