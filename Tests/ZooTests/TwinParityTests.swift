import Foundation
import TestSupport
import XCTest
@testable import Engine
@testable import WeightIO
@testable import Zoo

/// Every architecture against its reference framework: narrow twins (same topology, fewer
/// channels, small input) that tools/make_zoo_fixtures.py built in torchvision, Keras or PyTorch,
/// with their weight files (Keras-written, or torchvision through tools/convert_torchvision.py),
/// a seeded input and the reference's outputs at the top and at named taps.
final class TwinParityTests: XCTestCase {
    static let root = fixtureURL("zoo")

    static func twins() throws -> [(URL, TwinSpec)] {
        let dirs = try FileManager.default.contentsOfDirectory(at: Self.root, includingPropertiesForKeys: nil)
        return try dirs.sorted { $0.path < $1.path }.compactMap { dir in
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("spec.json").path) else { return nil }
            return (dir, try TwinSpec.read(dir))
        }
    }

    static func model(_ spec: TwinSpec) throws -> Model {
        var o = ModelOptions(classes: spec.classes, inputSize: (spec.input_shape[1], spec.input_shape[2]))
        o.channelDivisor = spec.channel_divisor ?? 1
        o.hiddenUnits = spec.hidden_units
        o.classifierActivation = spec.output.activation == "softmax" ? .softmax : .linear
        return try Catalog.architecture(named: spec.architecture).make(o)
    }

    func testEveryArchitectureHasATwin() throws {
        let covered = Set(try Self.twins().map { $0.1.architecture })
        // The paper's LeNet-5 has its PyTorch twin in LeNet5ParityTests (forward and backward).
        let expected = Set(Catalog.all.map(\.name)).subtracting(["lenet5-paper"])
        XCTAssertEqual(covered.intersection(expected), expected, "missing twins: \(expected.subtracting(covered))")
    }

    func testTwinsMatchTheirReferenceOutputsAndTaps() throws {
        for (dir, spec) in try Self.twins() {
            let weightFiles = spec.files.filter { $0.hasSuffix(".h5") }
            XCTAssertFalse(weightFiles.isEmpty, dir.lastPathComponent)
            for file in weightFiles {
                let m = try Self.model(spec)
                let report = try m.loadWeights(from: dir.appendingPathComponent(file))
                XCTAssertTrue(report.isComplete && report.inFileNotInModel.isEmpty, "\(dir.lastPathComponent)/\(file): \(report)")
                if let t = spec.trainable_params { XCTAssertEqual(m.trainableParameters, t, "\(spec.architecture) trainable") }
                if let t = spec.total_params { XCTAssertEqual(m.totalParameters, t, "\(spec.architecture) total") }

                let x = try NPY.read(dir.appendingPathComponent("input.npy"))
                let y = try m.predict(x)
                XCTAssertEqual(y.shape, spec.output.shape)
                assertClose(y, try NPY.read(dir.appendingPathComponent("output.npy")), "\(dir.lastPathComponent)/\(file) output")
                for (tap, shape) in spec.taps {
                    let t = try m.output(at: tap, for: x)
                    XCTAssertEqual(t.shape, shape, "\(spec.architecture) tap \(tap)")
                    assertClose(t, try NPY.read(dir.appendingPathComponent("tap_\(tap).npy")), "\(spec.architecture) tap \(tap)")
                }
            }
        }
    }

    /// The Caffe twins stored as caffemodels by tools/make_caffe_fixtures.py (V2 `layer`, V1 `layers`),
    /// read by the Caffe reader, against the same PyTorch outputs as the twins' converter files.
    func testCaffeModelsMatchTheTwinsReferenceOutputs() throws {
        let caffe = fixtureURL("caffe")
        let auxiliary = ["loss1_conv", "loss1_fc", "loss1_classifier", "loss2_conv", "loss2_fc", "loss2_classifier"]
        for (file, twin) in [("alexnet-caffe.caffemodel", "alexnet-caffe"), ("alexnet-caffe-v1.caffemodel", "alexnet-caffe"),
                             ("googlenet-caffe.caffemodel", "googlenet-caffe")] {
            let dir = Self.root.appendingPathComponent(twin)
            let spec = try TwinSpec.read(dir)
            let m = try Self.model(spec)
            m.preprocessing = .none
            let report = try m.loadWeights(from: caffe.appendingPathComponent(file))
            XCTAssertTrue(report.isComplete, "\(file): \(report)")
            XCTAssertEqual(report.loaded.count, twin == "alexnet-caffe" ? 8 : 3 + 9 * 6 + 1, file)
            XCTAssertEqual(report.inFileNotInModel, twin == "googlenet-caffe" ? auxiliary : [], file)
            XCTAssertEqual(m.preprocessing, Preprocessing.none, "a caffemodel records no preprocessing; the model's own stays")
            let x = try NPY.read(dir.appendingPathComponent("input.npy"))
            assertClose(try m.predict(x), try NPY.read(dir.appendingPathComponent("output.npy")), "\(file) output")
            for tap in spec.taps.keys {
                assertClose(try m.output(at: tap, for: x), try NPY.read(dir.appendingPathComponent("tap_\(tap).npy")),
                            "\(file) tap \(tap)")
            }
        }
    }

    /// A caffemodel that does not fit fails before any weight changes, naming the file and the layer.
    func testBadCaffeModelsFailNamingFileAndLayer() throws {
        let dir = Self.root.appendingPathComponent("alexnet-caffe")
        let spec = try TwinSpec.read(dir)
        let bad = fixtureURL("caffe/bad")
        for (file, expected) in [("wrong-blob-count.caffemodel", "layer 'conv2' has 2 weights (kernel, bias), the file's layer 'conv2'"),
                                 ("wrong-blob-shape.caffemodel", "layer 'conv1' weight 'kernel' expects (11, 11, 3, 6), the file has (5, 5, 3, 6) at conv1/blobs/0")] {
            let m = try Self.model(spec)
            let before = m.network.allLayers.flatMap(\.weights).map(\.value)
            let url = bad.appendingPathComponent(file)
            do {
                try m.loadWeights(from: url)
                XCTFail("\(file) loaded")
            } catch let e as WeightLoadError {
                XCTAssertEqual(e.file, url.path)
                XCTAssertTrue(e.message.contains(expected), "\(e)")
            }
            XCTAssertEqual(m.network.allLayers.flatMap(\.weights).map(\.value), before, "\(file) changed the model")
        }
    }
}
