// swift-tools-version: 6.1
// libFuzzer harnesses for ConvZoo's readers, built and run by tools/fuzz.sh with
// `-sanitize=fuzzer,address`; a package of its own so that `make test` never builds them.
import Foundation
import PackageDescription

// A path dependency is known by its directory's name, which differs between clones and worktrees.
let convZoo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "ConvZooFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        // One binary; ZOO_FUZZ_TARGET picks the reader (see Harnesses.swift).
        .executableTarget(
            name: "zoo-fuzz",
            dependencies: [.product(name: "ConvZoo", package: convZoo.lastPathComponent)],
            path: "Harnesses"),
    ],
    swiftLanguageModes: [.v5]
)
