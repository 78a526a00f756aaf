// Packing: ModelWeights<T> (T = Float or Double) → the layouts the fast kernels read.
//
// Contract: no arithmetic on the weights except the optional rounding of the
// big matrices to bfloat16 (round to nearest even). bf16 matrices stay bf16
// bits, for Float and Double alike (the kernels widen them exactly). Every array length is
// checked against the config here, so the pointer kernels never read out of
// bounds: a malformed ModelWeights throws `Hxa079Error.invalidModel`.
// The output projections, MLP down, head and embedding keep the caller's
// [T] storage (copy-on-write: no copy). Matrices that read the same input
// are stacked row-wise into one (a copy): r/k/v → [H·N + 2·Hkv·N][C], q/k/v
// likewise, MLP gate/up → [2I][C] (`DenseMatrix.stacking`); the five LoRA
// down-projections of an RWKV layer are fused column-wise into one
// [C][Dw+Da+Dv+Dk+Dg] matrix. One GEMM (GEMV) then computes each group.
// The matrices a decode step streams (projections, MLP, head; not the
// embedding) are put on transparent huge pages at the end (Linux hint,
// `adviseHugePages` in Gemv.swift: fewer TLB misses while streaming).

import Hxa079
import SafeTensors

/// One LoRA up-projection u·W2 reading columns [offset, offset + rank) of the fused down output.
struct LoRAUp<T: FastScalar> {
    let rank: Int
    let outFeatures: Int
    let offset: Int
    /// W2 [rank][outFeatures].
    let weight: [T]
    /// The bf16 engine: W2ᵀ [outFeatures][rank] as bf16 bits (the rows its products read), else nil.
    var bits: [UInt16]? = nil
}

final class RWKVLayerFast<T: FastScalar> {
    /// [receptance; key; value] stacked: [H·N + 2·Hkv·N][C].
    let rkv: FastMatrix<T>
    let output: FastMatrix<T>
    /// [w1 | a1 | v1 | k1 | g1] fused: [C][downWidth].
    let down: [T]
    /// The bf16 engine: the fused down transposed, [downWidth][C] bf16 bits, else nil.
    var downBits: [UInt16]? = nil
    let downWidth: Int
    let decayUp: LoRAUp<T>, iclrUp: LoRAUp<T>, gateUp: LoRAUp<T>
    let valueUp: LoRAUp<T>?, keyUp: LoRAUp<T>?
    let w0: [T], a0: [T], v0: [T]?, k0: [T]?
    let rK: [T]
    let rNorm: [T]?, kNorm: [T]?

    init(rkv: FastMatrix<T>, output: FastMatrix<T>, down: [T], downWidth: Int,
         decayUp: LoRAUp<T>, iclrUp: LoRAUp<T>, gateUp: LoRAUp<T>, valueUp: LoRAUp<T>?, keyUp: LoRAUp<T>?,
         w0: [T], a0: [T], v0: [T]?, k0: [T]?, rK: [T], rNorm: [T]?, kNorm: [T]?) {
        self.rkv = rkv; self.output = output
        self.down = down; self.downWidth = downWidth
        self.decayUp = decayUp; self.iclrUp = iclrUp; self.gateUp = gateUp; self.valueUp = valueUp; self.keyUp = keyUp
        self.w0 = w0; self.a0 = a0; self.v0 = v0; self.k0 = k0; self.rK = rK; self.rNorm = rNorm; self.kNorm = kNorm
    }
}

final class GQALayerFast<T: FastScalar> {
    /// [q_proj; k_proj; v_proj] stacked: [H·N + 2·Hkv·N][C].
    let qkv: FastMatrix<T>
    let output: FastMatrix<T>
    let qNorm: [T]?, kNorm: [T]?

    init(qkv: FastMatrix<T>, output: FastMatrix<T>, qNorm: [T]?, kNorm: [T]?) {
        self.qkv = qkv; self.output = output; self.qNorm = qNorm; self.kNorm = kNorm
    }
}

