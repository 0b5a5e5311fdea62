import Engine
import Foundation
import WeightIO

extension ModelOptions {
    /// These options adjusted to what a weight file records: its input size and number of classes
    /// (from its class names, else its last dense layer) where these options leave them open, and
    /// GoogLeNet's `transform_input`, and the input channels it records.
    public func adjusted(to file: WeightFile) -> ModelOptions {
        var o = self
        if requestedClasses == nil, let classes = file.metadata.classNames?.count ?? ModelOptions.classesOfTop(file) {
            o.classes = classes
        }
        if inputSize == nil { o.inputSize = file.metadata.recordedInputSize }
        // A model fine-tuned on other channels (say grayscale) records them.
        if inputChannels == nil, let recorded = file.metadata.inputSize, recorded.count == 3 { o.inputChannels = recorded[2] }
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
                        preprocessing: preprocessing.rawValue, resizeTransform: resizeTransform.description,
                        inputSize: inputShape, version: ConvZooMetadata.currentVersion,
                        extra: options.transformInput ? ["transform_input": "1"] : [:])
    }

    /// The model a weight file holds, the one way every caller builds one from a file (the file is
    /// opened once): `architecture` (else the one the file records) built with `options` adjusted to
    /// the file (`ModelOptions.adjusted(to:)`), then loaded with the options `loading` picks for it.
    public static func load(from url: URL, architecture: String? = nil, options: ModelOptions = ModelOptions(),
                            loading: (Model, WeightFile) throws -> LoadOptions = { _, _ in LoadOptions() })
        throws -> (model: Model, report: LoadReport) {
        try load(from: WeightFile.open(url), architecture: architecture, options: options, loading: loading)
    }

    /// `load(from:architecture:options:loading:)` for a file already open.
    public static func load(from file: WeightFile, architecture: String? = nil, options: ModelOptions = ModelOptions(),
                            loading: (Model, WeightFile) throws -> LoadOptions = { _, _ in LoadOptions() })
        throws -> (model: Model, report: LoadReport) {
        let file = try TorchvisionKeys.mapped(file, architecture: architecture)
        try file.metadata.validate(file: file.name)
        guard let name = architecture ?? file.metadata.architecture else {
            throw ModelError("\(file.name) does not record its architecture; name it (see `zoo list`)", remedy: .nameArchitecture)
        }
        let model = try Catalog.architecture(named: name).make(options.adjusted(to: file))
        let report = try model.loadWeights(from: file, options: loading(model, file))
        return (model, report)
    }

    /// Loads weights from `url` (Keras legacy `.h5`, Keras 3 `.weights.h5` or `.keras`, ConvZoo files,
    /// PyTorch and safetensors files with torchvision's or timm's keys, Caffe `.caffemodel`), in
    /// Keras's layer order when matching by position, and takes the file's class names,
    /// preprocessing and resize transform.
    ///
    /// A file written for the other flavour of the same network (torchvision's `resnet50` into
    /// `resnet50-keras`, say) fails with an error that names the architecture it fits.
    @discardableResult
    public func loadWeights(from url: URL, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        try loadWeights(from: WeightFile.open(url), options: options)
    }

    /// `loadWeights(from:options:)` for a file already open.
    @discardableResult
    public func loadWeights(from file: WeightFile, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        let file = try TorchvisionKeys.mapped(file, architecture: TorchvisionKeys.table(architecture) != nil ? architecture : nil)
        let recorded = file.metadata
        if let other = recorded.architecture, other != architecture, Catalog.all.contains(where: { $0.name == other }) {
            throw ModelError("\(file.name) holds weights for '\(other)', not '\(architecture)'", remedy: .useArchitecture(other))
        }
        try recorded.validate(file: file.name)
        let preprocessing = recorded.preprocessing.flatMap(Preprocessing.init(rawValue:))
        let resize = recorded.resizeTransform.flatMap(ResizeTransform.init)
        var options = options
        if let legacy = definition.legacyNames, options.renameFileLayer == nil, legacy.matches(file.layers.map(\.name)) {
            options.renameFileLayer = legacy.rename
        }
        if options.adaptInputChannels == nil, inputShape[2] != 3, definition.defaultInput[2] == 3 {
            // RGB weights into a first convolution of other channels (`ModelOptions.inputChannels`).
            options.adaptInputChannels = network.allLayers.first { $0 is Conv2D }?.name
        }
        if file.format == .caffe, options.mode == .strict {
            // A Caffe net is matched by layer name only (its file order is Caffe's, not Keras's), and
            // may hold layers the inference model lacks (bvlc_googlenet's auxiliary classifiers,
            // reported as in the file only); strict still means every model layer gets its weights.
            options.mode = .byName
            options.minimumMatchedShare = 1
        }
        do {
            let report = try WeightLoader.load(file, into: network, options: options)
            // The file says how its inputs were prepared; that is what the weights expect.
            if let names = recorded.classNames { classNames = names }
            if let preprocessing { self.preprocessing = preprocessing }
            if let resize { resizeTransform = resize }
            return report
        } catch let error as WeightLoadError {
            if let other = definition.otherFlavour.flatMap({ try? Catalog.architecture(named: $0) }),
               (try? WeightLoader.load(file, into: other.make(self.options).network, options: options)) != nil {
                throw ModelError("\(file.name) does not fit '\(architecture)' (\(flavour.rawValue) flavour) but fits "
                    + "'\(other.name)' (\(other.reference)). \(error)", remedy: .useArchitecture(other.name))
            }
            throw error
        }
    }

    /// Saves the weights atomically as a Keras legacy `.h5` (layers in Keras's order), Keras 3
    /// `.weights.h5` or safetensors, with ConvZoo's metadata: architecture, classes, preprocessing,
    /// input size. A safetensors file of a torchvision-flavour model has torchvision's keys and
    /// layouts (PyTorch loads it into torchvision's model); any other has Keras's `<layer>/<weight>`.
    public func saveWeights(to url: URL, format: SaveFormat = .kerasH5, hooks: SaveHooks = SaveHooks()) throws {
        guard format == .safetensors, flavour == .torchvision else {
            return try network.saveWeights(to: url, format: format, metadata: metadata, hooks: hooks)
        }
        let entries = try TorchvisionKeys.safetensorsEntries(of: network, architecture: architecture, file: url.path)
        try SafetensorsWriter.write(entries, metadata: WeightWriter.safetensorsMetadata(metadata.attributes), to: url, hooks: hooks)
    }
}
