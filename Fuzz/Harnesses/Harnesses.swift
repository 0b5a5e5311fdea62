import Engine
import Foundation
import Transfer
import WeightIO

/// What one fuzzing input is fed to: each reader of a file a user can hand to `zoo`.
///
/// A reader must accept the input or throw; a crash, a hang or an allocation past the limits
/// tools/fuzz.sh sets is a finding. Readers that open files by name get the input as a file.
enum Harness: String, CaseIterable {
    case kerasH5 = "keras-h5", keras3, kerasArchive = "keras-archive", caffe, npy, npz, jpeg, png
    case pytorchZip = "pytorch-zip", pytorchLegacy = "pytorch-legacy", safetensors

    func run(_ data: Data) {
        switch self {
        case .kerasH5, .keras3: readWeights(data, fileName: self == .keras3 ? "fuzz.weights.h5" : "fuzz.h5")
        case .kerasArchive: readWeights(data, fileName: "fuzz.keras")
        case .caffe: readWeights(data, fileName: "fuzz.caffemodel")
        // The format is known by content, so each harness only differs in its seeds (tools/fuzz.sh).
        case .pytorchZip, .pytorchLegacy: readWeights(data, fileName: "fuzz.pth")
        case .safetensors: readWeights(data, fileName: "fuzz.safetensors")
        case .npy: _ = try? NPY.decode(data, file: "fuzz.npy")
        case .npz: _ = try? NPZ.decode(data, file: "fuzz.npz")
        case .jpeg, .png: _ = try? ImageDecoder.decode(data, name: "fuzz.\(rawValue)", channels: 3, applyEXIF: true)
        }
    }

    /// Opens the file as `zoo inspect` does, then reads every weight as `zoo convert` does.
    private func readWeights(_ data: Data, fileName: String) {
        let url = Harness.scratch.appendingPathComponent(fileName)
        guard (try? data.write(to: url)) != nil else { fatalError("cannot write \(url.path)") }
        defer { unlink(url.path) }
        guard let file = try? WeightFile.open(url) else { return }
        _ = file.metadata
        _ = try? file.read()
    }

    nonisolated(unsafe) static var scratch = URL(fileURLWithPath: "/tmp")
    nonisolated(unsafe) static var selected: Harness?
}

/// libFuzzer's driver (`-sanitize=fuzzer` links it); SwiftPM gives an executable a `main` of its
/// own, so the harness starts the driver from there instead of using libFuzzer's `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@main
enum ZooFuzz {
    static func main() {
        let environment = ProcessInfo.processInfo.environment
        guard let name = environment["ZOO_FUZZ_TARGET"], let harness = Harness(rawValue: name) else {
            let names = Harness.allCases.map(\.rawValue).joined(separator: ", ")
            fputs("set ZOO_FUZZ_TARGET to one of: \(names)\n", stderr)
            exit(2)
        }
        Harness.selected = harness
        // One directory per process: parallel jobs must not share the scratch file.
        let base = environment["ZOO_FUZZ_SCRATCH"] ?? FileManager.default.temporaryDirectory.path
        Harness.scratch = URL(fileURLWithPath: base).appendingPathComponent("zoo-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: Harness.scratch, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Harness.scratch) }

        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
            guard let bytes else { return 0 }
            Harness.selected?.run(Data(bytes: bytes, count: count))
            return 0
        })
    }
}
