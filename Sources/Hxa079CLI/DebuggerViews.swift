// DebuggerViews: the text `hxa079 step` prints — a checkpoint at a pause,
// `p` (a tensor or a slice), `s` (WKV state per head), `l` (layer map).
//
// Contract: pure functions from values to lines; no I/O, no state. Numbers
// use `formatNumber` only; columns are padded before colour is applied.
// Axis names come from `axisLabels` (token, head / kv head, channel, vocab).

import Hxa079
import Hxa079Fixtures

enum DebuggerView {
    /// Values shown on the `first` line of a checkpoint.
    static let firstValues = 6
    /// Values per line of `p`.
    static let valuesPerLine = 8
    /// Most values `p` prints.
    static let printLimit = 256

    /// The block printed when the run pauses at `c`.
    static func checkpoint(_ c: Checkpoint, index: Int, total: Int, precision: String, layerKinds: [LayerKind],
                           reason: String?, stats: TensorStats, dump: DumpOutcome?, dumpName: String,
                           style: TerminalStyle) -> [String] {
        let labels = axisLabels(for: c.name, rank: c.shape.count)
        var where_ = ""
        if let l = CheckpointName.layerIndex(of: c.name), l < layerKinds.count {
            where_ = "  layer \(l) \(layerKinds[l] == .rwkv ? "RWKV" : "GQA")"
        }
        var lines = [style.dim("[\(index)/\(total)]") + " " + style.bold(c.name) + "  " + shapeText(c.shape)
                     + " (" + labels.joined(separator: ", ") + ")  " + precision + where_
                     + (reason.map { "  " + style.cyan("(\($0))") } ?? "")]
        lines.append(StatsTable.header(style))
        lines.append(StatsTable.row("run", stats, style))
        lines.append("  " + pad("first", StatsTable.labelWidth) + valuesLine(c.values.prefix(firstValues))
                     + (c.values.count > firstValues ? "  …" : ""))
        guard let dump else { return lines }
        switch dump {
        case .missing:
            lines.append("  " + pad("dump", StatsTable.labelWidth) + style.yellow("no tensor \(c.name) in \(dumpName)"))
        case .shapeMismatch(let d, let r):
            lines.append("  " + pad("dump", StatsTable.labelWidth) + style.red("shape \(shapeText(d)) differs from the run's \(shapeText(r))"))
        case .compared(let diff):
            lines.append(StatsTable.row("dump", TensorStats(diff.dump.values), style))
            lines.append("  " + pad("first", StatsTable.labelWidth) + valuesLine(diff.dump.values.prefix(firstValues))
                         + (diff.dump.values.count > firstValues ? "  …" : ""))
            lines += difference(diff, name: c.name, shape: c.shape, style: style)
        }
        return lines
    }

    /// The `diff` lines of a comparison.
    static func difference(_ d: DumpDifference, name: String, shape: [Int], style: TerminalStyle) -> [String] {
        let against = d.budgetLabel == nil ? "run" : "truth"
        var line = "  " + pad("diff", StatsTable.labelWidth)
            + "max abs \(formatNumber(d.metrics.maxAbs))  max rel \(formatNumber(d.metrics.maxRel))  NMSE \(formatNumber(d.metrics.nmse))"
            + "  (dump vs \(against))"
        switch d.verdict {
        case .pass: line += "  " + style.green("pass")
        case .fail: line += "  " + style.red("FAIL")
        case .unmarked: break
        }
        if let label = d.budgetLabel {
            if let t = d.tolerance {
                line += " (\(label) budget: max rel ≤ \(formatNumber(t.maxRel)), NMSE ≤ \(formatNumber(t.nmse)))"
            } else {
                line += " (\(label))"
            }
        }
        var lines = [line]
        if d.metrics.maxAbs > 0 || d.metrics.nonFiniteMismatches > 0 {
            lines.append("  " + pad("", StatsTable.labelWidth) + "worst at " + elementText(name: name, shape: shape, index: d.worstIndex)
                         + ": dump \(formatNumber(d.worstDump)), \(against) \(formatNumber(d.worstReference))"
                         + (d.metrics.nonFiniteMismatches > 0 ? "; \(d.metrics.nonFiniteMismatches) non-finite mismatches" : ""))
        }
        return lines
    }