enum MixerFast<T: FastScalar> {
    case rwkv(RWKVLayerFast<T>)
    case gqa(GQALayerFast<T>)
}

struct LayerFast<T: FastScalar> {
    let inputNorm: [T]
    let postAttentionNorm: [T]
    let mixer: MixerFast<T>
    /// [gate_proj; up_proj] stacked: [2I][C].
    let gateUp: FastMatrix<T>
    let down: FastMatrix<T>
}

/// Where the big matrices come from.
struct MatrixSource {
    /// bf16 bits of tensors kept as bf16 (by internal tensor name).
    var bf16: [String: [UInt16]] = [:]
    /// Round the remaining big matrices to bf16.
    var roundToBF16 = false
    /// The bf16 engine: every parameter rounded to bf16 as its layer is packed (one layer's copy
    /// at a time, not the model's), the big matrices as bf16 bits (implies `roundToBF16`), and
    /// the LoRA matrices also as transposed bf16 bits (`LoRAUp.bits`, `downBits`).
    var bf16Engine = false {
        didSet { if bf16Engine { roundToBF16 = true } }
    }
}

/// x rounded to bf16, in T (the bf16 engine's storage point W).
@inline(__always) func storedBF16<T: FastScalar>(_ x: T) -> T { T(roundedToBF16(Float(x))) }

/// Packs parameters into the kernels' layouts, collecting every length
/// problem (the pointer kernels must never see a short array).
struct Packer<T: FastScalar> {
    let cfg: ModelConfig
    let source: MatrixSource
    /// Big matrices read in place from the mapped files (streamed; by internal tensor name).
    let mapped: [String: MappedWeights<T>]
    var problems: [String] = []

    init(config: ModelConfig, source: MatrixSource, mapped: [String: MappedWeights<T>] = [:]) {
        cfg = config
        self.source = source
        self.mapped = mapped
    }

    mutating func check(_ a: [T]?, _ n: Int, _ what: @autoclosure () -> String) {
        if let a, a.count != n { problems.append("\(what()) has \(a.count) values, expected \(n)") }
    }

    /// bf16 bits as a matrix's storage: kept as bits, widened on the fly by the
    /// kernels (Float and Double alike: `hxa_gemv_rows_bf16(_f64)`, block widening before GEMM).
    static func bf16Storage(_ bits: [UInt16]) -> FastMatrix<T>.Storage { .bf16(bits) }

    mutating func matrix(_ name: String, _ l: Linear<T>, rows: Int, cols: Int) -> FastMatrix<T> {
        if l.outFeatures != rows || l.inFeatures != cols {
            problems.append("\(name) is [\(l.outFeatures), \(l.inFeatures)], expected [\(rows), \(cols)]")
        }
        check(l.bias, rows, "\(name).bias")
        let storage: FastMatrix<T>.Storage
        if let m = mapped[name + ".weight"] {
            storage = .mapped(m)   // element count checked by `mappedMatrices`
        } else if let bits = source.bf16[name + ".weight"] {
            if bits.count != rows * cols { problems.append("\(name).weight has \(bits.count) values, expected \(rows * cols)") }
            storage = Self.bf16Storage(bits)
        } else {
            check(l.weight, rows * cols, "\(name).weight")
            storage = source.roundToBF16 ? Self.bf16Storage(l.weight.map { roundToBF16(Float($0)) }) : .values(l.weight)
        }
        return FastMatrix(rows: rows, cols: cols, storage: storage, bias: l.bias)
    }

    // stacking copies, so only when every part passed its checks (the
    // pointer kernels must never see a short array); otherwise a placeholder
    func stack(_ parts: [FastMatrix<T>]) -> FastMatrix<T> {
        problems.isEmpty ? FastMatrix.stacking(parts) : parts[0]
    }

