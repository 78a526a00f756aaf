// `hxa079 bench` arguments: an unknown section for --only is a usage error
// (exit 64) naming it and the valid ones, before anything is measured. (The
// figures themselves are benchmarks, not tests: BENCHMARKS.md.)

import Testing

@Suite struct BenchCLITests {
    @Test func anUnknownSectionIsRefused() throws {
        let r = try runHxa079(["bench", "--only", "medium,nope"])
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains("\"nope\"") && r.stderr.contains("small, medium, reka-layer, wkv"), "\(r)")
        #expect(!r.stdout.contains("sgemm"), "measured before refusing: \(r)")
    }
}
