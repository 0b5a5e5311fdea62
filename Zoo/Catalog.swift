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
                     statedHeadOutput: .penalties, taps: ["s4", "c5", "f6"], gradCAMLayer: "c3", referenceParameters: 60_000) {
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

    /// Keras's totals, then torchvision's trainable counts.
    static let vggParameters: [Flavour: [VGG.Depth: Int]] = [
        .keras: [.vgg16: 138_357_544, .vgg19: 143_667_240], .torchvision: [.vgg16: 138_365_992, .vgg19: 143_678_248],
    ]

    static let vggs: [Architecture] = [VGG.Variant.keras, .torchvision].flatMap { v in
        [VGG.Depth.vgg16, .vgg19].map { depth in
            Architecture(listing: v.listing, base: "vgg", depth: depth.rawValue, taps: ["block5_pool", "fc1", "fc2"],
                         tapAliases: ["fc6": "fc1", "fc7": "fc2"], gradCAMLayer: v.lastActivation(depth),
                         referenceParameters: vggParameters[v.listing.flavour]![depth]!) { VGG.parts(depth, v, options: $0) }
        }
    }

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

    /// torchvision's trainable counts, then Keras's totals (BatchNorm statistics included); Keras
    /// Applications has no ResNet-18 or -34.
    static let resnetParameters: [Flavour: [ResNet.Depth: Int]] = [
        .torchvision: [.resnet18: 11_689_512, .resnet34: 21_797_672, .resnet50: 25_557_032, .resnet101: 44_549_160,
                       .resnet152: 60_192_808],
        .keras: [.resnet50: 25_636_712, .resnet101: 44_707_176, .resnet152: 60_419_944],
    ]

    static let resnets: [Architecture] = {
        let variants = [ResNet.Variant.torchvision, .keras]
        return variants.flatMap { v in
            ResNet.Depth.allCases.compactMap { d -> Architecture? in
                guard let count = resnetParameters[v.listing.flavour]![d] else { return nil }
                let other = variants.map(\.listing).first { $0.flavour != v.listing.flavour && resnetParameters[$0.flavour]![d] != nil }
                return Architecture(
                    listing: v.listing, base: "resnet", depth: d.rawValue, taps: ResNet.taps(d),
                    tapAliases: ResNet.tapAliases(d, v.listing.flavour), pyramid: ResNet.pyramid(d),
                    gradCAMLayer: ResNet.taps(d).last!, otherFlavour: other.map { "resnet\(d.rawValue)" + $0.nameSuffix },
                    legacyNames: d == .resnet50 ? v.legacyResNet50Names : nil,
                    referenceParameters: count) { ResNet.parts(d, v, options: $0) }
            }
        }
    }()

    /// The architecture named `name`, or an error listing the names.
    public static func architecture(named name: String) throws -> Architecture {
        guard let a = all.first(where: { $0.name == name }) else {
            throw ModelError("unknown architecture '\(name)'; known: " + all.map(\.name).joined(separator: ", "))
        }
        return a
    }
}
