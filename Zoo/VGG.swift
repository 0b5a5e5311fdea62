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
        try Catalog.architecture(named: "vgg\(depth.rawValue)" + Variant.of(flavour).listing.nameSuffix).make(options)
    }

    /// What differs between Keras's VGG and torchvision's batch-norm VGG, as data.
    struct Variant: Sendable {
        let listing: FlavourListing
        /// torchvision's units are convolution (bias kept), BatchNorm and ReLU; Keras's (nil) a
        /// convolution with a fused ReLU.
        let normalization: BatchNormSettings?
        /// torchvision pools adaptively to 7x7 before the classifier; Keras flattens what the input gives.
        let adaptivePool: Bool
        /// torchvision drops out after fc1 and fc2; Keras has no dropout.
        let dropout: Bool
        /// torchvision draws its Linear layers from N(0, 0.01); Keras uses Glorot uniform.
        let denseInit: Initializer

        static let keras = Variant(
            listing: FlavourListing(flavour: .keras, nameSuffix: "", reference: { "Keras Applications VGG\($0)" },
                                    preprocessing: .caffe, resize: .kerasDirect),
            normalization: nil, adaptivePool: false, dropout: false, denseInit: .glorotUniform)
        static let torchvision = Variant(
            listing: FlavourListing(flavour: .torchvision, nameSuffix: "-bn", reference: { "torchvision vgg\($0)_bn" },
                                    preprocessing: .torch, resize: .resize256Crop224),
            normalization: .pytorch, adaptivePool: true, dropout: true, denseInit: .normal(mean: 0, std: 0.01))

        static func of(_ flavour: Flavour) -> Variant { flavour == .keras ? keras : torchvision }

        /// The last activation before the head, Grad-CAM's map: with BatchNorm the ReLU follows the
        /// convolution's BatchNorm.
        func lastActivation(_ depth: Depth) -> String {
            (normalization != nil ? "block5_relu" : "block5_conv") + String(depth.convolutionsPerBlock.last!)
        }

        /// Convolution `c` of block `b` and what follows it.
        func unit(block b: Int, _ c: Int, _ inC: Int, _ outC: Int) -> [Layer] {
            let id = "block\(b)"
            guard let normalization else {
                return [Conv2D(name: "\(id)_conv\(c)", inputChannels: inC, filters: outC, kernelSize: (3, 3),
                               padding: .same, activation: .relu)]
            }
            return [Conv2D(name: "\(id)_conv\(c)", inputChannels: inC, filters: outC, kernelSize: (3, 3), padding: .same,
                           initializer: .kaimingNormal(mode: .fanOut)),
                    normalization.layer("\(id)_bn\(c)", channels: outC),
                    ActivationLayer(name: "\(id)_relu\(c)", .relu)]
        }
    }

    static func parts(_ depth: Depth, _ v: Variant, options o: ModelOptions) -> Parts {
        var layers: [Layer] = []
        var channels = o.imageChannels
        for (b, count) in depth.convolutionsPerBlock.enumerated() {
            let filters = o.channels(blockFilters[b])
            for c in 1...count {
                layers += v.unit(block: b + 1, c, channels, filters)
                channels = filters
            }
            layers.append(MaxPool2D(name: "block\(b + 1)_pool", poolSize: (2, 2)))
        }
        return Parts(trunk: layers) { features, activation in
            var top: [Layer] = v.adaptivePool ? [AdaptiveAvgPool2D(name: "avg_pool", outputSize: (7, 7))] : []
            let flat = try Model.flattenedWidth(v.adaptivePool ? [7, 7, features[2]] : features, units: o.hidden, layer: "fc1")
            top.append(Flatten(name: "flatten"))
            for (i, inputs) in [(1, flat), (2, o.hidden)] {
                top.append(Dense(name: "fc\(i)", inputFeatures: inputs, units: o.hidden, activation: .relu, initializer: v.denseInit))
                if v.dropout { top.append(Dropout(name: "fc\(i)_dropout", rate: 0.5)) }
            }
            top.append(Dense(name: "predictions", inputFeatures: o.hidden, units: o.classes, activation: activation,
                             initializer: v.denseInit))
            return top
        }
    }
}
