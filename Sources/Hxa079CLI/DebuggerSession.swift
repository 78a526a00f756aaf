// DebuggerSession: the `CheckpointObserver` behind `hxa079 step`.
//
// Contract: the engine reports every checkpoint to `observe` in execution
// order (SPEC.md §4); the session keeps each one (for `p` and `s`), measures
// it (statistics, non-finite counts, the dump comparison) and decides whether
// to pause:
//   * stepping (`n [COUNT]`): pause after COUNT checkpoints, or earlier at a
//     breakpoint; a session with commands to read starts by stepping, so it
//     pauses at `embed`, unless --break patterns are given, when it starts
//     as if `c` had been typed;
//   * continuing (`c`): pause at the next checkpoint matching a breakpoint;
//   * running to the end (no command source, or the script ran out): never
//     pause, but still print every breakpoint hit;
//   * --watch-nan: the first checkpoint where the run or the --compare dump
//     holds a NaN or ±Inf always stops the run, and the alert says which
//     side: in interactive mode it pauses there; otherwise it prints the
//     checkpoint and the alert and throws `.nonFinite`, which the command
//     turns into exit status 3.
// The session asks the engine for the WKV state once per call
// (`state.layers.{i}.wkv`, SPEC.md §4.4, reported just before the layer's
// `rwkv.wkv`); those are kept for `s` and `p` but are not steps of the run.
// At a pause it prints the checkpoint and reads commands until one resumes
// the run (`n`, `c`); `q` (or end of terminal input) throws `.quit`. Bad
// commands print one `error:` line on stdout and the session goes on.
// While the run goes on for more than half a second without a pause, a
// progress line is drawn on stderr (when stderr is a terminal).

import Dispatch
import Hxa079
import Hxa079Fixtures

/// Why a session stopped the run early.
enum DebuggerStop: Error {
    /// `q`, or end of input at the prompt.
    case quit(at: String?)
    /// --watch-nan outside interactive mode; `side` is `run` or `dump`.
    case nonFinite(checkpoint: String, side: String)
}

final class DebuggerSession: CheckpointObserver {
    struct Settings {
        var config: ModelConfig
        var layerKinds: [LayerKind]
        /// `f64` or `f32`.
        var precision: String
        var breakpoints: [String]
        var watchNaN: Bool
        var comparator: DumpComparator?
    }

    private enum Mode { case step(Int), continueToBreakpoint, toEnd }

    let settings: Settings
    let input: DebuggerInput
    let style: TerminalStyle
    /// Every checkpoint name of the model, in execution order.
    let allNames: [String]
    private(set) var breakpoints: [String]
    private var mode: Mode
    private var seen: [String: Checkpoint] = [:]
    private(set) var seenCount = 0
    private(set) var current: Checkpoint?
    private let progress: ProgressLine
    /// When the run last resumed; the progress line appears only after `progressDelay` of running.
    private var resumedAt = DispatchTime.now().uptimeNanoseconds
    private static let progressDelay: UInt64 = 500_000_000
    private var watchFired = false

    // Summary bookkeeping.
    private(set) var firstNonFinite: String?
    private(set) var firstNonFiniteInDump: String?
    private(set) var comparedCount = 0
    /// Compared checkpoints outside the fixture's checkpoint selection (against this run, unmarked).
    private(set) var notInFixtureCount = 0
    private(set) var missingCount = 0
    private(set) var failureCount = 0
    private(set) var firstFailure: String?

    init(settings: Settings, input: DebuggerInput, style: TerminalStyle) {
        self.settings = settings
        self.input = input
        self.style = style
        allNames = CheckpointName.all(layerKinds: settings.layerKinds)
        breakpoints = settings.breakpoints
        if input.isExhausted { mode = .toEnd }
        else if !settings.breakpoints.isEmpty { mode = .continueToBreakpoint }
        else { mode = .step(1) }
        progress = ProgressLine(total: allNames.count)
    }

    /// Glob patterns that match no checkpoint of this model.
    static func unmatched(_ patterns: [String], names: [String]) -> [String] {
        patterns.filter { p in !names.contains { globMatches(p, $0) } }
    }

