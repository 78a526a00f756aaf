// MemoryEstimateTests: the figures `hxa079 inspect` prints for streamed
// weights, against sizes computed independently from the written files.
//
// Contract: the disk read per pass is the weight files' data minus the
// embedding (untied head: only T rows of it are read) or all of it (tied: the
// embedding is the head) plus T embedding rows; mapped bytes are the files'
// sizes; the peak estimates are ordered f64 > f32 and exceed the largest
// layer in the run precision; the fast f32 path needs less for BF16 files
// (read in place) than for F16 ones (converted), the reference the same.

import Foundation
import Testing
import Hxa079
import Hxa079TestSupport

@Suite struct MemoryEstimateTests {
    @Test(arguments: [false, true])
    func figuresMatchTheFiles(tied: Bool) throws {
        let tmp = try TempDir("estimate")
        let weights = ModelWeights<Double>.random(shape: Preset.tiny.shape, options: RandomModelOptions(tiedHead: tied), seed: 3)
        _ = try writeModelDirectory(weights, to: tmp.path, dtype: .BF16, shards: 2)
        let directory = try ModelDirectory(path: tmp.path)
        let e = MemoryEstimate(directory: directory, tokens: 16)
        let fileBytes = try directory.weightFiles.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        #expect(e.mappedBytes == fileBytes)
        let C = weights.config.hiddenSize, V = weights.config.vocabSize
        let all = weights.namedTensors().reduce(0) { $0 + $1.values.count } * 2   // BF16
        let embedding = V * C * 2
        #expect(e.diskReadPerPassBytes == (tied ? all : all - embedding) + 16 * C * 2)
        let largestLayer = weights.layers.map { l in
            l.mlp.gate.weight.count + l.mlp.up.weight.count + l.mlp.down.weight.count }.max() ?? 0
        let peaks = e.engines.map(\.peakAnonymousBytes)
        #expect(e.engines.map(\.label) == ["reference f64", "reference f32", "fast f32", "fast f64"])
        #expect(peaks[0] > peaks[1] && peaks[1] > 4 * largestLayer && peaks[3] > peaks[2])
        // The same model stored F16: the reference needs the same, the fast f32 path more
        // (F16 matrices are converted per layer; BF16 ones are read in place from the mapping).
        let f16 = try TempDir("estimate-f16")
        _ = try writeModelDirectory(weights, to: f16.path, dtype: .F16, shards: 2)
        let g = MemoryEstimate(directory: try ModelDirectory(path: f16.path), tokens: 16)
        #expect(g.engines[0].peakAnonymousBytes == peaks[0] && g.engines[1].peakAnonymousBytes == peaks[1])
        #expect(g.engines[2].peakAnonymousBytes > peaks[2] + 2 * largestLayer, "\(g.engines) vs \(e.engines)")
    }
}