    /// Layer `i` packed, with the width of its fused LoRA down-projection
    /// (the bf16 engine: every parameter of it rounded to bf16 first).
    mutating func layer(_ i: Int, _ read: LayerWeights<T>) -> (LayerFast<T>, downWidth: Int) {
        let layer = source.bf16Engine ? read.mapped(storedBF16) : read
        let C = cfg.hiddenSize, H = cfg.numHeads, N = cfg.headDim, Hkv = cfg.numKVHeads
        let I = cfg.intermediateSize
        let HN = H * N, KN = Hkv * N
        let a = { (leaf: String) in String(TensorName.attn(i, leaf)) }
        check(layer.inputNorm, C, "layer \(i) input norm")
        check(layer.postAttentionNorm, C, "layer \(i) post-attention norm")
        let mixer: MixerFast<T>
        var width = 0
        switch layer.mixer {
        case .rwkv(let w):
            // fused LoRA downs [C][Σ D]: w1 | a1 | v1 | k1 | g1
            var parts: [(LowRank<T>, Int)] = [(w.decayLoRA, HN), (w.iclrLoRA, HN)]
            if let g = w.valueGate { parts.append((g.lora, KN)) }
            if let g = w.keyGate { parts.append((g.lora, KN)) }
            parts.append((w.gateLoRA, HN))
            var offsets: [Int] = []
            for (l, out) in parts {
                if l.inFeatures != C || l.outFeatures != out || l.down.count != C * l.rank || l.up.count != l.rank * out || l.rank <= 0 {
                    problems.append("layer \(i): a LoRA pair has shape [\(l.inFeatures), \(l.rank)]·[\(l.rank), \(l.outFeatures)] (\(l.down.count)/\(l.up.count) values), expected [\(C), D]·[D, \(out)]")
                }
                offsets.append(width)
                width += max(l.rank, 0)
            }
            var down = [T](repeating: 0, count: C * width)
            if problems.isEmpty {
                for (p, (l, _)) in parts.enumerated() {
                    for c in 0..<C {
                        for d in 0..<l.rank { down[c * width + offsets[p] + d] = l.down[c * l.rank + d] }
                    }
                }
            }
            let bits = source.bf16Engine && problems.isEmpty
            func up(_ p: Int) -> LoRAUp<T> {
                let (l, out) = parts[p]
                return LoRAUp(rank: l.rank, outFeatures: out, offset: offsets[p], weight: l.up,
                              bits: bits ? transposedBF16Bits(l.up, rows: l.rank, cols: out) : nil)
            }
            var next = 2
            let valueUp = w.valueGate.map { _ -> LoRAUp<T> in defer { next += 1 }; return up(next) }
            let keyUp = w.keyGate.map { _ -> LoRAUp<T> in defer { next += 1 }; return up(next) }
            check(w.w0, HN, "layer \(i) w0"); check(w.a0, HN, "layer \(i) a0")
            check(w.valueGate?.bias, KN, "layer \(i) v0"); check(w.keyGate?.bias, KN, "layer \(i) k0")
            check(w.rK, HN, "layer \(i) r_k"); check(w.rNorm, N, "layer \(i) r_norm"); check(w.kNorm, N, "layer \(i) k_norm")
            let rkv = [matrix(a("receptance"), w.receptance, rows: HN, cols: C),
                       matrix(a("key"), w.key, rows: KN, cols: C),
                       matrix(a("value"), w.value, rows: KN, cols: C)]
            let layer = RWKVLayerFast(
                rkv: stack(rkv),
                output: matrix(a("output"), w.output, rows: C, cols: HN),
                down: down, downWidth: width,
                decayUp: up(0), iclrUp: up(1), gateUp: up(parts.count - 1), valueUp: valueUp, keyUp: keyUp,
                w0: w.w0, a0: w.a0, v0: w.valueGate?.bias, k0: w.keyGate?.bias, rK: w.rK, rNorm: w.rNorm, kNorm: w.kNorm)
            if bits { layer.downBits = transposedBF16Bits(down, rows: C, cols: width) }
            mixer = .rwkv(layer)
        case .gqa(let w):
            check(w.qNorm, N, "layer \(i) q_norm"); check(w.kNorm, N, "layer \(i) k_norm")
            let qkv = [matrix(a("q_proj"), w.query, rows: HN, cols: C),
                       matrix(a("k_proj"), w.key, rows: KN, cols: C),
                       matrix(a("v_proj"), w.value, rows: KN, cols: C)]
            mixer = .gqa(GQALayerFast(
                qkv: stack(qkv),
                output: matrix(a("o_proj"), w.output, rows: C, cols: HN),
                qNorm: w.qNorm, kNorm: w.kNorm))
        }
        let gateUp = [matrix(TensorName.mlp(i, "gate_proj"), layer.mlp.gate, rows: I, cols: C),
                      matrix(TensorName.mlp(i, "up_proj"), layer.mlp.up, rows: I, cols: C)]
        let packed = LayerFast(inputNorm: layer.inputNorm, postAttentionNorm: layer.postAttentionNorm, mixer: mixer,
                               gateUp: stack(gateUp),
                               down: matrix(TensorName.mlp(i, "down_proj"), layer.mlp.down, rows: C, cols: I))
        return (packed, width)
    }
}

