// ModelFixtures: small model directories built inside tests, and helpers to
// break them (rewrite tensors, edit config.json / the shard index, write raw
// safetensors bytes). Shared by the model-description tests (Hxa079Tests) and
// the executable's tests (CLITests).
//
// Contract: every builder writes into a fresh temporary directory that the
// `TempDir` owning it removes; nothing is shared between tests, so they can
// run in parallel.

import Foundation
import Hxa079
import SafeTensors

/// A fresh temporary directory, removed when released.
package final class TempDir {
    package let path: String

    package init(_ label: String = "t") throws {
        let safe = label.map { $0.isLetter || $0.isNumber ? $0 : "-" }
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("hxa079-\(String(safe.prefix(40)))-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    package func sub(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The model every corpus entry starts from: 3 layers (RWKV, RWKV, GQA),
/// C 16, H 2 × N 8, Hkv 1, I 24, V 32, ranks 4/4/4/4/8.
package let corpusShape = ModelShape(
    config: ModelConfig(hiddenSize: 16, numHeads: 2, headDim: 8, numKVHeads: 1, intermediateSize: 24,
                        vocabSize: 32, numLayers: 3, rmsNormEps: 1e-5, ropeTheta: 10_000),
    gqaLayers: [2], ranks: (4, 4, 4, 4, 8))

/// The corpus model's weights (Double, seed 1).
package func corpusWeights(options: RandomModelOptions = .init()) -> ModelWeights<Double> {
    ModelWeights<Double>.random(shape: corpusShape, options: options, seed: 1)
}

/// Writes the valid corpus model into `dir`.
package func writeValidModel(_ dir: String, naming: TensorNaming = .hf, shards: Int = 1, dtype: DType = .F32,
                     options: RandomModelOptions = .init()) throws {
    try writeModelDirectory(corpusWeights(options: options), to: dir, dtype: dtype, naming: naming, shards: shards)
}

/// One tensor of a safetensors file, editable.
package struct StoredTensor: Sendable {
    package var name: String
    package var shape: [Int]
    package var data: TensorData

    package init(name: String, shape: [Int], data: TensorData) {
        self.name = name
        self.shape = shape
        self.data = data
    }
}

/// All tensors of a safetensors file, in data order.
package func readTensors(_ path: String) throws -> (tensors: [StoredTensor], metadata: [String: String]?) {
    let file = try SafeTensorsFile(path: path)
    return (try file.tensors.map { StoredTensor(name: $0.name, shape: $0.shape, data: try file.data($0.name)) }, file.metadata)
}

/// Writes tensors as a safetensors file with the reference writer.
package func writeTensors(_ path: String, _ tensors: [StoredTensor], metadata: [String: String]? = nil) throws {
    var writer = SafeTensorsWriter(metadata: metadata)
    for t in tensors { try writer.add(t.name, shape: t.shape, t.data) }
    try writer.write(to: path)
}

/// Rewrites one safetensors file of `dir` after `edit`.
package func editTensors(_ dir: String, file: String = "model.safetensors", _ edit: (inout [StoredTensor]) throws -> Void) throws {
    let path = dir + "/" + file
    var (tensors, metadata) = try readTensors(path)
    try edit(&tensors)
    try writeTensors(path, tensors, metadata: metadata)
}

extension Array where Element == StoredTensor {
    /// Index of tensor `name`, or a thrown error naming it.
    package func index(of name: String) throws -> Int {
        guard let k = firstIndex(where: { $0.name == name }) else { throw FixtureError("no tensor \(name) to edit") }
        return k
    }

    package mutating func remove(_ name: String) throws { remove(at: try index(of: name)) }
}

package struct FixtureError: Error, CustomStringConvertible {
    package var description: String
    package init(_ d: String) { description = d }
}

/// Edits the members of a JSON object file (config.json or the shard index).
package func editJSON(_ path: String, _ edit: (inout [(String, JSONValue)]) throws -> Void) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard var members = try JSONValue.parse([UInt8](data)).objectValue else { throw FixtureError("\(path) is not an object") }
    try edit(&members)
    try writeText(path, JSONValue.object(members).serialized(pretty: true))
}

/// Edits config.json of `dir`.
package func editConfig(_ dir: String, _ edit: (inout [(String, JSONValue)]) throws -> Void) throws {
    try editJSON(dir + "/config.json", edit)
}

/// Edits the weight_map of model.safetensors.index.json of `dir`.
package func editWeightMap(_ dir: String, _ edit: (inout [(String, JSONValue)]) throws -> Void) throws {
    try editJSON(dir + "/model.safetensors.index.json") { members in
        guard let k = members.firstIndex(where: { $0.0 == "weight_map" }), var map = members[k].1.objectValue else {
            throw FixtureError("no weight_map")
        }
        try edit(&map)
        members[k].1 = .object(map)
    }
}

extension Array where Element == (String, JSONValue) {
    /// Sets (or, with nil, removes) member `key`.
    package mutating func set(_ key: String, _ value: JSONValue?) {
        if let k = firstIndex(where: { $0.0 == key }) {
            if let value { self[k].1 = value } else { remove(at: k) }
        } else if let value {
            append((key, value))
        }
    }
}

package func writeText(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

package func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

package func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A safetensors image from a header text and data bytes; `declaredLength`
/// overrides the 8-byte header length field.
package func rawSafeTensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    rawSafeTensors(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
}

package func rawSafeTensors(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let n = declaredLength ?? UInt64(headerBytes.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + headerBytes + data
}

/// Bitwise equality of two models' parameters (names, shapes and value bits).
package func sameBits<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ a: ModelWeights<A>, _ b: ModelWeights<B>) -> String? {
    let x = a.namedTensors(), y = b.namedTensors()
    guard x.count == y.count else { return "tensor counts differ: \(x.count) vs \(y.count)" }
    for (p, q) in zip(x, y) {
        guard p.name == q.name, p.shape == q.shape else { return "tensor \(p.name) \(p.shape) vs \(q.name) \(q.shape)" }
        let pb = p.values.map { Double($0).bitPattern }, qb = q.values.map { Double($0).bitPattern }
        guard pb == qb else { return "values of \(p.name) differ" }
    }
    var ca = a.config, cb = b.config
    ca.declaredLayerKinds = nil  // config.json declares the list; generated models do not
    cb.declaredLayerKinds = nil
    if ca != cb { return "configs differ: \(ca) vs \(cb)" }
    return nil
}
