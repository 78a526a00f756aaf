// PrecisionProfile: the storage model of a reduced-precision engine, as a
// rounding policy the reference applies at the profile's storage points
// (SPEC.md §4.7).
//
// Contract: the arithmetic of the reference is unchanged; a profile only
// rounds values where such an engine stores them: the weights (once, at
// load: `ModelWeights.stored(in:)`), every stage output (each checkpoint of
// SPEC.md §4.3, rounded before it is recorded and before the next stage reads
// it), the RoPE cos/sin table, the kernel inputs g = −exp(w) and β, and the
// WKV state at the end of each call. Everything else — norms, softmax, the
// WKV recurrence inside a call, every dot-product accumulation — runs in the
// run's 𝔽: binary32 (Float) for the profile itself, binary64 (Double) for its
// wide-accumulation variant (d), which rounds binary64 values to the format
// directly (one rounding). This is RWKV-Infer's storage model
// (rwkvengine/hrwkv7.py @5baa490; see SPEC.md §4.7).
//
// With the `f32` profile every call below returns at its first line: the run
// is bitwise the plain reference.

import Hxa079
import SafeTensors

/// The number format a profile stores in.
public enum StorageFormat: String, CaseIterable, Sendable, Codable {
    /// No storage rounding beyond the run's 𝔽 (binary32 or binary64).
    case f32
    /// bfloat16, round to nearest even.
    case bf16
    /// IEEE binary16, round to nearest even, overflow to ±infinity.
    case f16
}

/// A precision profile and its honest variants (SPEC.md §4.7).
public struct PrecisionProfile: Sendable, Equatable {
    /// Which values inside a stage are rounded besides its output.
    public enum Intermediates: String, Sendable, Equatable, CaseIterable {
        /// Only stage outputs (and the listed kernel inputs): the profile itself.
        case stageOutputsOnly
        /// Also every intermediate tensor a stage materializes (SPEC.md §4.7 lists them).
        case everyIntermediate
    }

    /// When the WKV state is rounded to the format.
    public enum StateRounding: String, Sendable, Equatable, CaseIterable {
        /// At the end of each call (the state a call carries): the profile itself.
        case perCall
        /// After every token (needs the recurrent WKV and a model, not a state-update mutant).
        case perToken
    }

    public var format: StorageFormat
    public var intermediates: Intermediates
    public var stateRounding: StateRounding

    public init(format: StorageFormat, intermediates: Intermediates = .stageOutputsOnly, stateRounding: StateRounding = .perCall) {
        self.format = format
        self.intermediates = intermediates
        self.stateRounding = stateRounding
    }

    /// Today's reference: nothing rounded beyond 𝔽.
    public static let f32 = PrecisionProfile(format: .f32)
    /// RWKV-Infer's bf16 storage model.
    public static let bf16 = PrecisionProfile(format: .bf16)
    /// The same storage model in IEEE binary16.
    public static let f16 = PrecisionProfile(format: .f16)

    /// True when the profile rounds anything.
    public var rounds: Bool { format != .f32 }

    /// `x` rounded to the format: from Float for T = Float, directly from
    /// Double otherwise (one rounding either way). The storage point of one
    /// value (the RoPE cos/sin table entries, the weights).
    @inlinable
    public func rounded<T: BinaryFloatingPoint>(_ x: T) -> T {
        if T.self == Float.self {
            switch format {
            case .f32: return x
            case .bf16: return T(roundedToBF16(Float(x)))
            case .f16: return T(roundedToF16(Float(x)))
            }
        }
        switch format {
        case .f32: return x
        case .bf16: return T(roundedToBF16(Double(x)))
        case .f16: return T(roundedToF16(Double(x)))
        }
    }

    /// Storage point: a stage output (a checkpoint of SPEC.md §4.3), a kernel
    /// input, the RoPE table or the state, rounded in place.
    @inlinable
    public func store<T: BinaryFloatingPoint>(_ x: inout [T]) {
        guard rounds else { return }
        for i in x.indices { x[i] = rounded(x[i]) }
    }

    /// Variant (b): an intermediate tensor inside a stage, rounded in place
    /// only when `intermediates == .everyIntermediate`.
    @inlinable
    public func storeIntermediate<T: BinaryFloatingPoint>(_ x: inout [T]) {
        guard intermediates == .everyIntermediate else { return }
        store(&x)
    }

    /// Variant (c): the WKV state after one token, rounded in place only when
    /// `stateRounding == .perToken`.
    @inlinable
    public func storeTokenState<T: BinaryFloatingPoint>(_ s: inout [T]) {
        guard stateRounding == .perToken else { return }
        store(&s)
    }

    /// Why this profile cannot run with `options` in scalar type `T`, or nil.
    func problem<T>(scalar: T.Type, options: ForwardOptions) -> String? {
        if rounds && T.self != Float.self && T.self != Double.self {
            return "precision profile \(format.rawValue) runs in Float or Double, not \(T.self)"
        }
        if stateRounding == .perToken && rounds {
            if options.chunkSize > 0 { return "state rounding per token needs the recurrent WKV (chunk size 0), got chunk size \(options.chunkSize)" }
            if let m = options.mutant, m == .removalFromDecayedState || m == .readoutFromOldState {
                return "state rounding per token is not defined for the mutant \(m.rawValue) (it runs its own WKV kernel)"
            }
        }
        return nil
    }
}

extension ModelWeights {
    /// Storage point of the weights: every parameter rounded once to the
    /// profile's format, as a loader converting the checkpoint would (the
    /// identity for a BF16 checkpoint under `bf16`). Run the profile on these.
    public func stored(in profile: PrecisionProfile) -> ModelWeights<T> {
        profile.rounds ? mapped { profile.rounded($0) } : self
    }
}

/// A model whose every parameter is rounded to a profile's format as it is
/// read (storage point W for a streamed model; `ModelWeights.stored(in:)`
/// rounds one held in memory): the same values, part by part.
package struct StoredWeights<T: BinaryFloatingPoint>: WeightProvider {
    package let base: any WeightProvider<T>
    package let profile: PrecisionProfile

    package init(_ base: any WeightProvider<T>, in profile: PrecisionProfile) {
        self.base = base
        self.profile = profile
    }

    package var config: ModelConfig { base.config }
    package var layerKinds: [LayerKind] { base.layerKinds }
    package var headBlockRows: Int { base.headBlockRows }
    package func embeddingRows(_ tokens: [Int]) throws -> [T] { try base.embeddingRows(tokens).map { profile.rounded($0) } }
    package func layer(_ i: Int) throws -> LayerWeights<T> { try base.layer(i).mapped { profile.rounded($0) } }
    package func finalNormWeights() throws -> [T] { try base.finalNormWeights().map { profile.rounded($0) } }
    package func headRows(_ rows: Range<Int>) throws -> [T] { try base.headRows(rows).map { profile.rounded($0) } }
}
