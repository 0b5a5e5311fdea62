import Engine
import Foundation
import XCTest
@testable import WeightIO

/// Writing Keras files: the layout Keras expects, ConvZoo's metadata, and bit-exact round trips.
final class WeightWriterTests: XCTestCase {
    let metadata = ConvZooMetadata(architecture: "tiny", variant: "tiny-5", classNames: ["cat", "dog", "émeu", "fox", "gnu"],
                                   preprocessing: "caffe", resizeTransform: "resize 256 bilinear, center crop 224",
                                   inputSize: [8, 8, 3], extra: ["epsilon": "1.001e-05"])

    func assertSameWeights(_ a: Layer, _ b: Layer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.allWeights.count, b.allWeights.count, file: file, line: line)
        for (x, y) in zip(a.allWeights, b.allWeights) {
            XCTAssertEqual(x.value, y.value, "\(x.name) differs", file: file, line: line)
        }
    }

    func testKerasH5RoundTripIsBitExact() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("tiny.h5")
        let saved = tinyEngineModel(seed: 11)
        try saved.saveWeights(to: url, metadata: metadata)
        let loaded = tinyEngineModel(seed: 12)
        let report = try loaded.loadWeights(from: url)
        XCTAssertEqual(report.matching, .name)
        XCTAssertTrue(report.isComplete)
        assertSameWeights(saved, loaded)
    }

    /// HDF5 stamps groups and datasets with the clock unless told not to; ConvZoo's files carry no
    /// time, so the same weights give the same bytes (the shipped weights can be checked by `cmp`).
    func testTheSameWeightsSavedASecondApartGiveTheSameBytes() throws {
        let dir = try temporaryDirectory(self)
        let model = tinyEngineModel(seed: 13)
        for format in [SaveFormat.kerasH5, .keras3] {
            let name = format == .keras3 ? "weights.h5" : "h5"
            let a = dir.appendingPathComponent("a.\(name)"), b = dir.appendingPathComponent("b.\(name)")
            try model.saveWeights(to: a, format: format, metadata: metadata)
            Thread.sleep(forTimeInterval: 1.1)  // past HDF5's one-second time resolution
            try model.saveWeights(to: b, format: format, metadata: metadata)
            XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b), "\(format)")
        }
    }

    func testKeras3RoundTripIsBitExact() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("tiny.weights.h5")
        let saved = tinyEngineModel(seed: 21)
        try saved.saveWeights(to: url, format: .keras3)
        let file = try WeightFile.open(url)
        XCTAssertEqual(file.format, .keras3)
        XCTAssertEqual(Set(file.layers.map { $0.keras3Key ?? "" }), ["conv2d", "batch_normalization", "dense"])
        let loaded = tinyEngineModel(names: ["x", "y", "z"], seed: 22)
        let report = try WeightLoader.load(file, into: loaded)
        XCTAssertEqual(report.matching, .keras3Key, "other names: loads by key")
        assertSameWeights(saved, loaded)
    }

    func testKerasH5LayoutIsKeras2SaveWeights() throws {
        let data = try WeightWriter.kerasH5Data(WeightArchive(model: tinyEngineModel(), metadata: metadata))
        let url = try temporaryDirectory(self).appendingPathComponent("layout.h5")
        try data.write(to: url)
        let root = try HDF5File.open(url).root()
        XCTAssertEqual(try root.stringArray("layer_names"), ["conv", "bn", "dense"])
        XCTAssertEqual(try root.stringAttribute("backend"), "tensorflow")
        XCTAssertEqual(try root.stringAttribute("keras_version"), "2.15.0")
        XCTAssertEqual(try root.group("bn").stringArray("weight_names"),
                       ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"])
        let kernel = try root.dataset("conv/conv/kernel:0")
        XCTAssertEqual(kernel.shape, [3, 3, 3, 4])
        XCTAssertEqual(kernel.dtypeDescription, "float32")
        let back = try WeightFile.open(url)
        XCTAssertEqual(back.format, .kerasH5)
        XCTAssertEqual(try back.read().metadata, metadata)
    }

    func testLongStringArraysAreSplitLikeKeras() throws {
        // 3000 names of 40 bytes = 120 KB > HDF5's 64 KB header: Keras splits into class_names0, 1.
        let names = (0..<3000).map { String(format: "class-%05d-", $0) + String(repeating: "x", count: 29) }
        var archive = WeightArchive(model: tinyEngineModel())
        archive.metadata = ConvZooMetadata(classNames: names)
        let url = try temporaryDirectory(self).appendingPathComponent("split.h5")
        try WeightWriter.write(archive, to: url)
        let root = try HDF5File.open(url).root()
        XCTAssertFalse(root.hasAttribute("convzoo_class_names"))
        XCTAssertEqual(try root.stringArray("convzoo_class_names0")?.count, 1500)
        XCTAssertEqual(try root.stringArray("convzoo_class_names1")?.count, 1500)
        XCTAssertFalse(root.hasAttribute("convzoo_class_names2"))
        XCTAssertEqual(try WeightFile.read(url).metadata.classNames, names)
    }

    func testArchiveRoundTripKeepsFileWeightNames() throws {
        // Re-writing a Keras 1 file keeps its weight names and every value.
        let original = try WeightFile.read(weightFixture("keras1_flat.h5"))
        let url = try temporaryDirectory(self).appendingPathComponent("again.h5")
        try WeightWriter.write(original, to: url)
        let again = try WeightFile.read(url)
        XCTAssertEqual(again.layers, original.layers)
        XCTAssertEqual(again.attributes["keras_version"], .string("1.2.2"))
    }

    /// Keras's weights through ConvZoo: read from a Keras 3 file into an engine model, written in
    /// both formats, read back unchanged. With CONVZOO_KERAS_EXPORT_DIR set the files are kept
    /// there for tools/check_keras_loads_convzoo.py, which loads them with Keras itself.
    func testKerasWeightsSurviveConvZooFiles() throws {
        let exportDir = ProcessInfo.processInfo.environment["CONVZOO_KERAS_EXPORT_DIR"].map { URL(fileURLWithPath: $0) }
        let dir = try exportDir ?? temporaryDirectory(self)
        let model = tinyEngineModel()
        _ = try model.loadWeights(from: weightFixture("keras3_tiny.weights.h5"))
        try model.saveWeights(to: dir.appendingPathComponent("convzoo_tiny.h5"), metadata: metadata)
        try model.saveWeights(to: dir.appendingPathComponent("convzoo_tiny.weights.h5"), format: .keras3)
        for name in ["convzoo_tiny.h5", "convzoo_tiny.weights.h5"] {
            let archive = try WeightFile.read(dir.appendingPathComponent(name))
            for (layer, weights) in tinyWeights {
                let stored = try XCTUnwrap(archive.layer(named: layer), "\(name): \(layer)")
                XCTAssertEqual(try stored.weights.map(\.value), try weights.map { try expectedWeight("tiny", layer, $0) }, name)
            }
        }
    }

    func testKeras3NameMustEndInWeightsH5() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("tiny.h5")
        let error = expectWeightFileError { try tinyEngineModel().saveWeights(to: url, format: .keras3) }
        XCTAssertTrue(error?.message.contains("must end in '.weights.h5'") == true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testInvalidLayerNamesRefused() {
        let archive = WeightArchive(layers: [LayerWeights(name: "a/b", weights: [])])
        let error = expectWeightFileError { _ = try WeightWriter.kerasH5Data(archive, name: "out.h5") }
        XCTAssertEqual(error?.file, "out.h5")
        XCTAssertTrue(error?.message.contains("invalid layer name 'a/b'") == true)
    }

    func testUnwritableDirectoryNamesTheFile() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("missing-dir/tiny.h5")
        let error = expectWeightFileError { try tinyEngineModel().saveWeights(to: url) }
        XCTAssertEqual(error?.file, url.path)
        XCTAssertTrue(error?.message.contains("cannot create a temporary file") == true, "\(String(describing: error))")
    }
}