struct PackedModel<T: FastScalar> {
    var config: ModelConfig
    var layerKinds: [LayerKind]
    /// E [V][C] (in memory only).
    var embedding: FastMatrix<T>
    /// W_head in blocks of `headBlockRows` rows (a `.group` when V is larger; in memory only).
    var head: FastMatrix<T>
    /// The packed layers (in memory only; empty when streamed).
    var layers: [LayerFast<T>]
    var finalNorm: [T]
    var maxDownWidth: Int
    /// Rows of W_head per block, the same in memory and streamed (so both run the same products).
    var headBlockRows: Int
    /// Where the layers, embedding rows and head blocks come from when streamed (nil: all in memory).
    var streamed: StreamedWeights<T>?
    /// Streamed for the bf16 engine: every tensor read is rounded to bf16
    /// (the big ones kept as bits) — what `init(_:source:)` gets from rounded weights.
    var roundsToBF16 = false

    init(_ m: ModelWeights<T>, source: MatrixSource, headBlockRows: Int? = nil) throws {
        let cfg = m.config
        try cfg.validate()
        let C = cfg.hiddenSize, V = cfg.vocabSize
        var packer = Packer<T>(config: cfg, source: source)
        if m.layers.count != cfg.numLayers {
            packer.problems.append("model has \(m.layers.count) layers, config says \(cfg.numLayers)")
        }
        let embedding = packer.matrix(String(TensorName.embedding.dropLast(".weight".count)),
                                      Linear(outFeatures: V, inFeatures: C, weight: m.embedding), rows: V, cols: C)
        let head = m.lmHead.map { packer.matrix("lm_head", $0, rows: V, cols: C) } ?? embedding
        packer.check(m.finalNorm, C, "final norm")

        var layers: [LayerFast<T>] = []
        var maxDown = 0
        for (i, layer) in m.layers.enumerated() {
            let (packed, width) = packer.layer(i, layer)   // (the bf16 engine: rounded there)
            layers.append(packed)
            maxDown = max(maxDown, width)
        }
        if !packer.problems.isEmpty { throw Hxa079Error.invalidModel(packer.problems) }
        self.config = cfg
        self.layerKinds = m.layerKinds
        self.embedding = embedding
        self.headBlockRows = max(1, headBlockRows ?? defaultHeadBlockRows(config: cfg, scalarBytes: MemoryLayout<T>.size))
        self.head = head.rowBlocks(self.headBlockRows)
        self.layers = layers
        self.finalNorm = source.bf16Engine ? m.finalNorm.map(storedBF16) : m.finalNorm
        self.maxDownWidth = maxDown
        self.streamed = nil
        // the matrices every decode step streams, on huge pages (Gemv.swift)
        let streamed = matrices
        let collapse = streamed.reduce(0) { $0 + $1.weightBytes } <= hugePageCollapseLimit
        for matrix in streamed { matrix.adviseHugePages(collapse: collapse) }
    }

