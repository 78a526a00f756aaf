// `--engine fast --precision f64` (issue 18): forward writes an F64 dump that
// passes against the fixture's float64 truth with `compare` and agrees with
// the reference's f64 dump to ≤ 1e-12 relative on every checkpoint, recurrent
// and chunked; state files continue the run in F64; step runs the fast
// engine in f64. (The numbers are checked in Hxa079FastTests/Float64Tests.)

import Testing
import Foundation
import SafeTensors

@Suite final class FastFloat64CLI {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hxa079-f64-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    @Test func forwardFastF64MatchesTheReferenceAndTheFixture() throws {
        let model = stepTinyFixture + "/model"
        let tokens = "5,17,200,3,99,42,7,128,64,1,250,33"
        let ref = try runHxa079(["forward", "--model", model, "--tokens", tokens, "--dump", dir + "/ref.st", "--checkpoints", "all"])
        #expect(ref.status == 0, "\(ref)")
        let reference = try SafeTensorsFile(path: dir + "/ref.st")
        for chunk in ["0", "5"] {
            let path = dir + "/fast\(chunk).st"
            let r = try runHxa079(["forward", "--model", model, "--tokens", tokens, "--engine", "fast", "--precision", "f64",
                                   "--chunk-size", chunk, "--dump", path, "--checkpoints", "all"])
            #expect(r.status == 0 && r.stdout.contains("fast f64"), "\(r)")
            let c = try runHxa079(["compare", "--fixture", stepTinyFixture, "--candidate", path])
            #expect(c.status == 0 && c.stdout.contains("ALL PASS"), "\(c)")
            let fast = try SafeTensorsFile(path: path)
            #expect(fast.names == reference.names)
            for info in fast.tensors where info.name != "state.position" {
                #expect(info.dtype == .F64, "\(info.name)")
                let a = try reference.doubles(info.name), b = try fast.doubles(info.name)
                let scale = a.map { abs($0) }.max() ?? 0
                let e = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                #expect(e <= 1e-12 * max(scale, 1e-300), "L \(chunk) \(info.name): \(e) of \(scale)")   // measured ≤ 3.5e-15 relative
            }
        }
        // a state file written by the f64 fast engine continues the run (F64 state)
        let ids = tokens.split(separator: ",")
        let first = ids.prefix(5).joined(separator: ","), rest = ids.dropFirst(5).joined(separator: ",")
        let a = try runHxa079(["forward", "--model", model, "--tokens", first, "--engine", "fast", "--precision", "f64",
                               "--state-out", dir + "/s.st"])
        let b = try runHxa079(["forward", "--model", model, "--tokens", rest, "--engine", "fast", "--precision", "f64",
                               "--state-in", dir + "/s.st", "--dump", dir + "/b.st", "--checkpoints", "logits"])
        #expect(a.status == 0 && b.status == 0 && b.stdout.contains("positions 5..<12"), "\(a)\n\(b)")
        #expect(try SafeTensorsFile(path: dir + "/s.st").tensors.filter { $0.name != "state.position" }.allSatisfy { $0.dtype == .F64 })
        let whole = Array(try reference.doubles("logits").suffix(7 * 256)), tail = try SafeTensorsFile(path: dir + "/b.st").doubles("logits")
        let e = zip(whole, tail).map { abs($0 - $1) }.max() ?? .infinity
        #expect(e <= 1e-12 * (whole.map { abs($0) }.max() ?? 0), "continued logits: \(e)")
    }

    @Test func stepRunsTheFastEngineInF64() throws {
        let r = try runHxa079(["step", "--fixture", stepTinyFixture, "--engine", "fast", "--precision", "f64", "--script", "c"])
        #expect(r.exitedNormally && r.status == 0, "\(r)")
        #expect(r.stdout.contains("fast f64"), "\(r)")
        #expect(r.stdout.contains("run complete: 70 of 70 checkpoints"), "\(r)")
    }
}
