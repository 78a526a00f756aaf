// Support.swift — helpers shared by the SafeTensors tests: building raw file
// images by hand, a seeded RNG, and temporary paths.
import Foundation
@testable import SafeTensors

/// The 8 little-endian bytes of `n`.
func u64le(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } }

/// A file image: header length field (defaults to the header's byte count),
/// the header text exactly as given (no padding added), then `data`.
func image(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    return u64le(declaredLength ?? UInt64(h.count)) + h + data
}

/// Little-endian bytes of Float values.
func f32le(_ xs: [Float]) -> [UInt8] { xs.flatMap { u64le(UInt64($0.bitPattern)).prefix(4) } }
/// Little-endian bytes of Double values.
func f64le(_ xs: [Double]) -> [UInt8] { xs.flatMap { u64le($0.bitPattern) } }

/// SplitMix64: small deterministic generator for property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh path in the temporary directory (the file is not created).
func temporaryPath(_ suffix: String = ".safetensors") -> String {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("safetensors-test-\(UUID().uuidString)\(suffix)").path
}

/// The SafeTensorsError thrown by `body`, or nil when it does not throw one.
func caughtError(_ body: () throws -> Void) -> SafeTensorsError? {
    do { try body() } catch let e as SafeTensorsError { return e } catch { return nil }
    return nil
}
