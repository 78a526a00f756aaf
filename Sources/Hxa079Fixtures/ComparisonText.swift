// ComparisonText: how comparisons are written (what `hxa079 compare` prints;
// the debugger and the Oracle messages use the same number format).
//
// Contract: numbers go through `formatNumber` (3 significant digits,
// scientific, `0`, `nan`, `inf`) or `formatDecibels`; neither converts a
// non-finite or huge value to an integer. One row per checkpoint; a row that
// could not be measured says why in its result column; the last line names
// the first failure in execution order, or says ALL PASS, or that nothing
// was compared.

import Hxa079

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Formats a number the same way everywhere: 3 significant digits in
/// scientific notation, `0` for zero, `nan`, `inf`, `-inf`.
package func formatNumber(_ x: Double) -> String {
    if x == 0 { return "0" }
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    // |x| is finite and non-zero, so its decimal exponent is within [-324, 308]
    // (Int(exactly:) cannot fail; no trap even if it did).
    guard var exponent = Int(exactly: log10(abs(x)).rounded(.down)) else { return x > 0 ? "inf" : "-inf" }
    // x / 10^e in two steps: 10^e alone under- or overflows at the ends of the range.
    func scaled(_ e: Int) -> Double { x / pow(10, Double(e / 2)) / pow(10, Double(e - e / 2)) }
    var mantissa = scaled(exponent)
    // log10 may round across a power of ten: bring the mantissa into [1, 10), then
    // let one that rounds to 10.00 at 3 digits carry into the exponent (9.996 → 1.00e+01).
    if abs(mantissa) < 1 { exponent -= 1; mantissa = scaled(exponent) }
    if abs(mantissa) >= 9.995 { exponent += 1; mantissa = scaled(exponent) }
    let rounded = (mantissa * 100).rounded() / 100
    let m = String(rounded)
    let parts = m.split(separator: ".")
    let frac = parts.count > 1 ? String(parts[1]) : "0"
    let padded = String((frac + "00").prefix(2))
    return "\(parts[0]).\(padded)e\(exponent < 0 ? "-" : "+")\(abs(exponent) < 10 ? "0" : "")\(abs(exponent))"
}

/// `10·log10(x)` rounded to an integer, `-inf` for 0, `inf` / `nan` as such.
package func formatDecibels(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x == 0 { return "-inf" }
    if x < 0 { return "nan" }
    let db = (10 * log10(x)).rounded()
    guard let i = Int(exactly: db) else { return db > 0 ? "inf" : "-inf" }   // never traps: finite dB of a Double is within ±3300
    return String(i)
}

/// Pads `s` on the right (left when `right` is true) to `width` characters.
package func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    s.count >= width ? s : (right ? String(repeating: " ", count: width - s.count) + s : s + String(repeating: " ", count: width - s.count))
}

extension CheckpointComparison {
    /// `f64`, `f32`, `exact`, or `-` when no budget was applied.
    public var budgetLabel: String {
        switch outcome {
        case .compared: return verdict == .unmarked ? "-" : (tolerance == nil ? "exact" : budgetClass.rawValue)
        default: return "-"
        }
    }

    /// `pass`, `FAIL`, `FAIL (why)`, `FAIL (local)`, `FAIL (logits: …)`; a batch of one is said.
    public var resultText: String {
        if let p = problem { return "FAIL (\(p))" }
        var base = verdict == .pass ? "pass" : (verdict == .fail ? "FAIL" : "-")
        if verdict != .fail, local?.passed == false { base = "FAIL (local: the stage computes another function)" }
        if verdict != .fail, local?.passed != false, let l = logits?.failure { base = "FAIL (logits: \(l))" }
        if batchOfOne { base += " (leading axis of 1 read as a batch of one)" }
        if let l = logits, verdict != .unmarked {
            base += " [mean KL \(formatNumber(l.measure.meanKL)), top-1 \(formatNumber(l.top1Agreement))"
                + (l.nearTies.isEmpty ? "" : ", \(l.nearTies.count) near-tie(s) differ") + "]"
        }
        return base
    }
}