    // MARK: - CheckpointObserver

    func wants(_ name: String) -> Bool { true }

    var stateCheckpoints: StateCheckpoints { .perCall }

    func observe(_ c: Checkpoint) throws {
        seen[c.name] = c
        if c.name.hasPrefix("state.") { return }   // kept for `s` and `p`; not a step of the run
        seenCount += 1
        current = c
        let stats = TensorStats(c.values)
        let outcome = settings.comparator?.compare(c)
        let dumpTensor = settings.comparator?.tensors[c.name]
        let dumpStats = dumpTensor.map { TensorStats($0.values) }
        tally(c, stats: stats, outcome: outcome)
        if firstNonFiniteInDump == nil, let d = dumpTensor, let ds = dumpStats, ds.nonFiniteCount > 0 {
            firstNonFiniteInDump = "first in " + nonFiniteText(Checkpoint(name: c.name, shape: d.shape, values: d.values), ds)
        }

        var alert: String? = nil
        var side = "run"
        if settings.watchNaN && !watchFired {
            if stats.nonFiniteCount > 0 {
                watchFired = true
                alert = "non-finite values in " + nonFiniteText(c, stats) + " (in the run)"
            } else if let d = dumpTensor, let ds = dumpStats, ds.nonFiniteCount > 0 {
                watchFired = true
                side = "dump"
                alert = "non-finite values in the dump's " + nonFiniteText(Checkpoint(name: c.name, shape: d.shape, values: d.values), ds)
                    + " (in \(settings.comparator?.path ?? "the dump"); the run is finite here)"
            }
        }
        let hit = breakpoints.first { globMatches($0, c.name) }
        var pause = false
        switch mode {
        case .step(let k): if k <= 1 || hit != nil { pause = true } else { mode = .step(k - 1) }
        case .continueToBreakpoint: pause = hit != nil
        case .toEnd: break
        }
        let show = pause || alert != nil || hit != nil
        guard show else {
            if DispatchTime.now().uptimeNanoseconds - resumedAt > Self.progressDelay { progress.update(seenCount, label: "step") }
            return
        }
        progress.finish()
        let reason = alert != nil ? "non-finite" : hit.map { "breakpoint \($0)" }
        let dump = settings.comparator.map {
            DebuggerView.DumpSide(file: $0.path, tensor: dumpTensor, result: outcome, against: $0.judgedByFixture(c) ? "truth" : $0.fixture != nil ? "run; not in this fixture" : "run")
        }
        emit(DebuggerView.checkpoint(c, index: seenCount, total: allNames.count, precision: settings.precision,
                                     layerKinds: settings.layerKinds, reason: reason, stats: stats, dump: dump, style: style))
        if let alert {
            print("  " + style.red(alert))
            if !input.isInteractive { throw DebuggerStop.nonFinite(checkpoint: c.name, side: side) }
            pause = true
        }
        guard pause else { return }   // a breakpoint hit while running to the end: shown, not paused
        guard !input.isExhausted else {
            mode = .toEnd   // nobody to ask: go on to the end
            return
        }
        try readCommands()
        resumedAt = DispatchTime.now().uptimeNanoseconds
    }

    // MARK: - Commands

    /// Reads and runs commands until one resumes the run.
    private func readCommands() throws {
        while true {
            guard let line = input.nextLine() else {
                if input.isInteractive { throw DebuggerStop.quit(at: current?.name) }
                mode = .toEnd   // the script ran out: go on to the end
                return
            }
            let command = DebuggerCommand(parsing: line)
            switch command {
            case .next(let k): mode = .step(k); return
            case .continueRun: mode = .continueToBreakpoint; return
            case .quit: throw DebuggerStop.quit(at: current?.name)
            default: run(command)
            }
        }
    }

