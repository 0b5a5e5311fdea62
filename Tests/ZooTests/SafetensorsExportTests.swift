import Foundation
import TestSupport
import XCTest
@testable import Engine
@testable import WeightIO
@testable import Zoo

/// safetensors written by ConvZoo: every architecture twin saved and read back, torchvision's
/// keys, layouts and tensors for the torchvision flavour (checked against the files torch.save
/// and the safetensors package wrote), Keras's `<layer>/<weight>` for the others, the metadata.
final class SafetensorsExportTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory(self) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Each twin, loaded from its reference file, saved as safetensors and loaded into a fresh
    /// model, predicts bit for bit what it did, which is its reference framework's output.
    func testEveryTwinRoundTrips() throws {
        let twins = try TwinParityTests.twins().compactMap { dir, spec in spec.files.first { $0.hasSuffix(".h5") }.map { (dir, spec, $0) } }
        XCTAssertGreaterThanOrEqual(twins.count, 17)
        for (dir, spec, reference) in twins {
            let name = dir.lastPathComponent
            let original = try TwinParityTests.model(spec)
            try original.loadWeights(from: dir.appendingPathComponent(reference))
            let url = directory.appendingPathComponent("\(name).safetensors")
            try original.saveWeights(to: url, format: .safetensors)

            let file = try WeightFile.open(url)
            XCTAssertEqual(file.format, .safetensors, name)
            let keys = Array(file.tensorsByKey.keys)
            if original.flavour == .torchvision {
                XCTAssertTrue(keys.allSatisfy { !$0.contains("/") && $0.contains(".") }, "\(name): \(keys.prefix(3))")
            } else {
                XCTAssertTrue(keys.allSatisfy { $0.contains("/") }, "\(name): \(keys.prefix(3))")
            }
            XCTAssertEqual(file.metadata.architecture, spec.architecture, name)

            let copy = try TwinParityTests.model(spec)
            let report = try copy.loadWeights(from: url)
            XCTAssertTrue(report.isComplete && report.inFileNotInModel.isEmpty, "\(name): \(report)")
            let x = try NPY.read(dir.appendingPathComponent("input.npy"))
            let y = try copy.predict(x)
            XCTAssertEqual(y.scalars, try original.predict(x).scalars, "\(name): the copy predicts otherwise")
            assertClose(y, try NPY.read(dir.appendingPathComponent("output.npy")), "\(name) output")
        }
    }

    /// The torchvision twins' files hold exactly the keys, shapes and values of the state_dicts
    /// that torch.save and safetensors.torch.save_file wrote (num_batches_tracked aside: PyTorch
    /// fills it in when it is missing): conv, BatchNorm, dense and the dense after the flatten.
    func testTorchvisionKeysShapesAndValuesAreTorchvisions() throws {
        for (reference, twin) in [("resnet50.pth", "resnet50"), ("googlenet.safetensors", "googlenet"),
                                  ("alexnet-checkpoint.pth", "alexnet")] {
            let (dir, spec) = try ForeignWeightTests.twin(twin)
            let model = try ForeignWeightTests.model(spec)
            try model.loadWeights(from: dir.appendingPathComponent("weights.h5"))
            let url = directory.appendingPathComponent("\(twin).safetensors")
            try model.saveWeights(to: url, format: .safetensors)

            let ours = try WeightFile.open(url).tensorsByKey
            let theirs = try WeightFile.open(ForeignWeightTests.foreign.appendingPathComponent(reference)).tensorsByKey
                .filter { !$0.key.hasSuffix(".num_batches_tracked") }
            XCTAssertEqual(Set(ours.keys), Set(theirs.keys), twin)
            for (key, tensor) in theirs {
                guard let mine = ours[key] else { continue }
                XCTAssertEqual(mine.storedShape, tensor.storedShape, "\(twin) \(key)")
                XCTAssertEqual(try StoredWeight(name: key, source: mine).read().scalars,
                               try StoredWeight(name: key, source: tensor).read().scalars, "\(twin) \(key)")
            }
        }
    }

    func testMetadataIsKeptInTheHeader() throws {
        var o = ModelOptions(classes: 3, inputSize: (64, 64))
        o.channelDivisor = 16
        o.transformInput = true
        let model = try Catalog.architecture(named: "googlenet").make(o)
        model.classNames = ["cat", "dog", "[bird]"]
        let url = directory.appendingPathComponent("g.safetensors")
        try model.saveWeights(to: url, format: .safetensors)
        let m = try WeightFile.open(url).metadata
        XCTAssertEqual(m.architecture, "googlenet")
        XCTAssertEqual(m.variant, "torchvision")
        XCTAssertEqual(m.classNames, ["cat", "dog", "[bird]"])
        XCTAssertEqual(m.preprocessing, "torch")
        XCTAssertEqual(m.resizeTransform, model.resizeTransform.description)
        XCTAssertEqual(m.inputSize, [64, 64, 3])
        XCTAssertEqual(m.extra["transform_input"], "1")
        // The recorded transform_input is taken back: a fresh build gets it on.
        let (copy, _) = try Model.load(from: url, options: { var p = ModelOptions(); p.channelDivisor = 16; return p }())
        XCTAssertTrue(copy.options.transformInput)
        XCTAssertEqual(copy.classNames, ["cat", "dog", "[bird]"])
    }

    /// The data goes to the file in slices as it is permuted, never as one image of the file, and
    /// the header is what the safetensors format says: an 8-byte length, JSON padded to 8 bytes.
    func testDataIsStreamedAndTheHeaderIsAligned() throws {
        var o = ModelOptions(classes: 10, inputSize: (32, 32))
        o.channelDivisor = 32
        let model = try Catalog.architecture(named: "resnet50").make(o)
        let url = directory.appendingPathComponent("r.safetensors")
        var slices = 0
        try model.saveWeights(to: url, format: .safetensors, hooks: SaveHooks(chunkSize: 4096) { _ in slices += 1 })
        let bytes = [UInt8](try Data(contentsOf: url))
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + length) % 8, 0)
        XCTAssertEqual(bytes.count, 8 + length + model.totalParameters * 4)
        XCTAssertGreaterThan(slices, bytes.count / 4096)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["r.safetensors"])
    }

    /// A save that fails leaves neither a file nor a temporary behind.
    func testFailedSaveLeavesNothing() throws {
        let url = directory.appendingPathComponent("x.safetensors")
        let bad = SafetensorsEntry(key: "k", value: Tensor(zeros: [2, 3]), layout: .convolutionKernel)
        XCTAssertThrowsError(try SafetensorsWriter.write([bad], metadata: [:], to: url)) { error in
            XCTAssertEqual((error as? WeightFileError)?.file, url.path)
            XCTAssertEqual((error as? WeightFileError)?.path, "k")
        }
        let twice = [SafetensorsEntry(key: "k", value: Tensor(zeros: [2])), SafetensorsEntry(key: "k", value: Tensor(zeros: [2]))]
        XCTAssertThrowsError(try SafetensorsWriter.write(twice, metadata: [:], to: url))
        XCTAssertThrowsError(try SafetensorsWriter.write([], metadata: [:], to: directory.appendingPathComponent("no/such/dir.safetensors")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    /// A layer that torchvision's model does not have (a new head) has no torchvision key.
    func testLayerOutsideTheKeyTableIsNamed() throws {
        var o = ModelOptions(classes: 10, inputSize: (32, 32))
        o.channelDivisor = 32
        let model = try Catalog.architecture(named: "resnet18").make(o)
        XCTAssertThrowsError(try TorchvisionKeys.safetensorsEntries(of: Sequential(name: "m", [model.network, Dense(name: "head", inputFeatures: 10, units: 2)]),
                                                                     architecture: "resnet18", file: "f")) { error in
            XCTAssertTrue("\(error)".contains("head") && "\(error)".contains("no torchvision key"), "\(error)")
        }
    }
}
