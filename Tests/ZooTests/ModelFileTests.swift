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
            XCTAssertTrue("\(e)".contains("resnet50") && "\(e)".contains("--model resnet50"), "\(e)")
        }
        // Without ConvZoo's metadata (a plain Keras file), the shapes tell the flavours apart.
        let keras = try twin("resnet50-keras", seed: 3)
        let plain = directory.appendingPathComponent("plain.h5")
        try keras.network.saveWeights(to: plain)
        XCTAssertThrowsError(try twin("resnet50", seed: 4).loadWeights(from: plain)) { e in
            XCTAssertTrue("\(e)".contains("use --model resnet50-keras"), "\(e)")
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
