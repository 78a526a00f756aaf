// InspectCommand: `hxa079 inspect --model DIR` — what a model directory holds
// and everything wrong with it.
//
// Contract: prints (stdout) the files, config, layer map, LoRA ranks,
// parameter counts per kind, dtypes and the validation report, computed from
// the headers plus one streaming pass over the stored values (no tensor is
// converted or kept, so a model larger than memory can be inspected). Exit 0
// when the model is valid; otherwise every problem is listed on stdout, one
// line naming the problem(s) goes to stderr, and the exit status is 1. Every
// problem is fatal here, non-finite weights included (`forward` and `step`
// only warn about those).

import ArgumentParser
import Hxa079
import SafeTensors

extension HXA079 {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Check a model directory; print its config, layer map, parameter counts and every problem.",
            discussion: """
                Reads config.json and model.safetensors, or the shards listed in \
                model.safetensors.index.json, with HF-style or RWKV-style tensor names. \
                Prints the config, the layer map (R = RWKV layer, A = GQA layer, ? = neither or both), \
                the LoRA ranks (decay/iclr/value/key/gate, from the tensor shapes), parameter counts \
                per kind, dtypes and file sizes, then the validation report: missing, unexpected, \
                misshapen or integer-typed tensors, config inconsistencies, a layer list disagreeing \
                with the weights, and tensors holding NaN or Inf. Exits 0 only when there is no \
                problem at all; otherwise prints one line naming the problems on stderr and exits 1. \
                Values are scanned in a streaming pass and never converted, so this works on \
                models larger than memory.
                """)

        @Option(name: .long, help: "Model directory (config.json + model.safetensors or sharded safetensors).")
        var model: String

        func run() throws {
            try runReportingErrors {
                let directory = try ModelDirectory(path: model)
                let summary = directory.summary()
                print(describe(directory: directory, summary: summary), terminator: "")
                let report = directory.validate()
                print(describe(report: report), terminator: "")
                if !report.isClean { throw Hxa079Error.invalidModel(report.allProblems) }
            }
        }

        func describe(directory: ModelDirectory, summary: ModelSummary) -> String {
            var out = Table()
            out.row("model", directory.path)
            let fileRows = summary.files.map { f in
                [lastPathComponent(f.path), formatBytes(f.bytes), "\(f.tensors) tensor\(f.tensors == 1 ? "" : "s")"]
            }
            for (k, line) in alignColumns(fileRows, rightAligned: [1, 2]).enumerated() { out.row(k == 0 ? "files" : "", line) }
            let totalBytes = summary.files.reduce(0) { $0 + $1.bytes }
            out.row("", "\(summary.files.count) file\(summary.files.count == 1 ? "" : "s"), \(formatBytes(totalBytes)), "
                    + "\(summary.naming.label) names\(summary.sharded ? ", sharded (model.safetensors.index.json)" : "")")

            let c = directory.config
            var cfg: [[String]] = [
                ["hidden_size", "\(c.hiddenSize)", "C"],
                ["num_attention_heads", "\(c.numHeads)", "H"],
                ["head_dim", "\(c.headDim)", c.numHeads > 0 && c.headDim > 0 && c.numHeads <= ModelConfig.maxDimension && c.headDim <= ModelConfig.maxDimension ? "N (H·N = \(c.numHeads * c.headDim))" : "N"],
                ["num_key_value_heads", "\(c.numKVHeads)", c.numKVHeads > 0 && c.numHeads % c.numKVHeads == 0 ? "Hkv (group size \(c.numHeads / c.numKVHeads))" : "Hkv"],
                ["intermediate_size", "\(c.intermediateSize)", "I"],
                ["vocab_size", "\(c.vocabSize)", "V"],
                ["num_hidden_layers", "\(c.numLayers)", "L"],
                ["rms_norm_eps", "\(c.rmsNormEps)", "ε"],
                ["rope_theta", c.ropeTheta.isNaN ? "(absent)" : plainNumber(c.ropeTheta), "θ"],
                ["tie_word_embeddings", "\(c.tieWordEmbeddings)", ""],
            ]
            if let d = c.declaredLayerKinds {
                cfg.append(["declared layers", String(d.map { $0.letter }), "transformer_layers / layer_types"])
            } else {
                cfg.append(["declared layers", "(none)", "the weights decide"])
            }
            for (k, line) in alignColumns(cfg, rightAligned: []).enumerated() { out.row(k == 0 ? "config" : "", line) }

            let map = summary.layerMap
            let r = map.filter { $0 == "R" }.count, a = map.filter { $0 == "A" }.count, q = map.filter { $0 == "?" }.count
            let gqaAt = map.enumerated().filter { $0.element == "A" }.map { String($0.offset) }
            out.row("layers", map.isEmpty ? "(none)" : map)
            out.row("", "\(r) RWKV, \(a) GQA\(gqaAt.isEmpty ? "" : " at \(gqaAt.joined(separator: ","))")\(q > 0 ? ", \(q) undetermined (?)" : "")"
                    + "  (R = RWKV, A = GQA)")

            var byRanks: [(String, [Int])] = []
            for lr in summary.loraRanks {
                if let k = byRanks.firstIndex(where: { $0.0 == lr.text }) { byRanks[k].1.append(lr.layer) }
                else { byRanks.append((lr.text, [lr.layer])) }
            }
            if byRanks.isEmpty { out.row("LoRA ranks", "(no RWKV layers)") }
            for (k, (text, layers)) in byRanks.enumerated() {
                let which = byRanks.count == 1 ? "all \(layers.count) RWKV layer\(layers.count == 1 ? "" : "s")"
                    : "layer\(layers.count == 1 ? "" : "s") \(layers.map(String.init).joined(separator: ","))"
                out.row(k == 0 ? "LoRA ranks" : "", "\(text)  (decay/iclr/value/key/gate; \(which))")
            }

            var params: [[String]] = []
            for g in ModelSummary.Group.allCases {
                let n = summary.parameters[g] ?? 0
                if n == 0 && (g == .bookkeeping || g == .unrecognized) { continue }
                params.append([g.rawValue, groupedDigits(n), percent(n, of: summary.totalParameters)])
            }
            params.append(["total", groupedDigits(summary.totalParameters), ""])
            for (k, line) in alignColumns(params, rightAligned: [1, 2]).enumerated() { out.row(k == 0 ? "parameters" : "", line) }

            let dtypeRows = summary.dtypes.map { u in
                [u.dtype.rawValue, "\(u.tensors) tensor\(u.tensors == 1 ? "" : "s")", "\(groupedDigits(u.parameters)) values", formatBytes(u.bytes)]
            }
            if dtypeRows.isEmpty { out.row("dtypes", "(no tensors)") }
            for (k, line) in alignColumns(dtypeRows, rightAligned: [1, 2, 3]).enumerated() { out.row(k == 0 ? "dtypes" : "", line) }

            // streamed weights (SPEC.md §2.8): what a forward call will need, before anything runs
            guard c.problems().isEmpty else { return out.text }   // the validation report says why
            let estimate = MemoryEstimate(directory: directory)
            let memoryRows = estimate.engines.map { [$0.label, "≈ " + formatBytes($0.peakAnonymousBytes) + " peak anonymous"] }
            for (k, line) in alignColumns(memoryRows, rightAligned: [1]).enumerated() { out.row(k == 0 ? "memory" : "", line) }
            out.row("", "\(formatBytes(estimate.mappedBytes)) mapped (the reference reads with pread; the fast path reads "
                    + "BF16 matrices in place, as page cache); for a call of \(estimate.tokens) tokens")
            out.row("disk read", "\(formatBytes(estimate.diskReadPerPassBytes)) per forward pass (every layer and the head, "
                    + "at the stored dtype; values checked for NaN/Inf as they are read)")
            return out.text
        }

        func describe(report: ValidationReport) -> String {
            var out = Table()
            if report.isClean {
                out.row("validation", "OK: no problems, all values finite")
                return out.text
            }
            let n = report.problems.count, f = report.nonFinite.count
            var parts: [String] = []
            if n > 0 { parts.append("\(n) structural problem\(n == 1 ? "" : "s")") }
            if f > 0 { parts.append("\(f) tensor\(f == 1 ? "" : "s") with non-finite values") }
            out.row("validation", "FAILED: " + parts.joined(separator: ", "))
            for p in report.problems { out.row("", "- " + p) }
            for p in report.nonFiniteDescriptions { out.row("", "- " + p) }
            return out.text
        }
    }
}

/// 10000.0 → "10000", 1e-05 stays "1e-05".
private func plainNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
    return "\(x)"
}

/// Two-column text: a label column and a value column.
private struct Table {
    var text = ""
    mutating func row(_ label: String, _ value: String) {
        text += label.padding(to: 12) + value + "\n"
    }
}

/// Pads each column to its widest cell (right-aligning the given columns).
private func alignColumns(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
    let columns = rows.map { $0.count }.max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (k, cell) in row.enumerated() { widths[k] = max(widths[k], cell.count) } }
    return rows.map { row in
        var line = ""
        for (k, cell) in row.enumerated() {
            let isLast = k == row.count - 1
            if rightAligned.contains(k) { line += String(repeating: " ", count: widths[k] - cell.count) + cell }
            else { line += isLast ? cell : cell.padding(to: widths[k]) }
            if !isLast { line += "  " }
        }
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }
}

/// 1234567 → "1,234,567".
func groupedDigits(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (k, ch) in digits.enumerated() {
        if k > 0 && (digits.count - k) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

private func percent(_ n: Int, of total: Int) -> String {
    guard total > 0 else { return "" }
    let p = (Double(n) / Double(total) * 1000).rounded() / 10
    return "\(p)%"
}

fileprivate func lastPathComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
