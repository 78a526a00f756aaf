// OracleCandidate: an outside engine's checkpoints, ready to be checked.
//
// Contract: a candidate is a set of named row-major tensors, any subset of a
// fixture's checkpoint names (SPEC.md §4), each with a precision class that
// picks its budget: `.float32` (the fixture's per-checkpoint float32 budget)
// or `.float64` (the fixed float64 tolerance). It can be built from
//   * a dictionary of Float or Double arrays (`[String: [Float]]`: float32,
//     `[String: [Double]]`: float64 unless told otherwise), shapes taken from
//     the fixture;
//   * explicit tensors with shapes (`set(_:_:shape:precision:)`, checked);
//   * `Checkpoint`s (what a `CheckpointObserver` receives);
//   * a safetensors dump (each tensor's dtype picks its class, as in
//     `hxa079 compare`);
//   * an `OracleObserver` the engine reported to while running a plan.
// A tensor without a shape takes the fixture's shape when its element count
// matches, and is otherwise reported as a shape mismatch. Checking is the one
// comparison of Hxa079Fixtures (`compareCheckpoint`), shared with
// `hxa079 compare` and `hxa079 step --compare`.

import Hxa079
import Hxa079Fixtures
import SafeTensors

/// Anything the oracle can check: `OracleCandidate`, `OracleObserver`,
/// `[String: [Float]]`, `[String: [Double]]`.
public protocol OracleCandidateConvertible {
    /// The candidate this value stands for.
    func oracleCandidate() throws -> OracleCandidate
}

/// Values of one tensor in a candidate dictionary (`[Float]`, `[Double]`, …).
public protocol OracleTensorValues {
    /// The values widened to Double (exact for Float and Double).
    var oracleValues: [Double] { get }
    /// The budget class these values are held to by default.
    static var oraclePrecision: BudgetClass { get }
}

extension Array: OracleTensorValues where Element: BinaryFloatingPoint {
    /// The elements widened to Double.
    public var oracleValues: [Double] { map { Double($0) } }
    /// `.float64` for Double (and wider), `.float32` for Float and narrower types.
    public static var oraclePrecision: BudgetClass {
        Element.significandBitCount >= Double.significandBitCount ? .float64 : .float32
    }
}

/// An engine's named tensors, held against a fixture by `OracleFixture.check`.
public struct OracleCandidate: Sendable, OracleCandidateConvertible {
    /// One tensor of the candidate.
    public struct Tensor: Sendable {
        /// Row-major values.
        public var values: [Double]
        /// Shape, outermost first; nil takes the fixture's shape.
        public var shape: [Int]?
        /// The budget the tensor is held to.
        public var precision: BudgetClass
        /// Stored dtype, when the tensor came from a dump.
        var dtype: DType?
    }

    /// The tensors by checkpoint name.
    public private(set) var tensors: [String: Tensor] = [:]

    /// An empty candidate.
    public init() {}

    /// Tensors without shapes (taken from the fixture). Float arrays are held
    /// to the float32 budget, Double arrays to the float64 tolerance, unless
    /// `precision` says otherwise (e.g. `.float32` for a Float engine whose
    /// values were widened to Double).
    public init<Values: OracleTensorValues>(_ values: [String: Values], precision: BudgetClass? = nil) {
        for (name, v) in values {
            tensors[name] = Tensor(values: v.oracleValues, shape: nil, precision: precision ?? Values.oraclePrecision, dtype: nil)
        }
    }

    /// Checkpoints as an engine reported them (values already widened to Double).
    ///
    /// - Parameter precision: the engine's arithmetic: `.float32` (default)
    ///   for a Float engine, `.float64` for a Double engine.
    public init(checkpoints: [Checkpoint], precision: BudgetClass = .float32) {
        for c in checkpoints {
            tensors[c.name] = Tensor(values: c.values, shape: c.shape, precision: precision, dtype: nil)
        }
    }

    /// Every tensor of a safetensors dump (any float dtype; F64 tensors are
    /// held to the float64 tolerance, every other dtype to the float32 budget).
    ///
    /// - Throws: `Hxa079Error.safetensors` for an unreadable file.
    public init(dump path: String) throws {
        for (name, t) in try CandidateTensor.load(path: path) {
            tensors[name] = Tensor(values: t.values, shape: t.shape, precision: BudgetClass(dtype: t.dtype), dtype: t.dtype)
        }
    }

    /// Sets checkpoint `name`.
    ///
    /// - Parameters:
    ///   - shape: outermost first; nil takes the fixture's shape.
    ///   - precision: nil picks `.float64` for Double values, `.float32` otherwise.
    /// - Throws: `Hxa079Error.invalidArgument` when `values.count` is not the
    ///   product of `shape`.
    public mutating func set<T: BinaryFloatingPoint>(_ name: String, _ values: [T], shape: [Int]? = nil,
                                                     precision: BudgetClass? = nil) throws {
        if let shape, elementCount(shape) != values.count {
            throw Hxa079Error.invalidArgument("candidate \(name): \(values.count) values for shape \(shape)"
                                              + (elementCount(shape).map { " (\($0) elements)" } ?? " (not a valid shape)"))
        }
        tensors[name] = Tensor(values: values.map { Double($0) }, shape: shape,
                               precision: precision ?? [T].oraclePrecision, dtype: nil)
    }

