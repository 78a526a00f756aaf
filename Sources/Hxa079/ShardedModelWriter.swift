// ShardedModelWriter: a model directory written (SPEC.md §2.1–§2.2).
//
// Contract:
// - `writeModelDirectory` writes config.json and the weights in one float
//   dtype, HF-style or RWKV-style names, as `model.safetensors` or as n shards
//   `model-0000k-of-0000n.safetensors` + `model.safetensors.index.json`.
//   Each file's layout and header come from `SafeTensorsHeader`, so files are
//   byte-identical to what `SafeTensorsWriter` writes for the same tensors;
//   the data is streamed through `ChunkedSafeTensorsWriter`: each tensor is
//   produced, encoded (`FloatDType`) and written in chunks by up to `threads`
//   workers, so a model larger than memory can be generated. Files go to a
//   temporary name and are renamed into place; stale model files of the
//   other layout are removed.

import SafeTensors
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a writer produced.
public struct WrittenModel: Sendable {
    public struct File: Sendable {
        public var path: String
        public var bytes: Int
    }
    /// The weight files (not config.json / the index), in shard order.
    public var files: [File]
    public var tensors: Int
    public var parameters: Int
    public var totalBytes: Int { files.reduce(0) { $0 + $1.bytes } }
}

/// One tensor to be written: internal name, shape, and a producer that emits
/// its row-major values as consecutive chunks (widened to Double: exact for
/// Float and Double sources).
struct PlannedTensor {
    var name: String
    var shape: [Int]
    var produce: (_ emit: ([Double]) throws -> Void) throws -> Void

    var count: Int { shape.reduce(1, *) }
}

/// Elements per chunk handed from a producer to the encoder.
let writeChunkElements = 1 << 18

/// Writes `weights` as a model directory: config.json plus the weights in
/// `dtype` (F64, F32, F16 or BF16), named HF-style or RWKV-style, as one file
/// or as `shards` shards with an index.
@discardableResult
package func writeModelDirectory<T: BinaryFloatingPoint>(_ weights: ModelWeights<T>, to path: String, dtype: DType,
                                                       naming: TensorNaming = .hf, shards: Int = 1,
                                                       metadata: [String: String]? = nil) throws -> WrittenModel {
    let planned = weights.namedTensors().map { t in
        PlannedTensor(name: t.name, shape: t.shape) { emit in
            var start = 0
            while start < t.values.count {
                let end = min(start + writeChunkElements, t.values.count)
                try emit(widened(t.values, start..<end))
                start = end
            }
        }
    }
    return try writeModelFiles(planned, config: weights.config.json(layerKinds: weights.layerKinds), to: path,
                               dtype: dtype, naming: naming, shards: shards, metadata: metadata)
}

/// `values[range]` as Double, with concrete loops for Float and Double
/// (generic conversions are slow when not specialized).
func widened<T: BinaryFloatingPoint>(_ values: [T], _ range: Range<Int>) -> [Double] {
    if T.self == Double.self { return Array(unsafeBitCast(values, to: [Double].self)[range]) }
    if T.self == Float.self { return unsafeBitCast(values, to: [Float].self)[range].map { Double($0) } }
    return values[range].map { Double($0) }
}

