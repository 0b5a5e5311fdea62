import Engine

/// Deep Residual Learning for Image Recognition (He et al., 2015).
///
/// `resnet18` ... `resnet152`: torchvision's ResNet "v1.5": the stride of a downsampling
/// bottleneck sits on its 3x3 convolution, convolutions have no bias, BatchNorm eps 1e-5, the stem
/// max pool pads with -inf. `resnet50-keras` ... `resnet152-keras`: Keras Applications' v1: the
/// stride sits on the first 1x1, convolutions have biases, BatchNorm eps 1.001e-5 and the stem pads
/// with explicit `ZeroPadding2D` layers. Both use Keras's names (`conv2_block1_1_conv`); the
/// torchvision keys map onto them in `tools/convert_torchvision.py`.
public enum ResNet {
    public enum Depth: Int, Sendable, CaseIterable {
        case resnet18 = 18, resnet34 = 34, resnet50 = 50, resnet101 = 101, resnet152 = 152

        /// Blocks per stage (conv2_x ... conv5_x).
        var blockCounts: [Int] {
            switch self {
            case .resnet18: [2, 2, 2, 2]
            case .resnet34: [3, 4, 6, 3]
            case .resnet50: [3, 4, 6, 3]
            case .resnet101: [3, 4, 23, 3]
            case .resnet152: [3, 8, 36, 3]
            }
        }

        var usesBottleneck: Bool { rawValue >= 50 }
    }

    static let stageWidths = [64, 128, 256, 512]

    /// ResNet of `depth` as `flavour` has it: `.torchvision` (v1.5) or `.keras` (v1, bottleneck depths only).
    public static func make(_ depth: Depth, _ flavour: Flavour, options: ModelOptions = ModelOptions()) throws -> Model {
        try Catalog.architecture(named: "resnet\(depth.rawValue)" + Variant.of(flavour).listing.nameSuffix).make(options)
    }

    /// The taps of `depth`: the stem's pool, then every stage's last block.
    static func taps(_ depth: Depth) -> [String] {
        ["pool1_pool"] + depth.blockCounts.enumerated().map { s, blocks in "conv\(s + 2)_block\(blocks)_out" }
    }

    /// `pool1` and every block's `_out` (the block's own name: its output is after the ReLU); for
    /// torchvision's flavour also its module names of the pyramid's levels (timm's `feature_info`):
    /// `act1` (the stem's ReLU) and `layer1` ... `layer4` (the stages).
    static func tapAliases(_ depth: Depth, _ flavour: Flavour) -> [String: String] {
        var aliases = ["pool1": "pool1_pool"]
        for (s, blocks) in depth.blockCounts.enumerated() {
            for b in 1...blocks { aliases["conv\(s + 2)_block\(b)_out"] = "conv\(s + 2)_block\(b)" }
            if flavour == .torchvision { aliases["layer\(s + 1)"] = "conv\(s + 2)" }
        }
        if flavour == .torchvision { aliases["act1"] = "conv1_relu" }
        return aliases
    }

    /// What differs between torchvision's v1.5 and Keras's v1, as data.
    struct Variant: Sendable {
        let listing: FlavourListing
        /// Keras pads the stem's convolution and pool with `ZeroPadding2D` layers of their own and
        /// its 3x3s with `same`; torchvision pads inside each layer (the stem's pool with -inf).
        let kerasPadding: Bool
        let convolutionBias: Bool
        /// torchvision: Kaiming normal, fan-out, for every convolution; Keras: Glorot uniform.
        let convolutionInit: Initializer
        /// torchvision leaves the classifier at PyTorch's default init; Keras uses Glorot.
        let classifierInit: Initializer
        let normalization: BatchNormSettings
        /// A downsampling bottleneck strides its first 1x1 (v1, Keras) instead of its 3x3 (v1.5).
        let strideOnReduce: Bool
        /// Keras's first block of every stage projects, even at stride 1 (`conv_shortcut=True`), and
        /// its `model.layers` lists a projecting bottleneck as
        /// _1_conv, _1_bn, _2_conv, _2_bn, _0_conv, _3_conv, _0_bn, _3_bn.
        let kerasShortcuts: Bool
        /// Older layer names of the reference's ResNet-50 files.
        let legacyResNet50Names: LegacyLayerNames?

