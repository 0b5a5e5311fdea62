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

    @Option(help: "Architecture (see `zoo list`); a weight file's recorded one when omitted.")
    var model: String?

    @Option(help: "Weight file; without it the seeded initial weights are used.")
    var weights: String?

    @Option(help: "The layer whose output is written (e.g. fc2, f6, avg_pool).")
    var layer: String

    @Argument(help: "Image folder root/<class>/<image>.")
    var directory: String?

    @Option(help: "Instead of a folder: a preprocessed float32 NHWC .npy batch.")
    var input: String?

    @Option(help: "Output: .npy (rows x features), .h5 or .csv (also each row's label and path; with --input the row index, no label).")
    var out: String

    @Flag(help: "Turn images upright by their EXIF orientation (Keras, PIL and torchvision ignore it).")
    var exif = false

    @Option(help: "Images per batch.")
    var batch = 32

    @OptionGroup var transform: TransformInputOption

    func validate() throws {
        guard (directory == nil) != (input == nil) else {
            throw ValidationError("give either an image folder or --input x.npy (exactly one)")
        }
        try OptionCheck.inRange(batch, OptionCheck.batchRange, "--batch")
        guard FeatureFile.Format(url: URL(fileURLWithPath: out)) != nil else {
            throw ValidationError("--out \(out): expected a name ending in .npy, .h5 or .csv")
        }
        if model == nil && weights == nil { throw ValidationError("give --model (or --weights recording one)") }
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
        var features: ExtractedFeatures
        if let input {
            let x = try NPY.read(URL(fileURLWithPath: input))
            guard x.rank == 4 else {
                throw CommandFailure("\(input): expected a (batch, height, width, channels) array, got shape \(x.shape)")
            }
            StandardError.warnNonFinite(x, source: input)
            let model = try LoadedModel.build(weights: weights, modelName: model, shape: transform.applied(to: ModelOptions()),
                                              inputSize: (x.shape[1], x.shape[2]),
                                              cluster: cluster)
            try model.checkMemory(batch: min(batch, x.shape[0]), training: false)
            let rows = try TensorDataset(inputs: x, labels: Array(repeating: 0, count: x.shape[0]), source: input)
            guard let extracted = try extract(FeatureExtractor(model: model, layer: layer), rows, cluster, logger, progress)
            else { return }
            features = extracted
            // An array's rows have no labels; they are named by their position.
            features.labels = nil
            features.names = features.indices.map(String.init)
        } else {
            let loaded = try LoadedModel.load(weights: weights, modelName: model, shape: transform.applied(to: ModelOptions()),
                                             applyEXIF: exif, cluster: cluster)
            try loaded.model.checkMemory(batch: batch, training: false)
            let folder = try ImageFolder(root: URL(fileURLWithPath: directory!), pipeline: loaded.pipeline)
            guard let extracted = try extract(FeatureExtractor(model: loaded.model, layer: layer), folder, cluster, logger,
                                              progress) else { return }
            features = extracted
        }
        line.end()
        try FeatureFile.write(features, to: URL(fileURLWithPath: out))
        print("wrote \(out): \(features.rowCount) rows x \(features.width) features of \(layer); \(features.summary)")
    }

    /// The features of every sample, in one process or, under mpirun, sharded over the ranks and
    /// gathered on rank 0 in dataset order (nil on the other ranks, which write nothing).
    func extract(_ extractor: FeatureExtractor, _ dataset: LabeledDataset, _ cluster: Cluster?, _ logger: DataLogger,
                 _ progress: @escaping (ExtractionProgress) -> Void) throws -> ExtractedFeatures? {
        guard let cluster, cluster.size > 1 else {
            return try extractor.extract(from: dataset, batchSize: batch, logger: logger, progress: progress)
        }
        return try extractor.extract(from: dataset, batchSize: batch, across: cluster, logger: logger,
                                     progress: cluster.isRoot ? progress : nil)
    }
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
