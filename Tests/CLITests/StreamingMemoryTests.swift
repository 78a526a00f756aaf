// StreamingMemoryTests: the peak memory of `hxa079 forward` does not grow
// with the depth of the model (streamed weights, SPEC.md §2.8).
//
// Measurement: each run is a child process of the built executable
// (posix_spawn), whose /proc/<pid>/status this test samples every 0.5 ms
// until it exits: the largest RssAnon seen is the run's anonymous peak (a
// sample, so a lower bound within one sampling interval; holding the model
// would raise RssAnon for the whole run, not for half a millisecond). Not
// rusage: on Linux a child's ru_maxrss starts from the RSS of the process that
// spawned it (the test process, ~260 MB), and a test cannot reset its own
// VmHWM; the other tests running in parallel in this process would pollute any
// in-process figure. The weights are read with pread (page cache, not
// RssAnon). Two models of the same deep thin shape, its first 8 and all 48
// layers (one layer ≈ 255 K parameters: 2.0 MB in f64, MLP 1.5 MB), run the
// same tokens; held in memory, the 40 extra layers would add 40 layers in the
// run precision (≥ 60 MB in f64, ≥ 30 MB in f32) to the peak.

import Foundation
import Testing
import Hxa079
import Hxa079TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A deep thin model: C 128, H 2 × N 64, Hkv 1, I 512, V 256, GQA every 8th layer.
let deepThinShape = ModelShape(
    config: ModelConfig(hiddenSize: 128, numHeads: 2, headDim: 64, numKVHeads: 1, intermediateSize: 512,
                        vocabSize: 256, numLayers: 48, rmsNormEps: 1e-5, ropeTheta: 10_000),
    gqaLayers: [7, 15, 23, 31, 39, 47], ranks: (8, 8, 8, 8, 16))

#if os(Linux)
/// The value in kB of `key` (e.g. "RssAnon:") in a /proc/<pid>/status text.
func statusKiB(_ text: String, _ key: String) -> Int? {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
    return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
}

/// Runs the executable with `args` as a child `repeats` times (a command that can be repeated),
/// sampling its /proc status: (the first non-zero exit status or −signal, else 0; the largest RssAnon
/// seen in bytes; the largest VmHWM seen in bytes; the stderr of that run). Sampling can only miss a
/// peak, never invent one: a short run on a loaded machine may be seen only right after its exec
/// (measured 2026-12-04 in CI: an 8-layer f64 forward seen at 44 KiB RssAnon, 404 KiB VmHWM, where
/// other runs see 4.7 MiB), so the largest over several runs is the better estimate of the peak.
func runSamplingMemory(_ args: [String], repeats: Int) throws -> (status: Int32, anonPeak: Int, hwm: Int, stderr: String) {
    var best = try runSamplingMemory(args)
    for _ in 1..<max(repeats, 1) {
        let r = try runSamplingMemory(args)
        if best.status == 0 && r.status != 0 { return r }
        best = (best.status, max(best.anonPeak, r.anonPeak), max(best.hwm, r.hwm), best.stderr)
    }
    return best
}

/// Runs the executable with `args` as a child, sampling its /proc status:
/// (exit status or −signal, largest RssAnon seen in bytes, last VmHWM seen in bytes, stderr).
func runSamplingMemory(_ args: [String]) throws -> (status: Int32, anonPeak: Int, hwm: Int, stderr: String) {
    let exe = try hxa079Executable().path
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("hxa079-peak-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: err) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, exe, &actions, nil, argv, environ)
    guard rc == 0 else { throw Hxa079Error.io(path: exe, message: "posix_spawn failed (\(rc))") }
    var status: Int32 = 0
    var anon = 0, hwm = 0
    let path = "/proc/\(pid)/status"
    while true {
        // only samples of the exec'd program (before exec the child is still a copy of this process)
        if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasPrefix("Name:\thxa079\n") {
            anon = max(anon, statusKiB(text, "RssAnon:") ?? 0)
            hwm = max(hwm, statusKiB(text, "VmHWM:") ?? 0)
        }
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid || (r < 0 && errno != EINTR) { break }
        usleep(500)
    }
    let signal = status & 0x7f
    let code = signal == 0 ? (status >> 8) & 0xff : -signal
    let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    return (code, anon * 1024, hwm * 1024, text)
}

@Suite struct StreamingMemoryTests {
    @Test func peakDoesNotGrowWithDepth() throws {
        let deep = try TempDir("deep48"), shallow = try TempDir("deep8")
        let full = ModelWeights<Double>.random(shape: deepThinShape, seed: 11)
        var first8 = full
        first8.layers = Array(full.layers.prefix(8))
        first8.config.numLayers = 8
        _ = try writeModelDirectory(full, to: deep.path, dtype: .BF16)
        _ = try writeModelDirectory(first8, to: shallow.path, dtype: .BF16)
        let perLayer = full.layers[1...].map { l in l.mlp.gate.weight.count * 3 }.max() ?? 0   // MLP dominates
        let inspect = try runHxa079(["inspect", "--model", deep.path])
        #expect(inspect.status == 0 && inspect.stdout.contains("memory      reference f64") && inspect.stdout.contains("disk read"), "\(inspect)")
        for (engine, bytes) in [(["--precision", "f64"], 8), (["--precision", "f32"], 4), (["--engine", "fast"], 4)] {
            let tokens = ["--tokens", "1,2,3,4,5,6,7,8"]
            let a = try runSamplingMemory(["forward", "--model", shallow.path] + tokens + engine, repeats: 3)
            let b = try runSamplingMemory(["forward", "--model", deep.path] + tokens + engine, repeats: 3)
            #expect(a.status == 0 && b.status == 0, "\(engine): \(a.stderr) \(b.stderr)")
            let growth = b.anonPeak - a.anonPeak
            let heldExtra = 40 * perLayer * bytes   // what holding layers 8..<48 would add (MLP alone)
            // What does grow with depth: the state of the 40 extra layers (35 RWKV: H·N·N values each; 5 GQA:
            // a KV cache of 8 tokens), held by the caller and as the call's working copy, plus the default
            // dump's layers.{i}.out checkpoints (T × C, kept as Double).
            let C = deepThinShape.config.hiddenSize, H = 2, N = 64
            let stateGrowth = (35 * H * N * N + 5 * 8 * 2 * N) * bytes
            let bound = 3 * stateGrowth + 40 * 8 * C * 8 + (1 << 20)
            let figures = "\(engine.joined(separator: " ")): RssAnon peak \(a.anonPeak >> 10) KiB (8 layers) → \(b.anonPeak >> 10) KiB (48 layers), growth \(growth >> 10) KiB (bound \(bound >> 10) KiB), VmHWM \(a.hwm >> 10) → \(b.hwm >> 10) KiB; holding 40 more layers would add ≈ \(heldExtra >> 10) KiB"
            // Measured 2026-12-02 (2-core machine, load ≈ 3): growth f64 5460 KiB (bound 8064), f32 3120 KiB
            // (bound 4704), fast 3148 KiB (bound 4704) — the state and checkpoints; holding the extra layers
            // would add 61440 / 30720 / 30720 KiB, far above each bound.
            #expect(bound < heldExtra / 3)
            #expect(a.anonPeak > 0 && growth < bound, "\(figures)")
            print("streaming memory \(figures)")
        }
    }
}
#endif
