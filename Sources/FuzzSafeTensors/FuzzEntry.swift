// FuzzEntry.swift — libFuzzer entry point for the safetensors reader.
//
// Contract:
// - `LLVMFuzzerTestOneInput` feeds each input to the JSON parser (whatever
//   parses must serialize and parse back equal) and to `SafeTensorsFile(bytes:)`;
//   when that accepts it, every tensor is read through every accessor (values
//   folded into a checksum so nothing is optimized away), the tiling invariants
//   are checked, and the file is rewritten with `SafeTensorsWriter` and must
//   read back identical. Any trap, sanitizer report or broken invariant
//   (`fatalError`) is a finding.
// - `FuzzSafeTensors_main` exists only when built with `-DFUZZING` (see
//   scripts/fuzz-safetensors.sh) and hands control to libFuzzer. A plain
//   `swift build` compiles this target as a harmless no-op executable.
import SafeTensors

@_cdecl("LLVMFuzzerTestOneInput")
package func fuzzSafeTensorsOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let json = try? JSONValue.parse(bytes) {
        // Serializer round trip: whatever parses must print and parse back equal.
        for pretty in [false, true] {
            guard let again = try? JSONValue.parse(json.serialized(pretty: pretty)), again == json else {
                fatalError("JSON serializer round trip failed")
            }
        }
    }
    guard let file = try? SafeTensorsFile(bytes: bytes) else { return 0 }
    var checksum: UInt64 = 0
    var covered = 0
    for t in file.tensors {
        // Invariants of a validated file.
        if t.dataRange.lowerBound != covered { fatalError("tensors do not tile the data buffer") }
        covered = t.dataRange.upperBound
        if t.shape.reduce(1, *) != t.elementCount { fatalError("shape does not match element count") }
        if file.info(t.name) != t { fatalError("info(name) disagrees with tensors") }
        let raw = (try? file.rawBytes(t.name)) ?? []
        if raw.count != t.dataRange.count { fatalError("rawBytes has the wrong length") }
        for b in raw { checksum = checksum &* 31 &+ UInt64(b) }
        if t.dtype.isFloatingPoint {
            for x in (try? file.doubles(t.name)) ?? [] { checksum &+= x.bitPattern }
            for x in (try? file.floats(t.name)) ?? [] { checksum &+= UInt64(x.bitPattern) }
        } else {
            for x in (try? file.int64s(t.name)) ?? [] { checksum &+= UInt64(bitPattern: x) }
        }
        if let d = try? file.data(t.name), d.count != t.elementCount { fatalError("data(name) count") }
    }
    if covered != file.dataLength { fatalError("tensors do not cover the data buffer") }
    // Writer round trip: rewriting an accepted file gives a file that reads
    // back to the same tensors and metadata.
    var writer = SafeTensorsWriter(metadata: file.metadata)
    for t in file.tensors {
        guard let d = try? file.data(t.name), (try? writer.add(t.name, shape: t.shape, d)) != nil else {
            fatalError("writer rejected a tensor the reader accepted")
        }
    }
    guard let again = try? SafeTensorsFile(bytes: writer.serialize()) else { fatalError("rewritten file rejected") }
    if again.metadata != file.metadata || Set(again.tensors.map(\.name)) != Set(file.tensors.map(\.name)) {
        fatalError("rewritten file differs")
    }
    for t in file.tensors {
        guard let a = again.info(t.name), a.shape == t.shape, a.dtype == t.dtype,
              (try? again.data(t.name)) == (try? file.data(t.name))
        else { fatalError("rewritten tensor \(t.name) differs") }
    }
    if let m = file.metadata { checksum &+= UInt64(m.count) }
    return checksum == 0x5EED_5EED_5EED_5EED ? 1 : 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("FuzzSafeTensors_main")  // SwiftPM links executables with --defsym main=<Target>_main
package func fuzzSafeTensorsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v, { d, s in fuzzSafeTensorsOne(d, s) })
}
#endif
