import XCTest
@testable import Engine
@testable import WeightIO
@testable import Zoo

/// Saving and loading whole zoo models (narrow twins: same topology, fewer channels).
final class ModelFileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-model-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func twin(_ name: String, seed: UInt64) throws -> Model {
        RandomGenerator.global.reseed(seed)
        var o = ModelOptions(classes: 7, inputSize: name.hasPrefix("alexnet") || name.hasPrefix("googlenet") ? (64, 64) : (32, 32))
        // LeNet-5 is small already, and its paper form's connection table fixes its widths.
        o.channelDivisor = name.hasPrefix("lenet") ? 1 : 16
        o.hiddenUnits = 16
        return try Catalog.architecture(named: name).make(o)
    }

    /// Every weight (BatchNorm statistics included) comes back bit for bit, in both formats.
    func testRoundTripIsBitExactForEveryArchitecture() throws {
        for arch in Catalog.all {
            for format in [SaveFormat.kerasH5, .keras3] {
                let original = try twin(arch.name, seed: 1)
                for p in original.network.allWeights where p.name == "moving_variance" {
                    p.value = Tensor(shape: p.shape, repeating: 1.5)   // state must travel too
                }
                let url = directory.appendingPathComponent("\(arch.name)" + (format == .keras3 ? ".weights.h5" : ".h5"))
                try original.saveWeights(to: url, format: format)
                let copy = try twin(arch.name, seed: 2)
                let report = try copy.loadWeights(from: url)
                XCTAssertTrue(report.isComplete && report.inFileNotInModel.isEmpty, "\(arch.name): \(report)")
                for (a, b) in zip(original.network.allWeights, copy.network.allWeights) {
                    XCTAssertEqual(a.value, b.value, "\(arch.name) \(format) \(a.name)")
                }
            }
        }
    }

    func testLegacyFileListsKerasResNetLayersInKerasOrder() throws {
        let m = try twin("resnet50-keras", seed: 1)
        let url = directory.appendingPathComponent("r.h5")
        try m.saveWeights(to: url)
        let names = try WeightFile.open(url).layers.map(\.name)
        XCTAssertEqual(names, m.weightedLayers.map(\.name))
        let i = try XCTUnwrap(names.firstIndex(of: "conv2_block1_2_bn"))
        XCTAssertEqual(names[i + 1], "conv2_block1_0_conv")
        XCTAssertEqual(names[i + 2], "conv2_block1_3_conv")
    }

    func testOtherFlavourFileNamesTheArchitectureItFits() throws {
        let torchvision = try twin("resnet50", seed: 1)
        let url = directory.appendingPathComponent("tv.h5")
        try torchvision.saveWeights(to: url)
        XCTAssertThrowsError(try twin("resnet50-keras", seed: 2).loadWeights(from: url)) { e in
            XCTAssertEqual((e as? ModelError)?.remedy, .useArchitecture("resnet50"), "\(e)")
            XCTAssertTrue("\(e)".contains("holds weights for 'resnet50'") && !"\(e)".contains("--"), "\(e)")
        }
        // Without ConvZoo's metadata (a plain Keras file), the shapes tell the flavours apart.
        let keras = try twin("resnet50-keras", seed: 3)
        let plain = directory.appendingPathComponent("plain.h5")
        try keras.network.saveWeights(to: plain)
        XCTAssertThrowsError(try twin("resnet50", seed: 4).loadWeights(from: plain)) { e in
            XCTAssertEqual((e as? ModelError)?.remedy, .useArchitecture("resnet50-keras"), "\(e)")
            XCTAssertTrue("\(e)".contains("fits 'resnet50-keras'") && !"\(e)".contains("--"), "\(e)")
        }
    }

    func testClassNamesTravelWithTheFile() throws {
        let m = try twin("vgg16", seed: 1)
        m.classNames = ["a", "b", "c", "d", "e", "f", "g"]
        let url = directory.appendingPathComponent("v.h5")
        try m.saveWeights(to: url)
        let copy = try twin("vgg16", seed: 2)
        try copy.loadWeights(from: url)
        XCTAssertEqual(copy.classNames, m.classNames)
    }
}

