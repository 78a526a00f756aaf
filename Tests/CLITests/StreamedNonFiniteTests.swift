// StreamedNonFiniteTests: `forward` checks the weights for NaN/±Inf as it
// streams them (SPEC.md §2.8), instead of scanning the whole model before the
// run (which read a model larger than the page cache twice per pass): each
// tensor holding a non-finite value gets one warning line, whether the engine
// converts it (reference, fast f64) or reads it in place from the mapping
// (fast f32, bf16 matrices) — once, also on a call of 600 tokens, which the
// fast engine may run as passes of 512 tokens over the layers. `inspect`
// still scans everything first.
//
// The planted values (tiny preset, seed 3, BF16): element 5 of
// model.layers.0.mlp.down_proj.weight [C, I] = [64, 160] is NaN (bf16 0x7FC0),
// element 2 of model.norm.weight [64] is +Inf (0x7F80). Both are read by every
// run; the warnings name them with the flat index of the planted element.

import Foundation
import Hxa079TestSupport
import SafeTensors
import Testing

@Suite("Streamed weights: non-finite values checked as read")
struct StreamedNonFiniteTests {
    static let down = "model.layers.0.mlp.down_proj.weight"
    static let norm = "model.norm.weight"

    func plantedModel(_ tmp: TempDir) throws -> String {
        let dir = tmp.sub("model")
        let made = try runHxa079(["init-model", "--preset", "tiny", "--seed", "3", "--dtype", "bf16", "--out", dir])
        guard made.exitedNormally && made.status == 0 else { throw FixtureError("init-model failed: \(made)") }
        try editTensors(dir) { t in
            for (name, index, bits) in [(Self.down, 5, UInt16(0x7FC0)), (Self.norm, 2, UInt16(0x7F80))] {
                let k = try t.index(of: name)
                guard case .bf16(var values) = t[k].data else { throw FixtureError("\(name) is not BF16") }
                values[index] = bits
                t[k].data = .bf16(values)
            }
        }
        return dir
    }

    @Test func eachNonFiniteTensorIsReportedOnceByEveryEngine() throws {
        let tmp = try TempDir("stream-nan")
        let model = try plantedModel(tmp)
        let tokens = (0..<600).map { String(($0 * 37) % 256) }.joined(separator: ",")
        let expected: Set<String> = [
            "hxa079: warning: tensor \(Self.down) holds 1 non-finite value (first at flat index 5)",
            "hxa079: warning: tensor \(Self.norm) holds 1 non-finite value (first at flat index 2)",
        ]
        for engine in [["--engine", "reference"], ["--engine", "fast"], ["--engine", "fast", "--precision", "f64"]] {
            let r = try runHxa079(["forward", "--model", model, "--tokens", tokens] + engine)
            #expect(r.exitedNormally && r.status == 0, "\(engine) \(r)")
            #expect(r.stderrLines.count == 2 && Set(r.stderrLines) == expected, "\(engine): \(r.stderrLines)")
        }
        let i = try runHxa079(["inspect", "--model", model])
        #expect(i.stdout.contains("- tensor \(Self.down) holds 1 non-finite value (first at flat index 5)"), "\(i)")
    }
}
