import Engine
import Foundation
import WeightIO

/// torchvision's (and timm's) state_dict keys for the zoo's networks: the one table that maps
/// them onto the zoo's layer names (tools/convert_torchvision.py keeps its own copy only as a
/// cross-check in tests), and the detection of the architecture from the keys and shapes.
///
/// Layouts are converted by `LayoutConversion` as each tensor is read: Conv2d (out, in, kh, kw)
/// -> HWIO, Linear (out, in) -> (in, out), and the first Linear after the flatten (AlexNet's
/// `classifier.1`, VGG's `classifier.0`, timm's 7x7 convolution `pre_logits.fc1`) with its inputs
/// reordered from torch's C, H, W flatten to the zoo's H, W, C. Shapes are read from the tensors,
/// never assumed, so narrow twins map too. Dropped, and only these: every `num_batches_tracked`
/// and GoogLeNet's auxiliary classifiers `aux1.*`, `aux2.*` (used in training only).
public enum TorchvisionKeys {
    enum Kind { case conv, bn, dense }

    /// One zoo layer: its name, kind and the key prefix of its tensors.
    struct Row {
        let layer: String
        let kind: Kind
        let prefix: String
        /// The feature map's (height, width) for the dense layer after the flatten.
        var flatten: (Int, Int)? = nil
    }

