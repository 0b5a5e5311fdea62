import Engine
import Foundation
import XCTest
@testable import WeightIO

/// Reading the files Keras 3 wrote, and the h5py-built variants of older Keras layouts:
/// every weight must come back bit-equal to what Keras held.
final class KerasFileReadingTests: XCTestCase {
    /// Checks that `archive` holds the tiny model's weights, in Keras order, equal to the .npy dumps.
    func assertTinyWeights(_ archive: WeightArchive, expected: String = "tiny", file: StaticString = #filePath,
                           line: UInt = #line) throws {
        let weighted = archive.layers.filter { !$0.weights.isEmpty }
        for (layer, names) in tinyWeights {
            let stored = try XCTUnwrap(weighted.first { $0.name == layer }, "layer \(layer) missing", file: file, line: line)
            XCTAssertEqual(stored.weights.count, names.count, "\(layer) weight count", file: file, line: line)
            for (weight, name) in zip(stored.weights, names) {
                let want = try expectedWeight(expected, layer, name)
                XCTAssertEqual(weight.value, want, "\(layer).\(name) (\(weight.name)) differs", file: file, line: line)
            }
        }
    }

    func testKeras3WeightsH5() throws {
        let file = try WeightFile.open(weightFixture("keras3_tiny.weights.h5"))
        XCTAssertEqual(file.format, .keras3)
        let weighted = file.layers.filter { !$0.weights.isEmpty }
        XCTAssertEqual(Set(weighted.map(\.name)), ["conv", "bn", "dense"])
        XCTAssertEqual(file.layers.first { $0.name == "conv" }?.keras3Key, "conv2d")
        XCTAssertEqual(file.layers.first { $0.name == "bn" }?.keras3Key, "batch_normalization")
        XCTAssertEqual(file.layers.first { $0.name == "dense" }?.weights.map(\.path), ["/layers/dense/vars/0", "/layers/dense/vars/1"])
        try assertTinyWeights(file.read())
    }

    func testKerasArchiveDetectedByContent() throws {
        // A .keras zip under a misleading name still reads as a Keras archive.
        let dir = try temporaryDirectory(self)
        let renamed = dir.appendingPathComponent("weights.h5")
        try FileManager.default.copyItem(at: weightFixture("keras3_tiny.keras"), to: renamed)
        let file = try WeightFile.open(renamed)
        XCTAssertEqual(file.format, .kerasArchive)
        try assertTinyWeights(file.read())
    }

    func testKeras3LegacyModelSave() throws {
        let file = try WeightFile.open(weightFixture("keras3_tiny_model.h5"))
        XCTAssertEqual(file.format, .kerasH5Model)
        XCTAssertEqual(file.layers.map(\.name), ["image", "conv", "bn", "flatten", "dense"])
        XCTAssertEqual(file.attributes["keras_version"], .string("3.15.1"))
        XCTAssertEqual(file.attributes["backend"], .string("torch"))
        XCTAssertNotNil(file.attributes["model_config"], "the root's attributes come along")
        XCTAssertEqual(file.layers[1].weights.map(\.path), ["/model_weights/conv/conv/kernel", "/model_weights/conv/conv/bias"])
        XCTAssertEqual(file.layers[0].weights.count, 0, "empty weight_names (a 0-length float array) means no weights")
        try assertTinyWeights(file.read())
    }

    func testKeras3LegacyWriterAtRoot() throws {
        let file = try WeightFile.open(weightFixture("keras3_tiny_root.h5"))
        XCTAssertEqual(file.format, .kerasH5)
        XCTAssertEqual(file.layers.map(\.name), ["image", "conv", "bn", "flatten", "dense"])
        try assertTinyWeights(file.read())
    }

