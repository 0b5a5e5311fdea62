import Foundation
import TestSupport
import XCTest
@testable import Engine
@testable import WeightIO
@testable import Zoo

/// PyTorch and safetensors files of the torchvision twins, written by torch.save (zip and legacy)
/// and the safetensors package (tools/make_foreign_fixtures.py), through the zoo's torchvision key
/// table: the architecture is detected, the tensors equal tools/convert_torchvision.py's, and the
/// outputs are PyTorch's.
final class ForeignWeightTests: XCTestCase {
    static let fixtures = fixtureURL("")
    static let foreign = fixtureURL("foreign")

    /// file -> (twin directory, architecture the keys say, format)
    static let files: [(String, String, WeightFormat)] = [
        ("resnet50.pth", "resnet50", .pytorchZip),
        ("resnet34-legacy.pth", "resnet34", .pytorchLegacy),
        ("resnet50-tar.pth", "resnet50", .pytorchTar),
        ("alexnet-checkpoint.pth", "alexnet", .pytorchZip),
        ("googlenet.safetensors", "googlenet", .safetensors),
        ("vgg16-bn-timm.safetensors", "vgg16-bn", .safetensors),
    ]

    static func twin(_ name: String) throws -> (URL, TwinSpec) {
        let dir = Self.fixtures.appendingPathComponent("zoo/\(name)")
        return (dir, try TwinSpec.read(dir))
    }

    /// The twin's model, shaped as its spec says (logits out: these are torchvision twins).
    static func model(_ spec: TwinSpec) throws -> Model {
        var o = ModelOptions(classes: spec.classes, inputSize: (spec.input_shape[1], spec.input_shape[2]))
        o.channelDivisor = spec.channel_divisor ?? 1
        o.hiddenUnits = spec.hidden_units
        o.classifierActivation = .linear
        return try Catalog.architecture(named: spec.architecture).make(o)
    }

    func testArchitectureIsDetectedFromKeysAndShapes() throws {
        for (file, architecture, format) in Self.files {
            let mapped = try WeightFile.openMapped(Self.foreign.appendingPathComponent(file))
            XCTAssertEqual(mapped.format, format, file)
            XCTAssertEqual(mapped.metadata.architecture, architecture, file)
            XCTAssertEqual(mapped.metadata.variant, "torchvision", file)
            XCTAssertEqual(mapped.metadata.preprocessing, "torch", file)
            XCTAssertEqual(mapped.metadata.resizeTransform, "resize256-crop224", file)
            XCTAssertEqual(mapped.metadata.extra["transform_input"], "0", file)
        }
    }

    /// The Swift key table and layout conversions give exactly the tensors the Python converter wrote.
    func testMappedTensorsEqualTheConvertersFile() throws {
        for (file, architecture, _) in Self.files {
            let mapped = try WeightFile.openMapped(Self.foreign.appendingPathComponent(file)).read()
            let converted = try WeightFile.read(Self.twin(architecture).0.appendingPathComponent("weights.h5"))
            XCTAssertEqual(mapped.layers.map(\.name), converted.layers.map(\.name), file)
            for (a, b) in zip(mapped.layers, converted.layers) {
                XCTAssertEqual(a.weights.map(\.value), b.weights.map(\.value), "\(file) \(a.name)")
            }
        }
    }

    func testTwinsGivePyTorchsOutputs() throws {
        for (file, architecture, _) in Self.files {
            let (dir, spec) = try Self.twin(architecture)
            let model = try Self.model(spec)
            let report = try model.loadWeights(from: Self.foreign.appendingPathComponent(file))
            XCTAssertTrue(report.isComplete && report.inFileNotInModel.isEmpty, "\(file): \(report)")
            let y = try model.predict(try NPY.read(dir.appendingPathComponent("input.npy")))
            assertClose(y, try NPY.read(dir.appendingPathComponent("output.npy")), file)
        }
    }

    func testAnotherArchitectureIsRefusedNamingTheKeys() throws {
        let url = Self.foreign.appendingPathComponent("resnet50.pth")
        XCTAssertThrowsError(try WeightFile.openMapped(url, architecture: "resnet18")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path) && text.contains("resnet18") && text.contains("layer1.0.conv3.weight"), text)
        }
        XCTAssertThrowsError(try WeightFile.openMapped(url, architecture: "lenet5")) { error in
            XCTAssertTrue("\(error)".contains("do not map onto 'lenet5'"), "\(error)")
        }
    }

    /// A pickle whose __reduce__ would run `touch convzoo-pwned` is refused, naming the global, and runs nothing.
    func testPickleThatWouldRunCodeIsRefusedAndRunsNothing() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convzoo-evil-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(directory.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        let url = Self.foreign.appendingPathComponent("evil.pth")
        XCTAssertThrowsError(try WeightFile.open(url)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path) && text.contains("'posix.system'") && text.contains("state_dict"), text)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    func testPickledModuleIsRefusedAskingForAStateDict() throws {
        let url = Self.foreign.appendingPathComponent("module.pth")
        XCTAssertThrowsError(try WeightFile.open(url)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("'torch.nn.modules.linear.Linear'") && text.contains("torch.save(model.state_dict()"), text)
        }
    }

    func testStorageAndTensorBoundsAreChecked() throws {
        let past = Self.foreign.appendingPathComponent("storage-past-record.pth")
        XCTAssertThrowsError(try WeightFile.open(past)) { error in
            XCTAssertTrue("\(error)".contains("claims 1000 elements of 4 bytes, past its record of 16 bytes"), "\(error)")
        }
        let view = Self.foreign.appendingPathComponent("tensor-past-storage.pth")
        XCTAssertThrowsError(try WeightFile.open(view)) { error in
            let e = error as? WeightFileError
            XCTAssertEqual(e?.path, "w")
            XCTAssertTrue(e?.message.contains("for shape (10) of float32, but its storage is bytes") == true, "\(error)")
        }
    }

    /// The API's transform_input on a bare torchvision GoogLeNet file gives PyTorch's
    /// googlenet(transform_input=True) on the same weights (tools/make_transform_input_fixture.py).
    func testTransformInputOptionOnABareGoogLeNetFile() throws {
        let (dir, spec) = try Self.twin("googlenet")
        var o = ModelOptions()
        o.channelDivisor = spec.channel_divisor ?? 1
        o.transformInput = true
        let (model, report) = try Model.load(from: Self.foreign.appendingPathComponent("googlenet.safetensors"), options: o)
        XCTAssertTrue(report.isComplete, "\(report)")
        XCTAssertTrue(model.options.transformInput)
        let y = try model.predict(try NPY.read(dir.appendingPathComponent("input.npy")))
        assertClose(y, try NPY.read(Self.foreign.appendingPathComponent("googlenet-transform-input-output.npy")), "transform_input on")
        o.transformInput = false
        let (plain, _) = try Model.load(from: Self.foreign.appendingPathComponent("googlenet.safetensors"), options: o)
        XCTAssertFalse(plain.options.transformInput, "off for a bare file, as torchvision's constructor")
    }
}
