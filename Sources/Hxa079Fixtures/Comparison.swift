// Comparison: holds another engine's checkpoints against a fixture and names
// the first one in execution order that fails its budget.
//
// Contract: the candidate is a set of named tensors (any float dtype, any
// subset of the checkpoints). Each present checkpoint is compared with the
// fixture's float64 truth for one plan: max abs, max rel, NMSE (and dB) and
// pass/fail against the tolerance of its budget class (F64 candidates: the
// float64 tolerance; everything else: the float32 budget), widened by the
// tolerance scale. The report names the first failing checkpoint in
// execution order and its worst element by token, head and channel.

import Hxa079
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named tensors of an engine (a dump).
public struct CandidateTensor: Sendable {
    public var dtype: DType
    public var shape: [Int]
    public var values: [Double]

    public init(dtype: DType, shape: [Int], values: [Double]) {
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }
}

extension CandidateTensor {
    /// Every tensor of a safetensors dump.
    public static func load(path: String) throws -> [String: CandidateTensor] {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) }
        catch let e as SafeTensorsError { throw Hxa079Error.safetensors(path: path, e) }
        var out: [String: CandidateTensor] = [:]
        for info in file.tensors {
            let values: [Double]
            switch info.dtype {
            case .I64, .I32: values = try file.int64s(info.name).map { Double($0) }
            default: values = try file.doubles(info.name)
            }
            out[info.name] = CandidateTensor(dtype: info.dtype, shape: info.shape, values: values)
        }
        return out
    }
}

/// The result of one checkpoint.
public struct CheckpointComparison: Sendable {
    public var name: String
    public var shape: [Int]
    public var candidateDType: DType
    public var budgetClass: BudgetClass
    /// The tolerance applied (after the scale), nil for exact comparisons.
    public var tolerance: Tolerance?
    public var metrics: ErrorMetrics
    public var passed: Bool
    /// Coordinates of the worst element, labelled (e.g. `token 3, head 1, channel 7`).
    public var worstLocation: String
    public var worstCandidate: Double
    public var worstTruth: Double
    /// A problem that made the comparison impossible (shape mismatch).
    public var problem: String?
}

/// Everything `compare` found.
public struct ComparisonReport: Sendable {
    public var fixture: String
    public var plan: String
    public var toleranceScale: Double
    /// Compared checkpoints, in execution order.
    public var results: [CheckpointComparison]
    /// Fixture checkpoints the candidate did not provide.
    public var missing: [String]
    /// Candidate tensors the fixture does not know.
    public var unknown: [String]

    public var passed: Bool { results.allSatisfy { $0.passed } && !results.isEmpty }
    /// The first failing checkpoint in execution order.
    public var firstFailure: CheckpointComparison? { results.first { !$0.passed } }
}

/// Names the axes of a checkpoint for reporting the worst element.
public func axisLabels(for name: String, rank: Int) -> [String] {
    if name.hasPrefix("state.") {
        if name.hasSuffix(".wkv") { return ["head", "value", "key"] }
        if name.hasSuffix(".k") || name.hasSuffix(".v") { return ["position", "kv head", "channel"] }
        return ["index"]
    }
    if name == CheckpointName.logits { return ["token", "vocab"] }
    switch rank {
    case 3:
        let kvSide = name.hasSuffix(".rwkv.k") || name.hasSuffix(".rwkv.v") || name.hasSuffix(".k_mixed")
            || name.hasSuffix(".v_mixed") || name.hasSuffix(".gqa.k") || name.hasSuffix(".gqa.v")
        return ["token", kvSide ? "kv head" : "head", "channel"]
    case 2: return ["token", "channel"]
    default: return (0..<rank).map { "axis \($0)" }
    }
}

/// Compares `candidate` with the truth of `plan` in `fixture`.
public func compare(fixture: Fixture, plan: String, candidate: [String: CandidateTensor],
                    toleranceScale: Double = 1) throws -> ComparisonReport {
    guard fixture.manifest.plans.contains(where: { $0.name == plan }) else {
        throw Hxa079Error.invalidArgument("fixture \(fixture.manifest.name) has no plan \"\(plan)\" (plans: \(fixture.manifest.plans.map { $0.name }.joined(separator: ", ")))")
    }
    var results: [CheckpointComparison] = []
    var missing: [String] = []
    for record in fixture.manifest.checkpoints {
        guard let c = candidate[record.name] else { missing.append(record.name); continue }
        let labels = axisLabels(for: record.name, rank: record.shape.count)
        let cls = BudgetClass(dtype: c.dtype)
        if c.shape != record.shape {
            results.append(CheckpointComparison(
                name: record.name, shape: c.shape, candidateDType: c.dtype, budgetClass: cls, tolerance: nil,
                metrics: ErrorMetrics(reference: [Double.infinity], candidate: [0]), passed: false,
                worstLocation: "-", worstCandidate: .nan, worstTruth: .nan,
                problem: "shape \(c.shape), expected \(record.shape)"))
            continue
        }
        let truth = try fixture.truth(plan: plan, name: record.name)
        let metrics = ErrorMetrics(reference: truth, candidate: c.values)
        let tolerance: Tolerance?
        let passed: Bool
        if let budget = record.budget {
            let t = (cls == .float64 ? Tolerance.float64 : budget.tolerance).scaled(toleranceScale)
            tolerance = t
            passed = t.admits(metrics)
        } else {
            tolerance = nil
            passed = truth == c.values
        }
        let idx = min(metrics.worstIndex, max(truth.count - 1, 0))
        let coords = unravel(idx, shape: record.shape)
        let location = zip(labels, coords).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        results.append(CheckpointComparison(
            name: record.name, shape: record.shape, candidateDType: c.dtype, budgetClass: cls, tolerance: tolerance,
            metrics: metrics, passed: passed, worstLocation: location,
            worstCandidate: truth.isEmpty ? .nan : c.values[idx], worstTruth: truth.isEmpty ? .nan : truth[idx], problem: nil))
    }
    let known = Set(fixture.manifest.checkpoints.map { $0.name })
    let unknown = candidate.keys.filter { !known.contains($0) }.sorted()
    return ComparisonReport(fixture: fixture.manifest.name, plan: plan, toleranceScale: toleranceScale,
                            results: results, missing: missing, unknown: unknown)
}

