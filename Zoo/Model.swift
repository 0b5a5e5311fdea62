import Engine

/// Global pooling after the trunk when the classifier top is left off (Keras's `pooling`).
public enum GlobalPooling: String, Sendable, Codable {
    case average = "avg", max
}

/// Keras Applications' construction options.
public struct ModelOptions {
    public var includeTop = true
    /// Without the top: nil keeps the 4-D feature map, as Keras's `pooling=None`.
    public var pooling: GlobalPooling?
    /// The classes asked for; nil: the architecture's own (1000 for ImageNet models, 10 for LeNet-5).
    public var requestedClasses: Int?
    /// The classes asked for, else 1000 (a built model's options hold its architecture's own).
    public var classes: Int {
        get { requestedClasses ?? 1000 }
        set { requestedClasses = newValue }
    }
    /// nil: the reference's own output (softmax for Keras flavours, logits otherwise).
    public var classifierActivation: Activation?
    /// nil: the architecture's default input size.
    public var inputSize: (height: Int, width: Int)?
    /// Divides every channel count; narrow twins of the full models for tests.
    public var channelDivisor = 1
    /// Units of the hidden fully connected layers (VGG fc1/fc2, AlexNet fc6/fc7); nil: 4096.
    public var hiddenUnits: Int?
    /// torchvision GoogLeNet's `transform_input` (its ImageNet weights were trained with it on).
    public var transformInput = false
    /// Channels of the input images; nil: the architecture's own (3, LeNet-5's 1). RGB weights load
    /// into a first convolution of another count as timm's `adapt_input_conv` adapts them (see
    /// `Model.loadWeights`).
    public var inputChannels: Int?

    public init(includeTop: Bool = true, pooling: GlobalPooling? = nil, classes: Int? = nil,
                classifierActivation: Activation? = nil, inputSize: (height: Int, width: Int)? = nil) {
        self.includeTop = includeTop
        self.pooling = pooling
        self.requestedClasses = classes
        self.classifierActivation = classifierActivation
        self.inputSize = inputSize
    }

    /// Classes a top may have (ImageNet-21k has 21,841).
    public static let classesRange = 1...100_000
    /// Height and width an input may have, whatever the architecture (each has its own range,
    /// `Architecture.inputSideRange`; the smallest it supports is checked when built).
    public static let inputSideRange = 1...4096
    /// Channel divisors of narrow twins.
    public static let channelDivisorRange = 1...64
    /// Units of hidden dense layers.
    public static let hiddenUnitsRange = 1...16_384
    /// Input channels (grayscale, RGB, multispectral).
    public static let inputChannelsRange = 1...512

    /// Throws unless every option is within its range; `Architecture.make` checks before building.
    public func validate(architecture: String, inputSides: ClosedRange<Int> = ModelOptions.inputSideRange) throws {
        func check(_ value: Int?, _ range: ClosedRange<Int>, _ what: String) throws {
            guard let value, !range.contains(value) else { return }
            throw ModelError("\(architecture): \(what) \(value) is out of range; expected \(range.lowerBound) to "
                + "\(range.upperBound)")
        }
        try check(requestedClasses, ModelOptions.classesRange, "classes")
        try check(inputSize?.height, inputSides, "input height")
        try check(inputSize?.width, inputSides, "input width")
        try check(channelDivisor, ModelOptions.channelDivisorRange, "channel divisor")
        try check(hiddenUnits, ModelOptions.hiddenUnitsRange, "hidden units")
        try check(inputChannels, ModelOptions.inputChannelsRange, "input channels")
        if transformInput, let inputChannels, inputChannels != 3 {
            throw ModelError("\(architecture): transform_input re-normalizes 3 RGB channels; it cannot take \(inputChannels)")
        }
        if transformInput && architecture != "googlenet" {
            throw ModelError("\(architecture) has no transform_input; it is torchvision GoogLeNet's option (googlenet)")
        }
    }

    /// A channel count of the full model, divided for narrow twins (rounded up).
    func channels(_ full: Int) -> Int { (full + channelDivisor - 1) / channelDivisor }
    var hidden: Int { hiddenUnits ?? 4096 }
    /// The first convolution's input channels (set by `Architecture.resolved`).
    var imageChannels: Int { inputChannels ?? 3 }
}

