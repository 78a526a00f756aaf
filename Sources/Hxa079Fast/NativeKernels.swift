// NativeKernels: which kernel set the fast path runs, and the bridge to the
// C kernels of CHxa079Kernels (AVX2+FMA or AVX-512, chosen at run time).
//
// Contract: `nativeKernelLevel` is 0 (Swift SIMD kernels), 1 (AVX2+FMA) or 2
// (AVX-512F), decided once per process from the CPU and HXA079_FAST_KERNELS
// (`swift` forces the Swift SIMD kernels, `avx2` caps the level at AVX2; never
// above what the CPU supports). Every kernel exists as Swift SIMD (portable:
// baseline x86-64, arm64) and, on x86-64 with AVX2+FMA, as C; both are
// cross-checked against the reference in Hxa079FastTests (the Swift ones in a
// child process with HXA079_FAST_KERNELS=swift).
//
// Why two: Swift's default x86-64 target has no FMA or AVX, and Swift cannot
// enable them per function; `-target-cpu` is an unsafe flag (a package using
// it cannot be depended on by version) and its binary dies with SIGILL on an
// older CPU. Clang's target attributes plus a CPU check give FMA/AVX-512 code
// in the default build of the package.

import CHxa079Kernels
import Hxa079

/// 0: Swift SIMD kernels; 1: C AVX2+FMA; 2: C AVX-512F.
let nativeKernelLevel: Int = Int(hxa_kernel_level())

/// Public view of the kernel choice (benchmark and CLI headers).
public enum FastKernels {
    /// "swift", "avx2+fma" or "avx512f".
    public static var name: String { String(cString: hxa_kernel_name()) }
    /// True when the C kernels run (see NativeKernels.swift).
    public static var native: Bool { nativeKernelLevel > 0 }
}

extension WKVArgs {
    /// The same pointers as the C struct.
    var c: hxa_wkv_args {
        hxa_wkv_args(steps: steps, heads: heads, key_size: keySize, value_size: valueSize, r: r,
                     log_decay: logDecay, decay: decay, k: k, v: v, alpha: alpha, beta: beta, out: out)
    }
}
