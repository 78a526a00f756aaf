// InteropTests.swift — the Swift half of the Python interop check
// (scripts/interop-check.sh). Skipped unless HXA079_INTEROP_DIR is set.
//
// Phase 1 (HXA079_INTEROP_PHASE unset or "1"): write swift_*.safetensors into
// the directory. scripts/safetensors_interop.py then loads them with Python's
// `safetensors`, checks the values, checks the bytes equal what Python's writer
// produces for the same tensors, and writes py_*.safetensors.
// Phase 2 (HXA079_INTEROP_PHASE=2): read Python's files, check every value
// bit for bit, check Swift's writer reproduces them byte for byte, and write
// swift_phase2.ok so the shell script knows this phase really ran.
//
// The tensor set is defined identically on both sides; keep them in sync with
// `expected_tensors` in scripts/safetensors_interop.py.
import Foundation
import Testing
@testable import SafeTensors

private let interopDir = ProcessInfo.processInfo.environment["HXA079_INTEROP_DIR"]
private let interopPhase = ProcessInfo.processInfo.environment["HXA079_INTEROP_PHASE"] ?? "1"

enum InteropFixture {
    /// x_i = i · 0.37 − 1.5 in Double, the base of every floating tensor.
    static func ramp(_ n: Int) -> [Double] { (0..<n).map { Double($0) * 0.37 - 1.5 } }

    /// The tensors both sides write and expect (Python writes BF16 through
    /// ml_dtypes, which scripts/interop-check.sh installs).
    static func tensors() -> [(String, [Int], TensorData)] {
        let r = ramp(24)
        return [
            ("ramp_f64", [2, 3, 4], .f64(r)),
            ("ramp_f32", [6, 4], .f32(r.map { Float($0) })),
            ("ramp_bf16", [24], .bf16(r.map { bf16Bits(Float($0)) })),
            ("ramp_f16", [4, 6], .f16(r.map { f16Bits(Float($0)) })),
            ("special_f32", [6], .f32([0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude])),
            ("special_f16", [5], .f16([0x0001, 0x03FF, 0x8000, 0x7BFF, 0xFC00])),
            ("a_i32", [24], .i32((0..<24).map { Int32($0) * 7919 - 100_000 })),
            ("z_i64", [5], .i64([.min, -1, 0, 1, .max])),
            ("scalar_f64", [], .f64([42.5])),
            ("empty_f32", [0, 3], .f32([])),
        ]
    }

    static func writer(generator: String) throws -> SafeTensorsWriter {
        var w = SafeTensorsWriter(metadata: ["generator": generator])
        for (name, shape, data) in tensors() { try w.add(name, shape: shape, data) }
        return w
    }
}

@Suite(.enabled(if: interopDir != nil, "set HXA079_INTEROP_DIR (see scripts/interop-check.sh)"))
struct InteropTests {
    @Test(.enabled(if: interopPhase == "1"))
    func phase1WritesSwiftFiles() throws {
        let dir = try #require(interopDir)
        try InteropFixture.writer(generator: "swift").write(to: dir + "/swift_all.safetensors")
        // Same tensors without metadata, and a file with no tensors at all.
        var plain = SafeTensorsWriter()
        for (name, shape, data) in InteropFixture.tensors() { try plain.add(name, shape: shape, data) }
        try plain.write(to: dir + "/swift_nometa.safetensors")
        try SafeTensorsWriter(metadata: ["generator": "swift"]).write(to: dir + "/swift_empty.safetensors")
    }

    @Test(.enabled(if: interopPhase == "2"))
    func phase2ReadsPythonFiles() throws {
        let dir = try #require(interopDir)
        let f = try SafeTensorsFile(path: dir + "/py_all.safetensors")
        #expect(f.metadata == ["generator": "python"])
        let expected = InteropFixture.tensors()
        #expect(f.names == expected.map(\.0).sorted())
        for (name, shape, data) in expected {
            #expect(f.info(name)?.shape == shape, "\(name)")
            #expect(try f.data(name) == data, "\(name)")
        }
        // Typed accessors on Python's data.
        #expect(try f.doubles("ramp_f64") == InteropFixture.ramp(24))
        #expect(try f.floats("ramp_bf16") == InteropFixture.ramp(24).map { floatFromBF16(bf16Bits(Float($0))) })
        // Python's writer and ours produce the same bytes for the same tensors.
        let pyBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/py_all.safetensors")))
        #expect(pyBytes == (try InteropFixture.writer(generator: "python").serialize()))
        // A file Python wrote with its own layout choices (shuffled insertion
        // order, multi-dimensional shapes) also validates.
        let g = try SafeTensorsFile(path: dir + "/py_mixed.safetensors")
        #expect(try g.int64s("tokens") == [3, 1, 4, 1, 5, 9, 2, 6])
        #expect(try g.doubles("w") == [0.5, -0.25, 0.125, 1e-300])
        #expect(g.info("w")?.shape == [2, 2])
        try Data("ok\n".utf8).write(to: URL(fileURLWithPath: dir + "/swift_phase2.ok"))
    }
}
