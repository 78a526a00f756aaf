// StageReplay: re-runs every stage of a plan in float64 on a candidate's own
// stage inputs (SPEC.md §4.8), so a comparison can tell a stage that computes
// the wrong function from rounding that arrived with its inputs.
//
// Contract: the replay is one run of the readable float64 reference over the
// plan (every call recurrent, from the zero state, with the plan's state
// round trips) in which every checkpoint the candidate holds is substituted
// (`CheckpointSubstituting`): right after the reference computes a
// checkpoint — from inputs that are the candidate's wherever the candidate
// has them — its own value is recorded (that is the replay of the stage) and
// the candidate's value is what every later stage reads. The carried WKV
// state and the KV cache are therefore the float64 functions of the
// candidate's own earlier inputs. `stageInputs` is the table of SPEC.md §4.8:
// the checkpoints each stage reads; a replayed value is a *local* reference
// only where the candidate holds every one of them (else an input came from
// the reference itself and the figure would mix in upstream error).

import Hxa079
import Hxa079Reference

/// The checkpoints the stage producing `name` reads (SPEC.md §4.8), in the
/// order of the equations; [] for `embed` (it reads only the tokens); nil for
/// a name without a stage (`state.position`, unknown names).
package func stageInputs(of name: String, layerKinds: [LayerKind]) -> [String]? {
    let L = layerKinds.count
    switch name {
    case CheckpointName.embed: return []
    case CheckpointName.finalNorm: return L > 0 ? [CheckpointName.layerOut(L - 1)] : [CheckpointName.embed]
    case CheckpointName.logits: return [CheckpointName.finalNorm]
    case CheckpointName.statePosition: return nil
    default: break
    }
    guard let i = CheckpointName.layerIndex(of: name), i < L else { return nil }
    let firstRWKV = layerKinds.firstIndex(of: .rwkv)
    let input = i == 0 ? CheckpointName.embed : CheckpointName.layerOut(i - 1)
    let norm1 = CheckpointName.norm1(i)
    func r(_ leaf: String) -> String { CheckpointName.rwkv(i, leaf) }
    func g(_ leaf: String) -> String { CheckpointName.gqa(i, leaf) }
    // The WKV reads g = −exp(w) from w, not the decay checkpoint: a bf16 d = exp(g) near 1 keeps
    // too few bits of 1 − d (an engine's kernel, like the reference, takes g).
    let wkvInputs = [r("r"), r("w"), r("kk"), r("a"), r("k_scaled"), r("v_mixed")]
    switch name {
    case norm1: return [input]
    case CheckpointName.mixerResidual(i): return [input, layerKinds[i] == .rwkv ? r("mixer_out") : g("mixer_out")]
    case CheckpointName.norm2(i): return [CheckpointName.mixerResidual(i)]
    case CheckpointName.mlpOut(i): return [CheckpointName.norm2(i)]
    case CheckpointName.layerOut(i): return [CheckpointName.mixerResidual(i), CheckpointName.mlpOut(i)]
    case r("r"), r("k"), r("v"), r("w"), r("a"), r("gate"): return [norm1]
    case r("k_mixed"), r("v_mixed"):
        let own = name == r("k_mixed") ? r("k") : r("v")
        guard let f = firstRWKV, f != i else { return [own] }   // the first RWKV layer passes k, v through, (8)
        return [own, norm1, CheckpointName.rwkv(f, name == r("k_mixed") ? "k" : "v")]   // (9), (10)
    case r("kk"): return [r("k_mixed")]                                   // (11), (12)
    case r("k_scaled"): return [r("k_mixed"), r("w"), r("a")]             // (15)
    case r("decay"): return [r("w")]                                      // (17)
    case r("wkv"), CheckpointName.stateWKV(i): return wkvInputs           // (16), (18)–(20), with the carried state
    case r("bonus"): return [r("r"), r("k_scaled"), r("v_mixed")]         // (22)
    case r("mixer_out"): return [r("wkv"), r("bonus"), r("gate")]         // (21), (24)
    case g("q"), g("k"), g("v"): return [norm1]                           // (25), (26)
    case g("attn"): return [g("q"), g("k"), g("v")]                       // (27)–(30), the cache from earlier calls included
    case g("mixer_out"): return [g("attn")]                               // (31)
    case CheckpointName.stateKeys(i): return [g("k")]
    case CheckpointName.stateValues(i): return [g("v")]
    default: return nil
    }
}

/// True when `candidate` holds checkpoint `name` and every input of its stage
/// (and the stage has one): where a replayed value is a local reference.
package func isLocallyComparable(_ name: String, in candidate: [String: CandidateTensor], layerKinds: [LayerKind]) -> Bool {
    guard candidate[name] != nil, let inputs = stageInputs(of: name, layerKinds: layerKinds), !inputs.isEmpty else { return false }
    return inputs.allSatisfy { candidate[$0] != nil }
}

