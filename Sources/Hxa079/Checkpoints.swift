// Checkpoints: the one mechanism for observing a forward pass.
//
// Contract: an engine (the reference, the fast path) reports each named
// intermediate of a call to a `CheckpointObserver`, in execution order, as a
// [T, …] tensor of that call. The fixtures, the debug CLI (`hxa079 step`) and
// `hxa079 compare` all consume this one stream. Names are fixed (SPEC.md §4)
// and built only by the functions below.

/// One observed tensor.
public struct Checkpoint: Sendable {
    /// Stable name, e.g. `layers.3.rwkv.kk` (SPEC.md §4).
    public var name: String
    /// Shape, outermost first; the first axis is the call's token axis T for activations.
    public var shape: [Int]
    /// Row-major values, widened to Double (exact for Float and Double runs).
    public var values: [Double]

    public init(name: String, shape: [Int], values: [Double]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Receives checkpoints. `wants` lets an engine skip the conversion of
/// checkpoints nobody asked for; `observe` may throw to stop the run (the
/// debugger's `q`). `stateCheckpoints` asks the engine to report the WKV
/// state as well (SPEC.md §4.2); it defaults to `.none`, so observers that
/// want everything still get only the activation checkpoints.
public protocol CheckpointObserver: AnyObject {
    func wants(_ name: String) -> Bool
    func observe(_ checkpoint: Checkpoint) throws
    /// Whether and how often the engine reports `state.layers.{i}.wkv`.
    var stateCheckpoints: StateCheckpoints { get }
}

/// When an engine reports the WKV state of an RWKV layer as the checkpoint
/// `state.layers.{i}.wkv` [H, N, N] ([head][value][key], SPEC.md §4.4),
/// right after that layer's `rwkv.wkv`.
public enum StateCheckpoints: Sendable, Equatable {
    /// Never (the default).
    case none
    /// Once per call: the state after the call's last token (the state the call will carry).
    case perCall
    /// Once per token, in token order: the state after each token (the
    /// recurrent form; an engine that runs the chunked form reports per call).
    case perToken
}

/// An observer that replaces checkpoint values: stage-local replay (SPEC.md
/// §4.8). After an engine reports a checkpoint it asks `substitute`; when that
/// returns values, the engine continues with them instead of its own, so every
/// later stage reads them. Only the readable reference honours it (through
/// `record(_:shape:_:)` with an `inout` array); other engines ignore it.
public protocol CheckpointSubstituting: CheckpointObserver {
    /// The values to continue with after the checkpoint `name` of `shape`
    /// (row-major, the count of `shape`), or nil to keep the engine's own.
    func substitute(_ name: String, shape: [Int]) -> [Double]?
}

extension CheckpointObserver {
    /// No state checkpoints.
    public var stateCheckpoints: StateCheckpoints { .none }
}

extension Optional where Wrapped == any CheckpointObserver {
    /// Reports `values` under `name` if an observer is attached and wants it.
    @inlinable
    public func record<T: BinaryFloatingPoint>(_ name: @autoclosure () -> String, shape: [Int], _ values: [T]) throws {
        guard let observer = self else { return }
        let n = name()
        guard observer.wants(n) else { return }
        try observer.observe(Checkpoint(name: n, shape: shape, values: values.map { Double($0) }))
    }

    /// Reports `values` like `record(_:shape:_:)`, then replaces them in place
    /// when the observer substitutes this checkpoint (`CheckpointSubstituting`,
    /// SPEC.md §4.8). Returns true when it did.
    @inlinable
    @discardableResult
    public func record<T: BinaryFloatingPoint>(_ name: @autoclosure () -> String, shape: [Int], _ values: inout [T]) throws -> Bool {
        guard let observer = self else { return false }
        let n = name()
        if observer.wants(n) {
            try observer.observe(Checkpoint(name: n, shape: shape, values: values.map { Double($0) }))
        }
        guard let substituting = observer as? any CheckpointSubstituting,
              let replacement = substituting.substitute(n, shape: shape), replacement.count == values.count else { return false }
        for i in values.indices { values[i] = T(replacement[i]) }
        return true
    }

    /// What the attached observer asks for (`.none` without one).
    @inlinable
    public var stateCheckpoints: StateCheckpoints { self?.stateCheckpoints ?? .none }
}

/// Collects checkpoints in order (for dumps and fixtures).
public final class CheckpointCollector: CheckpointObserver {
    /// What to keep; `nil` keeps everything.
    public let filter: ((String) -> Bool)?
    /// Everything kept, in execution order.
    public private(set) var checkpoints: [Checkpoint] = []

    public init(filter: ((String) -> Bool)? = nil) { self.filter = filter }

    public func wants(_ name: String) -> Bool { filter?(name) ?? true }
    public func observe(_ checkpoint: Checkpoint) throws { checkpoints.append(checkpoint) }

    /// The last checkpoint recorded under `name`.
    public subscript(name: String) -> Checkpoint? { checkpoints.last { $0.name == name } }
}

/// Stable checkpoint names (SPEC.md §4). Build names only through these.
public enum CheckpointName {
    public static let embed = "embed"
    public static let finalNorm = "final_norm"
    public static let logits = "logits"

    public static func norm1(_ layer: Int) -> String { "layers.\(layer).norm1" }
    public static func mixerResidual(_ layer: Int) -> String { "layers.\(layer).mixer_residual" }
    public static func norm2(_ layer: Int) -> String { "layers.\(layer).norm2" }
    public static func mlpOut(_ layer: Int) -> String { "layers.\(layer).mlp_out" }
    public static func layerOut(_ layer: Int) -> String { "layers.\(layer).out" }

    /// RWKV-layer leaves in execution order.
    public static let rwkvLeaves = ["r", "k", "v", "k_mixed", "v_mixed", "w", "a", "kk", "k_scaled",
                                    "decay", "wkv", "bonus", "gate", "mixer_out"]
    /// GQA-layer leaves in execution order.
    public static let gqaLeaves = ["q", "k", "v", "attn", "mixer_out"]

    public static func rwkv(_ layer: Int, _ leaf: String) -> String { "layers.\(layer).rwkv.\(leaf)" }
    public static func gqa(_ layer: Int, _ leaf: String) -> String { "layers.\(layer).gqa.\(leaf)" }

    /// Every activation checkpoint of a forward call, in execution order.
    public static func all(layerKinds: [LayerKind]) -> [String] {
        var names = [embed]
        for (i, kind) in layerKinds.enumerated() {
            names.append(norm1(i))
            switch kind {
            case .rwkv: names += rwkvLeaves.map { rwkv(i, $0) }
            case .gqa: names += gqaLeaves.map { gqa(i, $0) }
            }
            names += [mixerResidual(i), norm2(i), mlpOut(i), layerOut(i)]
        }
        return names + [finalNorm, logits]
    }

    // State tensors (state files, dumps).
    public static let statePosition = "state.position"
    public static func stateWKV(_ layer: Int) -> String { "state.layers.\(layer).wkv" }
    public static func stateKeys(_ layer: Int) -> String { "state.layers.\(layer).k" }
    public static func stateValues(_ layer: Int) -> String { "state.layers.\(layer).v" }

    /// Every state tensor of a model (SPEC.md §4.4), in the order of a state
    /// file's checkpoints: `state.position`, then per layer `wkv` or `k`, `v`.
    public static func stateNames(layerKinds: [LayerKind]) -> [String] {
        var names = [statePosition]
        for (i, kind) in layerKinds.enumerated() {
            names += kind == .rwkv ? [stateWKV(i)] : [stateKeys(i), stateValues(i)]
        }
        return names
    }

    /// The layer index a name belongs to (`layers.7.…` or `state.layers.7.…`), if any.
    public static func layerIndex(of name: String) -> Int? {
        let parts = name.split(separator: ".")
        guard let i = parts.firstIndex(of: "layers"), i + 1 < parts.count else { return nil }
        return Int(parts[i + 1])
    }
}

/// Matches checkpoint names against a glob with `*` (any run of characters,
/// dots included) and `?` (one character), e.g. `layers.*.rwkv.wkv`.
package func globMatches(_ pattern: String, _ name: String) -> Bool {
    let p = Array(pattern), s = Array(name)
    var pi = 0, si = 0, star = -1, mark = 0
    while si < s.count {
        if pi < p.count && (p[pi] == "?" || p[pi] == s[si]) { pi += 1; si += 1 }
        else if pi < p.count && p[pi] == "*" { star = pi; mark = si; pi += 1 }
        else if star >= 0 { pi = star + 1; mark += 1; si = mark }
        else { return false }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
}
