// StateIO: ModelState ↔ safetensors state files (SPEC.md (37), §4).
//
// Contract (fixed interface, read by other tools):
//   state.position         I64 [1]          the next absolute position
//   state.layers.{i}.wkv   [H, N, N]        RWKV layer i, index order [head][value][key]
//   state.layers.{i}.k     [P, Hkv, N]      GQA layer i, keys as cached (after k norm, no RoPE);
//                                           P = position, or min(position, N) for a KV window of N
//   state.layers.{i}.v     [P, Hkv, N]      GQA layer i, values
// Float tensors are written in the run's precision (F64 or F32) and read from
// any float dtype; a written state read back is bit-for-bit the same.

import SafeTensors

extension ModelState {
    /// Adds the state tensors to `writer`, as F64 when `dtype == .F64`, BF16
    /// when `.BF16` (a bf16 engine's state: its values are bf16 already, so
    /// the file holds them exactly), else F32.
    public func add(to writer: inout SafeTensorsWriter, dtype: DType) throws {
        func data(_ v: [T]) -> TensorData {
            switch dtype {
            case .F64: return .f64(v.map { Double($0) })
            case .BF16: return .bf16(v.map { bf16Bits(Float($0)) })
            default: return .f32(v.map { Float($0) })
            }
        }
        try writer.add(CheckpointName.statePosition, shape: [1], .i64([Int64(position)]))
        for (i, layer) in layers.enumerated() {
            switch layer {
            case .rwkv(let s):
                try writer.add(CheckpointName.stateWKV(i), shape: [s.heads, s.headDim, s.headDim], data(s.values))
            case .gqa(let c):
                try writer.add(CheckpointName.stateKeys(i), shape: [c.count, c.kvHeads, c.headDim], data(c.keys))
                try writer.add(CheckpointName.stateValues(i), shape: [c.count, c.kvHeads, c.headDim], data(c.values))
            }
        }
    }

    /// Writes a state file.
    public func write(to path: String, dtype: DType) throws {
        var writer = SafeTensorsWriter(metadata: ["format": "hxa079-state", "version": "1"])
        try add(to: &writer, dtype: dtype)
        try writer.write(to: path)
    }

    /// Reads a state for a model with `config`/`layerKinds`; every problem is named.
    public init(file: SafeTensorsFile, config: ModelConfig, layerKinds: [LayerKind]) throws {
        var problems: [String] = []
        var position = 0
        if let info = file.info(CheckpointName.statePosition) {
            if info.shape != [1] || (info.dtype != .I64 && info.dtype != .I32) {
                problems.append("\(CheckpointName.statePosition) must be I64 of shape [1], got \(info.dtype.rawValue) \(info.shape)")
            } else {
                position = Int(try file.int64s(CheckpointName.statePosition)[0])
                if position < 0 { problems.append("\(CheckpointName.statePosition) is negative (\(position))") }
            }
        } else { problems.append("missing tensor \(CheckpointName.statePosition)") }
        let H = config.numHeads, N = config.headDim, Hkv = config.numKVHeads
        var layers: [LayerState<T>] = []
        var expected: Set<String> = [CheckpointName.statePosition]
        func floats(_ name: String, shape: [Int]?) -> [T]? {
            guard let info = file.info(name) else { problems.append("missing tensor \(name)"); return nil }
            if let shape, info.shape != shape { problems.append("tensor \(name) has shape \(info.shape), expected \(shape)"); return nil }
            do {
                let v: [T] = try file.values(name)
                if let bad = v.firstIndex(where: { !$0.isFinite }) { problems.append("tensor \(name) holds a non-finite value at flat index \(bad)"); return nil }
                return v
            } catch { problems.append("tensor \(name): \(error)"); return nil }
        }
        for (i, kind) in layerKinds.enumerated() {
            switch kind {
            case .rwkv:
                let name = CheckpointName.stateWKV(i)
                expected.insert(name)
                layers.append(.rwkv(WKVState(heads: H, headDim: N, values: floats(name, shape: [H, N, N]) ?? [T](repeating: 0, count: H * N * N))))
            case .gqa:
                let kn = CheckpointName.stateKeys(i), vn = CheckpointName.stateValues(i)
                expected.insert(kn); expected.insert(vn)
                // P = position, or fewer rows for a windowed cache (SPEC.md (27a)):
                // `problems(config:layerKinds:kvWindow:)` checks P when the state is used.
                let P = file.info(kn).map { $0.shape.count == 3 && $0.shape[0] <= position ? $0.shape[0] : position } ?? position
                let k = floats(kn, shape: [P, Hkv, N]) ?? []
                let v = floats(vn, shape: [P, Hkv, N]) ?? []
                layers.append(.gqa(KVCache(kvHeads: Hkv, headDim: N, keys: k, values: v)))
            }
        }
        for name in file.names where !expected.contains(name) {
            problems.append("unexpected tensor \(name) (the model's layer map is \(String(layerKinds.map { $0.letter })))")
        }
        if !problems.isEmpty { throw Hxa079Error.invalidState(problems) }
        self.init(position: position, layers: layers)
    }

    /// Reads a state file.
    public init(path: String, config: ModelConfig, layerKinds: [LayerKind]) throws {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) }
        catch let e as SafeTensorsError { throw Hxa079Error.safetensors(path: path, e) }
        try self.init(file: file, config: config, layerKinds: layerKinds)
    }
}