    static let resnetBlocks: [String: ([Int], Bool)] = [
        "resnet18": ([2, 2, 2, 2], false), "resnet34": ([3, 4, 6, 3], false), "resnet50": ([3, 4, 6, 3], true),
        "resnet101": ([3, 4, 23, 3], true), "resnet152": ([3, 8, 36, 3], true),
    ]
    static let vggBlocks: [String: [Int]] = ["vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]]
    static let inceptions = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
    static let googlenetBranches = [("branch1", "1x1"), ("branch2.0", "3x3_reduce"), ("branch2.1", "3x3"),
                                    ("branch3.0", "5x5_reduce"), ("branch3.1", "5x5"), ("branch4.1", "pool_proj")]
    static let batchNormKeys = ["weight", "bias", "running_mean", "running_var"]

    /// The architectures a torchvision or timm file can load into.
    public static var architectures: [String] {
        resnetBlocks.keys.sorted() + ["vgg16", "vgg19", "vgg16-bn", "vgg19-bn", "alexnet", "googlenet"]
    }

    /// The zoo layers of `architecture` in order, with their key prefixes (timm's VGG head when `timm`).
    static func table(_ architecture: String, timm: Bool = false) -> [Row]? {
        if let (blocks, bottleneck) = resnetBlocks[architecture] {
            var rows = [Row(layer: "conv1_conv", kind: .conv, prefix: "conv1"), Row(layer: "conv1_bn", kind: .bn, prefix: "bn1")]
            for (stage, count) in blocks.enumerated() {
                for block in 0..<count {
                    let theirs = "layer\(stage + 1).\(block)", ours = "conv\(stage + 2)_block\(block + 1)"
                    for j in 1...(bottleneck ? 3 : 2) {
                        rows.append(Row(layer: "\(ours)_\(j)_conv", kind: .conv, prefix: "\(theirs).conv\(j)"))
                        rows.append(Row(layer: "\(ours)_\(j)_bn", kind: .bn, prefix: "\(theirs).bn\(j)"))
                    }
                    // The shortcut is projected where the stride or width changes.
                    if block == 0 && (bottleneck || stage > 0) {
                        rows.append(Row(layer: "\(ours)_0_conv", kind: .conv, prefix: "\(theirs).downsample.0"))
                        rows.append(Row(layer: "\(ours)_0_bn", kind: .bn, prefix: "\(theirs).downsample.1"))
                    }
                }
            }
            return rows + [Row(layer: "predictions", kind: .dense, prefix: "fc")]
        }
        let plain = architecture.replacingOccurrences(of: "-bn", with: "")
        if let blocks = vggBlocks[plain] {
            let batchNorm = plain != architecture
            var rows: [Row] = []
            var index = 0
            for (b, count) in blocks.enumerated() {
                for c in 1...count {
                    rows.append(Row(layer: "block\(b + 1)_conv\(c)", kind: .conv, prefix: "features.\(index)"))
                    index += 1
                    if batchNorm {
                        rows.append(Row(layer: "block\(b + 1)_bn\(c)", kind: .bn, prefix: "features.\(index)"))
                        index += 1
                    }
                    index += 1  // ReLU
                }
                index += 1  // MaxPool2d
            }
            let head = timm ? ["pre_logits.fc1", "pre_logits.fc2", "head.fc"] : ["classifier.0", "classifier.3", "classifier.6"]
            return rows + [Row(layer: "fc1", kind: .dense, prefix: head[0], flatten: (7, 7)),
                           Row(layer: "fc2", kind: .dense, prefix: head[1]),
                           Row(layer: "predictions", kind: .dense, prefix: head[2])]
        }
        if architecture == "alexnet" {
            return zip(1...5, [0, 3, 6, 8, 10]).map { Row(layer: "conv\($0)", kind: .conv, prefix: "features.\($1)") }
                + [Row(layer: "fc6", kind: .dense, prefix: "classifier.1", flatten: (6, 6)),
                   Row(layer: "fc7", kind: .dense, prefix: "classifier.4"),
                   Row(layer: "fc8", kind: .dense, prefix: "classifier.6")]
        }
        if architecture == "googlenet" {
            func basic(_ name: String, _ prefix: String) -> [Row] {
                [Row(layer: "\(name)_conv", kind: .conv, prefix: "\(prefix).conv"), Row(layer: "\(name)_bn", kind: .bn, prefix: "\(prefix).bn")]
            }
            var rows = basic("conv1", "conv1") + basic("conv2", "conv2") + basic("conv3", "conv3")
            for x in inceptions {
                for (branch, suffix) in googlenetBranches { rows += basic("inception\(x)_\(suffix)", "inception\(x).\(branch)") }
            }
            return rows + [Row(layer: "predictions", kind: .dense, prefix: "fc")]
        }
        return nil
    }

    /// Keys the zoo does not load.
    static func isDropped(_ key: String, architecture: String) -> Bool {
        key.hasSuffix(".num_batches_tracked") || (architecture == "googlenet" && (key.hasPrefix("aux1.") || key.hasPrefix("aux2.")))
    }

    /// True when a flat file's keys are torchvision's or timm's (not ConvZoo's `<layer>/<weight>`).
    static func looksForeign(_ keys: [String: StoredTensor]) -> Bool {
        !keys.isEmpty && keys.keys.allSatisfy { !$0.contains("/") }
    }

    static func isTimm(_ keys: [String: StoredTensor]) -> Bool { keys["pre_logits.fc1.weight"] != nil }

    /// The architecture the keys and shapes say, when they say it unambiguously.
    static func detect(_ keys: [String: StoredTensor]) -> String? {
        if keys["inception3a.branch1.conv.weight"] != nil { return "googlenet" }
        if keys["layer1.0.conv1.weight"] != nil, keys["fc.weight"] != nil {
            let counts = (1...4).map { stage in (0...).prefix { keys["layer\(stage).\($0).conv1.weight"] != nil }.count }
            let bottleneck = keys["layer1.0.conv3.weight"] != nil
            return resnetBlocks.first { $0.value.0 == counts && $0.value.1 == bottleneck }?.key
        }
        let convolutions = keys.filter { $0.key.hasPrefix("features.") && $0.key.hasSuffix(".weight") && $0.value.storedShape.count == 4 }.count
        let batchNorm = keys.keys.contains { $0.hasPrefix("features.") && $0.hasSuffix(".running_mean") }
        switch convolutions {
        case 5 where keys["classifier.1.weight"] != nil && !batchNorm: return "alexnet"
        case 13: return batchNorm ? "vgg16-bn" : "vgg16"
        case 16: return batchNorm ? "vgg19-bn" : "vgg19"
        default: return nil
        }
    }

    /// What tools/convert_torchvision.py records for a torchvision or timm file: torchvision's
    /// evaluation transform, torch preprocessing, 224x224 input, BatchNorm's epsilon, and GoogLeNet's
    /// transform_input off (its constructor's default for a bare file).
    static func metadata(_ architecture: String, timm: Bool) -> ConvZooMetadata {
        ConvZooMetadata(architecture: architecture, variant: "torchvision", preprocessing: "torch",
                        resizeTransform: "resize256-crop224", inputSize: [224, 224, 3], version: ConvZooMetadata.currentVersion,
                        extra: ["bn_epsilon": architecture == "googlenet" ? "0.001" : "1e-05", "transform_input": "0",
                                mappedMark: timm ? "timm" : "torchvision"])
    }

    /// The extra fact a mapped file carries (the key table used), so it is never mapped twice.
    static let mappedMark = "key_table"

    /// A flat PyTorch or safetensors file with torchvision or timm keys as the zoo's layers, each
    /// tensor under its layout conversion, and torchvision's metadata; other files unchanged.
    /// `architecture` names the model; without it the keys decide, or the error asks for it.
    public static func mapped(_ file: WeightFile, architecture requested: String?) throws -> WeightFile {
        guard file.format.isForeign, file.format != .caffe, file.metadata.extra[mappedMark] == nil else { return file }
        let keys = file.tensorsByKey
        guard looksForeign(keys) else { return file }
        let timm = isTimm(keys)
        let recorded = file.metadata.architecture
        let architecture: String
        if let found = requested ?? recorded ?? detect(keys) {
            architecture = found
        } else {
            throw ModelError("\(file.name) holds torchvision-style keys (\(sample(keys))) of no architecture ConvZoo can "
                + "tell; name it (\(architectures.joined(separator: ", ")))", remedy: .nameArchitecture)
        }
        guard let rows = table(architecture, timm: timm) else {
            throw WeightFileError(file: file.name, path: "/", "holds torchvision-style keys, which do not map onto '\(architecture)'; "
                + "torchvision and timm files load into \(architectures.joined(separator: ", "))")
        }
        var unused = Set(keys.keys.filter { !isDropped($0, architecture: architecture) })
        var missing: [String] = []
        var layers: [StoredLayer] = []
        for row in rows {
            func take(_ suffix: String, _ conversion: LayoutConversion, as name: String) throws -> StoredWeight? {
                let key = "\(row.prefix).\(suffix)"
                guard let tensor = keys[key] else { missing.append(key); return nil }
                unused.remove(key)
                return StoredWeight(name: name, source: try tensor.converted(conversion))
            }
            var weights: [StoredWeight?] = []
            switch row.kind {
            case .conv:
                weights.append(try take("weight", .convolutionKernel, as: "kernel"))
                // torchvision's VGG and AlexNet convolutions have a bias, ResNet's and GoogLeNet's not.
                if keys["\(row.prefix).bias"] != nil { weights.append(try take("bias", .asStored, as: "bias")) }
            case .bn:
                for (theirs, ours) in zip(batchNormKeys, ["gamma", "beta", "moving_mean", "moving_variance"]) {
                    weights.append(try take(theirs, .asStored, as: ours))
                }
            case .dense:
                let kernel: LayoutConversion = row.flatten.map { .flattenedDenseKernel(height: $0.0, width: $0.1) } ?? .denseKernel
                weights.append(try take("weight", kernel, as: "kernel"))
                weights.append(try take("bias", .asStored, as: "bias"))
            }
            layers.append(StoredLayer(name: row.layer, path: row.prefix, weights: weights.compactMap { $0 }))
        }
        guard missing.isEmpty else {
            let message = "lacks \(missing.count) key(s) that \(architecture) needs: " + listed(missing)
            // Detected from the keys, not named: another architecture may fit.
            guard requested == nil else { throw WeightFileError(file: file.name, path: "/", message) }
            throw ModelError("\(file.name): \(message) (is it another architecture? name it)", remedy: .nameArchitecture)
        }
        guard unused.isEmpty else {
            throw WeightFileError(file: file.name, path: "/", "has \(unused.count) key(s) that \(architecture) does not use: "
                + listed(unused.sorted()))
        }
        var attributes = file.attributes
        attributes.merge(metadata(architecture, timm: timm).attributes) { own, _ in own }
        return WeightFile(name: file.name, format: file.format, attributes: attributes, layers: layers, limits: file.limits,
                          owner: file)
    }

    /// `model`'s weights under torchvision's state_dict keys, each to be stored in PyTorch's layout
    /// (the inverse of `mapped`): what a safetensors file for torchvision holds. Rows whose layer the
    /// model lacks (its top, without one) are left out; a weighted layer no row names is an error,
    /// as are BatchNorm layers without gamma or beta (torchvision's always have them).
    static func safetensorsEntries(of network: Layer, architecture: String, file: String) throws -> [SafetensorsEntry] {
        guard let rows = table(architecture) else {
            throw WeightFileError(file: file, path: "/", "'\(architecture)' has no torchvision key table; torchvision keys "
                + "exist for \(architectures.joined(separator: ", "))")
        }
        var entries: [SafetensorsEntry] = []
        var named = Set<ObjectIdentifier>()
        for row in rows {
            guard let layer = network.layer(named: row.layer), !layer.weights.isEmpty else { continue }
            named.insert(ObjectIdentifier(layer))
            let weights = Dictionary(layer.weights.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            var pairs: [(ours: String, theirs: String, layout: LayoutConversion)]
            switch row.kind {
            case .conv: pairs = [("kernel", "weight", .convolutionKernel), ("bias", "bias", .asStored)]
            case .bn: pairs = zip(["gamma", "beta", "moving_mean", "moving_variance"], batchNormKeys).map { ($0, $1, .asStored) }
            case .dense:
                let kernel: LayoutConversion = row.flatten.map { .flattenedDenseKernel(height: $0.0, width: $0.1) } ?? .denseKernel
                pairs = [("kernel", "weight", kernel), ("bias", "bias", .asStored)]
            }
            if row.kind == .conv && weights["bias"] == nil { pairs.removeLast() }
            for (ours, theirs, layout) in pairs {
                guard let value = weights[ours] else {
                    throw WeightFileError(file: file, path: row.layer, "has no '\(ours)'; torchvision's '\(row.prefix).\(theirs)' needs it")
                }
                entries.append(SafetensorsEntry(key: "\(row.prefix).\(theirs)", value: value, layout: layout))
            }
        }
        if let stray = network.allLayers.first(where: { !$0.weights.isEmpty && !named.contains(ObjectIdentifier($0)) }) {
            throw WeightFileError(file: file, path: stray.name, "is not a layer of torchvision's \(architecture), so it has no "
                + "torchvision key; save Keras names instead (.h5, .weights.h5)")
        }
        return entries
    }

    static func sample(_ keys: [String: StoredTensor]) -> String { listed(keys.keys.sorted(), 4) }

    static func listed(_ keys: [String], _ limit: Int = 12) -> String {
        keys.prefix(limit).joined(separator: ", ") + (keys.count > limit ? ", ... (\(keys.count))" : "")
    }
}

extension WeightFile {
    /// Opens any weight file ConvZoo reads, with a torchvision or timm file mapped onto the zoo's
    /// layers (`TorchvisionKeys.mapped`) for `architecture` or the one its keys say.
    public static func openMapped(_ url: URL, architecture: String? = nil) throws -> WeightFile {
        try TorchvisionKeys.mapped(open(url), architecture: architecture)
    }
}
