import ArgumentParser
import Engine
import Foundation
import WeightIO
import Zoo

/// `zoo run`: a model's output (or a tapped layer's) for a preprocessed NHWC batch in a .npy file.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a model on a preprocessed float32 NHWC .npy batch and write the output as .npy.")

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: "Write this layer's output instead of the model's (e.g. fc2, avg_pool).")
    var layer: String?

    @Option(help: "Input batch: float32 .npy, shape (batch, height, width, channels).")
    var input: String

    @Option(help: "Output .npy file.")
    var out: String

    @OptionGroup var shape: ModelShapeOptions

    func run() throws {
        try OptionCheck.outputFile(out, option: "--out")
        let x = try NPY.read(URL(fileURLWithPath: input))
        guard x.rank == 4, x.shape[0] > 0 else {
            throw CommandFailure("\(input): expected a (batch, height, width, channels) array of at least one sample, "
                + "got shape \(x.shape)")
        }
        StandardError.warnNonFinite(x, source: input)
        let m = try weightFile.build(shape: shape.modelOptions(), inputSize: (x.shape[1], x.shape[2]))
        try m.checkMemory(batch: x.shape[0], training: false, option: "batch in --input")
        let y = try layer.map { try m.output(at: $0, for: x) } ?? m.predict(x)
        try DurableFile.write(NPY.encode(y), to: URL(fileURLWithPath: out))
        print("wrote \(out): shape \(y.shape)")
    }
}