    /// A model whose layers, embedding rows and head blocks are read from
    /// `weights` when a pass needs them (Loading.swift); nothing is packed yet.
    init(streaming weights: StreamedWeights<T>, roundToBF16: Bool = false) throws {
        let cfg = weights.config
        try cfg.validate()
        config = cfg
        layerKinds = weights.layerKinds
        let empty = FastMatrix<T>(rows: 0, cols: cfg.hiddenSize, storage: .values([]), bias: nil)
        embedding = empty
        head = empty
        layers = []
        roundsToBF16 = roundToBF16
        finalNorm = try weights.finalNormWeights().map { roundToBF16 ? storedBF16($0) : $0 }
        headBlockRows = weights.headBlockRows
        // the fused LoRA width of each RWKV layer, from the shapes (Σ ranks of w1, a1, v1, k1, g1)
        var maxDown = 0
        for (i, kind) in layerKinds.enumerated() where kind == .rwkv {
            let ranks = ["w1", "a1", "v1", "k1", "g1"].compactMap { weights.source.shape(of: TensorName.attn(i, $0))?.last }
            maxDown = max(maxDown, ranks.reduce(0, +))
        }
        maxDownWidth = maxDown
        streamed = weights
    }

    /// Layer `i`: the packed one, or (streamed) read and packed now — the
    /// caller drops it after the layer ran. Streamed, the big matrices the
    /// kernels can read in place stay in the mapped files (`mappedMatrices`);
    /// the rest of the layer is read and converted to T.
    func layer(_ i: Int) throws -> LayerFast<T> {
        guard let streamed else { return layers[i] }
        let mapped = mappedMatrices(layer: i)
        var source = MatrixSource()
        source.bf16Engine = roundsToBF16
        var packer = Packer<T>(config: config, source: source, mapped: mapped)
        let (packed, _) = packer.layer(i, try streamed.layer(i, readElsewhere: Set(mapped.keys)))
        if !packer.problems.isEmpty { throw Hxa079Error.invalidModel(packer.problems) }
        return packed
    }

    /// The big matrices of layer `i` (r/k/v/o or q/k/v/o, MLP) that the
    /// kernels read straight from the memory-mapped files (SPEC.md §2.8):
    /// BF16 ones (our bf16 GEMV, and GEMM on blocks widened into aligned
    /// scratch — the same results at any address — as `keepBF16` holds them
    /// in memory), when 2-byte aligned and of the expected size. Everything
    /// else is read per layer (`inPlace` says why F32/F64 are not mapped).
    func mappedMatrices(layer i: Int) -> [String: MappedWeights<T>] {
        guard let streamed else { return [:] }
        let leaves = layerKinds[i] == .rwkv ? ["receptance", "key", "value", "output"] : ["q_proj", "k_proj", "v_proj", "o_proj"]
        let names = leaves.map { TensorName.attn(i, $0) + ".weight" }
            + ["gate_proj", "up_proj", "down_proj"].map { TensorName.mlp(i, $0) + ".weight" }
        var out: [String: MappedWeights<T>] = [:]
        for name in names {
            if let m = Self.inPlace(name, source: streamed.source) { out[name] = m }
        }
        return out
    }