        static let torchvision = Variant(
            listing: FlavourListing(flavour: .torchvision, nameSuffix: "", reference: { "torchvision resnet\($0) (v1.5)" },
                                    preprocessing: .torch, resize: .resize256Crop224),
            kerasPadding: false, convolutionBias: false,
            convolutionInit: .kaimingNormal(mode: .fanOut), classifierInit: .pytorchDefault,
            normalization: .pytorch, strideOnReduce: false, kerasShortcuts: false, legacyResNet50Names: nil)
        static let keras = Variant(
            listing: FlavourListing(flavour: .keras, nameSuffix: "-keras", reference: { "Keras Applications ResNet\($0) (v1)" },
                                    preprocessing: .caffe, resize: .kerasDirect),
            kerasPadding: true, convolutionBias: true,
            convolutionInit: .glorotUniform, classifierInit: .glorotUniform,
            normalization: BatchNormSettings(epsilon: 1.001e-5, momentum: 0.99, convention: .keras),
            strideOnReduce: true, kerasShortcuts: true, legacyResNet50Names: KerasLegacyResNetNames.names)

        static func of(_ flavour: Flavour) -> Variant { flavour == .keras ? keras : torchvision }
    }

    /// timm's `features_only=True` levels: the stem's ReLU (before the max pool), then every stage's last block.
    static func pyramid(_ depth: Depth) -> [String] {
        ["conv1_relu"] + depth.blockCounts.enumerated().map { s, blocks in "conv\(s + 2)_block\(blocks)_out" }
    }

    static func parts(_ depth: Depth, _ v: Variant, options o: ModelOptions) -> Parts {
        var layers: [Layer] = []
        var order: [String] = []
        let stem = o.channels(64)
        if v.kerasPadding { layers.append(ZeroPadding2D(name: "conv1_pad", padding: (3, 3, 3, 3))) }
        layers.append(Conv2D(name: "conv1_conv", inputChannels: o.imageChannels, filters: stem, kernelSize: (7, 7), strides: (2, 2),
                             padding: v.kerasPadding ? .valid : .symmetric(3), useBias: v.convolutionBias,
                             initializer: v.convolutionInit))
        layers.append(v.batchNorm("conv1_bn", stem))
        layers.append(ActivationLayer(name: "conv1_relu", .relu))
        order += ["conv1_conv", "conv1_bn"]
        if v.kerasPadding { layers.append(ZeroPadding2D(name: "pool1_pad", padding: (1, 1, 1, 1))) }
        layers.append(MaxPool2D(name: "pool1_pool", poolSize: (3, 3), strides: (2, 2),
                                padding: v.kerasPadding ? .valid : .symmetric(1)))

        var channels = stem
        for (s, blocks) in depth.blockCounts.enumerated() {
            let width = o.channels(stageWidths[s])
            var stage: [Layer] = []
            for b in 0..<blocks {
                let name = "conv\(s + 2)_block\(b + 1)"
                let stride = (b == 0 && s > 0) ? 2 : 1
                let block = depth.usesBottleneck
                    ? v.bottleneck(name, input: channels, width: width, stride: stride, first: b == 0, order: &order)
                    : v.basicBlock(name, input: channels, width: width, stride: stride, order: &order)
                stage.append(block)
                channels = depth.usesBottleneck ? width * 4 : width
            }
            layers.append(Sequential(name: "conv\(s + 2)", stage))
        }
        var parts = Parts(trunk: layers) { features, activation in
            [GlobalAveragePooling2D(name: "avg_pool"),
             Dense(name: "predictions", inputFeatures: features[2], units: o.classes, activation: activation,
                   initializer: v.classifierInit)]
        }
        parts.weightedLayerOrder = o.includeTop ? order + ["predictions"] : order
        return parts
    }
}

