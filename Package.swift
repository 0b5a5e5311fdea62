// swift-tools-version: 6.1
// ConvZoo: classic convolutional networks on a layer engine of its own.
// Layers, each importing only those below it: Engine -> WeightIO -> Zoo -> Transfer -> zoo CLI.
import PackageDescription

let package = Package(
    name: "ConvZoo",
    products: [
        .library(name: "ConvZoo", targets: ["Engine", "WeightIO", "Zoo", "Transfer"]),
        .executable(name: "zoo", targets: ["ZooCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Reads the weights inside Keras 3 `.keras` archives (zip files).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // OpenBLAS from Debian (libopenblas-dev); its sgemm dispatches AVX2/FMA kernels at run time.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        // Our own GEMM: AVX-512 and AVX2 kernels chosen at run time by per-function target attributes
        // (no unsafeFlags), plus a portable C path.
        .target(name: "CKernels", path: "Sources/CKernels"),
        // Open MPI from Debian (libopenmpi-dev), for data-parallel runs under mpirun; mpi.h's macros
        // stay inside the C target CMPIShim, which hands Swift plain functions.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CMPIShim", dependencies: ["CMPI"], path: "Sources/CMPIShim"),
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels", "CMPIShim"], path: "Sources/Engine"),
        // libhdf5 from Debian (libhdf5-dev); its headers live in /usr/include/hdf5/serial, found through pkg-config.
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .target(
            name: "WeightIO",
            dependencies: ["Engine", "CHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            path: "Sources/WeightIO"),
        .target(name: "Zoo", dependencies: ["Engine", "WeightIO"], path: "Zoo"),
        // libjpeg-turbo and libpng from Debian, for decoding images.
        .systemLibrary(
            name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        // Both libraries report errors by longjmp, which Swift cannot do; this C target keeps the
        // setjmp/longjmp inside C and hands Swift an error code and message.
        .target(name: "CImageCodecs", dependencies: ["CJPEG", "CPNG"], path: "Sources/CImageCodecs"),
        .target(
            name: "Transfer", dependencies: ["Engine", "WeightIO", "Zoo", "CImageCodecs"],
            path: "Sources/Transfer"),
        .executableTarget(
            name: "ZooCLI",
            dependencies: ["Engine", "WeightIO", "Zoo", "Transfer", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/ZooCLI"),
        // What every test target shares: fixture paths, the parity tolerance, running the binary.
        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], path: "Tests/EngineTests"),
        .testTarget(name: "WeightIOTests", dependencies: ["WeightIO", "Engine", "TestSupport"], path: "Tests/WeightIOTests"),
        .testTarget(name: "ZooTests", dependencies: ["Zoo", "WeightIO", "Engine", "TestSupport"], path: "Tests/ZooTests"),
        .testTarget(
            name: "TransferTests", dependencies: ["Transfer", "Zoo", "WeightIO", "Engine", "TestSupport"],
            path: "Tests/TransferTests"),
        // Runs the built `zoo` binary as a real process (the MPI tests read its weight files back).
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "WeightIO", "Engine", "Transfer"], path: "Tests/CLITests"),
    ],
    swiftLanguageModes: [.v5]
)
