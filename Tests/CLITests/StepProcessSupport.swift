// StepProcessSupport: running the built `hxa079` on a pseudo-terminal, which
// RunExecutable does not cover, for the `step` tests.
//
// Contract:
//   * `runHxa079InTerminal(_:steps:)` — runs the executable with stdin,
//     stdout and stderr on the slave side of a pseudo-terminal (Glibc
//     `openpty`), so `isatty` is true as for a person at a terminal. Each
//     step waits until the output holds a marker (e.g. the n-th prompt),
//     then writes a line. Returns everything read from the master side (the
//     terminal echo included) and the exit status. Times out instead of
//     hanging when a marker never comes.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a terminal session produced.
struct TerminalSession: CustomStringConvertible {
    /// Everything the terminal showed (stdout, stderr and the echo of the input).
    var output: String
    var status: Int32
    var exitedNormally: Bool
    /// The marker that never appeared, if a step timed out.
    var missedMarker: String?

    var description: String {
        "[exit \(status)\(exitedNormally ? "" : ", abnormal")\(missedMarker.map { ", waited in vain for \"\($0)\"" } ?? "")]\n\(output)"
    }
}

struct TerminalError: Error, CustomStringConvertible {
    var description: String
}

/// Runs `hxa079 args…` on a pseudo-terminal; for each (marker, count, line) waits until
/// `marker` occurs `count` times in the output, then types `line` and a newline.
func runHxa079InTerminal(_ args: [String], steps: [(marker: String, count: Int, line: String)],
                         timeout: TimeInterval = 60) throws -> TerminalSession {
    var master: Int32 = -1, slave: Int32 = -1
    guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw TerminalError(description: "openpty failed: errno \(errno)") }
    let slaveHandle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
    let process = Process()
    process.executableURL = try hxa079Executable()
    process.arguments = args
    process.standardInput = slaveHandle
    process.standardOutput = slaveHandle
    process.standardError = slaveHandle
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    env["NO_COLOR"] = nil
    env["TERM"] = "xterm"
    process.environment = env
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    do { try process.run() } catch {
        close(master); close(slave)
        throw error
    }
    close(slave)   // only the child holds the slave now: reads end with EIO when it exits
    defer { close(master) }

    var bytes: [UInt8] = []
    let deadline = Date().addingTimeInterval(timeout)
    /// Reads what is available within `wait` seconds; false at end of output.
    func pump(_ wait: TimeInterval) -> Bool {
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        let ready = poll(&fds, 1, Int32(max(0, wait) * 1000))
        if ready <= 0 { return true }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(master, &buffer, buffer.count)
        if n <= 0 { return false }
        bytes += buffer[0..<n]
        return true
    }
    func occurrences(_ marker: String) -> Int {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: marker).count - 1
    }
    var missed: String? = nil
    var open = true
    for step in steps {
        while open && occurrences(step.marker) < step.count && Date() < deadline { open = pump(0.2) }
        if occurrences(step.marker) < step.count { missed = step.marker; break }
        let text = Array((step.line + "\n").utf8)
        _ = text.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count) }
    }
    if missed != nil { process.terminate() }
    while open && Date() < deadline { open = pump(0.2) }
    if done.wait(timeout: .now() + max(1, deadline.timeIntervalSinceNow)) == .timedOut {
        process.terminate()
        done.wait()
        missed = missed ?? "process exit"
    }
    return TerminalSession(output: String(decoding: bytes, as: UTF8.self), status: process.terminationStatus,
                           exitedNormally: process.terminationReason == .exit, missedMarker: missed)
}