/// The original Keras ResNet50 file names its layers `conv1`, `bn_conv1`, `res2a_branch2a`, ...
final class KerasLegacyResNetFileTests: XCTestCase {
    func testOldNamesMapToTodaysNames() {
        XCTAssertEqual(KerasLegacyResNetNames.modernName("res2a_branch2a"), "conv2_block1_1_conv")
        XCTAssertEqual(KerasLegacyResNetNames.modernName("bn3d_branch2c"), "conv3_block4_3_bn")
        XCTAssertEqual(KerasLegacyResNetNames.modernName("res4f_branch2b"), "conv4_block6_2_conv")
        XCTAssertEqual(KerasLegacyResNetNames.modernName("bn5a_branch1"), "conv5_block1_0_bn")
        XCTAssertEqual(KerasLegacyResNetNames.modernName("bn_conv1"), "conv1_bn")
        XCTAssertEqual(KerasLegacyResNetNames.modernName("fc1000"), "predictions")
    }

    /// A file laid out as the old one (old names, old order: 2a, 2b, 2c, 1) loads every weight
    /// where it belongs; by position the shortcut and third convolutions would trade places.
    func testOldFileLoadsByNameNotSwapped() throws {
        var o = ModelOptions(classes: 5, inputSize: (32, 32))
        o.channelDivisor = 16
        RandomGenerator.global.reseed(1)
        let original = try Catalog.architecture(named: "resnet50-keras").make(o)
        let old = ["conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"]
        func oldName(_ modern: String) -> String {
            if let n = old[modern] { return n }
            // conv{S}_block{i}_{u}_{conv|bn}
            let parts = modern.split(separator: "_")
            let stage = parts[0].dropFirst(4), block = Int(parts[1].dropFirst(5))!
            let branch = ["1": "branch2a", "2": "branch2b", "3": "branch2c", "0": "branch1"][String(parts[2])]!
            let letter = String(UnicodeScalar(96 + block)!)
            return (parts[3] == "bn" ? "bn" : "res") + "\(stage)\(letter)_\(branch)"
        }
        // The old file's order: today's, but a projecting block lists 2c before 1 (today: _0 before _3).
        var order = original.weightedLayers.map(\.name)
        var i = 0
        while i + 1 < order.count {
            if order[i].hasSuffix("_0_conv") || order[i].hasSuffix("_0_bn") { order.swapAt(i, i + 1); i += 2 } else { i += 1 }
        }
        let layers = try order.map { name -> LayerWeights in
            let l = try XCTUnwrap(original.network.layer(named: name))
            return LayerWeights(name: oldName(name), weights: l.weights.map { NamedTensor(name: $0.name, value: $0.value) })
        }
        XCTAssertEqual(Array(layers.map(\.name)[2..<10]), ["res2a_branch2a", "bn2a_branch2a", "res2a_branch2b", "bn2a_branch2b",
                                                          "res2a_branch2c", "res2a_branch1", "bn2a_branch2c", "bn2a_branch1"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("old-resnet50-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        try WeightWriter.write(WeightArchive(layers: layers), to: url, format: .kerasH5)

        RandomGenerator.global.reseed(2)
        let copy = try Catalog.architecture(named: "resnet50-keras").make(o)
        let report = try copy.loadWeights(from: url)
        XCTAssertEqual(report.matching, .name, "\(report)")
        for (a, b) in zip(original.network.allWeights, copy.network.allWeights) { XCTAssertEqual(a.value, b.value) }

        // The trap the names avoid: by position, block 1's third convolution (2c) would land in the
        // shortcut (_0_conv), whose kernel has the very same shape, and no check would notice.
        let position = try XCTUnwrap(layers.firstIndex { $0.name == "res2a_branch2c" })
        XCTAssertEqual(copy.weightedLayers[position].name, "conv2_block1_0_conv")
        XCTAssertEqual(layers[position].weights[0].value.shape, copy.weightedLayers[position].weights[0].shape)
    }
}
