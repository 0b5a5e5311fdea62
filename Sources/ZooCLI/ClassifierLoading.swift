import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `--transform-input`: torchvision GoogLeNet's `transform_input` for a bare torchvision file,
/// which records nothing (off, as torchvision's constructor; its ImageNet weights need it on).
struct TransformInputOption: ParsableArguments {
    @Flag(help: "GoogLeNet: turn torchvision's transform_input on (its ImageNet weights need it; a bare .pth or .safetensors file cannot say).")
    var transformInput = false

    /// `options` with it set (a file that records it on turns it on anyway).
    func applied(to options: ModelOptions) -> ModelOptions {
        var o = options
        o.transformInput = o.transformInput || transformInput
        return o
    }
}

/// A model built and loaded for inference, with the image pipeline its weights were made for.
struct LoadedModel {
    let model: Model
    let pipeline: ImagePipeline

    /// Builds the architecture the weight file records (`modelName` when it records none, or to
    /// override it), loads the weights, and takes the file's class names, preprocessing, resize
    /// transform and input size. Without a file: the named architecture with its seeded weights.
    /// Under mpirun (`cluster`) rank 0 alone opens the file and broadcasts the model.
    static func load(weights: String?, modelName: String?, shape: ModelOptions = ModelOptions(),
                     inputSize: (height: Int, width: Int)? = nil, applyEXIF: Bool = false,
                     cluster: Cluster? = nil) throws -> LoadedModel {
        let model = try build(weights: weights, modelName: modelName, shape: shape, inputSize: inputSize, cluster: cluster)
        return LoadedModel(model: model, pipeline: try ImagePipeline(model: model, applyEXIF: applyEXIF))
    }

    /// The model of `load`, without an image pipeline (for commands that take tensors); the load
    /// report goes to stderr (rank 0's alone under mpirun).
    static func build(weights: String?, modelName: String?, shape: ModelOptions = ModelOptions(),
                      inputSize: (height: Int, width: Int)? = nil, cluster: Cluster? = nil) throws -> Model {
        var options = shape
        if let size = inputSize { options.inputSize = size }
        let (model, report) = try withFlagHints {
            try Model.loadedOnRoot(of: cluster) {
                guard let weights else {
                    guard let modelName else { throw CommandFailure("give --weights or --model (see `zoo list`)") }
                    return (try Catalog.architecture(named: modelName).make(options), nil)
                }
                let loaded = try Model.load(from: URL(fileURLWithPath: weights), architecture: modelName, options: options)
                return (loaded.model, loaded.report)
            }
        }
        if let report, cluster?.isRoot ?? true { StandardError.write(report.description + "\n") }
        return model
    }

    /// Class names in output order: the file's, else ImageNet's for 1000 classes, else the indices.
    func classNames(count: Int) -> [String] { Self.classNames(of: model, count: count) }

    /// `model`'s class names in output order (see the instance method).
    static func classNames(of model: Model, count: Int) -> [String] {
        if let names = model.classNames, names.count == count { return names }
        if count == 1000, let names = try? PretrainedManifest.shipped().classLists["imagenet_classes.txt"],
           names.count == 1000 {
            return names
        }
        return (0..<count).map(String.init)
    }
}

/// The model of the commands that run one (run, predict, evaluate, features, explain, filters,
/// activations): a weight file and what it records, or a named architecture with its seeded weights.
struct WeightFileOptions: ParsableArguments {
    @Option(help: "Weight file (.h5, .weights.h5, .keras, .pth/.pt/.bin, .safetensors, .caffemodel); what it records is used: architecture, class names, preprocessing, resize transform. Without it, --model's seeded initial weights.")
    var weights: String?

    @Option(help: "Architecture (see `zoo list`), when the file records none (PyTorch files: detected) or to override it.")
    var model: String?

    func validate() throws {
        if model == nil && weights == nil { throw ValidationError("give --model (or --weights recording one)") }
    }

    /// `LoadedModel.load` of this file.
    func load(shape: ModelOptions = ModelOptions(), applyEXIF: Bool = false, cluster: Cluster? = nil) throws -> LoadedModel {
        try LoadedModel.load(weights: weights, modelName: model, shape: shape, applyEXIF: applyEXIF, cluster: cluster)
    }

    /// `LoadedModel.build` of this file.
    func build(shape: ModelOptions = ModelOptions(), inputSize: (height: Int, width: Int)? = nil,
               cluster: Cluster? = nil) throws -> Model {
        try LoadedModel.build(weights: weights, modelName: model, shape: shape, inputSize: inputSize, cluster: cluster)
    }
}

/// Warnings and progress on standard error.
enum StandardError {
    static func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
    static func warn(_ text: String) { write("warning: \(text)\n") }
}

/// A failure while running a command (not a usage mistake, so no usage text follows it).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, wording a library error's remedy as the CLI's flag.
func withFlagHints<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ModelError {
        switch error.remedy {
        case .useArchitecture(let name)?: throw CommandFailure("\(error); use --model \(name)")
        case .nameArchitecture?: throw CommandFailure("\(error); give it with --model")
        case nil: throw error
        }
    }
}
