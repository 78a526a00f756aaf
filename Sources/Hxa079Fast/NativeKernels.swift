// NativeKernels: which level of the C kernels (CHxa079Kernels) the fast path
// runs, and the bridge to them.
//
// Contract: every hot loop of the fast path (WKV, decode GEMVs, element- and
// row-wise activations) exists once, as a C body compiled at three levels —
// portable (the package's default target: baseline x86-64 SSE2, arm64 NEON),
// AVX2+FMA and AVX-512F — that compute the same function (include/
// hxa079_kernels.h); a fourth level, AVX512-BF16, adds vdpbf16ps to the bf16
// engine's matrix products (below it they widen to float and use sgemm).
// The level is process-wide: it starts at the highest
// one the CPU supports (capped by HXA079_FAST_KERNELS=portable|avx2|avx512), and
// `FastKernels.withLevel` runs a closure at any supported level, so one test
// process checks every level against the reference.
//
// Why C: Swift's default x86-64 target has no FMA or AVX, and Swift cannot
// enable them per function; `-target-cpu` is an unsafe flag (a package using
// it cannot be depended on by version) and its binary dies with SIGILL on an
// older CPU. Clang's target attributes plus a CPU check give FMA/AVX-512 code
// in the default build of the package, and the portable build of the same
// bodies covers every other CPU.

import CHxa079Kernels
import Hxa079

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernel levels and the choice between them.
public enum FastKernels {
    /// One build of the C kernels.
    package enum Level: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
        /// The package's default target: baseline x86-64 (SSE2, no FMA) or arm64; every CPU.
        case portable = 0
        /// x86-64 with AVX2 and FMA.
        case avx2 = 1
        /// x86-64 with AVX-512F.
        case avx512 = 2
        /// x86-64 with AVX-512F, BW, VL and BF16: the avx512 builds, plus
        /// vdpbf16ps in the bf16 engine's matrix products (isa_avx512bf16.c).
        case avx512bf16 = 3

        /// "portable", "avx2+fma", "avx512f" or "avx512bf16".
        package var name: String { String(cString: hxa_kernel_level_name(Int32(rawValue))) }
        package var description: String { name }
        package static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The level the kernels run at now.
    package static var level: Level { Level(rawValue: Int(hxa_kernel_level())) ?? .portable }

    /// Every level this CPU runs, lowest first (always starts with `.portable`).
    package static var supported: [Level] {
        Level.allCases.filter { $0.rawValue <= Int(hxa_kernel_max_level()) }
    }

    /// The name of the current level ("portable", "avx2+fma", "avx512f" or "avx512bf16"), for benchmark and CLI headers.
    public static var name: String { level.name }

    /// Runs `body` with the kernels at `level` (which must be in `supported`)
    /// and restores the previous level. The level is process-wide, so callers
    /// of `withLevel` run one at a time (a process-wide lock; nesting on one
    /// thread is allowed); kernels called by other threads meanwhile run at
    /// whatever level is current, which computes the same function.
    package static func withLevel<R>(_ level: Level, _ body: () throws -> R) throws -> R {
        guard supported.contains(level) else {
            throw Hxa079Error.invalidArgument("kernel level \(level) is not supported by this CPU (supported: \(supported))")
        }
        levelLock.lock()
        defer { levelLock.unlock() }
        let previous = Int32(hxa_kernel_level())
        _ = hxa_kernel_set_level(Int32(level.rawValue))
        defer { _ = hxa_kernel_set_level(previous) }
        return try body()
    }

    private static let levelLock = RecursiveLock()
}

/// A process-wide recursive pthread mutex (no Foundation in this module).
private final class RecursiveLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        #if canImport(Glibc)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        #else
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE)
        #endif
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}
