import Engine

/// One architecture of the zoo, described as data (as torchvision's weights enums and Keras
/// Applications' shared builder state it): what `zoo list` shows, what a user needs to feed and
/// read it, and the builder of its layers. `make` assembles the top, pooling and input checks once
/// for every family (`Assembly.swift`); reading a description builds nothing. `Catalog` makes each
/// with the memberwise initializer: every field is stated once, in the order below.
public struct Architecture: Sendable {
    /// The `zoo` name, e.g. `resnet50-keras`.
    public let name: String
    /// The reference it matches exactly.
    public let reference: String
    public let flavour: Flavour
    /// Input (height, width, channels) of the reference.
    public internal(set) var defaultInput = [224, 224, 3]
    /// Classes of the reference's top (1000 for ImageNet, 10 for LeNet-5).
    public internal(set) var defaultClasses = 1000
    /// How the reference's inputs are prepared: pixel preprocessing and resize transform.
    public let preprocessing: Preprocessing
    public let resize: ResizeTransform
    /// What the top outputs with the reference's own classifier activation, where the flavour does
    /// not say it (the paper's LeNet-5: penalties); see `headOutput`.
    var statedHeadOutput: HeadOutput? = nil
    /// Layers whose outputs are documented taps, in network order (the no-top pools come after).
    public let taps: [String]
    /// Other names a tap answers to, e.g. Caffe's `fc7` for Keras's `fc2`.
    public internal(set) var tapAliases: [String: String] = [:]
    /// The feature pyramid as timm's `features_only=True` gives it (ResNet: the stem's ReLU, before
    /// the max pool, then each stage's output: strides 2, 4, 8, 16, 32); empty when it has none.
    public internal(set) var pyramid: [String] = []
    /// Grad-CAM's default layer: the last convolutional feature map before the head.
    public let gradCAMLayer: String
    /// The same network as the other reference has it (`resnet50` for `resnet50-keras`), whose
    /// files a failed load is tried against to name the right `zoo` name.
    public internal(set) var otherFlavour: String? = nil
    /// Layer renames for older files of the reference, applied when a file's names match.
    public internal(set) var legacyNames: LegacyLayerNames? = nil
    /// The reference's published parameter count: every weight for Keras (its "Total params"),
    /// trainable ones for torchvision, Caffe and the paper (our Trainable params).
    public let referenceParameters: Int
    let build: @Sendable (ModelOptions) throws -> Parts

    /// Builds the network with `options` (seeded initial weights).
    public func make(_ options: ModelOptions = ModelOptions()) throws -> Model {
        try options.validate(architecture: name, inputSides: inputSideRange)
        let resolved = resolved(options)
        return try assemble(build(resolved), options: resolved)
    }

    /// The network of `make`, its weights left unallocated: for shapes and parameter counts only.
    func shapesOnly(_ options: ModelOptions) throws -> Model {
        try Parameter.withoutAllocating { try make(options) }
    }
}

extension Architecture {
    /// `listing`'s flavour of the family `base` at `depth` (`resnet` + `50` + `-keras`).
    init(listing: FlavourListing, base: String, depth: Int, taps: [String], tapAliases: [String: String],
         pyramid: [String] = [], gradCAMLayer: String, otherFlavour: String? = nil, legacyNames: LegacyLayerNames? = nil,
         referenceParameters: Int, build: @escaping @Sendable (ModelOptions) throws -> Parts) {
        self.init(name: base + String(depth) + listing.nameSuffix, reference: listing.reference(depth),
                  flavour: listing.flavour, preprocessing: listing.preprocessing, resize: listing.resize, taps: taps,
                  tapAliases: tapAliases, pyramid: pyramid, gradCAMLayer: gradCAMLayer, otherFlavour: otherFlavour, legacyNames: legacyNames,
                  referenceParameters: referenceParameters, build: build)
    }

    /// What the top outputs with the reference's own classifier activation: the stated kind, else the
    /// flavour's (Keras: probabilities; torchvision and Caffe: logits).
    public var headOutput: HeadOutput { statedHeadOutput ?? flavour.defaultHeadOutput }

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

/// How one flavour of a family of several depths is listed (ResNet, VGG): the suffix after the
/// depth's name (`resnet50` + `-keras`), the reference's wording for a depth and the input it expects.
struct FlavourListing: Sendable {
    let flavour: Flavour
    let nameSuffix: String
    let reference: @Sendable (_ depth: Int) -> String
    let preprocessing: Preprocessing
    let resize: ResizeTransform
}

/// How a reference makes its BatchNorm layers: epsilon, momentum and its running-average convention.
struct BatchNormSettings: Sendable {
    let epsilon: Float
    let momentum: Float
    let convention: BatchNormConvention

    /// PyTorch's `nn.BatchNorm2d` defaults, which torchvision's VGG and ResNet keep.
    static let pytorch = BatchNormSettings(epsilon: 1e-5, momentum: 0.1, convention: .pytorch)

    func layer(_ name: String, channels: Int) -> BatchNorm {
        BatchNorm(name: name, channels: channels, epsilon: epsilon, momentum: momentum, convention: convention)
    }
}

/// Renames from an older file layout of a reference onto the zoo's layer names.
public struct LegacyLayerNames: Sendable {
    /// True when a file's layer names are the legacy ones.
    public let matches: @Sendable ([String]) -> Bool
    /// A legacy layer name -> ours.
    public let rename: @Sendable (String) -> String
}
