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

    public func doubles(_ name: String) throws -> [Double] {
        guard let t = tensors[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        switch t.data {
        case .f64(let v): return v
        case .f32(let v): return v.map { Double($0) }
        case .bf16(let v): return v.map { Double(floatFromBF16($0)) }
        case .f16(let v): return v.map { Double(floatFromF16($0)) }
        case .i64, .i32: throw Hxa079Error.invalidModel(["tensor \(name) has integer dtype \(t.data.dtype.rawValue), expected a float dtype"])
        }
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw Hxa079Error.invalidModel(["missing tensor \(name)"]) }
        switch t.data {
        case .f64(let v): return v.map { Float($0) }
        case .f32(let v): return v
        case .bf16(let v): return v.map { floatFromBF16($0) }
        case .f16(let v): return v.map { floatFromF16($0) }
        case .i64, .i32: throw Hxa079Error.invalidModel(["tensor \(name) has integer dtype \(t.data.dtype.rawValue), expected a float dtype"])
        }
    }
}