    /// `p`: the selected values with their statistics, one row per run of the last kept axis.
    static func tensor(_ c: Checkpoint, slice: TensorSlice, sliceText: String?, precision: String,
                       style: TerminalStyle) throws -> [String] {
        let labels = axisLabels(for: c.name, rank: c.shape.count)
        let selection = try slice.select(shape: c.shape, labels: labels)
        let flat = selection.flatIndices()
        let values = flat.map { c.values[$0] }
        let keptLabels = zip(labels, selection.dropped).filter { !$0.1 }.map { $0.0 }
        var lines = [style.bold(c.name + (sliceText.map { "[\($0)]" } ?? "")) + "  " + shapeText(selection.shape)
                     + (keptLabels.isEmpty ? "" : " (" + keptLabels.joined(separator: ", ") + ")") + "  " + precision]
        if values.isEmpty {
            lines.append("  (empty selection)")
            return lines
        }
        lines.append(StatsTable.header(style))
        lines.append(StatsTable.row("values", TensorStats(values), style))

        // Rows: the last kept axis runs along a row; the other axes label it in source coordinates.
        let lastKept = selection.dropped.lastIndex(of: false)
        let rowLength = lastKept.map { selection.indices[$0].count } ?? 1
        let rowCount = values.count / max(rowLength, 1)
        func rowLabel(_ r: Int) -> String {
            let coords = unravel(flat[r * rowLength], shape: c.shape)
            var parts: [String] = []
            for axis in 0..<c.shape.count {
                if axis == lastKept {
                    parts.append(axis < slice.texts.count ? slice.texts[axis] : ":")
                } else {
                    parts.append(String(coords[axis]))
                }
            }
            return "[" + parts.joined(separator: ", ") + "]"
        }
        var shown = 0
        let labelWidth = min(32, (0..<min(rowCount, 64)).map { rowLabel($0).count }.max() ?? 0)
        for r in 0..<rowCount {
            if shown >= printLimit { break }
            let row = values[(r * rowLength)..<((r + 1) * rowLength)]
            var start = row.startIndex
            var first = true
            while start < row.endIndex && shown < printLimit {
                let end = min(start + valuesPerLine, row.endIndex, start + (printLimit - shown))
                lines.append("  " + pad(first ? rowLabel(r) : "", labelWidth) + valuesLine(row[start..<end]))
                shown += end - start
                start = end
                first = false
            }
        }
        if shown < values.count {
            lines.append(style.dim("  … \(values.count - shown) more values not shown (print a narrower slice)"))
        }
        return lines
    }

    /// `s`: one row per head.
    static func wkvState(layer: Int, tokens: Int, precision: String, stats: [WKVHeadStats], note: String?,
                         style: TerminalStyle) -> [String] {
        var lines: [String] = []
        if let note { lines.append(style.yellow(note)) }
        lines.append(style.bold("WKV state of layer \(layer)") + " after token \(tokens - 1): S [value][key] per head, zero initial state")
        lines.append(style.dim("  rebuilt by SPEC (18)-(19) from layers.\(layer).rwkv.{kk, a, decay, k_scaled, v_mixed}"
                               + (precision == "f64" ? "" : " (float64 evaluation of the \(precision) values)")))
        let w = StatsTable.numberWidth
        lines.append(style.dim("  " + pad("head", 6) + pad("|S|_F", w, right: true) + pad("max |S|", w, right: true)
                               + pad("decay min", w, right: true) + pad("decay max", w, right: true)))
        for h in stats {
            lines.append("  " + pad(String(h.head), 4, right: true) + "  " + pad(formatNumber(h.frobenius), w, right: true) + pad(formatNumber(h.maxAbs), w, right: true)
                         + pad(formatNumber(h.decayMin), w, right: true) + pad(formatNumber(h.decayMax), w, right: true))
        }
        return lines
    }

    /// `l`: `R R [A] R` and where the run is.
    static func layerMap(layerKinds: [LayerKind], current: String?, style: TerminalStyle) -> String {
        let layer = current.flatMap { CheckpointName.layerIndex(of: $0) }
        let cells = layerKinds.enumerated().map { (i, kind) -> String in
            i == layer ? style.bold("[\(kind.letter)]") : String(kind.letter)
        }
        let rwkv = layerKinds.filter { $0 == .rwkv }.count
        var text = "layers  " + cells.joined(separator: " ") + "   (\(layerKinds.count) layers: \(rwkv) RWKV, \(layerKinds.count - rwkv) GQA)"
        if let current {
            if let layer, layer < layerKinds.count {
                text += "; at \(current), layer \(layer) \(layerKinds[layer] == .rwkv ? "RWKV" : "GQA")"
            } else if current == CheckpointName.embed {
                text += "; at embed, before layer 0"
            } else {
                text += "; at \(current), after the last layer"
            }
        }
        return text
    }
}
