// DebuggerFormat: how `hxa079 step` writes numbers, statistics and colour.
//
// Contract: every number the debugger prints goes through `formatNumber`
// (Hxa079Fixtures: 3 significant digits, scientific, `0`, `nan`, `inf`), the
// same format `hxa079 compare` uses. Statistics are min / max / mean / RMS
// over the finite values (accumulated left to right in Double) plus the
// counts of NaN and ±Inf. Tables are padded to fixed column widths before
// any colour is added, so columns stay aligned with and without colour.
// Colour is used only when stdout is a terminal and NO_COLOR is unset.

import Hxa079
import Hxa079Fixtures

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Summary statistics of one tensor.
struct TensorStats {
    var count = 0
    var finiteCount = 0
    var min = Double.nan
    var max = Double.nan
    var mean = Double.nan
    var rms = Double.nan
    var nanCount = 0
    var infCount = 0
    /// Flat index of the first NaN or ±Inf, if any.
    var firstNonFinite: Int?

    var nonFiniteCount: Int { nanCount + infCount }

    init<C: Collection>(_ values: C) where C.Element == Double {
        var sum = 0.0, squares = 0.0, lo = Double.infinity, hi = -Double.infinity
        for (i, v) in values.enumerated() {
            count += 1
            if v.isNaN { nanCount += 1; if firstNonFinite == nil { firstNonFinite = i }; continue }
            if v.isInfinite { infCount += 1; if firstNonFinite == nil { firstNonFinite = i }; continue }
            finiteCount += 1
            sum += v
            squares += v * v
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        if finiteCount > 0 {
            min = lo
            max = hi
            mean = sum / Double(finiteCount)
            rms = (squares / Double(finiteCount)).squareRoot()
        }
    }
}

/// Terminal styling; every method returns its input unchanged when disabled.
struct TerminalStyle {
    let enabled: Bool

    /// Colour iff stdout is a terminal and NO_COLOR is not set.
    static func forStdout() -> TerminalStyle {
        TerminalStyle(enabled: isatty(STDOUT_FILENO) != 0 && getenv("NO_COLOR") == nil)
    }

    private func wrap(_ s: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m" + s + "\u{1B}[0m" : s }
    func bold(_ s: String) -> String { wrap(s, "1") }
    func dim(_ s: String) -> String { wrap(s, "2") }
    func red(_ s: String) -> String { wrap(s, "31") }
    func green(_ s: String) -> String { wrap(s, "32") }
    func yellow(_ s: String) -> String { wrap(s, "33") }
    func cyan(_ s: String) -> String { wrap(s, "36") }
}

/// Column widths of the statistics table.
enum StatsTable {
    static let labelWidth = 8
    static let numberWidth = 11
    static let countWidth = 6

    static func header(_ style: TerminalStyle) -> String {
        let text = "  " + pad("", labelWidth)
            + ["min", "max", "mean", "rms"].map { pad($0, numberWidth, right: true) }.joined()
            + ["NaN", "Inf"].map { pad($0, countWidth, right: true) }.joined()
        return style.dim(text)
    }

    static func row(_ label: String, _ s: TensorStats, _ style: TerminalStyle) -> String {
        let numbers = [s.min, s.max, s.mean, s.rms].map { pad(s.finiteCount > 0 ? formatNumber($0) : "-", numberWidth, right: true) }.joined()
        func count(_ n: Int) -> String {
            let text = pad(String(n), countWidth, right: true)
            return n > 0 ? style.red(text) : text
        }
        return "  " + pad(label, labelWidth) + numbers + count(s.nanCount) + count(s.infCount)
    }
}

/// Values as one line of fixed-width numbers.
func valuesLine<C: Collection>(_ values: C) -> String where C.Element == Double {
    values.map { pad(formatNumber($0), StatsTable.numberWidth, right: true) }.joined()
}
