// StateCheckpointTests: the reference reports the WKV state as a checkpoint
// when an observer asks (SPEC.md §4.4 "State checkpoints"): per call it is
// the fixture's state after the call, per token it is the state after each
// token (bitwise the per-call state of the prefix), and an observer that does
// not ask gets the activation stream unchanged.

import Testing
import Hxa079Oracle
import Hxa079Reference

/// Collects everything, asking for state checkpoints in `mode`.
final class StateRecorder: CheckpointObserver {
    let stateCheckpoints: StateCheckpoints
    var seen: [Checkpoint] = []
    init(_ mode: StateCheckpoints) { stateCheckpoints = mode }
    func wants(_ name: String) -> Bool { true }
    func observe(_ c: Checkpoint) throws { seen.append(c) }
}

@Suite("State checkpoints")
struct StateCheckpointTests {
    let tiny: OracleFixture
    init() throws { tiny = try OracleFixture.committed("tiny") }

    func run(_ mode: StateCheckpoints, tokens: [Int], chunkSize: Int = 0) throws -> (StateRecorder, ModelState<Double>) {
        let model = try tiny.loadModel(as: Double.self)
        var state = ModelState(for: model)
        let recorder = StateRecorder(mode)
        _ = try Reference.forward(model: model, tokens: tokens, state: &state, options: ForwardOptions(chunkSize: chunkSize),
                                  observer: recorder)
        return (recorder, state)
    }

    @Test func perCallIsTheStateTheCallCarriesAndComesBeforeRWKVWKV() throws {
        let (r, state) = try run(.perCall, tokens: tiny.tokens)
        let layers = tiny.layerKinds.indices.filter { tiny.layerKinds[$0] == .rwkv }
        for l in layers {
            let name = CheckpointName.stateWKV(l)
            let reported = r.seen.filter { $0.name == name }
            #expect(reported.count == 1)
            #expect(reported.first?.shape == [tiny.config.numHeads, tiny.config.headDim, tiny.config.headDim])
            // Bitwise the fixture's float64 truth and the state the call returned.
            #expect(reported.first?.values == (try tiny.truth(name: name)))
            #expect(reported.first?.values == state.checkpoints().first { $0.name == name }?.values)
            let at = try #require(r.seen.firstIndex { $0.name == name })
            #expect(r.seen[at + 1].name == CheckpointName.rwkv(l, "wkv"))
        }
        // The activation stream is the one an observer that does not ask sees.
        let (plain, _) = try run(.none, tokens: tiny.tokens)
        #expect(plain.seen.map(\.name) == CheckpointName.all(layerKinds: tiny.layerKinds))
        #expect(r.seen.filter { !$0.name.hasPrefix("state.") }.map(\.values) == plain.seen.map(\.values))
    }

    @Test func perTokenIsTheStateAfterEachToken() throws {
        let tokens = Array(tiny.tokens.prefix(5))
        let (r, _) = try run(.perToken, tokens: tokens)
        let name = CheckpointName.stateWKV(1)
        let reported = r.seen.filter { $0.name == name }
        #expect(reported.count == tokens.count)
        for t in tokens.indices where t < reported.count {
            let (prefix, _) = try run(.perCall, tokens: Array(tokens.prefix(t + 1)))
            #expect(reported[t].values == prefix.seen.first { $0.name == name }?.values, "token \(t)")
        }
        // Reporting per token changes no activation.
        let (plain, _) = try run(.none, tokens: tokens)
        #expect(r.seen.filter { !$0.name.hasPrefix("state.") }.map(\.values) == plain.seen.map(\.values))
        // The chunked form has no per-token state: it reports once per call.
        let (chunked, _) = try run(.perToken, tokens: tokens, chunkSize: 2)
        #expect(chunked.seen.filter { $0.name == name }.count == 1)
    }
}
