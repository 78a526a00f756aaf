// RandomShapes: small random model shapes for sweeps.
//
// Contract: deterministic in the seed. Shapes cover what the issues ask of
// sweeps: head_dim 16…96, GQA layers anywhere (layer 0 included), G > 1,
// optional biases / norms / tied heads, H·N ≠ C.

import Hxa079

public enum RandomShapes {
    /// A small model shape: `layers` layers with GQA at `gqaLayers`.
    public static func shape(hidden: Int = 48, heads: Int = 4, headDim: Int = 16, kvHeads: Int = 2,
                             intermediate: Int = 80, vocab: Int = 64, layers: Int = 4, gqaLayers: Set<Int> = [2],
                             ropeTheta: Double = 10_000, ranks: Int = 8) -> ModelShape {
        ModelShape(config: ModelConfig(hiddenSize: hidden, numHeads: heads, headDim: headDim, numKVHeads: kvHeads,
                                       intermediateSize: intermediate, vocabSize: vocab, numLayers: layers,
                                       rmsNormEps: 1e-5, ropeTheta: ropeTheta),
                   gqaLayers: gqaLayers, ranks: (ranks, ranks, ranks, ranks, ranks * 2))
    }

    /// Random token ids below `vocab`.
    public static func tokens(_ count: Int, vocab: Int, seed: UInt64) -> [Int] {
        var rng = SeededRNG(seed: seed, label: "tokens")
        return (0..<count).map { _ in rng.int(below: vocab) }
    }
}
