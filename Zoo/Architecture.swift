import Engine

/// One architecture of the zoo, described as data (as torchvision's weights enums and Keras
/// Applications' shared builder state it): what `zoo list` shows, what a user needs to feed and
/// read it, and the builder of its layers. `make` assembles the top, pooling and input checks once
/// for every family (`Assembly.swift`); reading a description builds nothing.
public struct Architecture: Sendable {
    /// The `zoo` name, e.g. `resnet50-keras`.
    public let name: String
    /// The reference it matches exactly.
    public let reference: String
    public let flavour: Flavour
    /// Input (height, width, channels) of the reference.
    public let defaultInput: [Int]
    /// Classes of the reference's top (1000 for ImageNet, 10 for LeNet-5).
    public let defaultClasses: Int
    /// How the reference's inputs are prepared: pixel preprocessing and resize transform.
    public let preprocessing: Preprocessing
    public let resize: ResizeTransform
    /// What the top outputs with the reference's own classifier activation.
    public let headOutput: HeadOutput
    /// Layers whose outputs are documented taps, in network order (the no-top pools come after).
    public let taps: [String]
    /// Other names a tap answers to, e.g. Caffe's `fc7` for Keras's `fc2`.
    public let tapAliases: [String: String]
    /// The feature pyramid as timm's `features_only=True` gives it (ResNet: the stem's ReLU, before
    /// the max pool, then each stage's output: strides 2, 4, 8, 16, 32); empty when it has none.
    public let pyramid: [String]
    /// Grad-CAM's default layer: the last convolutional feature map before the head.
    public let gradCAMLayer: String
    /// The same network as the other reference has it (`resnet50` for `resnet50-keras`), whose
    /// files a failed load is tried against to name the right `zoo` name.
    public let otherFlavour: String?
    /// Layer renames for older files of the reference, applied when a file's names match.
    public let legacyNames: LegacyLayerNames?
    /// The reference's published parameter count: every weight for Keras (its "Total params"),
    /// trainable ones for torchvision, Caffe and the paper (our Trainable params).
    public let referenceParameters: Int
    let build: @Sendable (ModelOptions) throws -> Parts

    init(name: String, reference: String, flavour: Flavour, defaultInput: [Int] = [224, 224, 3],
         defaultClasses: Int = 1000, preprocessing: Preprocessing, resize: ResizeTransform, headOutput: HeadOutput? = nil,
         taps: [String], tapAliases: [String: String] = [:], pyramid: [String] = [], gradCAMLayer: String, otherFlavour: String? = nil,
         legacyNames: LegacyLayerNames? = nil, referenceParameters: Int,
         build: @escaping @Sendable (ModelOptions) throws -> Parts) {
        self.name = name
        self.reference = reference
        self.flavour = flavour
        self.defaultInput = defaultInput
        self.defaultClasses = defaultClasses
        self.preprocessing = preprocessing
        self.resize = resize
        self.headOutput = headOutput ?? flavour.defaultHeadOutput
        self.taps = taps
        self.tapAliases = tapAliases
        self.pyramid = pyramid
        self.gradCAMLayer = gradCAMLayer
        self.otherFlavour = otherFlavour
        self.legacyNames = legacyNames
        self.referenceParameters = referenceParameters
        self.build = build
    }

    /// Builds the network with `options` (seeded initial weights).
    public func make(_ options: ModelOptions = ModelOptions()) throws -> Model {
        try options.validate(architecture: name, inputSides: inputSideRange)
        let resolved = resolved(options)
        return try assemble(build(resolved), options: resolved)
    }
}

extension Architecture {
    /// Input heights and widths up to eight times the default side: beyond, no image task uses the
    /// network and flattening tops grow past any memory.
    public var inputSideRange: ClosedRange<Int> { 1...(8 * max(defaultInput[0], defaultInput[1])) }
}

/// Which reference framework an architecture follows. It decides the layer names, the default
/// classifier output (Keras: softmax; torchvision and Caffe: logits) and the default preprocessing.
public enum Flavour: String, Sendable {
    case keras, torchvision, caffe
    /// The publication itself, which no framework ships (LeNet-5's original form); its counts are the
    /// paper's trainable parameters and its parity twin is written in PyTorch.
    case paper

    /// Keras Applications end in softmax; torchvision and Caffe's scoring layers give logits.
    var defaultHeadOutput: HeadOutput { self == .keras ? .probabilities : .logits }

    /// True when the reference counts every weight (Keras's Total params), false for trainable ones.
    public var countsEveryWeight: Bool { self == .keras }
}

/// Renames from an older file layout of a reference onto the zoo's layer names.
public struct LegacyLayerNames: Sendable {
    /// True when a file's layer names are the legacy ones.
    public let matches: @Sendable ([String]) -> Bool
    /// A legacy layer name -> ours.
    public let rename: @Sendable (String) -> String
}
