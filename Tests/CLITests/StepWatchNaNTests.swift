// StepWatchNaNTests: `hxa079 step --watch-nan` on a model with one planted
// NaN weight stops at exactly the first checkpoint that holds a NaN, names
// the first offending element, and exits 3; without --watch-nan the run goes
// to the end and the summary names the same place.
//
// The planted NaN (derivation of what the test expects):
//   model: `init-model --preset tiny --seed 3 --dtype f32`: C 64, H 4, N 16,
//   Hkv 2, layers R R A R, 70 checkpoints for one call.
//   weight: model.layers.1.self_attn.value.weight, Wv [Hkv·N, C] = [32, 64],
//   element [row 21, column 0] = NaN (flat index 21·64 + 0 = 1344).
//   SPEC (5): v_t[o] = Σ_c x̂_t[c]·Wv[o, c], so v_t[21] is NaN for every token
//   t (NaN·x = NaN for every x, zero included) and every other element is
//   finite. Row 21 is KV head ⌊21/16⌋ = 1, channel 21 mod 16 = 5 of the
//   [T, Hkv, N] view (§0.5 head-major).
//   Before layers.1.rwkv.v, nothing reads Wv of layer 1: embed, all of layer
//   0, layers.1.norm1, .rwkv.r and .rwkv.k are finite. So the first
//   checkpoint with a NaN is layers.1.rwkv.v, number 1 + 19 + 4 = 24 of 70
//   (embed; layer 0 = norm1 + 14 RWKV leaves + 4; then norm1, r, k, v), and
//   its first NaN in row-major order is token 0, kv head 1, channel 5, flat
//   index (0·2 + 1)·16 + 5 = 21. With 3 tokens it holds 3 NaN.

import Foundation
import Hxa079TestSupport
import SafeTensors
import Testing

@Suite("Step: --watch-nan")
struct StepWatchNaNTests {
    static let tensor = "model.layers.1.self_attn.value.weight"

    /// The tiny seed-3 model with Wv[21, 0] of layer 1 set to NaN.
    func plantedModel(_ tmp: TempDir) throws -> String {
        let dir = tmp.sub("model")
        let made = try runHxa079(["init-model", "--preset", "tiny", "--seed", "3", "--dtype", "f32", "--out", dir])
        guard made.exitedNormally && made.status == 0 else { throw FixtureError("init-model failed: \(made)") }
        try editTensors(dir) { t in
            let k = try t.index(of: Self.tensor)
            guard t[k].shape == [32, 64], case .f32(var values) = t[k].data else {
                throw FixtureError("\(Self.tensor) is \(t[k].shape) \(t[k].data.dtype), expected [32, 64] F32")
            }
            values[21 * 64 + 0] = .nan
            t[k].data = .f32(values)
        }
        return dir
    }

    @Test func stepWatchNaNStopsAtTheFirstNonFiniteCheckpointOnly() throws {
        let tmp = try TempDir("step-nan")
        let model = try plantedModel(tmp)
        let r = try runHxa079(["step", "--model", model, "--tokens", "1,2,3", "--watch-nan"])
        #expect(r.exitedNormally && r.status == 3, "\(r)")
        // Loaded with a warning naming the tensor.
        #expect(r.stderrLines == ["hxa079: warning: tensor \(Self.tensor) holds 1 non-finite value (first at flat index 1344)"], "\(r)")
        // Caught at exactly layers.1.rwkv.v, checkpoint 24 …
        #expect(r.stdout.contains("[24/70] layers.1.rwkv.v  [3, 2, 16] (token, kv head, channel)  f64  layer 1 RWKV  (non-finite)"), "\(r)")
        #expect(r.stdout.contains("non-finite values in layers.1.rwkv.v: 3 NaN, 0 Inf; first at token 0, kv head 1, channel 5 (flat index 21) = nan"), "\(r)")
        #expect(r.stdout.contains("stopped by --watch-nan at layers.1.rwkv.v (checkpoint 24 of 70); exit status 3"), "\(r)")
        // … and no other checkpoint was shown, earlier or later.
        let shown = r.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("[") }
        #expect(shown.count == 1, "\(shown)")
        #expect(!r.stdout.contains("run complete"), "\(r)")

        // A script does not make the session interactive: still exit 3, at the same place.
        let s = try runHxa079(["step", "--model", model, "--tokens", "1,2,3", "--watch-nan", "--script", "n;n"])
        #expect(s.exitedNormally && s.status == 3, "\(s)")
        #expect(s.stdout.contains("stopped by --watch-nan at layers.1.rwkv.v (checkpoint 24 of 70)"), "\(s)")

        // Without --watch-nan the run goes on; the summary names the first non-finite value.
        let all = try runHxa079(["step", "--model", model, "--tokens", "1,2,3"])
        #expect(all.exitedNormally && all.status == 0, "\(all)")
        #expect(all.stdout.contains("run complete: 70 of 70 checkpoints, reference f64, 3 tokens"), "\(all)")
        #expect(all.stdout.contains("non-finite: first in layers.1.rwkv.v: 3 NaN, 0 Inf; first at token 0, kv head 1, channel 5 (flat index 21) = nan"), "\(all)")
    }
}
