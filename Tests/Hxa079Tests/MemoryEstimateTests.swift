// MemoryEstimateTests: the figures `hxa079 inspect` prints for streamed
// weights, against sizes computed independently from the written files.
//
// Contract: the disk read per pass is the weight files' data minus the
// embedding (untied head: only T rows of it are read) or all of it (tied: the
// embedding is the head) plus T embedding rows; mapped bytes are the files'
// sizes; the peak estimates are ordered f64 > f32 and exceed the largest
// layer in the run precision.

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
        #expect(e.engines.map(\.label) == ["reference f64", "reference f32", "fast f32"])
        #expect(peaks[0] > peaks[1] && peaks[1] > 4 * largestLayer && peaks[2] >= peaks[1])
    }
}