    /// Runs a command that does not resume the run.
    func run(_ command: DebuggerCommand) {
        switch command {
        case .addBreakpoint(let pattern):
            let matches = allNames.filter { globMatches(pattern, $0) }.count
            if matches == 0 {
                error("b: pattern \"\(pattern)\" matches no checkpoint of this model (names look like layers.0.rwkv.wkv)")
            } else if breakpoints.contains(pattern) {
                print("breakpoint \(pattern) is already set")
            } else {
                breakpoints.append(pattern)
                print("breakpoint \(breakpoints.count): \(pattern) (\(matches) checkpoint\(matches == 1 ? "" : "s"))")
            }
        case .listBreakpoints:
            if breakpoints.isEmpty { print("no breakpoints") }
            for (i, b) in breakpoints.enumerated() { print("breakpoint \(i + 1): \(b)") }
        case .print(let name, let slice): printTensor(name: name, sliceText: slice)
        case .state: printState()
        case .layers: print(DebuggerView.layerMap(layerKinds: settings.layerKinds, current: current?.name, style: style))
        case .help: print(DebuggerCommand.helpText)
        case .invalid(let message): error(message)
        case .empty, .next, .continueRun, .quit: break
        }
    }

    private func error(_ message: String) {
        print(style.red("error:") + " " + message.replacingNewlines())
    }

    private func emit(_ lines: [String]) {
        for line in lines { print(line) }
    }

    /// `p [NAME] [SLICE]`.
    private func printTensor(name: String?, sliceText: String?) {
        var name = name
        var sliceText = sliceText
        // `p 0:2` slices the current checkpoint (no name starts with a digit, `-` or `:`).
        if let n = name, sliceText == nil, let first = n.first, first.isNumber || first == "-" || first == ":" {
            sliceText = n
            name = nil
        }
        guard let c = name.map({ seen[$0] }) ?? current else {
            if let n = name {
                if allNames.contains(n) {
                    error("p: \(n) has not been computed yet (the run is at \(current?.name ?? "the start"); n or c to get there)")
                } else {
                    error("p: no checkpoint named \"\(n)\" in this model (names look like layers.0.rwkv.r; l shows the layers)")
                }
            } else {
                error("p: no checkpoint yet")
            }
            return
        }
        do {
            let slice = try sliceText.map { try TensorSlice(parsing: $0) } ?? .all
            var dump: [Double]? = nil
            var note: String? = nil
            if let comparator = settings.comparator {
                dump = comparator.values(c)
                if dump == nil {
                    note = comparator.tensors[c.name] == nil ? "no tensor \(c.name) in \(comparator.path)"
                        : "not shown: " + (comparator.compare(c)?.problem ?? "not comparable")
                }
            }
            emit(try DebuggerView.tensor(c, slice: slice, sliceText: sliceText, precision: settings.precision,
                                         dump: dump, dumpNote: note, style: style))
        } catch {
            self.error("p: \(error)")
        }
    }

    /// `s`: the WKV state the engine reported for the current RWKV layer, else for the last one that reported it.
    private func printState() {
        let kinds = settings.layerKinds
        let currentLayer = current.flatMap { CheckpointName.layerIndex(of: $0.name) }
            ?? (current?.name == CheckpointName.embed ? -1 : kinds.count - 1)
        func ready(_ l: Int) -> Bool { seen[CheckpointName.stateWKV(l)] != nil }
        guard currentLayer >= 0,
              let layer = (0...min(currentLayer, kinds.count - 1)).reversed().first(where: { kinds[$0] == .rwkv && ready($0) }) else {
            if seen.keys.contains(where: { $0.hasSuffix(".rwkv.wkv") }) {
                error("s: this engine reports no WKV state (state.layers.{i}.wkv); the reference engine does (--engine reference)")
            } else {
                error("s: no RWKV layer has reached rwkv.wkv yet (the engine reports its state there)")
            }
            return
        }
        var note: String? = nil
        if layer != currentLayer, currentLayer < kinds.count, kinds[currentLayer] == .rwkv {
            note = "layer \(currentLayer) has not reached rwkv.wkv yet; showing the last RWKV layer with a state, layer \(layer)"
        }
        let cfg = settings.config
        let H = cfg.numHeads, N = cfg.headDim
        guard let state = seen[CheckpointName.stateWKV(layer)], state.shape == [H, N, N],
              let decay = seen[CheckpointName.rwkv(layer, "decay")], decay.shape.count == 3, Array(decay.shape.dropFirst()) == [H, N] else {
            error("s: the state or decay of layer \(layer) does not have the shape of SPEC.md §4.3–4.4")
            return
        }
        let stats = DebuggerView.wkvHeadStats(state: state.values, decay: decay.values, heads: H, headDim: N)
        emit(DebuggerView.wkvState(layer: layer, tokens: decay.shape[0], precision: settings.precision, stats: stats, note: note, style: style))
    }