    /// `name` as mapped weights when the kernels can read it in place, else nil.
    static func inPlace(_ name: String, source: SafeTensorsSource) -> MappedWeights<T>? {
        guard let (bytes, dtype, owner) = source.mapped(name), let base = bytes.baseAddress,
              let count = source.elementCount(of: name), count > 0 else { return nil }
        let address = UInt(bitPattern: base)
        if dtype == .BF16 && bytes.count == 2 * count && address % 2 == 0 {
            return MappedWeights(pointer: .bf16(base.assumingMemoryBound(to: UInt16.self)), owner: owner)
        }
        // F32/F64 weights would be readable in place too, but OpenBLAS's GEMV/GEMM
        // round differently at different addresses (alignment peeling: measured,
        // thousands of differing logits on an F64 file in place vs the same model in
        // memory), and streamed results must equal in-memory ones bit for bit; so
        // they are copied per layer (a plain read, no conversion).
        return nil
    }

    /// Rows `rows` of W_head as a matrix, for a streamed model: in place from the mapping when the kernels can read it there (then its
    /// stored bits are checked for non-finite values on the first pass), else
    /// read and converted to T.
    func streamedHeadBlock(_ rows: Range<Int>) throws -> FastMatrix<T> {
        guard let streamed else { throw Hxa079Error.invalidArgument("the head is in memory") }
        let C = config.hiddenSize
        if let m = Self.inPlace(streamed.headName, source: streamed.source) {
            try streamed.checkHeadRowsInPlace(rows)
            return FastMatrix(rows: rows.count, cols: C, storage: .mapped(m.advanced(by: rows.lowerBound * C)), bias: nil)
        }
        let values = try streamed.headRows(rows)
        if roundsToBF16 { return FastMatrix(rows: rows.count, cols: C, storage: .bf16(values.map { roundToBF16(Float($0)) }), bias: nil) }
        return FastMatrix(rows: rows.count, cols: C, storage: .values(values), bias: nil)
    }

    /// True when some prefill product widens bf16 weights (needs the workspace's wide scratch).
    var widensBF16: Bool {
        guard let streamed else { return matrices.contains { $0.containsBF16 } }
        return roundsToBF16 || streamed.source.tensorNames.contains { streamed.source.dtype(of: $0) == .BF16 }
    }

    /// Every matrix the forward pass applies except the embedding (for the
    /// workspace: any bf16 one needs the widening scratch in prefill; for huge
    /// pages: what a decode step streams).
    var matrices: [FastMatrix<T>] {
        var all = [head]
        for l in layers {
            all += [l.gateUp, l.down]
            switch l.mixer {
            case .rwkv(let r): all += [r.rkv, r.output]
            case .gqa(let g): all += [g.qkv, g.output]
            }
        }
        return all
    }

    /// Bytes of weights read by one decode step (matrices + LoRA + vectors; the embedding row is negligible).
    var decodeWeightBytes: Int {
        let size = MemoryLayout<T>.size
        if let streamed {   // every tensor as T but the embedding (tied: the head)
            let source = streamed.source
            let tied = streamed.headName == TensorName.embedding
            return source.tensorNames.reduce(0) { sum, name in   // in place: the stored bytes
                let n = source.elementCount(of: name) ?? 0
                let inPlace = FastEngine<T>.isBigMatrix(name) ? Self.inPlace(name, source: source) : nil
                return sum + (name == TensorName.embedding && !tied ? 0 : (inPlace.map { $0.isBF16 ? 2 : size } ?? size) * n)
            }
        }
        var total = head.weightBytes
        for l in layers {
            total += l.gateUp.weightBytes + l.down.weightBytes
            switch l.mixer {
            case .rwkv(let r):
                total += r.rkv.weightBytes + r.output.weightBytes
                // the bf16 engine's decode reads the LoRA matrices as bf16 bits (`downBits`, `LoRAUp.bits`)
                total += (r.downBits == nil ? size : 2) * (r.down.count + r.decayUp.weight.count + r.iclrUp.weight.count
                              + r.gateUp.weight.count + (r.valueUp?.weight.count ?? 0) + (r.keyUp?.weight.count ?? 0))
            case .gqa(let g):
                total += g.qkv.weightBytes + g.output.weightBytes
            }
        }
        return total
    }
}
