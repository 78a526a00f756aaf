// MemoryEstimate: what running a model with streamed weights will need, from
// the headers alone (`hxa079 inspect`, SPEC.md §2.8).
//
// Contract: figures for one forward call of `tokens` tokens from position 0,
// computed from tensor shapes and dtypes; no tensor is read.
// - Peak anonymous memory per engine ≈ the largest layer in the run precision
//   + one head block + the state (twice: the caller's and the call's working
//   copy) + the activations of the reference (a few [T][width] arrays per
//   stage; the fast path's workspace). The fast path reads its big matrices
//   in place from the mapping when they are BF16 (no anonymous copy, the
//   head likewise) and adds its
//   in-layer copies: stacked r/k/v, q/k/v and MLP gate/up matrices up to
//   64 MiB each, the fused LoRA down-projection. An estimate: the allocator
//   and the run's checkpoints add to it.
// - Mapped: every weight file is mapped; the reference reads values with
//   pread (the mapping stays virtual), the fast path reads the in-place
//   matrices through it (resident as page cache, file-backed, reclaimable).
// - Disk read per forward pass: every layer, the final norm, the head (the
//   embedding when tied) and T embedding rows, at their stored size; the
//   page cache serves repeated passes when it can hold the model.

import SafeTensors

package struct MemoryEstimate: Sendable {
    package struct Engine: Sendable {
        /// "reference f64", "reference f32", "fast f32", "fast f64".
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
        // per layer: values, stored bytes, and the fast path's anonymous bytes in Float32 / Float64
        var values = [Int](repeating: 0, count: L), stored = [Int](repeating: 0, count: L)
        var fast32 = [Int](repeating: 0, count: L), fast64 = [Int](repeating: 0, count: L)
        for name in source.tensorNames {
            guard let i = TensorName.layerIndex(of: name), i < L else { continue }
            values[i] += count(name)
            stored[i] += storedBytes(name)
        }
        let kinds = ModelWeights<Float>.detectLayerKinds(config: cfg, source: source)
        let stackLimit = 64 << 20   // DenseMatrix.stackCopyLimit
        /// Read in place by the fast path (PackedModel.mappedMatrices: BF16 matrices, in f32 and f64;
        /// assumes the usual alignment of the tensors in their files).
        func inPlace(_ name: String, f32: Bool) -> Bool {
            let d = source.dtype(of: name)
            return d == .BF16
        }
        for (i, kind) in kinds.enumerated() {
            let leaves = kind == .rwkv ? ["receptance", "key", "value", "output"] : ["q_proj", "k_proj", "v_proj", "o_proj"]
            let big = leaves.map { TensorName.attn(i, $0 + ".weight") } + ["gate_proj", "up_proj", "down_proj"].map { TensorName.mlp(i, $0 + ".weight") }
            let stacks = [Array(big[0..<3]), [big[4], big[5]]]   // r/k/v (q/k/v), gate/up
            let lora = kind == .rwkv ? ["w1", "a1", "v1", "k1", "g1"].reduce(0) { $0 + count(TensorName.attn(i, $1)) } : 0
            for (f32, b) in [(true, 4), (false, 8)] {
                // converted tensors in the run precision; in-place ones cost nothing but their page cache
                var anon = 0
                for name in source.tensorNames where TensorName.layerIndex(of: name) == i {
                    if !(big.contains(name) && inPlace(name, f32: f32)) { anon += count(name) * b }
                }
                // stacked copies up to the limit, in bf16 when every part is bf16 read in place
                for parts in stacks {
                    let elements = parts.reduce(0) { $0 + count($1) }
                    let bytes = elements * (parts.allSatisfy({ source.dtype(of: $0) == .BF16 }) ? 2 : b)
                    if bytes <= stackLimit { anon += bytes }
                }
                anon += lora * b   // the fused LoRA down-projection
                if f32 { fast32[i] = anon } else { fast64[i] = anon }
            }
        }
        let rwkvLayers = kinds.filter { $0 == .rwkv }.count, gqaLayers = kinds.count - rwkvLayers
        // in Double: the dimensions of a config that fails validation may be up to 2³¹ each
        let stateValues = Double(rwkvLayers) * Double(H) * Double(N) * Double(N) + Double(gqaLayers * T * 2) * Double(Hkv) * Double(N)
        let widest = max(Double(C), Double(H) * Double(N), Double(I), 1)
        let headName = source.shape(of: TensorName.lmHead) != nil ? TensorName.lmHead : TensorName.embedding
        func peak(_ scalarBytes: Int, fast: Bool) -> Int {
            let b = Double(scalarBytes)
            let perLayer = fast ? (scalarBytes == 4 ? fast32 : fast64) : values.map { $0 * scalarBytes }
            let layer = Double(perLayer.max() ?? 0)
            let headInPlace = fast && inPlace(headName, f32: scalarBytes == 4)
            let head = headInPlace ? 0 : Double(defaultHeadBlockRows(config: cfg, scalarBytes: scalarBytes)) * Double(C) * b
            let activations = (Double((fast ? 24 : 12) * T) * widest + Double(T) * Double(V)) * b
            return Int(min(layer + head + 2 * stateValues * b + activations, 0x1p62))   // clamped: no trap
        }
        engines = [Engine(label: "reference f64", peakAnonymousBytes: peak(8, fast: false)),
                   Engine(label: "reference f32", peakAnonymousBytes: peak(4, fast: false)),
                   Engine(label: "fast f32", peakAnonymousBytes: peak(4, fast: true)),
                   Engine(label: "fast f64", peakAnonymousBytes: peak(8, fast: true))]
        mappedBytes = source.files.reduce(0) { $0 + 8 + $1.file.headerLength + $1.file.dataLength }
        let embeddingRowBytes = V > 0 ? storedBytes(TensorName.embedding) / V : 0
        diskReadPerPassBytes = stored.reduce(0, +) + storedBytes(TensorName.finalNorm) + storedBytes(headName) + T * embeddingRowBytes
    }
}
