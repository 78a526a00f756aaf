// Loading: FastEngine<Real> (FastModel: Float, FastModel64: Double) from a
// model directory (config.json + safetensors).
//
// Contract: the same validation as `ModelDirectory.load` (every structural
// problem throws `Hxa079Error.invalidModel`; non-finite values are not
// scanned here). `init(streaming:)` streams the model (SPEC.md §2.8): each
// layer is read from the files as Real (Float32 or Float64) and packed when a pass reaches it,
// then released; the embedding rows of the call's tokens and the head in
// blocks of rows likewise — memory holds one layer, not the model. Results
// equal those of the same model packed in memory bit for bit.
// `init(directory:)` holds the whole model; with `keepBF16` and a BF16
// checkpoint the big matrices (r/k/v/o, q/k/v/o, MLP, lm_head, embedding) as
// their stored bf16 bits, widened on the fly (DenseMatrix.swift); everything
// else as Real.

import Hxa079
import SafeTensors

extension FastEngine {
    /// The model in `directory` for the fast path, streamed (SPEC.md §2.8):
    /// each layer is read from the files when a pass reaches it, so the files
    /// must stay in place while the model is used (`forward` and `step` run this).
    /// Memory: one layer in Real plus the activations.
    @_specialize(where Real == Float)
    @_specialize(where Real == Double)
    /// `nonFinite`: told once about each tensor holding NaN/±Inf, when a pass
    /// first reads it (StreamedWeights.swift); nil: not checked.
    package convenience init(streaming directory: ModelDirectory, nonFinite: ((String) -> Void)? = nil) throws {
        self.init(packed: try PackedModel(streaming: try StreamedWeights<Real>(directory: directory, checkFinite: false,
                                                                                nonFinite: nonFinite)))
    }

    /// Loads the whole model in `directory` for the fast path (held in memory:
    /// the directory may go away afterwards), each layer read as `StreamedWeights` reads it.
    @_specialize(where Real == Float)
    @_specialize(where Real == Double)
    /// `headBlockRows`: nil = `defaultHeadBlockRows` (tests pass small blocks).
    public convenience init(directory: ModelDirectory, keepBF16: Bool = false, headBlockRows: Int? = nil) throws {
        self.init(packed: try Self.packed(directory: directory, keepBF16: keepBF16, roundToBF16: false,
                                          headBlockRows: headBlockRows))
    }

    /// The model in `directory` packed in memory; `roundToBF16` (the bf16
    /// engine): every parameter rounded to bf16 and the big matrices held as bf16 bits.
    static func packed(directory: ModelDirectory, keepBF16: Bool, roundToBF16: Bool, headBlockRows: Int?) throws -> PackedModel<Real> {
        var source = MatrixSource()
        source.bf16Engine = roundToBF16
        var big = Set<String>()
        if keepBF16 {
            // internal name → (file, stored name) for the raw bf16 bits
            var stored: [String: (file: SafeTensorsFileRef, name: String)] = [:]
            for (_, file) in directory.source.files {
                for name in file.names {
                    stored[TensorName.canonicalName(name, isGQALayer: { _ in false })] = (SafeTensorsFileRef(file), name)
                }
            }
            for name in directory.source.tensorNames where Self.isBigMatrix(name)
                && directory.source.dtype(of: name)?.rawValue == "BF16" {
                guard let entry = stored[name] else { continue }
                source.bf16[name] = try entry.file.bf16Bits(entry.name)
                big.insert(name)
            }
        }
        let tensors = SkippingSource(base: directory.source, skipped: big)
        let (weights, _) = try ModelWeights<Real>.load(config: directory.config, source: tensors, checkFinite: false)
        return try PackedModel(weights, source: source, headBlockRows: headBlockRows)
    }

    /// The tensors kept as bf16 with `keepBF16`.
    static func isBigMatrix(_ name: String) -> Bool {
        if name == TensorName.embedding || name == TensorName.lmHead { return true }
        guard name.hasSuffix(".weight") else { return false }
        let leaves = ["receptance", "key", "value", "output", "q_proj", "k_proj", "v_proj", "o_proj",
                      "gate_proj", "up_proj", "down_proj"]
        return leaves.contains { name.hasSuffix(".self_attn.\($0).weight") || name.hasSuffix(".mlp.\($0).weight") }
    }
}

/// Raw bf16 bits of a stored tensor.
struct SafeTensorsFileRef {
    let file: SafeTensorsFile
    init(_ file: SafeTensorsFile) { self.file = file }

    func bf16Bits(_ name: String) throws -> [UInt16] {
        switch try file.data(name) {
        case .bf16(let bits): return bits
        default: throw Hxa079Error.invalidModel(["tensor \(name) is not stored as BF16"])
        }
    }
}