/// Substitutes a candidate's values, call by call: a call that starts at
/// position p reads rows p ..< p + T of each candidate tensor (the plans
/// start at position 0 and concatenate their calls along the token axis).
final class CandidateSubstitution: CheckpointSubstituting {
    let inner: any CheckpointObserver
    let candidate: [String: CandidateTensor]
    let firstRow: Int

    init(inner: any CheckpointObserver, candidate: [String: CandidateTensor], firstRow: Int) {
        self.inner = inner
        self.candidate = candidate
        self.firstRow = firstRow
    }

    func wants(_ name: String) -> Bool { inner.wants(name) }
    func observe(_ checkpoint: Checkpoint) throws { try inner.observe(checkpoint) }
    var stateCheckpoints: StateCheckpoints { inner.stateCheckpoints }

    func substitute(_ name: String, shape: [Int]) -> [Double]? {
        guard let c = candidate[name], let rows = shape.first, rows > 0 else { return nil }
        let rowSize = shape.dropFirst().reduce(1, *)
        guard c.values.count % max(rowSize, 1) == 0, firstRow + rows <= c.values.count / max(rowSize, 1) else { return nil }
        let slice = Array(c.values[(firstRow * rowSize)..<((firstRow + rows) * rowSize)])
        return slice.allSatisfy { $0.isFinite } ? slice : nil   // a non-finite candidate fails by itself; its stages replay on the reference's values
    }
}

extension EngineRunner {
    /// The float64 reference with every checkpoint of `candidate` substituted
    /// (SPEC.md §4.8): what `runPlan` collects from it are the stage replays.
    /// Every call runs the recurrent WKV (the truth's form).
    package static func replay(weights: any WeightProvider<Double>, candidate: [String: CandidateTensor]) -> EngineRunner {
        let config = weights.config, kinds = weights.layerKinds
        let box = StateBox(ModelState<Double>(config: config, layerKinds: kinds))
        return EngineRunner(
            name: "stage-local replay (reference f64)",
            reset: { box.state = ModelState(config: config, layerKinds: kinds) },
            run: { tokens, _, observer in
                let substitution = observer.map { CandidateSubstitution(inner: $0, candidate: candidate, firstRow: box.state.position) }
                _ = try Reference.forward(weights: weights, tokens: tokens, state: &box.state,
                                          options: ForwardOptions(chunkSize: 0), observer: substitution)
            },
            saveAndRestore: { path in
                try box.state.write(to: path, dtype: .F64)
                box.state = try ModelState<Double>(path: path, config: config, layerKinds: kinds)
            },
            stateTensors: { box.state.checkpoints() })
    }
}

/// The stage-local replay of `plan` on `candidate`: name → the float64
/// stage output on the candidate's inputs, for every checkpoint whose stage
/// inputs (`stageInputs`) the candidate holds in full (and that has at least one).
package func stageReplay(plan: SplitPlan, tokens: [Int], weights: any WeightProvider<Double>,
                         candidate: [String: CandidateTensor], scratchDirectory: String) throws -> [String: [Double]] {
    let kinds = weights.layerKinds
    let run = try runPlan(plan, tokens: tokens, engine: .replay(weights: weights, candidate: candidate),
                          scratchDirectory: scratchDirectory, keep: { isLocallyComparable($0, in: candidate, layerKinds: kinds) })
    var out: [String: [Double]] = [:]
    for c in run { out[c.name] = c.values }
    return out
}

extension Fixture {
    /// The stage-local replay of `candidate` on `plan` (SPEC.md §4.8): the
    /// fixture's model (bundled, regenerated, or `model`; checked against its
    /// hashes unless `ignoreModelHash`) streamed in float64. Nil when no
    /// checkpoint of the candidate has its stage inputs in it (nothing to replay).
    package func stageReplay(plan name: String, candidate: [String: CandidateTensor], model: String? = nil,
                             ignoreModelHash: Bool = false) throws -> [String: [Double]]? {
        guard let plan = manifest.plans.first(where: { $0.name == name }) else {
            throw Hxa079Error.invalidArgument("fixture \(manifest.name) has no plan \"\(name)\"")
        }
        let kinds = manifest.layerKinds
        guard candidate.keys.contains(where: { isLocallyComparable($0, in: candidate, layerKinds: kinds) }) else { return nil }
        let scratch = try makeTemporaryDirectory(prefix: "hxa079-replay")
        defer { removeTree(scratch) }
        let directory = try ModelDirectory(path: try modelDirectory(scratch: scratch, model: model, ignoreModelHash: ignoreModelHash))
        let weights = try StreamedWeights<Double>(directory: directory, checkFinite: false)
        return try Hxa079Fixtures.stageReplay(plan: plan, tokens: manifest.tokens, weights: weights, candidate: candidate,
                                              scratchDirectory: scratch)
    }
}