// MARK: - Text report

/// Formats a number the same way everywhere: 3 significant digits in
/// scientific notation, `0` for zero.
public func formatNumber(_ x: Double) -> String {
    if x == 0 { return "0" }
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    var exponent = Int(log10(abs(x)).rounded(.down))
    var mantissa = x / pow(10, Double(exponent))
    if abs(mantissa) >= 9.995 { exponent += 1; mantissa = x / pow(10, Double(exponent)) }
    if abs(mantissa) < 1 { exponent -= 1; mantissa = x / pow(10, Double(exponent)) }
    let rounded = (mantissa * 100).rounded() / 100
    let m = String(rounded)
    let parts = m.split(separator: ".")
    let frac = parts.count > 1 ? String(parts[1]) : "0"
    let padded = String((frac + "00").prefix(2))
    return "\(parts[0]).\(padded)e\(exponent < 0 ? "-" : "+")\(abs(exponent) < 10 ? "0" : "")\(abs(exponent))"
}

/// Pads `s` on the right (left when `right` is false) to `width` characters.
public func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    s.count >= width ? s : (right ? String(repeating: " ", count: width - s.count) + s : s + String(repeating: " ", count: width - s.count))
}

extension ComparisonReport {
    /// The report as aligned text (what `hxa079 compare` prints).
    public func text(verbose: Bool = true) -> String {
        var lines: [String] = []
        lines.append("fixture \(fixture), plan \(plan): \(results.count) checkpoints compared, \(missing.count) missing, \(unknown.count) unknown"
                     + (toleranceScale != 1 ? ", tolerance scale \(toleranceScale)" : ""))
        let nameWidth = max(10, (results.map { $0.name.count }.max() ?? 10) + 2)
        lines.append(pad("checkpoint", nameWidth) + pad("budget", 8) + pad("max abs", 11, right: true) + pad("max rel", 11, right: true)
                     + pad("tol rel", 11, right: true) + pad("NMSE", 11, right: true) + pad("dB", 9, right: true) + "  result")
        for r in results where verbose || !r.passed {
            let db = r.metrics.nmse > 0 ? String(Int((10 * log10(r.metrics.nmse)).rounded())) : "-inf"
            let result = r.problem.map { "FAIL (\($0))" } ?? (r.passed ? "pass" : "FAIL")
            lines.append(pad(r.name, nameWidth) + pad(r.tolerance == nil ? "exact" : r.budgetClass.rawValue, 8)
                         + pad(formatNumber(r.metrics.maxAbs), 11, right: true) + pad(formatNumber(r.metrics.maxRel), 11, right: true)
                         + pad(r.tolerance.map { formatNumber($0.maxRel) } ?? "-", 11, right: true)
                         + pad(formatNumber(r.metrics.nmse), 11, right: true) + pad(db, 9, right: true) + "  " + result)
        }
        if let f = firstFailure {
            if let p = f.problem {
                lines.append("FIRST FAILURE: \(f.name): \(p)")
            } else {
                lines.append("FIRST FAILURE: \(f.name) at \(f.worstLocation): candidate \(formatNumber(f.worstCandidate)), truth \(formatNumber(f.worstTruth)); "
                             + "max rel \(formatNumber(f.metrics.maxRel)) (tolerance \(f.tolerance.map { formatNumber($0.maxRel) } ?? "exact")), "
                             + "NMSE \(formatNumber(f.metrics.nmse)) (tolerance \(f.tolerance.map { formatNumber($0.nmse) } ?? "exact"))"
                             + (f.metrics.nonFiniteMismatches > 0 ? ", \(f.metrics.nonFiniteMismatches) non-finite values" : ""))
            }
        } else if results.isEmpty {
            lines.append("NO CHECKPOINT COMPARED: the candidate holds none of the fixture's checkpoint names")
        } else {
            lines.append("ALL PASS")
        }
        if !unknown.isEmpty { lines.append("unknown names (ignored): " + unknown.prefix(8).joined(separator: ", ") + (unknown.count > 8 ? ", …" : "")) }
        return lines.joined(separator: "\n")
    }
}