extension ComparisonReport {
    /// The report as aligned text (what `hxa079 compare` prints).
    public func text(verbose: Bool = true) -> String {
        var lines: [String] = []
        lines.append("fixture \(fixture), plan \(plan): \(results.count) checkpoints compared, \(missing.count) missing, "
                     + (notInFixture.isEmpty ? "" : "\(notInFixture.count) not in this fixture, ") + "\(unknown.count) unknown"
                     + (toleranceScale != 1 ? ", tolerance scale \(toleranceScale)" : "")
                     + ", profile " + (profile?.rawValue ?? "by dtype")
                     + ", \(locallyCompared) also against the stage-local replay")
        let nameWidth = max(10, (results.map { $0.name.count }.max() ?? 10) + 2)
        lines.append(pad("checkpoint", nameWidth) + pad("budget", 8) + pad("max abs", 11, right: true) + pad("max rel", 11, right: true)
                     + pad("tol rel", 11, right: true) + pad("NMSE", 11, right: true) + pad("dB", 9, right: true)
                     + pad("local rel", 11, right: true) + pad("tol", 11, right: true) + "  result")
        for r in results where verbose || !r.passed {
            let measured = r.problem == nil || isNonFinite(r)
            lines.append(pad(r.name, nameWidth) + pad(isNonFinite(r) ? r.budgetClass.rawValue : r.budgetLabel, 8)
                         + pad(measured ? formatNumber(r.metrics.maxAbs) : "-", 11, right: true)
                         + pad(measured ? formatNumber(r.metrics.maxRel) : "-", 11, right: true)
                         + pad(r.tolerance.map { formatNumber($0.maxRel) } ?? "-", 11, right: true)
                         + pad(measured ? formatNumber(r.metrics.nmse) : "-", 11, right: true)
                         + pad(measured ? formatDecibels(r.metrics.nmse) : "-", 9, right: true)
                         + pad(r.local.map { formatNumber($0.metrics.maxRel) } ?? "-", 11, right: true)
                         + pad(r.local?.tolerance.map { formatNumber($0.maxRel) } ?? "-", 11, right: true) + "  " + r.resultText)
        }
        if let f = firstFailure {
            lines.append("FIRST FAILURE: " + f.failureLine)
        } else if results.isEmpty {
            lines.append("NO CHECKPOINT COMPARED: the candidate holds none of the fixture's checkpoint names"
                         + (notInFixture.isEmpty ? "" : " (\(notInFixture.count) of its checkpoints are not in this fixture)"))
        } else {
            lines.append("ALL PASS")
        }
        if !notInFixture.isEmpty {
            lines.append("not in this fixture (checkpoints of the model outside the fixture's checkpoint selection; not compared): "
                         + notInFixture.prefix(8).joined(separator: ", ") + (notInFixture.count > 8 ? ", …" : ""))
        }
        if let replayNote { lines.append(replayNote) }
        if !unknown.isEmpty { lines.append("unknown names (ignored): " + unknown.prefix(8).joined(separator: ", ") + (unknown.count > 8 ? ", …" : "")) }
        return lines.joined(separator: "\n")
    }

    private func isNonFinite(_ r: CheckpointComparison) -> Bool {
        if case .nonFinite = r.outcome { return true }
        return false
    }
}

extension CheckpointComparison {
    /// `NAME at LOCATION: candidate …, truth …; max rel … (tolerance …), NMSE … (tolerance …)` or `NAME: problem`.
    public var failureLine: String {
        if let p = problem { return "\(name): \(p)" }
        if verdict != .fail, let l = local, !l.passed {
            return "\(name) (local: against the stage re-run in float64 on the candidate's own inputs; "
                + "against the truth it is within its budget): max rel \(formatNumber(l.metrics.maxRel)) "
                + "(local tolerance \(l.tolerance.map { formatNumber($0.maxRel) } ?? "-")), NMSE \(formatNumber(l.metrics.nmse)) "
                + "(local tolerance \(l.tolerance.map { formatNumber($0.nmse) } ?? "-"))"
        }
        if verdict != .fail, let f = logits?.failure { return "\(name) (logits metrics): \(f)" }
        return "\(name) at \(worstLocation): candidate \(formatNumber(worstCandidate)), truth \(formatNumber(worstTruth)); "
            + "max rel \(formatNumber(metrics.maxRel)) (tolerance \(tolerance.map { formatNumber($0.maxRel) } ?? "exact")), "
            + "NMSE \(formatNumber(metrics.nmse)) (tolerance \(tolerance.map { formatNumber($0.nmse) } ?? "exact"))"
            + (metrics.nonFiniteMismatches > 0 ? ", \(metrics.nonFiniteMismatches) non-finite values" : "")
    }
}
