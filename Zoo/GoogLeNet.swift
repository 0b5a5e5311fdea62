import Engine

/// Going Deeper with Convolutions (Szegedy et al., 2014): Inception v1.
///
/// `googlenet`: torchvision's GoogLeNet. Every convolution is a `ConvBN` unit (no bias, BatchNorm
/// eps 0.001, ReLU); max pools use ceil mode; the "5x5" branch really uses a 3x3 kernel, kept as
/// torchvision has it for its weights; the auxiliary classifiers are training-only in torchvision
/// and left out here (`summary` shows the inference model); `transformInput` (off by default, as
/// in torchvision's constructor, on for its ImageNet weights) re-normalizes torch-preprocessed
/// input to the (x - 0.5) / 0.5 scaling those weights were trained with.
/// `googlenet-caffe`: the paper's network as Caffe's `bvlc_googlenet`: plain convolutions with
/// biases and ReLU, LocalResponseNorm after the stem, real 5x5 branches, ceil-mode pools.
public enum GoogLeNet {
    /// One Inception block's widths, named as in the paper's table.
    public struct InceptionWidths: Sendable {
        public var ch1x1, ch3x3reduce, ch3x3, ch5x5reduce, ch5x5, poolProj: Int

        public init(_ ch1x1: Int, _ ch3x3reduce: Int, _ ch3x3: Int, _ ch5x5reduce: Int, _ ch5x5: Int, _ poolProj: Int) {
            (self.ch1x1, self.ch3x3reduce, self.ch3x3, self.ch5x5reduce, self.ch5x5, self.poolProj) =
                (ch1x1, ch3x3reduce, ch3x3, ch5x5reduce, ch5x5, poolProj)
        }

        var output: Int { ch1x1 + ch3x3 + ch5x5 + poolProj }

        /// Every width divided by `d`, rounded up (narrow twins for tests).
        func divided(by d: Int) -> InceptionWidths {
            func up(_ c: Int) -> Int { (c + d - 1) / d }
            return InceptionWidths(up(ch1x1), up(ch3x3reduce), up(ch3x3), up(ch5x5reduce), up(ch5x5), up(poolProj))
        }
    }

    /// The paper's table, in network order; `nil` marks a max pool between stages.
    static let blocks: [(String, InceptionWidths)?] = [
        ("3a", InceptionWidths(64, 96, 128, 16, 32, 32)),
        ("3b", InceptionWidths(128, 128, 192, 32, 96, 64)),
        nil,
        ("4a", InceptionWidths(192, 96, 208, 16, 48, 64)),
        ("4b", InceptionWidths(160, 112, 224, 24, 64, 64)),
        ("4c", InceptionWidths(128, 128, 256, 24, 64, 64)),
        ("4d", InceptionWidths(112, 144, 288, 32, 64, 64)),
        ("4e", InceptionWidths(256, 160, 320, 32, 128, 128)),
        nil,
        ("5a", InceptionWidths(256, 160, 320, 32, 128, 128)),
        ("5b", InceptionWidths(384, 192, 384, 48, 128, 128)),
    ]

    /// One step of the stem, before the first Inception block.
    enum StemStep {
        /// A convolution unit of this many (full-model) filters, kernel and stride.
        case unit(String, filters: Int, kernel: Int, stride: Int)
        case maxPool(String)
        case localResponseNorm(String)
    }

    /// What differs between torchvision's and Caffe's networks, as data.
    struct Variant {
        /// Caffe's names use `/`; ours replace it with `_` (`inception_3a/1x1` -> `inception_3a_1x1`).
        let blockPrefix: String
        /// torchvision's units are convolution (no bias), BatchNorm (eps 0.001), ReLU; Caffe's (nil)
        /// a convolution with bias and ReLU.
        let normalization: BatchNormSettings?
        /// torchvision's "5x5" branch is a 3x3.
        let fiveKernel: Int
        let stem: [StemStep]
        /// The max pool between stages `n` and `n + 1`; torchvision's last is 2x2, Caffe's 3x3 (both stride 2, ceil mode).
        let stagePool: (Int) -> MaxPool2D
        /// torchvision pools adaptively to 1x1; Caffe averages a 7x7 window, the same at 224x224.
        let pooledName: String
        let dropout: (name: String, rate: Float)
        let classifierName: String
        let classifierInit: Initializer
        /// Caffe's softmax is a layer of its own (`prob`), so `loss3_classifier` stays the logits.
        let separateSoftmax: Bool

