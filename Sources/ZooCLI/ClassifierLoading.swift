import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// A model built and loaded for inference, with the image pipeline its weights were made for.
struct LoadedModel {
    let model: Model
    let pipeline: ImagePipeline

    /// Builds the architecture the weight file records (`modelName` when it records none, or to
    /// override it), loads the weights, and takes the file's class names, preprocessing, resize
    /// transform and input size. Without a file: the named architecture with its seeded weights.
    static func load(weights: String?, modelName: String?, shape: ModelOptions = ModelOptions(),
                     inputSize: (height: Int, width: Int)? = nil, applyEXIF: Bool = false) throws -> LoadedModel {
        let model = try build(weights: weights, modelName: modelName, shape: shape, inputSize: inputSize)
        return LoadedModel(model: model, pipeline: try ImagePipeline(model: model, applyEXIF: applyEXIF))
    }

    /// The model of `load`, without an image pipeline (for commands that take tensors); the load
    /// report goes to stderr.
    static func build(weights: String?, modelName: String?, shape: ModelOptions = ModelOptions(),
                      inputSize: (height: Int, width: Int)? = nil) throws -> Model {
        let url = weights.map { URL(fileURLWithPath: $0) }
        let metadata = try url.map { try WeightFile.openMapped($0, architecture: modelName).metadata }
        guard let name = modelName ?? metadata?.architecture else {
            throw ValidationError("\(weights ?? "the weight file") does not record its architecture; "
                + "give it with --model (see `zoo list`)")
        }
        var options = shape
        if let size = inputSize {
            options.inputSize = size
        } else if let recorded = metadata?.inputSize, recorded.count == 3 {
            options.inputSize = (recorded[0], recorded[1])
        }
        if let url { options = try options.adjusted(toWeights: url, model: name) }
        let model = try Catalog.architecture(named: name).make(options)
        if let url {
            let report = try model.loadWeights(from: url)
            FileHandle.standardError.write(Data((report.description + "\n").utf8))
        }
        return model
    }

    /// Class names in output order: the file's, else ImageNet's for 1000 classes, else the indices.
    func classNames(count: Int) -> [String] {
        if let names = model.classNames, names.count == count { return names }
        if count == 1000, let names = try? PretrainedManifest.shipped().classLists["imagenet_classes.txt"],
           names.count == 1000 {
            return names
        }
        return (0..<count).map(String.init)
    }

    /// True when the classifier ends in softmax (Keras and the paper's LeNet-5), false for logits.
    var outputsProbabilities: Bool {
        if let activation = model.options.classifierActivation {
            if case .softmax = activation { return true }
            return false
        }
        return model.flavour == .keras || model.flavour == .paper
    }

    /// Row-wise probabilities of a (batch, classes) output: as is after softmax, else softmax of the logits.
    func probabilities(_ output: Tensor) throws -> Tensor {
        guard output.rank == 2 else {
            throw CommandFailure("\(model.architecture): output of shape \(output.shape); expected (batch, classes) "
                + "(a model without its top has no classes)")
        }
        if outputsProbabilities { return output }
        return try ActivationLayer(name: "softmax", .softmax).forward(output, mode: .inference)
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
