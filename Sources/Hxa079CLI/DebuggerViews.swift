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

    /// What the dump says about the checkpoint shown (nil result: the dump lacks it).
    struct DumpSide {
        var file: String
        var tensor: CandidateTensor?
        var result: CheckpointComparison?
        /// `truth` (the fixture's) or `run`.
        var against: String
    }

    /// The block printed when the run pauses at `c`.
    static func checkpoint(_ c: Checkpoint, index: Int, total: Int, precision: String, layerKinds: [LayerKind],
                           reason: String?, stats: TensorStats, dump: DumpSide?, style: TerminalStyle) -> [String] {
        let labels = axisLabels(for: c.name, rank: c.shape.count)
        var where_ = ""
        if let l = CheckpointName.layerIndex(of: c.name), l < layerKinds.count {
            where_ = "  layer \(l) \(layerKinds[l] == .rwkv ? "RWKV" : "GQA")"
        }
        var lines = [style.dim("[\(index)/\(total)]") + " " + style.bold(c.name) + "  " + shapeDescription(c.shape)
                     + " (" + labels.joined(separator: ", ") + ")  " + precision + where_
                     + (reason.map { "  " + style.cyan("(\($0))") } ?? "")]
        lines.append(StatsTable.header(style))
        lines.append(StatsTable.row("run", stats, style))
        lines.append("  " + pad("first", StatsTable.labelWidth) + valuesLine(c.values.prefix(firstValues))
                     + (c.values.count > firstValues ? "  …" : ""))
        guard let dump else { return lines }
        guard let result = dump.result, let tensor = dump.tensor else {
            lines.append("  " + pad("dump", StatsTable.labelWidth) + style.yellow("no tensor \(c.name) in \(dump.file)"))
            return lines
        }
        switch result.outcome {
        case .shapeMismatch(let d, let r):
            lines.append("  " + pad("dump", StatsTable.labelWidth) + style.red("shape \(shapeDescription(d)) differs from the \(dump.against)'s \(shapeDescription(r))"))
        case .refusedDType:
            lines.append("  " + pad("dump", StatsTable.labelWidth) + style.red(result.problem ?? ""))
        case .compared, .nonFinite:
            lines.append(StatsTable.row("dump", TensorStats(tensor.values), style))
            lines.append("  " + pad("first", StatsTable.labelWidth) + valuesLine(tensor.values.prefix(firstValues))
                         + (tensor.values.count > firstValues ? "  …" : ""))
            lines += difference(result, against: dump.against, style: style)
        }
        return lines
    }

    /// The `diff` lines of a comparison whose values could be read.
    static func difference(_ d: CheckpointComparison, against: String, style: TerminalStyle) -> [String] {
        var line = "  " + pad("diff", StatsTable.labelWidth)
            + "max abs \(formatNumber(d.metrics.maxAbs))  max rel \(formatNumber(d.metrics.maxRel))  NMSE \(formatNumber(d.metrics.nmse))"
            + "  (dump vs \(against))"
        switch d.verdict {
        case .pass: line += "  " + style.green("pass")
        case .fail: line += "  " + style.red("FAIL")
        case .unmarked: break
        }
        if case .nonFinite(let nan, let inf) = d.outcome {
            line += " (\(nan) NaN, \(inf) Inf where the \(against) is finite)"
        } else if d.verdict != .unmarked {
            if let t = d.tolerance {
                line += " (\(d.budgetLabel) budget: max rel ≤ \(formatNumber(t.maxRel)), NMSE ≤ \(formatNumber(t.nmse)))"
            } else {
                line += " (\(d.budgetLabel))"
            }
        }
        if d.batchOfOne { line += " (leading axis of 1 read as a batch of one)" }
        var lines = [line]
        if let l = d.local {   // the stage re-run in float64 on the dump's own inputs (SPEC.md §4.8)
            lines.append("  " + pad("local", StatsTable.labelWidth)
                         + "max abs \(formatNumber(l.metrics.maxAbs))  max rel \(formatNumber(l.metrics.maxRel))  NMSE \(formatNumber(l.metrics.nmse))"
                         + "  (dump vs this stage re-run in float64 on the dump's inputs)"
                         + (l.tolerance.map { "  " + (l.passed ? style.green("pass") : style.red("FAIL"))
                             + " (local budget: max rel ≤ \(formatNumber($0.maxRel)), NMSE ≤ \(formatNumber($0.nmse)))" } ?? ""))
        }
        if let worst = d.worstIndex, d.metrics.maxAbs > 0 || d.metrics.nonFiniteMismatches > 0 {
            lines.append("  " + pad("", StatsTable.labelWidth) + "worst at " + elementLocation(name: d.name, shape: d.shape, index: worst)
                         + ": dump \(formatNumber(d.worstCandidate)), \(against) \(formatNumber(d.worstTruth))"
                         + (d.metrics.nonFiniteMismatches > 0 ? "; \(d.metrics.nonFiniteMismatches) non-finite mismatches" : ""))
        }
        return lines
    }

    /// `p`: the selected values with their statistics, one row per run of the last kept axis.
    ///
    /// With `dump` (the dump's values in the run's shape) each row is followed
    /// by the dump's row and the difference dump − run; `dumpNote` is printed
    /// instead when the dump's tensor cannot be shown.
    static func tensor(_ c: Checkpoint, slice: TensorSlice, sliceText: String?, precision: String,
                       dump: [Double]? = nil, dumpNote: String? = nil, style: TerminalStyle) throws -> [String] {
        let labels = axisLabels(for: c.name, rank: c.shape.count)
        let selection = try slice.select(shape: c.shape, labels: labels)
        let flat = selection.flatIndices()
        let values = flat.map { c.values[$0] }
        let dumpValues = dump.map { d in flat.map { d[$0] } }
        let keptLabels = zip(labels, selection.dropped).filter { !$0.1 }.map { $0.0 }
        var lines = [style.bold(c.name + (sliceText.map { "[\($0)]" } ?? "")) + "  " + shapeDescription(selection.shape)
                     + (keptLabels.isEmpty ? "" : " (" + keptLabels.joined(separator: ", ") + ")") + "  " + precision]
        if values.isEmpty {
            lines.append("  (empty selection)")
            return lines
        }
        lines.append(StatsTable.header(style))
        lines.append(StatsTable.row(dumpValues == nil ? "values" : "run", TensorStats(values), style))
        if let dumpValues {
            lines.append(StatsTable.row("dump", TensorStats(dumpValues), style))
            let m = ErrorMetrics(reference: values, candidate: dumpValues)
            lines.append("  " + pad("diff", StatsTable.labelWidth) + "max abs \(formatNumber(m.maxAbs))  max rel \(formatNumber(m.maxRel))"
                         + "  NMSE \(formatNumber(m.nmse))  (dump vs run, this selection)")
        } else if let dumpNote {
            lines.append("  " + pad("dump", StatsTable.labelWidth) + style.yellow(dumpNote))
        }

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
                if let dumpValues {
                    let d = dumpValues[start..<end]
                    lines.append("  " + pad(first ? rowLabel(r) : "", labelWidth) + "  " + pad("run", 5) + valuesLine(row[start..<end]))
                    lines.append("  " + pad("", labelWidth) + "  " + pad("dump", 5) + valuesLine(d))
                    lines.append("  " + pad("", labelWidth) + "  " + pad("diff", 5) + valuesLine(zip(d, row[start..<end]).map { $0 - $1 }))
                } else {
                    lines.append("  " + pad(first ? rowLabel(r) : "", labelWidth) + valuesLine(row[start..<end]))
                }
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

    /// Statistics of one head of a WKV state.
    struct WKVHeadStats {
        var head: Int
        var frobenius: Double
        var maxAbs: Double
        var decayMin: Double
        var decayMax: Double
    }

    /// Per-head statistics of `state` [H, N, N] and of `decay` [T, H, N] (a NaN sticks).
    static func wkvHeadStats(state: [Double], decay: [Double], heads H: Int, headDim N: Int) -> [WKVHeadStats] {
        let T = N > 0 && H > 0 ? decay.count / (H * N) : 0
        return (0..<H).map { h in
            var squares = 0.0, maxAbs = 0.0
            for x in state[(h * N * N)..<((h + 1) * N * N)] {
                squares += x * x
                if x.isNaN || abs(x) > maxAbs { maxAbs = abs(x) }
            }
            var dMin = Double.infinity, dMax = -Double.infinity
            for t in 0..<T {
                for d in decay[((t * H + h) * N)..<((t * H + h + 1) * N)] {
                    if d.isNaN || d < dMin { dMin = d }
                    if d.isNaN || d > dMax { dMax = d }
                }
            }
            return WKVHeadStats(head: h, frobenius: squares.squareRoot(), maxAbs: maxAbs,
                                decayMin: T > 0 ? dMin : .nan, decayMax: T > 0 ? dMax : .nan)
        }
    }

    /// `s`: one row per head.
    static func wkvState(layer: Int, tokens: Int, precision: String, stats: [WKVHeadStats], note: String?,
                         style: TerminalStyle) -> [String] {
        var lines: [String] = []
        if let note { lines.append(style.yellow(note)) }
        lines.append(style.bold("WKV state of layer \(layer)") + " after token \(tokens - 1): S [value][key] per head, zero initial state")
        lines.append(style.dim("  as the engine reported it: \(CheckpointName.stateWKV(layer)) [H, N, N] (\(precision)); decay from layers.\(layer).rwkv.decay"))
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
