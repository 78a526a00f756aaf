// StreamingTests: the fast path on streamed weights (`FastModel(streaming:)`:
// each layer packed when a pass reaches it — its BF16 big matrices read in
// place from the mapped files, the rest converted to Float32 —,
// embedding rows per token, the head in blocks) against the same model held
// in memory with its bf16 matrices kept as bf16 (`FastModel(directory:
// keepBF16: true)`, the same kernels on the same bits).
//
// Contract: logits (forward and prefill) and states are equal bit for bit for
// every model of `streamingCases` and every plan of `streamingPlans`, with the
// default head block and with blocks of 7 rows (in memory then a group of the
// same blocks), at every kernel level; a call longer than one pass (512
// tokens) too. A streamed call whose layer cannot be read throws and leaves
// the state as it was.

import Foundation
import Testing
import Hxa079
import Hxa079TestSupport
@testable import Hxa079Fast

private let fastPackageRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite struct FastStreamingTests {
    @Test(arguments: kernelLevels, streamingCases)
    func streamedEqualsInMemoryBitwise(_ level: FastKernels.Level, _ c: StreamingCase) throws {
        try FastKernels.withLevel(level) {
            let (directory, keep) = try c.directory(packageRoot: fastPackageRoot)
            for blockRows in [nil, 7] {
                let inMemory = try FastModel(directory: directory, keepBF16: true, headBlockRows: blockRows)
                let streamed = blockRows == nil ? try FastModel(streaming: directory)
                    : FastModel(packed: try PackedModel(streaming: try StreamedWeights<Float>(directory: directory, headBlockRows: blockRows)))
                #expect(streamed.isStreamed && !inMemory.isStreamed)
                try expectSameRuns(inMemory, streamed, vocab: directory.config.vocabSize, case: c,
                                   label: "blocks \(blockRows ?? 0)", prefill: true)
            }
            withExtendedLifetime(keep) {}
        }
    }

    /// The Float64 engine likewise: streamed (BF16 matrices in place)
    /// against the model in memory with its bf16 matrices kept as bf16.
    @Test(arguments: kernelLevels, streamingCases)
    func streamedEqualsInMemoryBitwiseInFloat64(_ level: FastKernels.Level, _ c: StreamingCase) throws {
        try FastKernels.withLevel(level) {
            let (directory, keep) = try c.directory(packageRoot: fastPackageRoot)
            try expectSameRuns(try FastModel64(directory: directory, keepBF16: true), try FastModel64(streaming: directory),
                               vocab: directory.config.vocabSize, case: c, label: "f64", prefill: false)
            withExtendedLifetime(keep) {}
        }
    }

    /// Every plan of `streamingPlans` through both engines (scratch poisoned):
    /// logits and states equal bit for bit after each call, and after a
    /// whole-sequence prefill when `prefill`.
    private func expectSameRuns<Real: FastScalar>(_ inMemory: FastEngine<Real>, _ streamed: FastEngine<Real>, vocab V: Int,
                                                  case c: StreamingCase, label: String, prefill: Bool) throws {
        inMemory.poisonScratch = true
        streamed.poisonScratch = true
        for plan in streamingPlans {
            let tokens = tokenList(plan.calls.reduce(0, +), vocab: V, seed: c.seed)
            var a = inMemory.initialState(), b = a
            var start = 0
            for n in plan.calls {
                let call = Array(tokens[start..<(start + n)])
                start += n
                let x = try inMemory.forward(tokens: call, state: &a, chunkSize: plan.chunk)
                let y = try streamed.forward(tokens: call, state: &b, chunkSize: plan.chunk)
                #expect(mismatches(bitPatterns(x), bitPatterns(y)) == 0, "\(c) \(label) plan \(plan.calls): logits differ")
                #expect(mismatches(bitPatterns(a), bitPatterns(b)) == 0, "\(c) \(label) plan \(plan.calls): states differ")
            }
            guard prefill else { continue }
            let p = try inMemory.prefill(tokens: tokens, state: &a, chunkSize: plan.chunk)
            let q = try streamed.prefill(tokens: tokens, state: &b, chunkSize: plan.chunk)
            #expect(mismatches(bitPatterns(p), bitPatterns(q)) == 0, "\(c) \(label) plan \(plan.calls): prefill logits differ")
            #expect(mismatches(bitPatterns(a), bitPatterns(b)) == 0)
        }
    }

    /// Streamed, the big matrices stored BF16 are read in place (no converted
    /// copy) by the Float32 and the Float64 engine; F32, F16 and F64 ones are
    /// read per layer.
    @Test(arguments: streamingCases)
    func bigMatricesAreReadInPlaceWhereTheKernelsCan(_ c: StreamingCase) throws {
        let (directory, keep) = try c.directory(packageRoot: fastPackageRoot)
        let packed = try PackedModel<Float>(streaming: try StreamedWeights<Float>(directory: directory))
        let inPlace = c.dtype == .BF16
        for i in 0..<directory.config.numLayers {
            let layer = try packed.layer(i)
            let big: [FastMatrix<Float>]
            switch layer.mixer {
            case .rwkv(let m): big = [m.rkv, m.output, layer.gateUp, layer.down]
            case .gqa(let m): big = [m.qkv, m.output, layer.gateUp, layer.down]
            }
            // (stacked parts below the copy limit are copied, as in memory; the rest stay mapped)
            #expect(packed.mappedMatrices(layer: i).count == (inPlace ? 7 : 0), "\(c) layer \(i)")
            // output and down stay mapped; the stacked r/k/v (q/k/v), gate/up are below
            // FastMatrix.stackCopyLimit here, so copied into one matrix as in memory
            #expect(big[1].containsMapped == inPlace && big[3].containsMapped == inPlace, "\(c) layer \(i)")
            #expect(!big[0].containsMapped && !big[2].containsMapped, "\(c) layer \(i)")
            #expect(big.allSatisfy { $0.containsBF16 == (c.dtype == .BF16) }, "\(c) layer \(i)")
        }
        let head = try packed.streamedHeadBlock(0..<5)
        #expect(head.containsMapped == inPlace, "\(c)")
        // Float64 likewise
        let packed64 = try PackedModel<Double>(streaming: try StreamedWeights<Double>(directory: directory))
        #expect(packed64.mappedMatrices(layer: 0).count == (inPlace ? 7 : 0), "\(c)")
        withExtendedLifetime(keep) {}
    }

    /// 530 tokens run as two passes (512 + 18), each streaming every layer.
    /// (At a fixed kernel level: the level is process-wide and other tests change it.)
    @Test(arguments: kernelLevels)
    func longCallInPasses(_ level: FastKernels.Level) throws {
        try FastKernels.withLevel(level) { try longCall() }
    }

    func longCall() throws {
        let (directory, keep) = try streamingCases[0].directory(packageRoot: fastPackageRoot)
        let (weights, _) = try directory.load(as: Float.self)
        let inMemory = try FastModel(weights), streamed = try FastModel(streaming: directory)
        let tokens = tokenList(530, vocab: directory.config.vocabSize, seed: 4)
        var a = inMemory.initialState(), b = a
        let x = try inMemory.forward(tokens: tokens, state: &a, chunkSize: 16)
        let y = try streamed.forward(tokens: tokens, state: &b, chunkSize: 16)
        #expect(mismatches(bitPatterns(x), bitPatterns(y)) == 0)
        #expect(mismatches(bitPatterns(a), bitPatterns(b)) == 0)
        withExtendedLifetime(keep) {}
    }

    /// The model files vanish after opening: the call throws, the state is unchanged.
    @Test func unreadableLayerLeavesStateUnchanged() throws {
        let tmp = try TempDir("fast-stream-gone")
        _ = try writeModelDirectory(ModelWeights<Double>.random(shape: Preset.tiny.shape, seed: 2), to: tmp.path, dtype: .BF16)
        let streamed = try FastModel(streaming: try ModelDirectory(path: tmp.path))
        var state = streamed.initialState()
        _ = try streamed.forward(tokens: [1, 2], state: &state)
        let before = state
        try FileManager.default.removeItem(atPath: tmp.sub("model.safetensors"))
        #expect(throws: Hxa079Error.self) { _ = try streamed.forward(tokens: [3], state: &state) }
        #expect(throws: Hxa079Error.self) { _ = try streamed.prefill(tokens: [3, 4], state: &state) }
        #expect(mismatches(bitPatterns(state), bitPatterns(before)) == 0)
    }
}
