// RunExecutable: runs the built `hxa079` executable from a test and captures
// what it did.
//
// Contract: `runHxa079(args, stdin:)` starts the `hxa079` product that SwiftPM
// built next to the test bundle (override with the HXA079_EXECUTABLE
// environment variable), waits for it (killing it after `timeout` seconds),
// and returns its exit status, stdout, stderr and whether it died on a
// signal. Output goes through temporary files, not pipes, so concurrent runs
// from parallel tests can neither deadlock on a full pipe nor hang on a pipe
// end inherited by another child. Throws only when the process cannot start.
//
// Usage in a test:
//     let r = try runHxa079(["inspect", "--model", dir])
//     #expect(r.exitedNormally && r.status == 0, "\(r)")

import Foundation

/// What one run of an executable did.
struct ExecResult: CustomStringConvertible, Sendable {
    /// Exit status, or the signal number when `signaled`.
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when the process was terminated by a signal (a crash or the timeout kill).
    var signaled: Bool
    /// True when it was killed for running past the timeout.
    var timedOut: Bool

    /// Exited by itself (no signal, no timeout).
    var exitedNormally: Bool { !signaled && !timedOut }
    /// Non-empty stderr lines.
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init).filter { !$0.isEmpty } }

    var description: String {
        let how = signaled ? "signal \(status)" : "exit \(status)"
        return "[\(how)\(timedOut ? ", timed out" : "")]\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)"
    }
}

struct ExecutableNotFound: Error, CustomStringConvertible {
    var searched: [String]
    var description: String { "hxa079 executable not found; looked in: \(searched.joined(separator: ", ")) (set HXA079_EXECUTABLE)" }
}

/// The directory holding the built products (where the test bundle lives).
func productsDirectory() -> [URL] {
    var candidates: [URL] = []
    #if os(macOS)
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    #endif
    // Linux: the test bundle is an executable `<package>PackageTests.xctest` in the products directory.
    if let exe = Bundle.main.executableURL { candidates.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
    return candidates
}

/// The `hxa079` executable to test.
func hxa079Executable() throws -> URL {
    if let override = ProcessInfo.processInfo.environment["HXA079_EXECUTABLE"], !override.isEmpty {
        return URL(fileURLWithPath: override)
    }
    let dirs = productsDirectory()
    for dir in dirs {
        let url = dir.appendingPathComponent("hxa079")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw ExecutableNotFound(searched: dirs.map(\.path))
}

/// Runs `hxa079 args…`, feeding `stdin` (none: an empty stdin), with `environment`
/// merged into the inherited one (e.g. COLUMNS=80 for help texts that must not
/// depend on the terminal the tests were started from).
func runHxa079(_ args: [String], stdin: String? = nil, environment: [String: String] = [:],
               timeout: TimeInterval = 600) throws -> ExecResult {
    try runExecutable(try hxa079Executable(), args, stdin: stdin, environment: environment, timeout: timeout)
}

/// Runs any executable the same way.
func runExecutable(_ executable: URL, _ args: [String], stdin: String? = nil, environment: [String: String] = [:],
                   timeout: TimeInterval = 600) throws -> ExecResult {
    let fm = FileManager.default
    let scratch = fm.temporaryDirectory.appendingPathComponent("hxa079-exec-\(UUID().uuidString)")
    try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: scratch) }
    let inURL = scratch.appendingPathComponent("stdin"), outURL = scratch.appendingPathComponent("stdout"),
        errURL = scratch.appendingPathComponent("stderr")
    try Data((stdin ?? "").utf8).write(to: inURL)
    try Data().write(to: outURL)
    try Data().write(to: errURL)
    let inHandle = try FileHandle(forReadingFrom: inURL)
    let outHandle = try FileHandle(forWritingTo: outURL)
    let errHandle = try FileHandle(forWritingTo: errURL)
    defer {
        try? inHandle.close()
        try? outHandle.close()
        try? errHandle.close()
    }

    let process = Process()
    process.executableURL = executable
    process.arguments = args
    process.standardInput = inHandle
    process.standardOutput = outHandle
    process.standardError = errHandle
    var merged = ProcessInfo.processInfo.environment
    merged["SWIFT_BACKTRACE"] = "enable=no"  // a crash should be quick and quiet; it is reported as `signaled`
    for (k, v) in environment { merged[k] = v }
    process.environment = merged
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    var timedOut = false
    if done.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        process.terminate()
        if done.wait(timeout: .now() + 10) == .timedOut { kill(process.processIdentifier, SIGKILL); done.wait() }
    }
    let out = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
    let err = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
    return ExecResult(status: process.terminationStatus, stdout: out, stderr: err,
                      signaled: process.terminationReason == .uncaughtSignal, timedOut: timedOut)
}
