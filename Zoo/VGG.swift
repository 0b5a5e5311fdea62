import Engine

/// Very Deep Convolutional Networks for Large-Scale Image Recognition (Simonyan & Zisserman, 2014).
///
/// `vgg16`, `vgg19`: Keras Applications, names `block1_conv1` ... `block5_pool`, `flatten`, `fc1`,
/// `fc2`, `predictions`; no dropout (Keras has none). `vgg16-bn`, `vgg19-bn`: torchvision's
/// batch-norm variants, which keep each convolution's bias before its BatchNorm (eps 1e-5), pool
/// adaptively to 7x7 before the classifier and put dropout after fc1 and fc2; names follow the
/// Keras ones (`block1_bn1`, `block1_relu1`, ...), mapped from torchvision keys by
/// `tools/convert_torchvision.py`.
public enum VGG {
    public enum Depth: Int, Sendable {
        case vgg16 = 16, vgg19 = 19

        /// Convolutions per block (torchvision's cfgs "D" and "E").
        var convolutionsPerBlock: [Int] { self == .vgg16 ? [2, 2, 3, 3, 3] : [2, 2, 4, 4, 4] }
    }

    static let blockFilters = [64, 128, 256, 512, 512]

    public static func make(_ depth: Depth, batchNorm: Bool, options o: ModelOptions = ModelOptions()) throws -> Model {
        let size = o.inputSize ?? (224, 224)
        let inputShape = [size.height, size.width, 3]
        var layers: [Layer] = []
        var channels = 3
        for (b, count) in depth.convolutionsPerBlock.enumerated() {
            let filters = o.channels(blockFilters[b])
            for c in 1...count {
                let id = "block\(b + 1)"
                if batchNorm {
                    layers.append(Conv2D(name: "\(id)_conv\(c)", inputChannels: channels, filters: filters,
                                         kernelSize: (3, 3), padding: .same, initializer: .kaimingNormal(mode: .fanOut)))
                    layers.append(BatchNorm(name: "\(id)_bn\(c)", channels: filters, epsilon: 1e-5, momentum: 0.1,
                                            convention: .pytorch))
                    layers.append(ActivationLayer(name: "\(id)_relu\(c)", .relu))
                } else {
                    layers.append(Conv2D(name: "\(id)_conv\(c)", inputChannels: channels, filters: filters,
                                         kernelSize: (3, 3), padding: .same, activation: .relu))
                }
                channels = filters
            }
            layers.append(MaxPool2D(name: "block\(b + 1)_pool", poolSize: (2, 2)))
        }
        let trunk = Sequential(name: "vgg\(depth.rawValue)", layers)
        let flavour: Flavour = batchNorm ? .torchvision : .keras
        if o.includeTop {
            if batchNorm { trunk.append(AdaptiveAvgPool2D(name: "avg_pool", outputSize: (7, 7))) }
            let features = try Model.flattenedFeatures(of: trunk, for: inputShape, architecture: "vgg\(depth.rawValue)",
                                                       units: o.hidden, layer: "fc1")
            trunk.append(Flatten(name: "flatten"))
            // torchvision draws its Linear layers from N(0, 0.01); Keras uses Glorot uniform.
            let dense: Initializer = batchNorm ? .normal(mean: 0, std: 0.01) : .glorotUniform
            trunk.append(Dense(name: "fc1", inputFeatures: features, units: o.hidden, activation: .relu, initializer: dense))
            if batchNorm { trunk.append(Dropout(name: "fc1_dropout", rate: 0.5)) }
            trunk.append(Dense(name: "fc2", inputFeatures: o.hidden, units: o.hidden, activation: .relu, initializer: dense))
            if batchNorm { trunk.append(Dropout(name: "fc2_dropout", rate: 0.5)) }
            trunk.append(Dense(name: "predictions", inputFeatures: o.hidden, units: o.classes,
                               activation: o.classifierActivation ?? (batchNorm ? .linear : .softmax), initializer: dense))
        } else if let pooling = o.pooling {
            trunk.append(pooling == .average ? GlobalAveragePooling2D(name: "avg_pool") : GlobalMaxPooling2D(name: "max_pool"))
        }
        let name = "vgg\(depth.rawValue)" + (batchNorm ? "-bn" : "")
        return try Model(architecture: name, flavour: flavour, network: trunk, inputShape: inputShape, options: o,
                         tapAliases: ["fc6": "fc1", "fc7": "fc2"],
                         taps: ["block5_pool", "fc1", "fc2", "avg_pool", "max_pool"],
                         preprocessing: batchNorm ? "torch" : "caffe",
                         resizeTransform: batchNorm ? "resize256-crop224" : "keras-direct")
    }
}
