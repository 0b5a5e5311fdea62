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

    static func parts(_ flavour: Flavour, options o: ModelOptions) -> Parts {
        let caffe = flavour == .caffe
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
        return Parts(trunk: layers) { features, activation in
            // torchvision pools adaptively to 6x6 first; Caffe's 227x227 input gives 6x6 by itself.
            var top: [Layer] = caffe ? [] : [AdaptiveAvgPool2D(name: "avg_pool", outputSize: (6, 6))]
            let flat = try Model.flattenedWidth(caffe ? features : [6, 6, features[2]], units: o.hidden, layer: "fc6")
            top.append(Flatten(name: "flatten"))
            // torchvision drops out before fc6 and fc7; Caffe after them. Both are identity at inference.
            if !caffe { top.append(Dropout(name: "drop6", rate: 0.5)) }
            top.append(Dense(name: "fc6", inputFeatures: flat, units: o.hidden, activation: .relu, initializer: initializer))
            top.append(Dropout(name: caffe ? "drop6" : "drop7", rate: 0.5))
            top.append(Dense(name: "fc7", inputFeatures: o.hidden, units: o.hidden, activation: .relu, initializer: initializer))
            if caffe { top.append(Dropout(name: "drop7", rate: 0.5)) }
            return top + classifier("fc8", inputFeatures: o.hidden, classes: o.classes, activation: activation,
                                    caffe: caffe, initializer: initializer)
        }
    }
}

/// The scoring layer; Caffe's softmax is a layer of its own (`prob`), so its scoring layer stays the logits.
func classifier(_ name: String, inputFeatures: Int, classes: Int, activation: Activation, caffe: Bool,
                initializer: Initializer) -> [Layer] {
    let scores = Dense(name: name, inputFeatures: inputFeatures, units: classes, activation: caffe ? .linear : activation,
                       initializer: initializer)
    return caffe && activation == .softmax ? [scores, ActivationLayer(name: "prob", .softmax)] : [scores]
}
