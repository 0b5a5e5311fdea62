import Engine
import Foundation
import WeightIO

extension ModelOptions {
    /// These options adjusted to what a weight file records: its number of classes (from its
    /// class names, else its last dense layer) and GoogLeNet's `transform_input`. `model` names the
    /// architecture a torchvision or timm file is for, when its keys do not say.
    public func adjusted(toWeights url: URL, model: String? = nil) throws -> ModelOptions {
        let file = try WeightFile.openMapped(url, architecture: model)
        var o = self
        if requestedClasses == nil, let classes = file.metadata.classNames?.count ?? ModelOptions.classesOfTop(file) {
            o.classes = classes
        }
        if file.metadata.extra["transform_input"] == "1" { o.transformInput = true }
        return o
    }

    /// Units of the file's last dense layer (a rank-2 kernel): the classes its top was trained for.
    static func classesOfTop(_ file: WeightFile) -> Int? {
        for layer in file.layers.reversed() {
            // Legacy files name weights `layer/kernel:0`, Keras 3 files by index: go by rank.
            if let kernel = layer.weights.first(where: { $0.shape.count == 2 }), layer.weights.count <= 2 {
                return kernel.shape[1]
            }
        }
        return nil
    }
}

extension Model {
    /// What ConvZoo records about this model in the files it writes.
    public var metadata: ConvZooMetadata {
        ConvZooMetadata(architecture: architecture, variant: flavour.rawValue, classNames: classNames,
                        preprocessing: preprocessing, resizeTransform: resizeTransform, inputSize: inputShape,
                        version: ConvZooMetadata.currentVersion,
                        extra: options.transformInput ? ["transform_input": "1"] : [:])
    }

    /// Loads weights from `url` (Keras legacy `.h5`, Keras 3 `.weights.h5` or `.keras`, ConvZoo files,
    /// PyTorch `.pth` and safetensors files with torchvision's or timm's keys),
    /// in Keras's layer order when matching by position, and takes the file's class names,
    /// preprocessing and resize transform.
    ///
    /// A file written for the other flavour of the same network (torchvision's `resnet50` into
    /// `resnet50-keras`, say) fails with an error that names the architecture it fits.
    @discardableResult
    public func loadWeights(from url: URL, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        let file = try WeightFile.openMapped(url, architecture: TorchvisionKeys.table(architecture) != nil ? architecture : nil)
        if let other = file.metadata.architecture, other != architecture, Catalog.all.contains(where: { $0.name == other }) {
            throw ModelError("\(url.path) holds weights for '\(other)', not '\(architecture)'; use --model \(other)")
        }
        var options = options
        if architecture == "resnet50-keras", options.renameFileLayer == nil,
           KerasLegacyResNetNames.matches(file.layers.map(\.name)) {
            options.renameFileLayer = KerasLegacyResNetNames.modernName
        }
        do {
            let report = try WeightLoader.load(file, into: network, options: options)
            // The file says how its inputs were prepared; that is what the weights expect.
            if let names = file.metadata.classNames { classNames = names }
            if let p = file.metadata.preprocessing { preprocessing = p }
            if let r = file.metadata.resizeTransform { resizeTransform = r }
            return report
        } catch let error as WeightLoadError {
            if let sibling = try siblingThatFits(url, options: options) {
                throw ModelError("\(url.path) does not fit '\(architecture)' (\(flavour.rawValue) flavour) but fits "
                    + "'\(sibling.name)' (\(sibling.reference)); use --model \(sibling.name). \(error)")
            }
            throw error
        }
    }

    /// The other flavour of this network (`resnet50` and `resnet50-keras`) when the file loads into it.
    func siblingThatFits(_ url: URL, options: LoadOptions) throws -> Architecture? {
        let base = architecture.replacingOccurrences(of: "-keras", with: "")
        let candidates = Catalog.all.filter {
            $0.name != architecture && $0.name.replacingOccurrences(of: "-keras", with: "") == base
        }
        for candidate in candidates {
            let model = try candidate.make(self.options)
            let mapped = TorchvisionKeys.table(candidate.name) != nil ? candidate.name : nil
            if (try? WeightLoader.load(WeightFile.openMapped(url, architecture: mapped), into: model.network, options: options)) != nil {
                return candidate
            }
        }
        return nil
    }

    /// Saves the weights atomically as a Keras legacy `.h5` (layers in Keras's order) or Keras 3
    /// `.weights.h5`, with ConvZoo's metadata: architecture, classes, preprocessing, input size.
    public func saveWeights(to url: URL, format: SaveFormat = .kerasH5, hooks: SaveHooks = SaveHooks()) throws {
        try network.saveWeights(to: url, format: format, metadata: metadata, hooks: hooks)
    }
}