    /// Removes checkpoint `name`.
    public mutating func remove(_ name: String) { tensors[name] = nil }

    /// The tensor called `name`.
    public subscript(name: String) -> Tensor? { tensors[name] }

    /// The names of the tensors, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// The candidate itself.
    public func oracleCandidate() throws -> OracleCandidate { self }

    /// The tensors as `compare` takes them, shapes resolved against `fixture`.
    func resolved(against fixture: Fixture) -> [String: CandidateTensor] {
        var out: [String: CandidateTensor] = [:]
        for (name, t) in tensors {
            let expected = fixture.manifest.checkpoint(name)?.shape
            var shape = t.shape ?? expected ?? [t.values.count]
            // A shapeless tensor of another length keeps its length as its shape,
            // so the comparison reports "candidate [n] vs truth […]".
            if elementCount(shape) != t.values.count { shape = [t.values.count] }
            let dtype = t.dtype ?? (name == CheckpointName.statePosition ? .I64 : t.precision.dtype)
            out[name] = CandidateTensor(dtype: dtype, shape: shape, values: t.values)
        }
        return out
    }
}

extension Dictionary: OracleCandidateConvertible where Key == String, Value: OracleTensorValues {
    /// Shapes are taken from the fixture; Float arrays: float32 budget, Double arrays: float64 tolerance.
    public func oracleCandidate() throws -> OracleCandidate { OracleCandidate(self) }
}

// MARK: - Observer

/// A `CheckpointObserver` that collects an engine's checkpoints for the oracle.
///
/// Pass it to every call of a plan: a checkpoint reported again in a later
/// call is appended along its first (token) axis, so the collected tensors
/// have the fixture's whole-sequence shapes. Record the state after the last
/// call with `recordState`, then check the observer itself:
///
/// ```swift
/// let observer = OracleObserver()
/// _ = try engine.forward(tokens: oracle.tokens, state: &state, observer: observer)
/// observer.recordState(state)
/// let report = try oracle.check(observer, plan: "one_call")
/// ```
///
/// Not thread-safe: report from one thread at a time (as engines do).
public final class OracleObserver: CheckpointObserver, OracleCandidateConvertible {
    /// The engine's arithmetic, which picks the budget (`.float32` by default).
    public let precision: BudgetClass
    private let filter: ((String) -> Bool)?
    private var order: [String] = []
    private var merged: [String: Checkpoint] = [:]

    /// - Parameters:
    ///   - precision: `.float32` for a Float engine, `.float64` for a Double engine.
    ///   - filter: the names to collect; nil collects everything.
    public init(precision: BudgetClass = .float32, filter: ((String) -> Bool)? = nil) {
        self.precision = precision
        self.filter = filter
    }

    /// True for the names the filter keeps (all without a filter).
    public func wants(_ name: String) -> Bool { filter?(name) ?? true }

    /// Keeps `checkpoint`, appending it along the token axis to an earlier one of the same name.
    ///
    /// - Throws: `Hxa079Error.invalidArgument` when its trailing axes differ
    ///   from the earlier one's (this stops the engine's call).
    public func observe(_ checkpoint: Checkpoint) throws {
        guard var m = merged[checkpoint.name] else {
            merged[checkpoint.name] = checkpoint
            order.append(checkpoint.name)
            return
        }
        guard !m.shape.isEmpty, m.shape.count == checkpoint.shape.count, m.shape.dropFirst() == checkpoint.shape.dropFirst() else {
            throw Hxa079Error.invalidArgument("checkpoint \(checkpoint.name): shape \(checkpoint.shape) does not continue the earlier \(m.shape) along the token axis")
        }
        m.values += checkpoint.values
        m.shape[0] += checkpoint.shape[0]
        merged[checkpoint.name] = m
    }

    /// Records state tensors (`state.position`, `state.layers.{i}.wkv|k|v`), replacing earlier ones.
    public func recordState(_ checkpoints: [Checkpoint]) {
        for c in checkpoints {
            if merged[c.name] == nil { order.append(c.name) }
            merged[c.name] = c
        }
    }

    /// Records a `ModelState` under the state tensor names, replacing earlier ones.
    public func recordState<T: BinaryFloatingPoint>(_ state: ModelState<T>) {
        recordState(state.checkpoints())
    }

    /// Forgets everything collected.
    public func reset() {
        order.removeAll()
        merged.removeAll()
    }

    /// Everything collected, in the order first seen.
    public var checkpoints: [Checkpoint] { order.compactMap { merged[$0] } }

    /// The collected checkpoint called `name`.
    public subscript(name: String) -> Checkpoint? { merged[name] }

    /// The collected checkpoints as a candidate of this observer's precision.
    public func candidate() -> OracleCandidate { OracleCandidate(checkpoints: checkpoints, precision: precision) }

    /// The collected checkpoints (same as `candidate()`).
    public func oracleCandidate() throws -> OracleCandidate { candidate() }
}

extension BudgetClass {
    /// The dtype that chooses this profile (`BudgetClass(dtype:)`): F64, F32, BF16, F16.
    var dtype: DType {
        switch self {
        case .float64: return .F64
        case .float32: return .F32
        case .bfloat16: return .BF16
        case .float16: return .F16
        }
    }
}
