import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo features`: one row of a layer's flattened output per image, in inference mode.
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

    @Option(help: "Images per batch.")
    var batch = 32

    func validate() throws {
        guard (directory == nil) != (input == nil) else {
            throw ValidationError("give either an image folder or --input x.npy (exactly one)")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard FeatureFormat(path: out) != nil else {
            throw ValidationError("--out \(out): expected a name ending in .npy, .h5 or .csv")
        }
        if model == nil && weights == nil { throw ValidationError("give --model (or --weights recording one)") }
    }

    func run() throws {
        let dataset: LabeledDataset
        let loaded: LoadedModel
        let rowNames: (Int) -> String
        let labelNames: (Int) -> String
        if let input {
            let x = try NPY.read(URL(fileURLWithPath: input))
            guard x.rank == 4 else {
                throw CommandFailure("\(input): expected a (batch, height, width, channels) array, got shape \(x.shape)")
            }
            loaded = try LoadedModel.load(weights: weights, modelName: model, inputSize: (x.shape[1], x.shape[2]))
            dataset = try TensorDataset(inputs: x, labels: Array(repeating: 0, count: x.shape[0]), source: input)
            rowNames = { String($0) }
            labelNames = { _ in "" }
        } else {
            loaded = try LoadedModel.load(weights: weights, modelName: model)
            let folder = try ImageFolder(root: URL(fileURLWithPath: directory!), pipeline: loaded.pipeline)
            dataset = folder
            rowNames = { folder.files[$0].path }
            labelNames = { folder.classNames[folder.fileLabels[$0]] }
        }
        let stream = try BatchStream(dataset, batchSize: batch)
        var rows: [Float] = [], indices: [Int] = [], width = 0
        for (i, b) in stream.enumerated() {
            let y = try loaded.model.output(at: layer, for: b.inputs)
            width = y.count / b.count
            rows.append(contentsOf: UnsafeBufferPointer(start: y.data, count: y.count))
            indices += b.indices
            StandardError.write("\rfeatures: batch \(i + 1)/\(stream.batchCount), \(indices.count) rows")
        }
        StandardError.write("\n")
        guard !indices.isEmpty else { throw CommandFailure("no sample could be read; \(stream.summary)") }
        let features = Tensor(shape: [indices.count, width], scalars: rows)
        let url = URL(fileURLWithPath: out)
        switch FeatureFormat(path: out)! {
        case .npy:
            try AtomicFile.write(NPY.encode(features), to: url)
        case .csv:
            try AtomicFile.write(FeatureFormat.csv(features, labels: indices.map(labelNames), paths: indices.map(rowNames)), to: url)
        case .h5:
            try AtomicFile.write(try FeatureFormat.hdf5(features, labels: indices.map(dataset.label(at:)),
                                                        classNames: dataset.classNames, paths: indices.map(rowNames),
                                                        name: out), to: url)
        }
        print("wrote \(out): \(indices.count) rows x \(width) features of \(layer); \(stream.summary)")
    }
}

/// The files `zoo features` writes.
enum FeatureFormat {
    case npy, h5, csv

    init?(path: String) {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "npy": self = .npy
        case "h5", "hdf5": self = .h5
        case "csv": self = .csv
        default: return nil
        }
    }

    /// `label,path,f0,f1,...`, one line per row; floats in their shortest exact form.
    static func csv(_ features: Tensor, labels: [String], paths: [String]) -> Data {
        let width = features.shape[1]
        var text = "label,path" + (0..<width).map { ",f\($0)" }.joined() + "\n"
        let x = features.data
        for r in 0..<features.shape[0] {
            text += csvField(labels[r]) + "," + csvField(paths[r])
            for c in 0..<width { text += ",\(x[r * width + c])" }
            text += "\n"
        }
        return Data(text.utf8)
    }

    /// RFC 4180 quoting for fields holding a comma, quote or line break.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension FeatureFormat {
    /// An HDF5 file with datasets `features` (rows, features) and `labels` (rows,), and root
    /// attributes `paths` (each row's file, or its row index) and `class_names`.
    static func hdf5(_ features: Tensor, labels: [Int], classNames: [String], paths: [String], name: String) throws -> Data {
        try HDF5File.image(name: name, sizeHint: features.count * 4 + paths.reduce(0) { $0 + $1.utf8.count }) { root in
            try root.createDataset("features", features)
            try root.createDataset("labels", Tensor(shape: [labels.count], scalars: labels.map(Float.init)))
            try root.setStringArray("paths", paths)
            try root.setStringArray("class_names", classNames)
        }
    }
}
