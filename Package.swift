// swift-tools-version:6.0
// hxa079 oracle: a readable reference, golden fixtures and a debug CLI for the
// hxa079 hybrid RWKV-7 + GQA architecture (RWKV-Reka-3.1-Flash).
//
// No target uses unsafe compiler flags, so the package can be depended on by
// version. See README.md ("Use it from your Swift engine's tests").
import PackageDescription

let package = Package(
    name: "hxa079-oracle",
    products: [
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "Hxa079", targets: ["Hxa079"]),
        .library(name: "Hxa079Reference", targets: ["Hxa079Reference"]),
        .library(name: "Hxa079Fast", targets: ["Hxa079Fast"]),
        .library(name: "Hxa079Fixtures", targets: ["Hxa079Fixtures"]),
        .library(name: "Hxa079TestSupport", targets: ["Hxa079TestSupport"]),
        // For other engines' tests (README "Use it from your Swift engine's tests").
        .library(name: "Hxa079Oracle", targets: ["Hxa079Oracle"]),
        .library(name: "Hxa079OracleTesting", targets: ["Hxa079OracleTesting"]),
        .executable(name: "hxa079", targets: ["Hxa079CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        // Strict, dependency-free safetensors reader/writer (and the small JSON
        // parser it needs to reject duplicate keys).
        .target(name: "SafeTensors"),
        // Model description shared by every path: config, weights, state,
        // checkpoints, seeded RNG, random models, loading, errors, metrics.
        .target(name: "Hxa079", dependencies: ["SafeTensors"]),
        // The readable generic reference (Float and Double). Strict arithmetic.
        .target(name: "Hxa079Reference", dependencies: [
            "Hxa079", .product(name: "RealModule", package: "swift-numerics"),
        ]),
        // Debian/Ubuntu: apt-get install libopenblas-dev
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        // Hot loops of the fast path, one C body each, compiled portable (the
        // default target: SSE2 / NEON) and for AVX2+FMA and AVX-512 with clang
        // target attributes, chosen at run time (no compiler flags; see
        // include/hxa079_kernels.h).
        .target(name: "CHxa079Kernels"),
        // The optimized Float32 path (OpenBLAS + CHxa079Kernels + Swift SIMD for norms, RoPE, adds).
        .target(name: "Hxa079Fast", dependencies: ["Hxa079", "SafeTensors", "COpenBLAS", "CHxa079Kernels"]),
        // Fixture writing, manifests, comparison and bisection.
        .target(name: "Hxa079Fixtures", dependencies: ["Hxa079", "Hxa079Reference", "SafeTensors"]),
        // Shared by tests and the CLI: sweeps that name their case, assertions.
        // (also the model builders and malformed-model corpus of Hxa079Tests and CLITests).
        .target(name: "Hxa079TestSupport", dependencies: ["Hxa079", "Hxa079Reference", "Hxa079Fixtures", "SafeTensors"]),
        .executableTarget(name: "Hxa079CLI", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079Fast", "Hxa079Fixtures", "SafeTensors",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // libFuzzer entry for the safetensors parser (see README "Fuzzing").
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["SafeTensors"]),
        // libFuzzer entry for candidate dumps through the comparison (README "Fuzzing").
        .executableTarget(name: "FuzzCandidateDumps", dependencies: ["Hxa079", "Hxa079Fixtures", "SafeTensors"]),

        // The oracle for other Swift engines: fixtures, checkpoint names, the
        // reference on a plan, checking a candidate. No Hxa079Fast, no COpenBLAS.
        .target(name: "Hxa079Oracle", dependencies: ["Hxa079", "Hxa079Reference", "Hxa079Fixtures", "SafeTensors"]),
        // expectMatchesFixture (Swift Testing) and XCTAssertMatchesFixture (XCTest).
        .target(name: "Hxa079OracleTesting", dependencies: ["Hxa079Oracle"]),

        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"]),
        // The model-description module: loading, writing, config.json, the malformed-model corpus.
        .testTarget(name: "Hxa079Tests", dependencies: ["Hxa079", "Hxa079TestSupport", "SafeTensors"]),
        .testTarget(name: "Hxa079ReferenceTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079TestSupport",
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        .testTarget(name: "Hxa079PropertyTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079TestSupport",
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        .testTarget(name: "Hxa079FastTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079Fast", "Hxa079TestSupport",
        ]),
        .testTarget(name: "Hxa079FixturesTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079Fixtures", "Hxa079TestSupport", "SafeTensors",
        ]),
        .testTarget(name: "CLITests", dependencies: ["Hxa079CLI", "Hxa079", "Hxa079TestSupport", "SafeTensors"]),
        .testTarget(name: "OracleTests", dependencies: ["Hxa079Oracle", "Hxa079OracleTesting", "Hxa079Reference", "SafeTensors"]),
    ],
    swiftLanguageModes: [.v5]
)
