// swift-tools-version:6.0
// hxa079 oracle: a readable reference, golden fixtures and a debug CLI for the
// hxa079 hybrid RWKV-7 + GQA architecture (RWKV-Reka-3.1-Flash).
//
// No target uses unsafe compiler flags, so the package can be depended on by
// version. The target graph, and what each target may import, is in
// README.md ("Architecture"). Helpers shared between targets are `package`
// access: a consumer sees only what the products below are for.
import PackageDescription

let package = Package(
    name: "hxa079-oracle",
    products: [
        // For other Swift engines' tests (README "Use it from your Swift engine's tests"):
        // fixtures, checkpoint names, observers, the reference on a plan, checking a candidate ...
        .library(name: "Hxa079Oracle", targets: ["Hxa079Oracle"]),
        // ... and the Swift Testing / XCTest assertions on top of it.
        .library(name: "Hxa079OracleTesting", targets: ["Hxa079OracleTesting"]),
        // This package's optimized engine, Float32 and Float64 (used by Examples/FastEngineConsumer
        // as if it were an outside engine).
        .library(name: "Hxa079Fast", targets: ["Hxa079Fast"]),
        // The strict safetensors reader/writer on its own.
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .executable(name: "hxa079", targets: ["Hxa079CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        // MARK: Layer 0 — files

        // Strict, dependency-free safetensors reader/writer: the one header
        // encoder, dtype coder and chunked writer (and the small JSON parser
        // it needs to reject duplicate keys). Imports only the C library.
        .target(name: "SafeTensors"),

        // MARK: Layer 1 — the model description

        // Config, weights, state, checkpoints and observers, seeded RNG and
        // random models, model directories (loading, writing), errors, metrics.
        .target(name: "Hxa079", dependencies: ["SafeTensors"]),

        // MARK: Layer 2 — engines

        // The readable generic reference (Float and Double). Strict arithmetic;
        // the known-wrong mutants are isolated in Mutants.swift.
        .target(name: "Hxa079Reference", dependencies: [
            "Hxa079", "SafeTensors", .product(name: "RealModule", package: "swift-numerics"),
        ]),
        // Debian/Ubuntu: apt-get install libopenblas-dev
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        // Hot loops of the fast path, one C body each, compiled portable (the
        // default target: SSE2 / NEON) and for AVX2+FMA and AVX-512 with clang
        // target attributes, chosen at run time (no compiler flags; see
        // include/hxa079_kernels.h); the bf16 products also for AVX512-BF16.
        .target(name: "CHxa079Kernels"),
        // The optimized path in Float32, Float64 and the bf16 engine (OpenBLAS + CHxa079Kernels; Swift loops for norms, RoPE, adds).
        .target(name: "Hxa079Fast", dependencies: ["Hxa079", "SafeTensors", "COpenBLAS", "CHxa079Kernels"]),

        // MARK: Layer 3 — fixtures and the oracle

        // Fixture writing, manifests, budgets, the one comparison. Truth comes
        // from the reference, or from an engine the CLI hands in (the fast f64
        // engine), then checked by the reference (no Hxa079Fast here).
        .target(name: "Hxa079Fixtures", dependencies: ["Hxa079", "Hxa079Reference", "SafeTensors"]),
        // The oracle for other Swift engines. No Hxa079Fast, no COpenBLAS, so
        // it builds wherever Swift does (Linux and macOS).
        .target(name: "Hxa079Oracle", dependencies: ["Hxa079", "Hxa079Reference", "Hxa079Fixtures", "SafeTensors"]),
        // expectMatchesFixture (Swift Testing) and XCTAssertMatchesFixture (XCTest).
        .target(name: "Hxa079OracleTesting", dependencies: ["Hxa079Oracle"]),

        // MARK: Layer 4 — tools

        .executableTarget(name: "Hxa079CLI", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079Fast", "Hxa079Fixtures", "SafeTensors",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // libFuzzer entry for the safetensors parser (see README "Fuzzing").
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["SafeTensors"]),
        // libFuzzer entry for candidate dumps through the comparison (README "Fuzzing").
        .executableTarget(name: "FuzzCandidateDumps", dependencies: ["Hxa079", "Hxa079Fixtures", "SafeTensors"]),

        // MARK: Tests

        // Test support: a target, not a product. Sweeps that name their case,
        // measurement printing, temporary directories, the model builders and
        // the malformed-model corpus shared by Hxa079Tests and CLITests.
        .target(name: "Hxa079TestSupport", dependencies: ["Hxa079", "SafeTensors"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"]),
        // The model-description module: loading, writing, config.json, the malformed-model corpus.
        .testTarget(name: "Hxa079Tests", dependencies: ["Hxa079", "Hxa079TestSupport", "SafeTensors"]),
        .testTarget(name: "Hxa079ReferenceTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079TestSupport", "SafeTensors",
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        .testTarget(name: "Hxa079PropertyTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079TestSupport",
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        .testTarget(name: "Hxa079FastTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079Fast", "Hxa079TestSupport", "Hxa079Oracle", "Hxa079Fixtures",
        ]),
        .testTarget(name: "Hxa079FixturesTests", dependencies: [
            "Hxa079", "Hxa079Reference", "Hxa079Fixtures", "Hxa079TestSupport", "SafeTensors",
        ]),
        .testTarget(name: "CLITests", dependencies: ["Hxa079CLI", "Hxa079", "Hxa079TestSupport", "SafeTensors"]),
        .testTarget(name: "OracleTests", dependencies: ["Hxa079Oracle", "Hxa079OracleTesting", "Hxa079Reference", "SafeTensors"]),
    ],
    swiftLanguageModes: [.v5]
)