        static let torchvision = Variant(
            blockPrefix: "inception",
            normalization: BatchNormSettings(epsilon: 1e-3, momentum: 0.1, convention: .pytorch), fiveKernel: 3,
            stem: [.unit("conv1", filters: 64, kernel: 7, stride: 2), .maxPool("pool1"),
                   .unit("conv2", filters: 64, kernel: 1, stride: 1), .unit("conv3", filters: 192, kernel: 3, stride: 1),
                   .maxPool("pool2")],
            stagePool: { n in n == 4 ? MaxPool2D(name: "pool4", poolSize: (2, 2), strides: (2, 2), ceilMode: true)
                                     : maxPool("pool\(n)") },
            pooledName: "avg_pool", dropout: ("dropout", 0.2), classifierName: "predictions",
            classifierInit: .torchvisionGoogLeNet, separateSoftmax: false)
        static let caffe = Variant(
            blockPrefix: "inception_", normalization: nil, fiveKernel: 5,
            stem: [.unit("conv1_7x7_s2", filters: 64, kernel: 7, stride: 2), .maxPool("pool1_3x3_s2"),
                   .localResponseNorm("pool1_norm1"), .unit("conv2_3x3_reduce", filters: 64, kernel: 1, stride: 1),
                   .unit("conv2_3x3", filters: 192, kernel: 3, stride: 1), .localResponseNorm("conv2_norm2"),
                   .maxPool("pool2_3x3_s2")],
            stagePool: { n in maxPool("pool\(n)_3x3_s2") },
            pooledName: "pool5_7x7_s1", dropout: ("pool5_drop_7x7_s1", 0.4), classifierName: "loss3_classifier",
            classifierInit: .glorotUniform, separateSoftmax: true)

        /// A convolution and its ReLU; torchvision puts a BatchNorm between them.
        func unit(_ name: String, _ inC: Int, _ outC: Int, _ k: Int, stride: Int = 1) -> [Layer] {
            let padding: Padding = .symmetric(k / 2)
            guard let normalization else {
                return [Conv2D(name: name, inputChannels: inC, filters: outC, kernelSize: (k, k), strides: (stride, stride),
                               padding: padding, activation: .relu)]
            }
            return [Conv2D(name: name + "_conv", inputChannels: inC, filters: outC, kernelSize: (k, k),
                           strides: (stride, stride), padding: padding, useBias: false, initializer: .torchvisionGoogLeNet),
                    normalization.layer(name + "_bn", channels: outC),
                    ActivationLayer(name: name + "_relu", .relu)]
        }

        /// The four branches, joined along channels.
        func inception(_ id: String, input: Int, _ w: InceptionWidths) -> Concatenate {
            let n = blockPrefix + id
            let pool = MaxPool2D(name: n + "_pool", poolSize: (3, 3), strides: (1, 1), padding: .symmetric(1), ceilMode: true)
            return Concatenate(name: n, branches: [
                Sequential(name: n + "_branch1", unit(n + "_1x1", input, w.ch1x1, 1)),
                Sequential(name: n + "_branch2", unit(n + "_3x3_reduce", input, w.ch3x3reduce, 1)
                    + unit(n + "_3x3", w.ch3x3reduce, w.ch3x3, 3)),
                Sequential(name: n + "_branch3", unit(n + "_5x5_reduce", input, w.ch5x5reduce, 1)
                    + unit(n + "_5x5", w.ch5x5reduce, w.ch5x5, fiveKernel)),
                Sequential(name: n + "_branch4", [pool] + unit(n + "_pool_proj", input, w.poolProj, 1)),
            ])
        }
    }

    static func maxPool(_ name: String) -> MaxPool2D { MaxPool2D(name: name, poolSize: (3, 3), strides: (2, 2), ceilMode: true) }

    /// GoogLeNet as `flavour` has it: `.torchvision` or `.caffe`.
    public static func make(_ flavour: Flavour, options: ModelOptions = ModelOptions()) throws -> Model {
        try Catalog.architecture(named: flavour == .caffe ? "googlenet-caffe" : "googlenet").make(options)
    }

    static func parts(_ v: Variant, options o: ModelOptions) -> Parts {
        var layers: [Layer] = []
        // torchvision's `transform_input` (on for its ImageNet weights).
        if o.transformInput && v.normalization != nil { layers.append(ChannelAffine.torchvisionGoogLeNetTransform()) }
        var channels = o.imageChannels
        for step in v.stem {
            switch step {
            case let .unit(name, filters, kernel, stride):
                layers += v.unit(name, channels, o.channels(filters), kernel, stride: stride)
                channels = o.channels(filters)
            case let .maxPool(name): layers.append(maxPool(name))
            case let .localResponseNorm(name): layers.append(LocalResponseNorm(name: name, size: 5, alpha: 1e-4, beta: 0.75, k: 1))
            }
        }
        var pools = 3
        for entry in blocks {
            guard let (id, full) = entry else {
                layers.append(v.stagePool(pools))
                pools += 1
                continue
            }
            let w = full.divided(by: o.channelDivisor)
            layers.append(v.inception(id, input: channels, w))
            channels = w.output
        }
        var parts = Parts(trunk: layers) { features, activation in
            [GlobalAveragePooling2D(name: v.pooledName), Dropout(name: v.dropout.name, rate: v.dropout.rate)]
                + classifier(v.classifierName, inputFeatures: features[2], classes: o.classes, activation: activation,
                             separateSoftmax: v.separateSoftmax, initializer: v.classifierInit)
        }
        parts.averagePoolName = v.pooledName
        return parts
    }
}