/// The units blocks are made of, as the variant has them.
extension ResNet.Variant {
    func batchNorm(_ name: String, _ channels: Int) -> BatchNorm { normalization.layer(name, channels: channels) }

    func conv(_ name: String, _ inC: Int, _ outC: Int, _ k: Int, stride: Int = 1) -> Conv2D {
        // torchvision pads a 3x3 by 1 on every side; Keras's `same` does the same at stride 1,
        // which is the only stride Keras uses on its 3x3s.
        Conv2D(name: name, inputChannels: inC, filters: outC, kernelSize: (k, k), strides: (stride, stride),
               padding: k == 1 ? .valid : (kerasPadding ? .same : .symmetric(k / 2)), useBias: convolutionBias,
               initializer: convolutionInit)
    }

    /// conv -> BN -> ReLU, the unit every block is made of.
    func convBN(_ prefix: String, _ inC: Int, _ outC: Int, _ k: Int, stride: Int = 1, relu: Bool = true,
                order: inout [String]) -> [Layer] {
        order += [prefix + "_conv", prefix + "_bn"]
        let layers: [Layer] = [conv(prefix + "_conv", inC, outC, k, stride: stride), batchNorm(prefix + "_bn", outC)]
        return relu ? layers + [ActivationLayer(name: prefix + "_relu", .relu)] : layers
    }

    /// The shortcut's 1x1 convolution and BatchNorm, where the shapes change (or always, `force`).
    func projection(_ name: String, _ inC: Int, _ outC: Int, stride: Int, force: Bool = false) -> Layer? {
        guard force || stride != 1 || inC != outC else { return nil }
        return Sequential(name: name + "_shortcut",
                          [conv(name + "_0_conv", inC, outC, 1, stride: stride), batchNorm(name + "_0_bn", outC)])
    }

    /// Two 3x3 convolutions (resnet18, resnet34).
    func basicBlock(_ name: String, input: Int, width: Int, stride: Int, order: inout [String]) -> Residual {
        let main = convBN(name + "_1", input, width, 3, stride: stride, order: &order)
            + convBN(name + "_2", width, width, 3, relu: false, order: &order)
        let shortcut = projection(name, input, width, stride: stride)
        if shortcut != nil { order += [name + "_0_conv", name + "_0_bn"] }
        return Residual(name: name, main: Sequential(name: name + "_main", main), shortcut: shortcut,
                        activation: .relu, addName: name + "_add", outName: name + "_out")
    }

    /// 1x1 reduce, 3x3, 1x1 expand by 4. torchvision strides the 3x3 (v1.5), Keras the first 1x1 (v1).
    func bottleneck(_ name: String, input: Int, width: Int, stride: Int, first: Bool, order: inout [String]) -> Residual {
        var blockOrder: [String] = []
        let main = convBN(name + "_1", input, width, 1, stride: strideOnReduce ? stride : 1, order: &blockOrder)
            + convBN(name + "_2", width, width, 3, stride: strideOnReduce ? 1 : stride, order: &blockOrder)
            + convBN(name + "_3", width, width * 4, 1, relu: false, order: &blockOrder)
        let shortcut = projection(name, input, width * 4, stride: stride, force: kerasShortcuts && first)
        if shortcut != nil {
            blockOrder = kerasShortcuts
                ? Array(blockOrder[0..<4]) + [name + "_0_conv", name + "_3_conv", name + "_0_bn", name + "_3_bn"]
                : blockOrder + [name + "_0_conv", name + "_0_bn"]
        }
        order += blockOrder
        return Residual(name: name, main: Sequential(name: name + "_main", main), shortcut: shortcut,
                        activation: .relu, addName: name + "_add", outName: name + "_out")
    }
}