    func testKeras2RootLayoutWithColonNames() throws {
        let file = try WeightFile.open(weightFixture("keras2_root.h5"))
        XCTAssertEqual(file.format, .kerasH5)
        XCTAssertEqual(file.layers.map(\.name), ["conv", "flatten", "bn", "dense"], "layer_names order, not group order")
        XCTAssertEqual(file.layers[2].weights.map(\.name),
                       ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"])
        XCTAssertEqual(file.attributes["keras_version"], .string("2.15.0"))
        try assertTinyWeights(file.read())
    }

    func testKeras1FlatNames() throws {
        let file = try WeightFile.open(weightFixture("keras1_flat.h5"))
        XCTAssertEqual(file.layers[0].weights.map(\.path), ["/conv/conv_W_1:0", "/conv/conv_b_1:0"])
        XCTAssertEqual(file.attributes["backend"], .string("theano"))
        try assertTinyWeights(file.read())
    }

    func testSplitVariableLengthUTF8NamesWithoutVersionOrBackend() throws {
        let file = try WeightFile.open(weightFixture("split_vlen_utf8.h5"))
        XCTAssertEqual(file.layers.map(\.name), ["conv", "flatten", "bn", "dense"], "layer_names0..2 joined in order")
        XCTAssertNil(file.attributes["keras_version"])
        XCTAssertNil(file.attributes["backend"])
        XCTAssertNil(file.attributes["layer_names0"], "split parts are not repeated as attributes")
        try assertTinyWeights(file.read())
    }

    func testVariableLengthASCIIStrings() throws {
        try assertTinyWeights(WeightFile.read(weightFixture("vlen_ascii.h5")))
    }

    func testNestedModelIsOneLayerInLegacyFiles() throws {
        let file = try WeightFile.open(weightFixture("keras3_nested_model.h5"))
        let inner = try XCTUnwrap(file.layers.first { $0.name == "inner" })
        XCTAssertEqual(inner.weights.map(\.name), ["inner/iconv/kernel", "inner/iconv/bias", "inner/ibn/gamma",
                                                   "inner/ibn/beta", "inner/ibn/moving_mean", "inner/ibn/moving_variance"])
        let archive = try file.read()
        let values = try XCTUnwrap(archive.layer(named: "inner")).weights.map(\.value)
        let want = try [("iconv", "kernel"), ("iconv", "bias"), ("ibn", "gamma"), ("ibn", "beta"),
                        ("ibn", "moving_mean"), ("ibn", "moving_variance")].map { try expectedWeight("nested", $0.0, $0.1) }
        XCTAssertEqual(values, want)
    }

    func testNestedModelInKeras3File() throws {
        let file = try WeightFile.open(weightFixture("keras3_nested.weights.h5"))
        let weighted = file.layers.filter { !$0.weights.isEmpty }
        XCTAssertEqual(weighted.map(\.name), ["dense", "ibn", "iconv"])
        XCTAssertEqual(weighted.map(\.keras3Key), ["dense", "sequential/batch_normalization", "sequential/conv2d"])
        let archive = try file.read()
        XCTAssertEqual(archive.layer(named: "ibn")?.weights[3].value, try expectedWeight("nested", "ibn", "moving_variance"))
    }

    func testFloat16Float64BigEndianAndBfloat16AreConverted() throws {
        let file = try WeightFile.open(weightFixture("dtypes.h5"))
        XCTAssertEqual(file.layers[0].weights[0].dtype, "float16")
        XCTAssertEqual(file.layers[2].weights[1].dtype, "bfloat16")
        XCTAssertEqual(file.layers[3].weights[0].dtype, "float64")
        let archive = try file.read()
        XCTAssertEqual(archive.layer(named: "conv")?.weights[0].value, try expectedWeight("dtypes", "conv", "kernel"))
        XCTAssertEqual(archive.layer(named: "dense")?.weights[0].value, try expectedWeight("dtypes", "dense", "kernel"))
        XCTAssertEqual(archive.layer(named: "bn")?.weights[0].value, try expectedWeight("dtypes", "bn", "gamma"))
        XCTAssertEqual(archive.layer(named: "bn")?.weights[1].value, try expectedWeight("dtypes", "bn", "beta"))
    }

    func testKeras3Bfloat16Opaque() throws {
        let file = try WeightFile.open(weightFixture("keras3_bf16.weights.h5"))
        let layer = try XCTUnwrap(file.layers.first { $0.name == "dbf" })
        XCTAssertEqual(layer.weights.map(\.dtype), ["bfloat16", "bfloat16"])
        let archive = try file.read()
        XCTAssertEqual(archive.layer(named: "dbf")?.weights[0].value, try expectedWeight("bf16", "dbf", "kernel"))
        XCTAssertEqual(archive.layer(named: "dbf")?.weights[1].value, try expectedWeight("bf16", "dbf", "bias"))
    }
}
