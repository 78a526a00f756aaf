// MutantApplicability: which shipped mutants can change anything on a given
// model, token sequence and set of split plans (SPEC.md §4.6, issue 14).
//
// Contract: `fixtures make` records every mutant in one of three ways:
//   kept          it changes the run and a float64 comparison sees it
//                 (stored in mutants.safetensors, listed under `mutants`);
//   skipped       it cannot change anything here (listed under
//                 `skipped_mutants` with the reason);
//   undetectable  it changes the run, but by less than the float64 tolerance
//                 at every checkpoint (listed under `undetectable_mutants`
//                 with the measured distance).
// The decision is made from the model's structure where that is enough
// (`structuralReason`: KV grouping, layer kinds, number of RWKV layers, a plan
// carrying state, one token at position 0) and from the measured run
// otherwise (a mutant run bitwise equal to the truth is skipped, one inside
// the float64 tolerance everywhere is undetectable). Each structural reason
// is an identity of the model's equations, so a skipped mutant's run equals
// the truth bit for bit (the fixtures tests run every one to check).

import Hxa079
import Hxa079Reference

/// What the structure of a fixture tells about the mutants.
package struct MutantContext: Sendable {
    public var config: ModelConfig
    public var layerKinds: [LayerKind]
    public var tokenCount: Int
    public var plans: [SplitPlan]

    public init(config: ModelConfig, layerKinds: [LayerKind], tokenCount: Int, plans: [SplitPlan]) {
        self.config = config
        self.layerKinds = layerKinds
        self.tokenCount = tokenCount
        self.plans = plans
    }

    var rwkvLayers: Int { layerKinds.filter { $0 == .rwkv }.count }
    var gqaLayers: Int { layerKinds.filter { $0 == .gqa }.count }

    /// The plan a mutant is measured on: for the carried-state mutant a plan
    /// that hands a state to a later call (`save_restore` when present, else
    /// the first plan with more than one call); for every other mutant
    /// `one_call` when present, else the first plan. Nil when none fits.
    public func plan(for mutant: Mutant) -> SplitPlan? {
        if mutant.needsCarriedState {
            return plans.first { $0.name == "save_restore" && $0.calls.count > 1 } ?? plans.first { $0.calls.count > 1 }
        }
        return plans.first { $0.name == "one_call" } ?? plans.first
    }

    /// Why `mutant` cannot change anything here, decided from the structure
    /// alone; nil when the structure does not rule it out.
    public func structuralReason(_ mutant: Mutant) -> String? {
        let needsRWKV: Bool
        switch mutant {
        case .ropeInGQA, .kvHeadsTiled: needsRWKV = false
        default: needsRWKV = true
        }
        if needsRWKV && rwkvLayers == 0 { return "the model has no RWKV layer" }
        if mutant.needsCarriedState && plan(for: mutant) == nil {
            return "no split plan carries a state into a later call (every plan is a single call)"
        }
        switch mutant {
        case .kvHeadsTiled:
            // h mod Hkv = ⌊h / G⌋ for every h when G = 1 or Hkv = 1 (SPEC.md (11)).
            if config.numKVHeads == config.numHeads { return "every query head has its own KV head (num_key_value_heads = num_attention_heads)" }
            if config.numKVHeads == 1 { return "a single KV head is shared by every query head (num_key_value_heads = 1)" }
        case .kFirstBeforeRoPE:
            // k_first is read only by the RWKV layers after the first one (SPEC.md (8)-(10)).
            if rwkvLayers < 2 { return "k_first is read only by later RWKV layers, and the model has one RWKV layer" }
            if tokenCount == 1 { return "RoPE at position 0 is the identity, and the fixture has one token" }
        case .ropeInGQA:
            if gqaLayers == 0 { return "the model has no GQA layer" }
            if tokenCount == 1 { return "RoPE at position 0 is the identity, and the fixture has one token" }
        case .removalFromDecayedState:
            // One token from the zero state: S_old = S_old·diag(d) = 0.
            if tokenCount == 1 { return "one token from the zero state: the old and the decayed state are both zero" }
        case .transposedState:
            if config.headDim == 1 { return "a 1×1 WKV state is its own transpose (head_dim = 1)" }
        default:
            break
        }
        return nil
    }
}

/// How one shipped mutant was recorded in a fixture.
package enum MutantOutcome: Sendable {
    case kept(Manifest.MutantRecord)
    case skipped(Manifest.SkippedMutant)
    case undetectable(Manifest.UndetectableMutant)
}
