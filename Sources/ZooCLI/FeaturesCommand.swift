import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo features`: one row of a layer's flattened output per image, in inference mode; the work is
/// Transfer's `FeatureExtractor` and `FeatureFile`, this command only chooses the model and the data.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Extract a layer's output for every image of a folder (or row of a .npy batch) into .npy, .h5 or .csv.")

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: ArgumentHelp("The layer whose output is written (e.g. fc2, f6, avg_pool), or several separated by "
        + "commas, computed in one pass; `pyramid` stands for a ResNet's five levels as timm's features_only gives them.",
        valueName: "layer[,layer...]"))
    var layer: String

    @Argument(help: "Image folder root/<class>/<image>.")
    var directory: String?

    @Option(help: "Instead of a folder: a preprocessed float32 NHWC .npy batch.")
    var input: String?

    @Option(help: ArgumentHelp("Output: .npy (rows x features), .h5 or .csv (also each row's label and path; with --input "
        + "the row index, no label). Several layers: one .h5 dataset per layer, or one file per layer, <out>-<layer>.npy/.csv."))
    var out: String

    @Flag(help: "Turn images upright by their EXIF orientation (Keras, PIL and torchvision ignore it).")
    var exif = false

    @Option(help: "Images per batch.")
    var batch = 32

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption

    @OptionGroup var twin: TwinOptions

    func validate() throws {
        guard (directory == nil) != (input == nil) else {
            throw ValidationError("give either an image folder or --input x.npy (exactly one)")
        }
        try OptionCheck.inRange(batch, OptionCheck.batchRange, "--batch")
        guard FeatureFile.Format(url: URL(fileURLWithPath: out)) != nil else {
            throw ValidationError("--out \(out): expected a name ending in .npy, .h5 or .csv")
        }
        if layers.contains(where: \.isEmpty) { throw ValidationError("--layer \(layer): a layer name is empty") }
    }

    /// The layers asked for, in order.
    var layers: [String] {
        layer.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func run() throws {
        try OptionCheck.outputFile(out, option: "--out")
        let line = ProgressLine()
        defer { line.end() }
        let progress = { (p: ExtractionProgress) in
            line.show("features: batch \(p.batch)/\(p.batchCount), \(p.rows) rows")
        }
        // A skipped image's warning goes on a line of its own, not after the progress text.
        let logger = DataLogger { message in
            line.end()
            StandardError.warn(message)
        }
        let cluster = try Cluster.world()
        let options = channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions())))
        let model: Model, dataset: LabeledDataset
        if let input {
            let x = try NPY.read(URL(fileURLWithPath: input))
            guard x.rank == 4 else {
                throw CommandFailure("\(input): expected a (batch, height, width, channels) array, got shape \(x.shape)")
            }
            StandardError.warnNonFinite(x, source: input)
            model = try weightFile.build(shape: options, inputSize: (x.shape[1], x.shape[2]), cluster: cluster)
            try model.checkMemory(batch: min(batch, x.shape[0]), training: false, option: "--batch")
            dataset = try TensorDataset(inputs: x, labels: Array(repeating: 0, count: x.shape[0]), source: input)
        } else {
            let loaded = try weightFile.load(shape: options, applyEXIF: exif, cluster: cluster)
            model = loaded.model
            try model.checkMemory(batch: batch, training: false, option: "--batch")
            dataset = try ImageFolder(root: URL(fileURLWithPath: directory!), pipeline: loaded.pipeline)
        }
        // One pass for every layer; under mpirun sharded over the ranks and written by rank 0 alone.
        // An array's rows have no labels; they are named by their position.
        let ranks = (cluster?.size ?? 1) > 1 ? cluster : nil
        guard let written = try FeatureExtractor(model: model, layers: layers)
            .write(from: dataset, batchSize: batch, to: URL(fileURLWithPath: out), across: ranks, namedByPosition: input != nil,
                   logger: logger, progress: ranks?.isRoot == false ? nil : progress)
        else { return }
        line.end()
        if written.layers.count == 1, let only = written.layers.first {
            print("wrote \(out): \(written.rowCount) rows x \(only.sampleShape.reduce(1, *)) features of \(only.name); \(written.summary)")
            return
        }
        print("wrote " + written.files.map(\.path).joined(separator: ", ") + ": \(written.rowCount) rows of "
              + written.layers.map { "\($0.name) \(shapeText($0.sampleShape))" }.joined(separator: ", ") + "; \(written.summary)")
    }

    /// `(56, 56, 256)`.
    func shapeText(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }
}

/// A progress line on standard error, rewritten in place and ended once, also when the command fails.
/// Used from the command's thread only (`BatchStream` logs its warnings on the consumer's thread).
final class ProgressLine: @unchecked Sendable {
    private var shown = false

    /// A terminal shows the line rewritten in place; a pipe or file gets one line per update, so a
    /// warning never runs into the progress text.
    private let inPlace = isatty(STDERR_FILENO) == 1

    func show(_ text: String) {
        guard inPlace else { return StandardError.write(text + "\n") }
        StandardError.write("\r" + text)
        shown = true
    }

    func end() {
        if shown { StandardError.write("\n") }
        shown = false
    }
}
