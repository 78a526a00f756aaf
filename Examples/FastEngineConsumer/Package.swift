// swift-tools-version:6.0
// FastEngineConsumer: an example consumer of the hxa079 oracle.
//
// It treats this repository's fast path (Hxa079Fast) as if it were an outside
// Swift engine and tests it against the committed fixtures with the oracle's
// assertion helpers, using only public API: FastModel and Hxa079OracleTesting
// (which re-exports Hxa079Oracle). A real engine would depend on the oracle
// by version instead:
//   .package(url: "https://github.com/<owner>/hxa079-oracle", from: "0.1.0")
// Built and tested by scripts/example-consumer.sh.
import PackageDescription

let package = Package(
    name: "FastEngineConsumer",
    dependencies: [
        // `name:` pins the package identity, which for a path dependency would
        // otherwise be the checkout's directory name.
        .package(name: "hxa079-oracle", path: "../.."),
    ],
    targets: [
        .testTarget(name: "FastEngineConsumerTests", dependencies: [
            .product(name: "Hxa079Fast", package: "hxa079-oracle"),
            .product(name: "Hxa079OracleTesting", package: "hxa079-oracle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