/// A network of the zoo: its layers and what a user needs to run it.
public final class Model {
    /// The description it was built from.
    public let definition: Architecture
    /// The zoo name, e.g. `vgg16` or `resnet50-keras`.
    public var architecture: String { definition.name }
    public var flavour: Flavour { definition.flavour }
    /// The layers, outermost first.
    public let network: Sequential
    /// Input (height, width, channels), batch excluded.
    public let inputShape: [Int]
    /// The options it was built with, the architecture's defaults filled in.
    public let options: ModelOptions
    /// Weighted layers in the reference's order (Keras's `model.layers`), used by positional
    /// loading and by every file ConvZoo writes.
    public let weightedLayers: [Layer]
    /// Other names a tap answers to, e.g. Caffe's `fc7` for Keras's `fc2`.
    public var tapAliases: [String: String] { definition.tapAliases }
    /// Layers whose outputs are documented taps, in network order.
    public let taps: [String]
    public var classNames: [String]?
    /// Input preprocessing as Keras `imagenet_utils` names it (the weight file's, once loaded).
    public var preprocessing: Preprocessing
    /// Resize transform of the reference, or of the loaded weight file.
    public var resizeTransform: ResizeTransform

    init(definition: Architecture, network: Sequential, inputShape: [Int], options: ModelOptions,
         weightedLayerOrder: [String]?, averagePoolName: String) throws {
        let architecture = definition.name
        self.definition = definition
        self.network = network
        self.inputShape = inputShape
        self.options = options
        let taps = definition.taps + [averagePoolName, "max_pool"]
        self.taps = taps.enumerated().filter { i, tap in
            network.layer(named: definition.tapAliases[tap] ?? tap) != nil && !taps[..<i].contains(tap)
        }.map(\.1)
        preprocessing = definition.preprocessing
        resizeTransform = definition.resize
        let weighted = network.allLayers.filter { !$0.weights.isEmpty }
        if let order = weightedLayerOrder {
            let byName = Dictionary(weighted.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            weightedLayers = try order.map { n in
                guard let l = byName[n] else { throw ModelError("\(architecture): no weighted layer '\(n)'") }
                return l
            }
            guard weightedLayers.count == weighted.count else {
                throw ModelError("\(architecture): layer order lists \(weightedLayers.count) of \(weighted.count) weighted layers")
            }
            network.referenceWeightOrder = weightedLayers
        } else {
            weightedLayers = weighted
        }
        _ = try Model.outputShape(of: network, for: inputShape, architecture: architecture)
    }

    /// The network's output shape for one image of `inputShape`, or an error naming the smallest
    /// square input the network supports.
    static func outputShape(of network: Sequential, for inputShape: [Int], architecture: String) throws -> [Int] {
        do {
            return try network.outputShape(for: [1] + inputShape)
        } catch {
            let smallest = (1...2048).first { (try? network.outputShape(for: [1, $0, $0, inputShape[2]])) != nil } ?? 0
            throw ModelError("\(architecture): input \(inputShape[0])x\(inputShape[1]) is too small; "
                + "the smallest input this network supports is \(smallest)x\(smallest) (\(error))")
        }
    }

    /// The width a flatten gives a dense layer of `units` for a trunk output of `features`, refused
    /// before the layer is built when its weights would not fit in memory (they grow with the input).
    /// A shapes-only build (`Parameter.withoutAllocating`) allocates no weights, so there only a
    /// count that overflows is refused.
    static func flattenedWidth(_ features: [Int], units: Int, layer: String) throws -> Int {
        let width = MemoryBudget.product(features)
        let bytes = width.flatMap { MemoryBudget.product([$0, units, 4]) }
        let what = "\(layer)'s weights (\(width.map(String.init) ?? "?") x \(units))"
        if Parameter.isDeferringAllocation, let width, bytes != nil { return width }
        try MemoryBudget.check(bytes, for: what, hint: "leave the top off or use a smaller input size")
        return width!
    }

    /// The output shape for a batch of `batch`, batch first.
    public func outputShape(batch: Int = 1) throws -> [Int] { try network.outputShape(for: [batch] + inputShape) }

    /// Runs the network in inference mode on a preprocessed NHWC batch.
    public func predict(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        return try network.forward(x, mode: .inference)
    }

    /// The output of the layer named `tap` (or an alias such as `fc7`), as Keras defines it: after
    /// the layer's own activation.
    public func output(at tap: String, for x: Tensor) throws -> Tensor {
        try outputs(at: [tap], for: x)[0]
    }

    /// The outputs of the layers named `taps` (or their aliases), in that order, from one pass that
    /// stops after the deepest: each is bit for bit what `output(at:)` gives for it alone.
    public func outputs(at taps: [String], for x: Tensor) throws -> [Tensor] {
        let names = try layerNames(of: taps)
        try checkInput(x)
        let outputs = try network.forward(x, mode: .inference, tapping: Set(names))
        return names.map { outputs[$0]! }
    }

    /// The layer each of `taps` (a layer name or an alias) names, or an error naming the first
    /// that no pass reaches, with the documented taps.
    public func layerNames(of taps: [String]) throws -> [String] {
        try taps.map { tap in
            let name = tapAliases[tap] ?? tap
            guard network.reaches(name) else {
                let pyramid = definition.pyramid.isEmpty ? [] : [Model.pyramidName]
                let known = (self.taps + tapAliases.keys.sorted() + pyramid).joined(separator: ", ")
                throw ModelError("\(architecture) has no tap '\(tap)'; taps: \(known)")
            }
            return name
        }
    }

    /// `taps` with the word `pyramid` replaced by the feature pyramid's levels (`Architecture.pyramid`),
    /// or an error for an architecture without one.
    public func expandingPyramid(_ taps: [String]) throws -> [String] {
        try taps.flatMap { tap -> [String] in
            guard tap == Model.pyramidName else { return [tap] }
            guard !definition.pyramid.isEmpty else {
                let having = Catalog.all.filter { !$0.pyramid.isEmpty }.map(\.name)
                throw ModelError("\(architecture) has no feature pyramid; these have one: \(having.joined(separator: ", "))")
            }
            return definition.pyramid
        }
    }

    /// The word that asks for the feature pyramid among taps.
    public static let pyramidName = "pyramid"

    /// Throws unless `x` is an NHWC batch this model takes.
    public func checkInput(_ x: Tensor) throws {
        guard x.rank == 4, Array(x.shape.dropFirst()) == inputShape || x.shape[3] == inputShape[2] else {
            throw ModelError("\(architecture) expects NHWC input (batch, \(inputShape[0]), \(inputShape[1]), "
                + "\(inputShape[2])), got \(x.shape)")
        }
    }

    /// What the output is (probabilities, logits or penalties), nil without a top: predict, evaluate
    /// and training read it, so they never need to know which network they hold.
    public var headOutput: HeadOutput? {
        guard options.includeTop else { return nil }
        if definition.headOutput == .penalties { return .penalties }
        guard let activation = options.classifierActivation else { return definition.headOutput }
        return activation == .softmax ? .probabilities : .logits
    }

    /// Row-wise probabilities of a (batch, classes) output, as the head's kind reads them.
    public func probabilities(_ output: Tensor) throws -> Tensor {
        guard let head = headOutput, output.rank == 2 else {
            throw ModelError("\(architecture): output of shape \(output.shape); expected (batch, classes) "
                + "(a model without its top has no classes)")
        }
        return try head.probabilities(output)
    }

    /// The name of the classifier layer (the dense layer with one unit per class), nil without a top.
    public var classifierLayer: String? {
        guard options.includeTop, let last = weightedLayers.last as? Dense else { return nil }
        return last.name
    }

    /// Every weight of the model, Keras's "Total params".
    public var totalParameters: Int { network.parameterCount }
    /// Weights that training may update (torchvision's parameter count).
    public var trainableParameters: Int { network.allLayers.flatMap { $0.parameters }.filter { $0.trainable }.reduce(0) { $0 + $1.weightCount } }
}

/// A configuration or input error of a zoo model.
public struct ModelError: Error, CustomStringConvertible {
    /// What the caller can do about it, for front ends to word in their own terms (a CLI flag, say).
    public enum Remedy: Equatable, Sendable {
        /// The weights fit this other architecture.
        case useArchitecture(String)
        /// Nothing records the architecture: the caller must name one.
        case nameArchitecture
    }

    public let description: String
    public let remedy: Remedy?

    public init(_ description: String, remedy: Remedy? = nil) {
        self.description = description
        self.remedy = remedy
    }
}
