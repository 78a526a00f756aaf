// FuzzEntry.swift — libFuzzer entry point for candidate dumps: whatever a
// porter's engine writes goes through the one comparison (Hxa079Fixtures
// `compare`, `compareCheckpoint`) against a committed fixture.
//
// Contract:
// - The fixture is opened once: $HXA079_FUZZ_FIXTURE, default Fixtures/tiny
//   (scripts/fuzz-candidates.sh runs from the package root).
// - Each input is either (first byte even) a raw file given to
//   `CandidateTensor.load(bytes:)`, or (odd) a recipe: the remaining bytes
//   drive a generator that writes a dump of 1–4 tensors with fixture or random
//   names, F64/F32/F16/BF16/I64/I32 dtypes, the checkpoint's shape or a
//   batch-of-one, flattened, transposed or random shape, the truth's values
//   or random bits with NaN/Inf planted anywhere, and is possibly truncated.
// - Every dump that loads is compared with the fixture (plan one_call, a
//   tolerance scale from the input), printed, and compared again unmarked
//   against the truth as the debugger does. Broken invariants are
//   `fatalError` (a finding), as is any trap: results + missing must cover the
//   fixture, a passing report has no failure, a `.compared` outcome has no
//   non-finite value where the truth is finite and the shapes agree.
// - `FuzzCandidateDumps_main` exists only with `-DFUZZING`; a plain
//   `swift build` compiles this target as a harmless no-op executable.
import Hxa079
import Hxa079Fixtures
import SafeTensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fixture every input is compared with (nil: it did not load, the run stops).
nonisolated(unsafe) let fuzzFixture: Fixture? = {
    let path = getenv("HXA079_FUZZ_FIXTURE").map { String(cString: $0) } ?? "Fixtures/tiny"
    do { return try Fixture(path: path) } catch {
        fputs("FuzzCandidateDumps: cannot open fixture \(path): \(error)\n", stderr)
        return nil
    }
}()

/// Bytes of the input, consumed front to back (zeros once exhausted).
struct ByteStream {
    var bytes: ArraySlice<UInt8>
    mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }
    mutating func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(byte()) % n }
    mutating func u64() -> UInt64 { (0..<8).reduce(0) { acc, _ in acc << 8 | UInt64(byte()) } }
}

/// A dump written from a recipe (see the contract).
func recipeDump(_ s: inout ByteStream, fixture: Fixture) -> [UInt8] {
    let records = fixture.manifest.checkpoints
    var writer = SafeTensorsWriter(metadata: s.int(2) == 0 ? nil : ["generator": "fuzz"])
    let count = 1 + s.int(4)
    var used = Set<String>()
    for _ in 0..<count {
        let record = records[s.int(records.count)]
        var name = record.name
        switch s.int(6) {
        case 0: name = "model." + name
        case 1: name = String(name.dropLast(min(name.count, 1 + s.int(3))))
        default: break
        }
        if name.isEmpty || name == "__metadata__" || used.contains(name) { continue }
        used.insert(name)
        var shape = record.shape
        switch s.int(8) {
        case 0: shape = [1] + shape
        case 1: shape = [shape.reduce(1, *)]
        case 2: shape = shape.reversed()
        case 3: shape = (0..<s.int(4)).map { _ in s.int(5) }
        case 4: if !shape.isEmpty { shape[0] += 1 }
        default: break
        }
        let n = shape.reduce(1, *)
        let truth = (try? fixture.truth(plan: "one_call", name: record.name)) ?? []
        var values = (0..<n).map { i in i < truth.count ? truth[i] : Double(bitPattern: s.u64()) }
        for _ in 0..<s.int(4) where n > 0 {
            let specials: [Double] = [.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e300]
            values[s.int(n) % n] = specials[s.int(specials.count)]
        }
        if s.int(3) == 0 && n > 0 { values[s.int(n) % n] += Double(s.int(256) - 128) * 1e-9 }
        let data: TensorData
        switch s.int(6) {
        case 0: data = .f32(values.map { Float($0) })
        case 1: data = .bf16(values.map { UInt16(truncatingIfNeeded: Float($0).bitPattern >> 16) })
        case 2: data = .f16(values.map { _ in UInt16(truncatingIfNeeded: s.int(256) << 8 | s.int(256)) })
        case 3: data = .i64(values.map { $0.isFinite && abs($0) < 1e18 ? Int64($0) : Int64(s.int(256)) })
        case 4: data = .i32(values.map { $0.isFinite && abs($0) < 1e9 ? Int32($0) : Int32(s.int(256)) })
        default: data = .f64(values)
        }
        guard (try? writer.add(name, shape: shape, data)) != nil else { fatalError("the writer refused a consistent tensor \(name) \(shape)") }
    }
    var bytes = writer.serialize()
    if s.int(5) == 0 { bytes = Array(bytes.prefix(s.int(max(bytes.count, 1)) + s.int(16))) }
    return bytes
}

/// Checks the invariants of one comparison report.
func checkReport(_ report: ComparisonReport, fixture: Fixture, candidate: [String: CandidateTensor]) {
    if report.results.count + report.missing.count != fixture.manifest.checkpoints.count { fatalError("results + missing do not cover the fixture") }
    if report.passed && report.firstFailure != nil { fatalError("a passing report names a failure") }
    for r in report.results {
        guard let c = candidate[r.name] else { fatalError("a result for a tensor the candidate lacks") }
        if r.outcome == .compared {
            if !(c.shape == r.shape || c.shape == [1] + r.shape) { fatalError("compared despite shapes \(c.shape) vs \(r.shape)") }
            if !c.dtype.isFloatingPoint && r.name != CheckpointName.statePosition { fatalError("compared an integer tensor") }
        }
        if case .nonFinite(let nan, let inf) = r.outcome, nan + inf == 0 { fatalError("non-finite outcome without a count") }
        if r.problem != nil && r.passed { fatalError("a problem that passes") }
    }
    _ = report.text(verbose: true).count + report.text(verbose: false).count
}

@_cdecl("LLVMFuzzerTestOneInput")
package func fuzzCandidateOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let fixture = fuzzFixture else { exit(1) }
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    var stream = ByteStream(bytes: input.dropFirst())
    let bytes = (input.first ?? 0) % 2 == 0 ? Array(input.dropFirst()) : recipeDump(&stream, fixture: fixture)
    guard let candidate = try? CandidateTensor.load(bytes: bytes, source: "fuzz") else { return 0 }
    let scales = [1.0, 1e-3, 1e6, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
    let scale = scales[Int(bytes.count % scales.count)]
    guard let report = try? compare(fixture: fixture, plan: "one_call", candidate: candidate, toleranceScale: scale) else {
        fatalError("compare threw on a loaded candidate")
    }
    checkReport(report, fixture: fixture, candidate: candidate)
    // The debugger's unmarked form, against the truth as its "run".
    for (name, c) in candidate {
        guard let record = fixture.manifest.checkpoint(name), let truth = try? fixture.truth(plan: "one_call", name: name) else { continue }
        let r = compareCheckpoint(name: name, candidate: c, reference: truth, referenceShape: record.shape, judge: .unmarked)
        if r.outcome == .compared && r.verdict != .unmarked { fatalError("an unmarked comparison was judged") }
        _ = r.problem.map { $0.count }
    }
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("FuzzCandidateDumps_main")  // SwiftPM links executables with --defsym main=<Target>_main
package func fuzzCandidateDumpsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v, { d, s in fuzzCandidateOne(d, s) })
}
#endif
