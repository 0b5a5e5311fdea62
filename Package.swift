// swift-tools-version: 6.1
// ConvZoo: classic convolutional networks on a layer engine of its own.
// Layers, each importing only those below it: Engine -> WeightIO -> Zoo -> Transfer -> zoo CLI.
import PackageDescription

let package = Package(
    name: "ConvZoo",
    products: [
        .library(name: "ConvZoo", targets: ["Engine", "Zoo"]),
        .executable(name: "zoo", targets: ["ZooCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS from Debian (libopenblas-dev); its sgemm dispatches AVX2/FMA kernels at run time.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        // Our own GEMM: AVX-512 and AVX2 kernels chosen at run time by per-function target attributes
        // (no unsafeFlags), plus a portable C path.
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels"], path: "Sources/Engine"),
        .target(name: "Zoo", dependencies: ["Engine"], path: "Zoo"),
        .executableTarget(
            name: "ZooCLI",
            dependencies: ["Engine", "Zoo", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/ZooCLI"),
        .testTarget(
            name: "EngineTests", dependencies: ["Engine"], path: "Tests/EngineTests"),
        .testTarget(name: "ZooTests", dependencies: ["Zoo", "Engine"], path: "Tests/ZooTests"),
        // Runs the built `zoo` binary as a real process.
        .testTarget(name: "CLITests", path: "Tests/CLITests"),
    ],
    swiftLanguageModes: [.v5]
)
