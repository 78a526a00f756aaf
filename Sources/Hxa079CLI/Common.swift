// Common: helpers shared by the subcommands (token lists, precision, errors).

import ArgumentParser
import Hxa079
import Hxa079Fixtures
import Hxa079Fast
import Hxa079Reference
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a forward pass is computed: the options every subcommand that runs a
/// model shares (`forward`, `step`), declared once.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Precision: f64 (the reference's default), f32 (the fast engine's default), or bf16 (the bf16 storage model of SPEC.md §4.7: the fast bf16 engine, or the reference's bf16 profile in Float).")
    var precision: Precision?

    @Option(name: .long, help: "Engine: reference (default) or fast (default f32).")
    var engine: EngineKind = .reference

    @Option(name: .long, parsing: .unconditional, help: "WKV form: 0 or absent = token-by-token recurrence, L ≥ 1 = chunks of L tokens.")
    var chunkSize: Int = 0

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("RWKV-Infer's RoPE clamp (not the model): positions ≥ N use the angles of position N − 1 (SPEC.md (4a)). Default: no clamp.", valueName: "N"))
    var ropePositionLimit: Int?

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("RWKV-Infer's KV window (not the model): each GQA cache keeps at most N rows, the oldest evicted once per call before its attention; a call may hold at most N tokens (SPEC.md (27a)). Default: the whole cache.", valueName: "N"))
    var kvWindow: Int?

    func validate() throws {
        try requireNonNegative(chunkSize, "--chunk-size")
        for (value, flag) in [(ropePositionLimit, "--rope-position-limit"), (kvWindow, "--kv-window")] {
            guard let value else { continue }
            if value < 1 { throw ValidationError("\(flag) must be ≥ 1, got \(value)") }
        }
    }

    /// The reference's options for these flags.
    var forwardOptions: ForwardOptions {
        ForwardOptions(chunkSize: chunkSize, ropePositionLimit: ropePositionLimit, kvWindow: kvWindow)
    }

    /// The fast engine's options for the two long-context flags (the same values).
    var longContext: LongContextOptions { forwardOptions.longContext }

    /// ` with RWKV-Infer's --rope-position-limit N --kv-window N` for the labels; empty when both are off.
    var compatLabel: String {
        let parts = [ropePositionLimit.map { "--rope-position-limit \($0)" }, kvWindow.map { "--kv-window \($0)" }].compactMap { $0 }
        return parts.isEmpty ? "" : " with RWKV-Infer's " + parts.joined(separator: " ")
    }

    /// Throws (exit 64) when one call of `tokens` tokens cannot run under `--kv-window`.
    func requireCallFits(tokens: Int) throws {
        if let n = kvWindow, tokens > n {
            throw ValidationError("--kv-window \(n): a call of \(tokens) tokens exceeds the window (RWKV-Infer's result is undefined there); "
                                  + "run at most \(n) tokens per call, carrying the state with --state-out/--state-in")
        }
    }

    /// The precision the run computes in: as given, else f64 for the reference and f32 for the fast engine.
    var resolvedPrecision: Precision { precision ?? (engine == .fast ? .f32 : .f64) }
}

/// Precision of a run: Float64, Float32, or the bf16 storage model (SPEC.md
/// §4.7: values stored in bfloat16, Float arithmetic in between).
enum Precision: String, ExpressibleByArgument, CaseIterable {
    case f64, f32, bf16

    /// The dtype a run in this precision writes its dumps and states in (exact).
    var dtype: DType {
        switch self {
        case .f64: return .F64
        case .f32: return .F32
        case .bf16: return .BF16
        }
    }
}

/// Which engine computes the forward pass.
enum EngineKind: String, ExpressibleByArgument, CaseIterable {
    case reference, fast
}

/// The token ids of `--tokens LIST` or `--tokens-file PATH` (at most one may
/// be given); nil when neither is. Errors are usage errors (exit 64).
func tokenIDs(list: String?, file: String?) throws -> [Int]? {
    switch (list, file) {
    case (.some, .some): throw ValidationError("give --tokens or --tokens-file, not both")
    case (let text?, nil): return try parseTokens(text)
    case (nil, let path?): return try parseTokensFile(path)
    case (nil, nil): return nil
    }
}

/// Reads `--tokens-file PATH`: token ids separated by commas and/or
/// whitespace, on any number of lines (LF or CRLF). The error names the
/// line and the item (both 1-based) that is not a token id.
func parseTokensFile(_ path: String) throws -> [Int] {
    let bytes: [UInt8]
    do { bytes = try readFileBytes(path) } catch { throw ValidationError("--tokens-file: \(error)") }
    let text = String(decoding: bytes, as: UTF8.self)   // invalid UTF-8 becomes U+FFFD, which is not a token id
    var ids: [Int] = []
    for (l, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
        for (k, item) in line.split(whereSeparator: { $0 == "," || $0.isWhitespace }).enumerated() {
            guard let v = Int(item), v >= 0 else {
                let shown = item.count > 24 ? item.prefix(24) + "…" : item
                throw ValidationError("--tokens-file \(path): line \(l + 1), item \(k + 1) (\"\(shown)\") is not a token id (a non-negative integer)")
            }
            ids.append(v)
        }
    }
    if ids.isEmpty { throw ValidationError("--tokens-file \(path) holds no token ids") }
    return ids
}

