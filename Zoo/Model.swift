import Engine

/// Which reference framework an architecture follows. It decides the layer names, the default
/// classifier output (Keras: softmax; torchvision and Caffe: logits) and the default preprocessing.
public enum Flavour: String, Sendable {
    case keras, torchvision, caffe
    /// The publication itself, which no framework ships (LeNet-5's original form); its counts are the
    /// paper's trainable parameters and its parity twin is written in PyTorch.
    case paper
}

/// Global pooling after the trunk when the classifier top is left off (Keras's `pooling`).
public enum GlobalPooling: String, Sendable {
    case average = "avg", max
}

/// Keras Applications' construction options.
public struct ModelOptions {
    public var includeTop = true
    /// Without the top: nil keeps the 4-D feature map, as Keras's `pooling=None`.
    public var pooling: GlobalPooling?
    /// The classes asked for; nil: the architecture's own (1000 for ImageNet models, 10 for LeNet-5).
    public var requestedClasses: Int?
    /// The classes of an ImageNet model: as asked, else 1000.
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
    }

    /// A channel count of the full model, divided for narrow twins (rounded up).
    func channels(_ full: Int) -> Int { (full + channelDivisor - 1) / channelDivisor }
    var hidden: Int { hiddenUnits ?? 4096 }
}

/// A network of the zoo: its layers and what a user needs to run it.
public final class Model {
    /// The zoo name, e.g. `vgg16` or `resnet50-keras`.
    public let architecture: String
    public let flavour: Flavour
    /// The layers, outermost first.
    public let network: Sequential
    /// Input (height, width, channels), batch excluded.
    public let inputShape: [Int]
    public let options: ModelOptions
    /// Weighted layers in the reference's order (Keras's `model.layers`), used by positional
    /// loading and by every file ConvZoo writes.
    public let weightedLayers: [Layer]
    /// Other names a tap answers to, e.g. Caffe's `fc7` for Keras's `fc2`.
    public let tapAliases: [String: String]
    /// Layers whose outputs are documented taps, in network order.
    public let taps: [String]
    public var classNames: [String]?
    /// Input preprocessing as Keras `imagenet_utils` names it: caffe, torch, tf or none.
    public var preprocessing: String
    /// Resize transform of the reference: `keras-direct` or torchvision's `resize256-crop224`.
    public var resizeTransform: String

    init(architecture: String, flavour: Flavour, network: Sequential, inputShape: [Int], options: ModelOptions,
         weightedLayerOrder: [String]? = nil, tapAliases: [String: String] = [:], taps: [String],
         preprocessing: String, resizeTransform: String) throws {
        self.architecture = architecture
        self.flavour = flavour
        self.network = network
        self.inputShape = inputShape
        self.options = options
        self.tapAliases = tapAliases
        self.taps = taps.filter { network.layer(named: $0) != nil }
        self.preprocessing = preprocessing
        self.resizeTransform = resizeTransform
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

    /// The features a flatten layer gives `units` dense units for `inputShape`, refused before the
    /// dense layer is built when its weights would not fit in memory (their count grows with the input).
    static func flattenedFeatures(of network: Sequential, for inputShape: [Int], architecture: String,
                                  units: Int, layer: String) throws -> Int {
        let shape = try outputShape(of: network, for: inputShape, architecture: architecture)
        guard let features = MemoryBudget.product(Array(shape.dropFirst())) else {
            throw ModelError("\(architecture): input \(inputShape[0])x\(inputShape[1]) gives more features than can be counted")
        }
        try MemoryBudget.check(MemoryBudget.product([features, units, 4]),
                               for: "\(architecture) with a \(inputShape[0])x\(inputShape[1]) input: \(layer)'s weights "
                                + "(\(features) x \(units))", hint: "leave the top off or use a smaller input size")
        return features
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
        try checkInput(x)
        let name = tapAliases[tap] ?? tap
        guard let y = try network.forward(x, mode: .inference, stoppingAfter: name) else {
            let known = (taps + tapAliases.keys.sorted()).joined(separator: ", ")
            throw ModelError("\(architecture) has no tap '\(tap)'; taps: \(known)")
        }
        return y
    }

    func checkInput(_ x: Tensor) throws {
        guard x.rank == 4, Array(x.shape.dropFirst()) == inputShape || x.shape[3] == inputShape[2] else {
            throw ModelError("\(architecture) expects NHWC input (batch, \(inputShape[0]), \(inputShape[1]), "
                + "\(inputShape[2])), got \(x.shape)")
        }
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
    public let description: String
    public init(_ description: String) { self.description = description }
}
