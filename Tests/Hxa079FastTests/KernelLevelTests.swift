// KernelLevelTests: choosing the level of the C kernels in-process
// (FastKernels, NativeKernels.swift): the supported levels, the starting
// level (HXA079_FAST_KERNELS), withLevel setting and restoring it, and the
// clamp to what the CPU supports.

import Testing
#if canImport(Glibc)
import Glibc
#endif
import Hxa079
import CHxa079Kernels
@testable import Hxa079Fast

@Suite struct KernelLevelTests {
    @Test func supportedLevelsStartAtPortableAndAreContiguous() {
        let s = FastKernels.supported
        #expect(s.first == .portable)
        #expect(s.map(\.rawValue) == Array(0..<s.count))
        #expect(s.last?.rawValue == Int(hxa_kernel_max_level()))
        #expect(s.map(\.name).allSatisfy { ["portable", "avx2+fma", "avx512f", "avx512bf16"].contains($0) })
    }

    /// The level outside any withLevel: the CPU's best, capped by HXA079_FAST_KERNELS.
    @Test func startingLevelFollowsTheEnvironment() throws {
        let best = try #require(FastKernels.supported.last)
        let want = getenv("HXA079_FAST_KERNELS").map { String(cString: $0) }
        let expected: FastKernels.Level
        switch want {
        case "portable": expected = .portable
        case "avx2": expected = min(best, .avx2)
        case "avx512": expected = min(best, .avx512)
        default: expected = best
        }
        // the starting level is what withLevel restores to, so read it under the lock
        try FastKernels.withLevel(.portable) { }
        #expect(FastKernels.level == expected)
    }

    @Test(arguments: FastKernels.Level.allCases)
    func withLevelSetsAndRestoresTheLevel(_ level: FastKernels.Level) throws {
        guard FastKernels.supported.contains(level) else {
            #expect(throws: Hxa079Error.self) { try FastKernels.withLevel(level) { } }
            return
        }
        let (inside, nested) = try FastKernels.withLevel(level) {
            (FastKernels.level, try FastKernels.withLevel(.portable) { FastKernels.level })
        }
        #expect(inside == level)
        #expect(nested == .portable)
    }

    @Test func settingClampsToTheSupportedRange() throws {
        let best = Int32(hxa_kernel_max_level())
        try FastKernels.withLevel(.portable) {
            #expect(hxa_kernel_set_level(99) == best)
            #expect(hxa_kernel_set_level(-5) == 0)
        }
    }
}