/// Parses `1,2,3` (spaces allowed) into token ids.
func parseTokens(_ text: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters() }
    if parts.count == 1 && parts[0].isEmpty { throw ValidationError("--tokens is empty") }
    return try parts.enumerated().map { (i, p) in
        guard let v = Int(p) else { throw ValidationError("--tokens: item \(i) (\"\(p)\") is not an integer") }
        guard v >= 0 else { throw ValidationError("--tokens: item \(i) is negative (\(v))") }
        return v
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

/// Prints a one-line message on stderr.
func printError(_ message: String) {
    fputs("hxa079: " + message.replacingNewlines() + "\n", stderr)
}

/// Prints a warning on stderr.
func printWarning(_ message: String) {
    fputs("hxa079: warning: " + message.replacingNewlines() + "\n", stderr)
}

extension String {
    func replacingNewlines() -> String { String(map { $0 == "\n" ? " " : $0 }) }
}

/// Runs `body`, turning package errors into one line on stderr and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

/// A progress line on stderr for long runs: shown only when stderr is a
/// terminal, redrawn in place, erased by `finish()`.
final class ProgressLine {
    let total: Int
    let enabled: Bool
    private var lastPercent = -1

    init(total: Int) {
        self.total = max(total, 1)
        self.enabled = isatty(STDERR_FILENO) != 0
    }

    func update(_ done: Int, label: String) {
        guard enabled else { return }
        let percent = min(100, done * 100 / total)
        if percent == lastPercent { return }
        lastPercent = percent
        fputs("\r\u{1B}[K\(label): \(percent)%", stderr)
    }

    func finish() {
        if enabled && lastPercent >= 0 { fputs("\r\u{1B}[K", stderr) }
    }
}

/// Shows layer-by-layer progress of one forward call on stderr (only when stderr
/// is a terminal) while passing checkpoints on to `inner`. When neither is
/// needed, `observer` is nil so engines skip the checkpoint machinery.
final class ProgressObserver: CheckpointObserver {
    let inner: (any CheckpointObserver)?
    let line: ProgressLine
    let layers: Int

    init(inner: (any CheckpointObserver)?, layers: Int) {
        self.inner = inner
        self.layers = layers
        self.line = ProgressLine(total: max(layers, 1))
    }

    /// The observer to hand to an engine.
    var observer: (any CheckpointObserver)? { line.enabled ? self : inner }

    func wants(_ name: String) -> Bool {
        if let i = CheckpointName.layerIndex(of: name), name == CheckpointName.layerOut(i) {
            line.update(i + 1, label: "forward: layer \(i + 1)/\(layers)")
        }
        return inner?.wants(name) ?? false
    }

    func observe(_ checkpoint: Checkpoint) throws { try inner?.observe(checkpoint) }

    var stateCheckpoints: StateCheckpoints { inner?.stateCheckpoints ?? .none }

    func finish() { line.finish() }
}

// MARK: - Numeric options
//
// Options that take a number are declared with `parsing: .unconditional`, so
// `--chunk-size -3` hands `-3` to the option (and so to the checks below)
// instead of being read as an unknown flag.

/// Throws unless `x` is finite and > 0: `--OPTION must be a positive number, got X`.
func requirePositive(_ x: Double, _ option: String) throws {
    if !(x > 0) || !x.isFinite { throw ValidationError("\(option) must be a positive number, got \(x)") }
}

/// Throws unless `x` ≥ 0: `--OPTION must be ≥ 0, got X`.
func requireNonNegative(_ x: Int, _ option: String) throws {
    if x < 0 { throw ValidationError("\(option) must be ≥ 0, got \(x)") }
}

/// The `count` names nearest to `text` by edit distance (ties in list order),
/// for "did you mean" messages.
func closestNames(to text: String, in names: [String], count: Int = 3) -> [String] {
    let a = Array(text)
    func distance(_ name: String) -> Int {
        let b = Array(name)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let substitute = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
                previous = row[j]
                row[j] = min(substitute, row[j] + 1, row[j - 1] + 1)
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    return names.enumerated().map { (distance($0.element), $0.offset, $0.element) }
        .sorted { ($0.0, $0.1) < ($1.0, $1.1) }.prefix(count).map { $0.2 }
}
