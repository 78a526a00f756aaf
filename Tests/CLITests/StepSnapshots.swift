// StepSnapshots: snapshot assertions for the `step` tests.
//
// Contract: a snapshot is a text file `Tests/Snapshots/<name>.txt`, outside
// every target directory (so SwiftPM sees no unhandled resources), located
// from this file's #filePath. `assertSnapshot` compares normalised text with
// it and records a failure naming the first differing line. Recording is an
// explicit act that fails the run: with RECORD_SNAPSHOTS=1 the file is
// (re)written and the test fails with "recorded new snapshot; review and
// rerun". A missing snapshot fails without writing anything.
// `normalisedOutput` replaces the package root and temporary directories by
// `<root>` and `<tmp>`, so snapshots do not depend on where the tree lives.

import Foundation
import Testing

/// The package root (…/Tests/CLITests/StepSnapshots.swift → …).
let stepPackageRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Where the snapshots live.
let snapshotDirectory = stepPackageRoot + "/Tests/Snapshots"

/// `text` with `replacements` (longest first), the package root and the system temporary directory made neutral.
func normalisedOutput(_ text: String, replacing replacements: [String: String] = [:]) -> String {
    var out = text
    for (from, to) in replacements.sorted(by: { $0.key.count > $1.key.count }) where !from.isEmpty {
        out = out.replacingOccurrences(of: from, with: to)
    }
    out = out.replacingOccurrences(of: stepPackageRoot, with: "<root>")
    let tmp = FileManager.default.temporaryDirectory.path
    if tmp.count > 1 { out = out.replacingOccurrences(of: tmp, with: "<tmp>") }
    return out
}

/// Compares `actual` with snapshot `name`; see the file contract for recording.
func assertSnapshot(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let path = snapshotDirectory + "/" + name + ".txt"
    if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" {
        do {
            try FileManager.default.createDirectory(atPath: snapshotDirectory, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: URL(fileURLWithPath: path))
            Issue.record("recorded new snapshot \(name) at \(path); review and rerun without RECORD_SNAPSHOTS", sourceLocation: sourceLocation)
        } catch {
            Issue.record("cannot record snapshot \(path): \(error)", sourceLocation: sourceLocation)
        }
        return
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        Issue.record("no snapshot \(path); run with RECORD_SNAPSHOTS=1 to record it, then review it\n--- actual ---\n\(actual)",
                     sourceLocation: sourceLocation)
        return
    }
    let expected = String(decoding: data, as: UTF8.self)
    if expected == actual { return }
    let e = expected.components(separatedBy: "\n"), a = actual.components(separatedBy: "\n")
    let line = (0..<min(e.count, a.count)).first { e[$0] != a[$0] } ?? min(e.count, a.count)
    let show = { (lines: [String]) in line < lines.count ? lines[line] : "<end of text>" }
    Issue.record("""
        snapshot \(name) differs at line \(line + 1) (RECORD_SNAPSHOTS=1 re-records it):
          expected: \(show(e))
          actual:   \(show(a))
        --- actual ---
        \(actual)
        """, sourceLocation: sourceLocation)
}
