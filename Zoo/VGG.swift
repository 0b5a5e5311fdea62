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

    /// VGG of `depth` as `flavour` has it: `.keras` (no BatchNorm) or `.torchvision` (`vgg16-bn`, `vgg19-bn`).
    public static func make(_ depth: Depth, _ flavour: Flavour, options: ModelOptions = ModelOptions()) throws -> Model {
        try Catalog.architecture(named: "vgg\(depth.rawValue)" + (flavour == .keras ? "" : "-bn")).make(options)
    }

    static func parts(_ depth: Depth, _ flavour: Flavour, options o: ModelOptions) -> Parts {
        let batchNorm = flavour == .torchvision
        var layers: [Layer] = []
        var channels = o.imageChannels
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
        return Parts(trunk: layers) { features, activation in
            // torchvision pools adaptively to 7x7 first; Keras flattens what the input gives.
            var top: [Layer] = batchNorm ? [AdaptiveAvgPool2D(name: "avg_pool", outputSize: (7, 7))] : []
            let flat = try Model.flattenedWidth(batchNorm ? [7, 7, features[2]] : features, units: o.hidden, layer: "fc1")
            top.append(Flatten(name: "flatten"))
            // torchvision draws its Linear layers from N(0, 0.01); Keras uses Glorot uniform.
            let dense: Initializer = batchNorm ? .normal(mean: 0, std: 0.01) : .glorotUniform
            top.append(Dense(name: "fc1", inputFeatures: flat, units: o.hidden, activation: .relu, initializer: dense))
            if batchNorm { top.append(Dropout(name: "fc1_dropout", rate: 0.5)) }
            top.append(Dense(name: "fc2", inputFeatures: o.hidden, units: o.hidden, activation: .relu, initializer: dense))
            if batchNorm { top.append(Dropout(name: "fc2_dropout", rate: 0.5)) }
            top.append(Dense(name: "predictions", inputFeatures: o.hidden, units: o.classes, activation: activation,
                             initializer: dense))
            return top
        }
    }
}
