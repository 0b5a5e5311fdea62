import Engine

/// One architecture of the zoo, as `zoo list` shows it.
public struct Architecture: Sendable {
    /// The `zoo` name, e.g. `resnet50-keras`.
    public let name: String
    /// The reference it matches exactly.
    public let reference: String
    public let defaultInput: [Int]
    let builder: @Sendable (ModelOptions) throws -> Model

    /// Builds the network with `options` (seeded initial weights).
    public func make(_ options: ModelOptions = ModelOptions()) throws -> Model {
        try options.validate(architecture: name, inputSides: inputSideRange)
        return try builder(options)
    }

    /// Input heights and widths up to eight times the default side: beyond, no image task uses the
    /// network and flattening tops grow past any memory.
    public var inputSideRange: ClosedRange<Int> { 1...(8 * max(defaultInput[0], defaultInput[1])) }
}

/// Every architecture of the zoo.
public enum Catalog {
    public static let all: [Architecture] = fixed + resnets

    static let fixed: [Architecture] = [
        Architecture(name: "lenet5", reference: "LeNet-5 (LeCun et al. 1998), modern form", defaultInput: [32, 32, 1]) {
            try LeNet5.make(.modern(), options: $0) },
        Architecture(name: "lenet5-paper", reference: "LeNet-5 (LeCun et al. 1998), the paper's form",
                     defaultInput: [32, 32, 1]) { try LeNet5.make(.paper, options: $0) },
        Architecture(name: "alexnet", reference: "torchvision AlexNet", defaultInput: [224, 224, 3]) {
            try AlexNet.make(caffe: false, options: $0) },
        Architecture(name: "alexnet-caffe", reference: "Caffe bvlc_alexnet (two groups, LRN)", defaultInput: [227, 227, 3]) {
            try AlexNet.make(caffe: true, options: $0) },
        Architecture(name: "vgg16", reference: "Keras Applications VGG16", defaultInput: [224, 224, 3]) {
            try VGG.make(.vgg16, batchNorm: false, options: $0) },
        Architecture(name: "vgg19", reference: "Keras Applications VGG19", defaultInput: [224, 224, 3]) {
            try VGG.make(.vgg19, batchNorm: false, options: $0) },
        Architecture(name: "vgg16-bn", reference: "torchvision vgg16_bn", defaultInput: [224, 224, 3]) {
            try VGG.make(.vgg16, batchNorm: true, options: $0) },
        Architecture(name: "vgg19-bn", reference: "torchvision vgg19_bn", defaultInput: [224, 224, 3]) {
            try VGG.make(.vgg19, batchNorm: true, options: $0) },
        Architecture(name: "googlenet", reference: "torchvision GoogLeNet", defaultInput: [224, 224, 3]) {
            try GoogLeNet.make(caffe: false, options: $0) },
        Architecture(name: "googlenet-caffe", reference: "Caffe bvlc_googlenet (Inception v1 paper)",
                     defaultInput: [224, 224, 3]) { try GoogLeNet.make(caffe: true, options: $0) },
    ]

    static let resnets: [Architecture] = {
        var list: [Architecture] = []
        for d in ResNet.Depth.allCases {
            list.append(Architecture(name: "resnet\(d.rawValue)", reference: "torchvision resnet\(d.rawValue) (v1.5)",
                                     defaultInput: [224, 224, 3]) { try ResNet.make(d, keras: false, options: $0) })
        }
        for d in ResNet.Depth.allCases where d.usesBottleneck {
            list.append(Architecture(name: "resnet\(d.rawValue)-keras", reference: "Keras Applications ResNet\(d.rawValue) (v1)",
                                     defaultInput: [224, 224, 3]) { try ResNet.make(d, keras: true, options: $0) })
        }
        return list
    }()

    /// The architecture named `name`, or an error listing the names.
    public static func architecture(named name: String) throws -> Architecture {
        guard let a = all.first(where: { $0.name == name }) else {
            throw ModelError("unknown architecture '\(name)'; known: " + all.map(\.name).joined(separator: ", "))
        }
        return a
    }
}