    // MARK: - Summary

    private func tally(_ c: Checkpoint, stats: TensorStats, outcome: CheckpointComparison?) {
        if firstNonFinite == nil && stats.nonFiniteCount > 0 { firstNonFinite = "first in " + nonFiniteText(c, stats) }
        guard settings.comparator != nil else { return }
        guard let d = outcome else { missingCount += 1; return }
        comparedCount += 1
        if let comparator = settings.comparator, comparator.fixture != nil, !comparator.judgedByFixture(c) { notInFixtureCount += 1 }
        guard !d.passed else { return }
        failureCount += 1
        guard firstFailure == nil else { return }
        if let problem = d.problem {
            firstFailure = "\(c.name): \(problem)"
        } else if d.verdict != .fail {   // within the global budget: the local figure or the logits metrics failed
            firstFailure = d.failureLine
        } else {
            firstFailure = "\(c.name) at \(d.worstLocation): "
                + "max rel \(formatNumber(d.metrics.maxRel)), NMSE \(formatNumber(d.metrics.nmse))"
                + (d.tolerance.map { " (\(d.budgetLabel) budget: max rel ≤ \(formatNumber($0.maxRel)), NMSE ≤ \(formatNumber($0.nmse)))" } ?? "")
        }
    }

    /// `layers.1.rwkv.v: 12 NaN, 0 Inf; first at token 0, kv head 1, channel 5 (flat index 21) = nan`.
    private func nonFiniteText(_ c: Checkpoint, _ s: TensorStats) -> String {
        let i = s.firstNonFinite ?? 0
        return "\(c.name): \(s.nanCount) NaN, \(s.infCount) Inf; first at "
            + elementLocation(name: c.name, shape: c.shape, index: i) + " (flat index \(i)) = \(formatNumber(c.values[i]))"
    }

    /// The lines printed when the run reaches its end.
    func summary(engine: String, tokens: Int) -> [String] {
        progress.finish()
        var lines = ["run complete: \(seenCount) of \(allNames.count) checkpoints, \(engine), \(tokens) token\(tokens == 1 ? "" : "s")"]
        lines.append("non-finite: " + (firstNonFinite.map { style.red($0) } ?? "none"))
        if input.pendingCount > 0 {
            lines.append("script: \(input.pendingCount) command\(input.pendingCount == 1 ? "" : "s") not run (the run ended first)")
        }
        if let comparator = settings.comparator {
            var line = "comparison with \(comparator.path): \(comparedCount) compared, \(missingCount) missing from the dump"
            if comparedCount == 0 {
                line += ", " + style.red("nothing compared")
            } else if comparator.fixture != nil {
                if notInFixtureCount > 0 {
                    line += " (\(notInFixtureCount) of them not in this fixture: against this run, not judged)"
                }
                line += failureCount == 0 ? ", " + style.green("all pass") : ", " + style.red("\(failureCount) FAIL")
            } else if failureCount > 0 {
                line += ", " + style.red("\(failureCount) not comparable")
            }
            lines.append(line)
            if let f = firstFailure { lines.append("first failure: " + f) }
            if let n = firstNonFiniteInDump { lines.append("non-finite in the dump: " + style.red(n)) }
        }
        return lines
    }

    /// Clears the progress line (before the command prints after the run).
    func finishProgress() { progress.finish() }
}
