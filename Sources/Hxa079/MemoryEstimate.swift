// MemoryEstimate: what running a model with streamed weights will need, from
// the headers alone (`hxa079 inspect`, SPEC.md §2.8).
//
// Contract: figures for one forward call of `tokens` tokens from position 0,
// computed from tensor shapes and dtypes; no tensor is read.
// - Peak anonymous memory per engine ≈ the largest layer in the run precision
//   (the fast path adds its in-layer copies: stacked r/k/v, q/k/v and MLP
//   gate/up matrices up to 64 MiB each, the fused LoRA down-projection) + one
//   head block + the state (twice: the caller's and the call's working copy)
//   + the activations of the reference (a few [T][width] arrays per stage; the
//   fast path's workspace). An estimate: the allocator and the run's
//   checkpoints add to it.
// - Mapped: every weight file is mapped for its header; values are read with
//   pread, so the mapping stays virtual (no resident pages beyond the headers).
// - Disk read per forward pass: every layer, the final norm, the head (the
//   embedding when tied) and T embedding rows, at their stored size; the
//   page cache serves repeated passes when it can hold the model.

import SafeTensors

package struct MemoryEstimate: Sendable {
    package struct Engine: Sendable {
        /// "reference f64", "reference f32", "fast f32".
        package var label: String
        package var peakAnonymousBytes: Int
    }

    package var engines: [Engine]
    /// Bytes of the weight files (mapped, virtual).
    package var mappedBytes: Int
    /// Bytes read from the files per forward pass.
    package var diskReadPerPassBytes: Int
    /// Tokens the figures are for.
    package var tokens: Int

    /// Estimates for `directory` and a call of `tokens` tokens.
    package init(directory: ModelDirectory, tokens: Int = 16) {
        let source = directory.source, cfg = directory.config
        self.tokens = tokens
        let C = cfg.hiddenSize, H = cfg.numHeads, N = cfg.headDim, Hkv = cfg.numKVHeads, I = cfg.intermediateSize
        let V = cfg.vocabSize, T = tokens
        // a config beyond its limits (inspect reports it) gets no per-layer figures
        let L = (0...ModelConfig.maxLayers).contains(cfg.numLayers) ? cfg.numLayers : 0
        func count(_ name: String) -> Int { source.elementCount(of: name) ?? 0 }
        func storedBytes(_ name: String) -> Int { count(name) * (source.dtype(of: name)?.byteSize ?? 0) }
        // per layer: values, stored bytes, fast-path copies (in Float32 values)
        var values = [Int](repeating: 0, count: L), stored = [Int](repeating: 0, count: L), copies = [Int](repeating: 0, count: L)
        for name in source.tensorNames {
            guard let i = TensorName.layerIndex(of: name), i < L else { continue }
            values[i] += count(name)
            stored[i] += storedBytes(name)
        }
        let kinds = ModelWeights<Float>.detectLayerKinds(config: cfg, source: source)
        let stackLimit = 64 << 20   // DenseMatrix.stackCopyLimit
        for (i, kind) in kinds.enumerated() {
            let projections = (kind == .rwkv ? ["receptance", "key", "value"] : ["q_proj", "k_proj", "v_proj"])
                .reduce(0) { $0 + count(TensorName.attn(i, $1 + ".weight")) }
            let gateUp = count(TensorName.mlp(i, "gate_proj") + ".weight") + count(TensorName.mlp(i, "up_proj") + ".weight")
            let lora = kind == .rwkv ? ["w1", "a1", "v1", "k1", "g1"].reduce(0) { $0 + count(TensorName.attn(i, $1)) } : 0
            copies[i] = (4 * projections <= stackLimit ? projections : 0) + (4 * gateUp <= stackLimit ? gateUp : 0) + lora
        }
        let rwkvLayers = kinds.filter { $0 == .rwkv }.count, gqaLayers = kinds.count - rwkvLayers
        // in Double: the dimensions of a config that fails validation may be up to 2³¹ each
        let stateValues = Double(rwkvLayers) * Double(H) * Double(N) * Double(N) + Double(gqaLayers * T * 2) * Double(Hkv) * Double(N)
        let widest = max(Double(C), Double(H) * Double(N), Double(I), 1)
        let headName = source.shape(of: TensorName.lmHead) != nil ? TensorName.lmHead : TensorName.embedding
        func peak(_ scalarBytes: Int, fast: Bool) -> Int {
            let b = Double(scalarBytes)
            let layer = Double((0..<L).map { values[$0] + (fast ? copies[$0] : 0) }.max() ?? 0) * b
            let head = Double(defaultHeadBlockRows(config: cfg, scalarBytes: scalarBytes)) * Double(C) * b
            let activations = (Double((fast ? 24 : 12) * T) * widest + Double(T) * Double(V)) * b
            return Int(min(layer + head + 2 * stateValues * b + activations, 0x1p62))   // clamped: no trap
        }
        engines = [Engine(label: "reference f64", peakAnonymousBytes: peak(8, fast: false)),
                   Engine(label: "reference f32", peakAnonymousBytes: peak(4, fast: false)),
                   Engine(label: "fast f32", peakAnonymousBytes: peak(4, fast: true))]
        mappedBytes = source.files.reduce(0) { $0 + 8 + $1.file.headerLength + $1.file.dataLength }
        let embeddingRowBytes = V > 0 ? storedBytes(TensorName.embedding) / V : 0
        diskReadPerPassBytes = stored.reduce(0, +) + storedBytes(TensorName.finalNorm) + storedBytes(headName) + T * embeddingRowBytes
    }
}
