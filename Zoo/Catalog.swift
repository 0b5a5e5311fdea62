import Engine

/// Every architecture of the zoo, one description each. Adding a network: a family file with a
/// `parts` builder, and its entries here (see CONTRIBUTING.md).
public enum Catalog {
    public static let all: [Architecture] = lenets + alexnets + vggs + googlenets + resnets

    static let lenets: [Architecture] = [
        Architecture(name: "lenet5", reference: "LeNet-5 (LeCun et al. 1998), modern form", flavour: .keras,
                     defaultInput: [32, 32, 1], defaultClasses: 10, preprocessing: .none, resize: .kerasDirect,
                     taps: ["s4", "c5", "f6"], gradCAMLayer: "c3", referenceParameters: 61_706) {
            try LeNet5.parts(.modern(), options: $0) },
        Architecture(name: "lenet5-paper", reference: "LeNet-5 (LeCun et al. 1998), the paper's form", flavour: .paper,
                     defaultInput: [32, 32, 1], defaultClasses: 10, preprocessing: .none, resize: .kerasDirect,
                     headOutput: .penalties, taps: ["s4", "c5", "f6"], gradCAMLayer: "c3", referenceParameters: 60_000) {
            try LeNet5.parts(.paper, options: $0) },
    ]

    static let alexnets: [Architecture] = [
        Architecture(name: "alexnet", reference: "torchvision AlexNet", flavour: .torchvision, preprocessing: .torch,
                     resize: .resize256Crop224, taps: ["pool5", "fc6", "fc7"], tapAliases: ["fc2": "fc7", "fc1": "fc6"],
                     gradCAMLayer: "conv5", otherFlavour: "alexnet-caffe", referenceParameters: 61_100_840) {
            AlexNet.parts(.torchvision, options: $0) },
        // Caffe resized to 256x256 and cropped 227; for square images the shorter-side resize is the same.
        Architecture(name: "alexnet-caffe", reference: "Caffe bvlc_alexnet (two groups, LRN)", flavour: .caffe,
                     defaultInput: [227, 227, 3], preprocessing: .caffe, resize: .resizeThenCenterCrop(resize: 256, crop: 227),
                     taps: ["pool5", "fc6", "fc7"], tapAliases: ["fc2": "fc7", "fc1": "fc6"], gradCAMLayer: "conv5",
                     otherFlavour: "alexnet", referenceParameters: 60_965_224) {
            AlexNet.parts(.caffe, options: $0) },
    ]

    static let vggs: [Architecture] = {
        func vgg(_ depth: VGG.Depth, _ flavour: Flavour) -> Architecture {
            let name = "vgg\(depth.rawValue)", convs = depth.convolutionsPerBlock.last!
            let keras = flavour == .keras
            let count = depth == .vgg16 ? (keras ? 138_357_544 : 138_365_992) : (keras ? 143_667_240 : 143_678_248)
            return Architecture(
                name: keras ? name : name + "-bn",
                reference: keras ? "Keras Applications VGG\(depth.rawValue)" : "torchvision \(name)_bn", flavour: flavour,
                preprocessing: keras ? .caffe : .torch, resize: keras ? .kerasDirect : .resize256Crop224,
                taps: ["block5_pool", "fc1", "fc2"], tapAliases: ["fc6": "fc1", "fc7": "fc2"],
                // With BatchNorm the ReLU follows the convolution's BatchNorm: the block's last activation is the map.
                gradCAMLayer: keras ? "block5_conv\(convs)" : "block5_relu\(convs)",
                referenceParameters: count) { VGG.parts(depth, flavour, options: $0) }
        }
        return [vgg(.vgg16, .keras), vgg(.vgg19, .keras), vgg(.vgg16, .torchvision), vgg(.vgg19, .torchvision)]
    }()

    static let googlenets: [Architecture] = [
        Architecture(name: "googlenet", reference: "torchvision GoogLeNet", flavour: .torchvision, preprocessing: .torch,
                     resize: .resize256Crop224, taps: [], tapAliases: ["pool5": "avg_pool"], gradCAMLayer: "inception5b",
                     otherFlavour: "googlenet-caffe", referenceParameters: 6_624_904) {
            GoogLeNet.parts(.torchvision, options: $0) },
        Architecture(name: "googlenet-caffe", reference: "Caffe bvlc_googlenet (Inception v1 paper)", flavour: .caffe,
                     preprocessing: .caffe, resize: .resize256Crop224, taps: [], tapAliases: ["pool5": "pool5_7x7_s1"],
                     gradCAMLayer: "inception_5b", otherFlavour: "googlenet", referenceParameters: 6_998_552) {
            GoogLeNet.parts(.caffe, options: $0) },
    ]

    /// torchvision's trainable counts, then Keras's totals (BatchNorm statistics included).
    static let resnetParameters: [ResNet.Depth: (torchvision: Int, keras: Int?)] = [
        .resnet18: (11_689_512, nil), .resnet34: (21_797_672, nil), .resnet50: (25_557_032, 25_636_712),
        .resnet101: (44_549_160, 44_707_176), .resnet152: (60_192_808, 60_419_944),
    ]

    static let resnets: [Architecture] = {
        func resnet(_ d: ResNet.Depth, _ flavour: Flavour) -> Architecture {
            let keras = flavour == .keras, name = "resnet\(d.rawValue)"
            let count = resnetParameters[d]!
            return Architecture(
                name: keras ? name + "-keras" : name,
                reference: keras ? "Keras Applications ResNet\(d.rawValue) (v1)" : "torchvision \(name) (v1.5)",
                flavour: flavour, preprocessing: keras ? .caffe : .torch, resize: keras ? .kerasDirect : .resize256Crop224,
                taps: ResNet.taps(d), tapAliases: ResNet.tapAliases(d, flavour), pyramid: ResNet.pyramid(d), gradCAMLayer: ResNet.taps(d).last!,
                otherFlavour: count.keras == nil ? nil : keras ? name : name + "-keras",
                legacyNames: keras && d == .resnet50 ? KerasLegacyResNetNames.names : nil,
                referenceParameters: keras ? count.keras! : count.torchvision) { ResNet.parts(d, flavour, options: $0) }
        }
        return ResNet.Depth.allCases.map { resnet($0, .torchvision) }
            + ResNet.Depth.allCases.filter(\.usesBottleneck).map { resnet($0, .keras) }
    }()

    /// The architecture named `name`, or an error listing the names.
    public static func architecture(named name: String) throws -> Architecture {
        guard let a = all.first(where: { $0.name == name }) else {
            throw ModelError("unknown architecture '\(name)'; known: " + all.map(\.name).joined(separator: ", "))
        }
        return a
    }
}