/// The shard file names for `n` shards (`model.safetensors` for one).
package func shardFileNames(_ n: Int) -> [String] {
    guard n > 1 else { return ["model.safetensors"] }
    func pad(_ k: Int) -> String { let s = String(k); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
    return (1...n).map { "model-\(pad($0))-of-\(pad(n)).safetensors" }
}

/// The shared streaming writer behind `writeModelDirectory` and `writeRandomModelDirectory`.
func writeModelFiles(_ tensors: [PlannedTensor], config: JSONValue, to dir: String, dtype: DType,
                     naming: TensorNaming, shards: Int, metadata: [String: String]?,
                     threads: Int = defaultWriterThreads()) throws -> WrittenModel {
    guard let format = FloatDType(dtype) else {
        throw Hxa079Error.invalidArgument("weights cannot be written as \(dtype.rawValue); use F64, F32, F16 or BF16")
    }
    guard shards >= 1, shards <= max(tensors.count, 1) else {
        throw Hxa079Error.invalidArgument("cannot split \(tensors.count) tensors into \(shards) shards")
    }
    let stored = tensors.map { naming == .rwkv ? TensorName.rwkvStyleName($0.name) : $0.name }
    if Set(stored).count != stored.count {
        throw Hxa079Error.invalidArgument("two tensors have the same name after renaming to \(naming.label) names")
    }
    try makeDirectory(dir)
    // Remove model files of either layout so the directory holds exactly one model.
    for name in try directoryEntries(dir) where name == "model.safetensors" || name == ModelDirectory.indexName
        || (name.hasPrefix("model-") && name.hasSuffix(".safetensors") && name.contains("-of-")) {
        unlink(dir + "/" + name)
    }

    // Contiguous groups of roughly equal byte size, none empty.
    let bytes = tensors.map { $0.count * dtype.byteSize }
    let total = bytes.reduce(0, +)
    var groups = [[Int]](repeating: [], count: shards)
    var g = 0, acc = 0
    for k in tensors.indices {
        groups[g].append(k)
        acc += bytes[k]
        let tensorsLeft = tensors.count - k - 1, groupsLeft = shards - g - 1
        if groupsLeft > 0 && (Double(acc) * Double(shards) >= Double(total) * Double(g + 1) || tensorsLeft == groupsLeft) { g += 1 }
    }
    let fileNames = shardFileNames(shards)

    // One header per shard (SafeTensorsHeader orders the tensors); the jobs
    // are (tensor, shard, entry of the shard's header).
    struct Job { var tensor: Int; var shard: Int; var entry: Int }
    var jobs: [Job] = []
    var files: [ChunkedSafeTensorsWriter] = []
    do {
        for (s, group) in groups.enumerated() {
            let header = SafeTensorsHeader(metadata: metadata,
                                           tensors: group.map { (stored[$0], dtype, tensors[$0].shape) })
            files.append(try ChunkedSafeTensorsWriter(path: dir + "/" + fileNames[s], header: header))
            for (e, entry) in header.entries.enumerated() { jobs.append(Job(tensor: group[entry.index], shard: s, entry: e)) }
        }

        // Workers: greedy balance of the jobs by size, each worker writes its own tensors.
        let workers = max(1, min(threads, jobs.count))
        var assignment = [[Job]](repeating: [], count: workers)
        var load = [Int](repeating: 0, count: workers)
        for job in jobs.sorted(by: { bytes[$0.tensor] > bytes[$1.tensor] }) {
            let w = load.indices.min { load[$0] < load[$1] } ?? 0
            assignment[w].append(job)
            load[w] += bytes[job.tensor]
        }
        final class Outcome { var error: Error? }
        let outcomes = (0..<workers).map { _ in Outcome() }
        let plan = assignment, writers = files
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            do {
                for job in plan[w] {
                    let t = tensors[job.tensor]
                    var produced = 0
                    try t.produce { chunk in
                        if produced + chunk.count > t.count {
                            throw Hxa079Error.invalidArgument("tensor \(t.name) produced more than \(t.count) values for shape \(t.shape)")
                        }
                        try writers[job.shard].write(chunk, as: format, entry: job.entry, atElement: produced)
                        produced += chunk.count
                    }
                    if produced != t.count {
                        throw Hxa079Error.invalidArgument("tensor \(t.name) produced \(produced) values for shape \(t.shape)")
                    }
                }
            } catch {
                outcomes[w].error = error
            }
        }
        if let e = outcomes.compactMap({ $0.error }).first { throw e }
        for f in files { try f.sync() }
        for f in files { try f.commit() }
    } catch let e as SafeTensorsError {
        // The chunked writer's errors are `.io`, naming the file.
        if case .io(let path, _, _) = e { throw Hxa079Error.safetensors(path: path, e) }
        throw Hxa079Error.safetensors(path: dir, e)
    }

    if shards > 1 {
        var map: [(String, JSONValue)] = []
        for (s, group) in groups.enumerated() { for k in group { map.append((stored[k], .string(fileNames[s]))) } }
        map.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let index = JSONValue.object([("metadata", .object([("total_size", .number(Double(total)))])),
                                      ("weight_map", .object(map))])
        try writeFileBytes(dir + "/" + ModelDirectory.indexName, Array((index.serialized(pretty: true) + "\n").utf8))
    }
    try writeFileBytes(dir + "/config.json", Array((config.serialized(pretty: true) + "\n").utf8))
    return WrittenModel(files: files.map { .init(path: $0.path, bytes: $0.header.fileSize) }, tensors: tensors.count,
                        parameters: tensors.reduce(0) { $0 + $1.count })
}

/// Worker threads for writing: the online cores, at most 8.
func defaultWriterThreads() -> Int {
    max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
}
