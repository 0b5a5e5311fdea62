import Engine

/// ImageNet Classification with Deep Convolutional Neural Networks (Krizhevsky et al., 2012).
///
/// `alexnet`: torchvision's single-tower version (64-192-384-256-256 filters, no LRN, adaptive 6x6
/// average pool, dropout before fc6 and fc7). `alexnet-caffe`: the original two-tower network as
/// Caffe's `bvlc_alexnet` (96-256-384-384-256 filters, conv2/4/5 in two groups, LocalResponseNorm
/// after relu1 and relu2, ceil-mode pools, 227x227 input). Layer names are Caffe's: `conv1` ...
/// `conv5`, `fc6`, `fc7`, `fc8`.
public enum AlexNet {
    /// AlexNet as `flavour` has it: `.torchvision` or `.caffe`.
    public static func make(_ flavour: Flavour, options: ModelOptions = ModelOptions()) throws -> Model {
        try Catalog.architecture(named: flavour == .caffe ? "alexnet-caffe" : "alexnet").make(options)
    }

    /// What differs between the two networks, as data.
    struct Variant {
        let widths: [Int]
        /// Convolution groups (Caffe's two towers join at conv3).
        let groups: [Int]
        let conv1Padding: Int
        /// LocalResponseNorm after relu1 and relu2 (Caffe).
        let localResponseNorm: Bool
        let ceilModePools: Bool
        /// torchvision pools adaptively to 6x6 before the classifier; Caffe's 227x227 gives 6x6 by itself.
        let adaptivePool: Bool
        /// torchvision drops out before fc6 and fc7; Caffe after them. Both are identity at inference.
        let dropoutBeforeDense: Bool
        /// torchvision's AlexNet keeps PyTorch's default init throughout.
        let initializer: Initializer
        /// Caffe's softmax is a layer of its own (`prob`), so `fc8` stays the logits.
        let separateSoftmax: Bool

        static let torchvision = Variant(widths: [64, 192, 384, 256, 256], groups: [1, 1, 1, 1, 1], conv1Padding: 2,
                                         localResponseNorm: false, ceilModePools: false, adaptivePool: true,
                                         dropoutBeforeDense: true, initializer: .pytorchDefault, separateSoftmax: false)
        static let caffe = Variant(widths: [96, 256, 384, 384, 256], groups: [1, 2, 1, 2, 2], conv1Padding: 0,
                                   localResponseNorm: true, ceilModePools: true, adaptivePool: false,
                                   dropoutBeforeDense: false, initializer: .glorotUniform, separateSoftmax: true)
    }

    static func parts(_ v: Variant, options o: ModelOptions) -> Parts {
        let widths = v.widths.map(o.channels)
        func conv(_ i: Int, _ inC: Int, _ k: Int, stride: Int = 1, pad: Int) -> Conv2D {
            Conv2D(name: "conv\(i + 1)", inputChannels: inC, filters: widths[i], kernelSize: (k, k),
                   strides: (stride, stride), padding: .symmetric(pad), groups: v.groups[i], activation: .relu,
                   initializer: v.initializer)
        }
        func pool(_ n: Int) -> MaxPool2D { MaxPool2D(name: "pool\(n)", poolSize: (3, 3), strides: (2, 2), ceilMode: v.ceilModePools) }
        func normThenPool(_ n: Int) -> [Layer] {
            (v.localResponseNorm ? [LocalResponseNorm(name: "norm\(n)", size: 5, alpha: 1e-4, beta: 0.75, k: 1)] : []) + [pool(n)]
        }
        let layers: [Layer] = [conv(0, o.imageChannels, 11, stride: 4, pad: v.conv1Padding)] + normThenPool(1)
            + [conv(1, widths[0], 5, pad: 2)] + normThenPool(2)
            + [conv(2, widths[1], 3, pad: 1), conv(3, widths[2], 3, pad: 1), conv(4, widths[3], 3, pad: 1), pool(5)]
        return Parts(trunk: layers) { features, activation in
            var top: [Layer] = v.adaptivePool ? [AdaptiveAvgPool2D(name: "avg_pool", outputSize: (6, 6))] : []
            top.append(Flatten(name: "flatten"))
            for (i, inputs) in [(6, v.adaptivePool ? 36 * features[2] : features.reduce(1, *)), (7, o.hidden)] {
                let dropout = { Dropout(name: "drop\(i)", rate: 0.5) }
                if v.dropoutBeforeDense { top.append(dropout()) }
                top.append(Dense(name: "fc\(i)", inputFeatures: inputs, units: o.hidden, activation: .relu, initializer: v.initializer))
                if !v.dropoutBeforeDense { top.append(dropout()) }
            }
            return top + classifier("fc8", inputFeatures: o.hidden, classes: o.classes, activation: activation,
                                    separateSoftmax: v.separateSoftmax, initializer: v.initializer)
        }
    }
}

/// The scoring layer; Caffe's softmax is a layer of its own (`prob`), so its scoring layer stays the logits.
func classifier(_ name: String, inputFeatures: Int, classes: Int, activation: Activation, separateSoftmax: Bool,
                initializer: Initializer) -> [Layer] {
    let scores = Dense(name: name, inputFeatures: inputFeatures, units: classes,
                       activation: separateSoftmax ? .linear : activation, initializer: initializer)
    return separateSoftmax && activation == .softmax ? [scores, ActivationLayer(name: "prob", .softmax)] : [scores]
}
