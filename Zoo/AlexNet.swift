import Engine

/// ImageNet Classification with Deep Convolutional Neural Networks (Krizhevsky et al., 2012).
///
/// `alexnet`: torchvision's single-tower version (64-192-384-256-256 filters, no LRN, adaptive 6x6
/// average pool, dropout before fc6 and fc7). `alexnet-caffe`: the original two-tower network as
/// Caffe's `bvlc_alexnet` (96-256-384-384-256 filters, conv2/4/5 in two groups, LocalResponseNorm
/// after relu1 and relu2, ceil-mode pools, 227x227 input). Layer names are Caffe's: `conv1` ...
/// `conv5`, `fc6`, `fc7`, `fc8`.
public enum AlexNet {
    public static func make(caffe: Bool, options o: ModelOptions = ModelOptions()) throws -> Model {
        let size = o.inputSize ?? (caffe ? (227, 227) : (224, 224))
        let inputShape = [size.height, size.width, 3]
        let widths = (caffe ? [96, 256, 384, 384, 256] : [64, 192, 384, 256, 256]).map(o.channels)
        let groups = caffe ? [1, 2, 1, 2, 2] : [1, 1, 1, 1, 1]
        // torchvision's AlexNet keeps PyTorch's default init throughout.
        let initializer: Initializer = caffe ? .glorotUniform : .pytorchDefault
        func conv(_ i: Int, _ inC: Int, _ k: Int, stride: Int = 1, pad: Int) -> Conv2D {
            Conv2D(name: "conv\(i + 1)", inputChannels: inC, filters: widths[i], kernelSize: (k, k),
                   strides: (stride, stride), padding: .symmetric(pad), groups: groups[i], activation: .relu, initializer: initializer)
        }
        func pool(_ n: Int) -> MaxPool2D { MaxPool2D(name: "pool\(n)", poolSize: (3, 3), strides: (2, 2), ceilMode: caffe) }
        func lrn(_ n: Int) -> LocalResponseNorm { LocalResponseNorm(name: "norm\(n)", size: 5, alpha: 1e-4, beta: 0.75, k: 1) }

        var layers: [Layer] = [conv(0, 3, 11, stride: 4, pad: caffe ? 0 : 2)]

        layers += caffe ? [lrn(1), pool(1)] : [pool(1)]
        layers.append(conv(1, widths[0], 5, pad: 2))
        layers += caffe ? [lrn(2), pool(2)] : [pool(2)]
        layers += [conv(2, widths[1], 3, pad: 1), conv(3, widths[2], 3, pad: 1), conv(4, widths[3], 3, pad: 1), pool(5)]
        let network = Sequential(name: caffe ? "alexnet_caffe" : "alexnet", layers)
        if o.includeTop {
            if !caffe { network.append(AdaptiveAvgPool2D(name: "avg_pool", outputSize: (6, 6))) }
            let features = try Model.flattenedFeatures(of: network, for: inputShape,
                                                       architecture: caffe ? "alexnet-caffe" : "alexnet", units: o.hidden, layer: "fc6")
            network.append(Flatten(name: "flatten"))
            // torchvision drops out before fc6 and fc7; Caffe after them. Both are identity at inference.
            if !caffe { network.append(Dropout(name: "drop6", rate: 0.5)) }
            network.append(Dense(name: "fc6", inputFeatures: features, units: o.hidden, activation: .relu, initializer: initializer))
            network.append(Dropout(name: caffe ? "drop6" : "drop7", rate: 0.5))
            network.append(Dense(name: "fc7", inputFeatures: o.hidden, units: o.hidden, activation: .relu, initializer: initializer))
            if caffe { network.append(Dropout(name: "drop7", rate: 0.5)) }
            // Caffe's softmax is a layer of its own (`prob`), so `fc8` stays the logits.
            network.append(Dense(name: "fc8", inputFeatures: o.hidden, units: o.classes,
                                 activation: caffe ? .linear : o.classifierActivation ?? .linear, initializer: initializer))
            if caffe, o.classifierActivation == .softmax { network.append(ActivationLayer(name: "prob", .softmax)) }
        } else if let pooling = o.pooling {
            network.append(pooling == .average ? GlobalAveragePooling2D(name: "avg_pool") : GlobalMaxPooling2D(name: "max_pool"))
        }
        return try Model(architecture: caffe ? "alexnet-caffe" : "alexnet", flavour: caffe ? .caffe : .torchvision,
                         network: network, inputShape: inputShape, options: o,
                         tapAliases: ["fc2": "fc7", "fc1": "fc6"], taps: ["pool5", "fc6", "fc7", "avg_pool", "max_pool"],
                         // Caffe resized to 256x256 and cropped 227; for square images the shorter-side resize is the same.
                         preprocessing: caffe ? "caffe" : "torch", resizeTransform: caffe ? "resize256-crop227" : "resize256-crop224")
    }
}
