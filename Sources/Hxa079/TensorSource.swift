// TensorSource: read access to named tensors, whatever holds them.
//
// Contract: names are already internal (HF-style, TensorNames.swift). Values
// are converted per tensor on request, so a large model is never read whole
// into memory at once (the files stay memory-mapped).

import SafeTensors

public protocol TensorSource {
    /// Every tensor name, sorted.
    var tensorNames: [String] { get }
    /// Shape of `name`, nil when absent.
    func shape(of name: String) -> [Int]?
    /// Stored dtype of `name`, nil when absent.
    func dtype(of name: String) -> DType?
    /// Values of a float tensor as Double (exact for F64/F32/F16/BF16).
    func doubles(_ name: String) throws -> [Double]
    /// Values of a float tensor as Float (exact for F32/F16/BF16; F64 rounded).
    func floats(_ name: String) throws -> [Float]
}

extension TensorSource {
    /// Values of `name` as `T` (exact whenever T can hold the stored dtype).
    public func values<T: BinaryFloatingPoint>(_ name: String, as: T.Type = T.self) throws -> [T] {
        // Same element type: reinterpret the array (O(1)); an `as? [T]` cast copies element by element
        // when the function is not specialized.
        if T.self == Float.self { return unsafeBitCast(try floats(name), to: [T].self) }
        if T.self == Double.self { return unsafeBitCast(try doubles(name), to: [T].self) }
        return try doubles(name).map { T($0) }
    }
}

/// Tensors held in memory (tests, generated models).
public struct InMemoryTensors: TensorSource {
    public var tensors: [String: (shape: [Int], data: TensorData)]

    public init(_ tensors: [String: (shape: [Int], data: TensorData)] = [:]) { self.tensors = tensors }

    public var tensorNames: [String] { tensors.keys.sorted() }
    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }
    public func dtype(of name: String) -> DType? { tensors[name]?.data.dtype }

    public func doubles(_ name: String) throws -> [Double] { try decoded(name) { $0.doubles() } }
    public func floats(_ name: String) throws -> [Float] { try decoded(name) { $0.floats() } }

    /// The values of `name` through SafeTensors' dtype decoder (nil: an integer kind).
    private func decoded<T>(_ name: String, _ decode: (TensorData) -> [T]?) throws -> [T] {
        guard let t = tensors[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        guard let values = decode(t.data) else {
            throw Hxa079Error.invalidModel(["tensor \(name) has integer dtype \(t.data.dtype.rawValue), expected a float dtype"])
        }
        return values
    }
}

/// `base` with the values (not the shapes or dtypes) of some tensors hidden:
/// they read as empty arrays. The fast path reads those tensors another way
/// (in place from the mapping, or as their stored bf16 bits) and packs the
/// rest from this source (Hxa079Fast Loading.swift, Packing.swift).
package struct SkippingSource: TensorSource, SourceProblemReporting {
    package let base: TensorSource
    package let skipped: Set<String>
    package init(base: TensorSource, skipped: Set<String>) { self.base = base; self.skipped = skipped }
    package var tensorNames: [String] { base.tensorNames }
    package func shape(of name: String) -> [Int]? { base.shape(of: name) }
    package func dtype(of name: String) -> DType? { base.dtype(of: name) }
    package func doubles(_ name: String) throws -> [Double] { skipped.contains(name) ? [] : try base.doubles(name) }
    package func floats(_ name: String) throws -> [Float] { skipped.contains(name) ? [] : try base.floats(name) }
    var sourceProblems: [String] { (base as? SourceProblemReporting)?.sourceProblems ?? [] }
    func displayName(_ name: String) -> String { (base as? SourceProblemReporting)?.displayName(name) ?? name }
}
