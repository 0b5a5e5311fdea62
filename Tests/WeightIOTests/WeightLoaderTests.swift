import Engine
import Foundation
import XCTest
@testable import WeightIO

/// Loading into engine models: modes, reports, strictness, and that failures change nothing.
final class WeightLoaderTests: XCTestCase {
    func assertTinyModel(_ model: Layer, names: [String] = ["conv", "bn", "dense"], expected: String = "tiny",
                         file: StaticString = #filePath, line: UInt = #line) throws {
        for ((kerasLayer, weights), engineName) in zip(tinyWeights, names) {
            let layer = try XCTUnwrap(model.layer(named: engineName), file: file, line: line)
            XCTAssertEqual(layer.weights.map(\.name), weights, file: file, line: line)
            for p in layer.weights {
                XCTAssertEqual(p.value, try expectedWeight(expected, kerasLayer, p.name),
                               "\(engineName).\(p.name)", file: file, line: line)
            }
        }
    }

    func testStrictLoadsEveryFormatByName() throws {
        for fixture in ["keras3_tiny.weights.h5", "keras3_tiny.keras", "keras3_tiny_model.h5", "keras3_tiny_root.h5",
                        "keras2_root.h5", "keras1_flat.h5", "split_vlen_utf8.h5", "vlen_ascii.h5"] {
            let model = tinyEngineModel()
            let report = try model.loadWeights(from: weightFixture(fixture))
            XCTAssertEqual(report.matching, .name, fixture)
            XCTAssertTrue(report.isComplete, "\(fixture): \(report)")
            XCTAssertEqual(report.loaded.map(\.layer), ["conv", "bn", "dense"], fixture)
            try assertTinyModel(model)
        }
    }

    func testStrictFallsBackToOrderWhenNamesDiffer() throws {
        let names = ["c1", "b1", "d1"]
        let model = tinyEngineModel(names: names)
        let report = try model.loadWeights(from: weightFixture("keras2_root.h5"))
        XCTAssertEqual(report.matching, .order)
        XCTAssertEqual(report.loaded.map(\.fileLayer), ["conv", "bn", "dense"])
        XCTAssertTrue(report.description.contains("by order (strict)"), report.description)
        try assertTinyModel(model, names: names)
    }

    func testKeras3FileLoadsByKeyWhenNamesDiffer() throws {
        let names = ["c1", "b1", "d1"]
        let model = tinyEngineModel(names: names)
        let report = try model.loadWeights(from: weightFixture("keras3_tiny.weights.h5"))
        XCTAssertEqual(report.matching, .keras3Key)
        try assertTinyModel(model, names: names)
    }

    func testStrictOrderLoadNamesBothCountsAndChangesNothing() throws {
        let model = tinyEngineModel(names: ["c1", "b1", "d1"])
        model.append(Dense(name: "extra", inputFeatures: 5, units: 2))
        let before = snapshot(model)
        XCTAssertThrowsError(try model.loadWeights(from: weightFixture("keras2_root.h5"))) { error in
            let e = error as? WeightLoadError
            XCTAssertEqual(e?.file, weightFixture("keras2_root.h5").path)
            XCTAssertTrue(e?.message.contains("the model has 4 layers with weights") == true, "\(error)")
            XCTAssertTrue(e?.message.contains("the file has 3") == true, "\(error)")
        }
        XCTAssertEqual(snapshot(model), before)
    }

    func testStrictShapeMismatchNamesLayerWeightShapesAndPathAndChangesNothing() throws {
        let model = tinyEngineModel()
        let before = snapshot(model)
        let url = weightFixture("bad_shape.h5")
        XCTAssertThrowsError(try model.loadWeights(from: url)) { error in
            guard let e = error as? WeightLoadError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.file, url.path)
            XCTAssertEqual(e.report.shapeMismatches, [.init(layer: "dense", fileLayer: "dense", weight: "kernel",
                                                            path: "/dense/dense/kernel:0", expected: [144, 5], found: [144, 6])])
            XCTAssertTrue(e.description.contains("layer 'dense' weight 'kernel' expects (144, 5), the file has (144, 6) "
                                                 + "at /dense/dense/kernel:0"), e.description)
            XCTAssertEqual(e.report.loaded, [], "nothing was loaded")
        }
        XCTAssertEqual(snapshot(model), before, "conv and bn fit, yet stay untouched: strict checks before writing")
    }

    func testSkipMismatchLoadsWhatFitsAndReportsTheRest() throws {
        let model = tinyEngineModel(units: 10)
        let headBefore = snapshot(try XCTUnwrap(model.layer(named: "dense")))
        let report = try model.loadWeights(from: weightFixture("keras3_tiny_model.h5"), options: LoadOptions(mode: .skipMismatch))
        XCTAssertEqual(report.loaded.map(\.layer), ["conv", "bn"])
        XCTAssertEqual(report.shapeMismatches.map(\.weight), ["kernel", "bias"])
        XCTAssertEqual(report.shapeMismatches.first?.expected, [144, 10])
        XCTAssertEqual(report.shapeMismatches.first?.found, [144, 5])
        XCTAssertEqual(report.inModelNotInFile, ["dense"])
        XCTAssertFalse(report.isComplete)
        XCTAssertEqual(snapshot(try XCTUnwrap(model.layer(named: "dense"))), headBefore)
        for name in ["kernel", "bias"] {
            XCTAssertEqual(model.layer(named: "conv")?.weights.first { $0.name == name }?.value,
                           try expectedWeight("tiny", "conv", name))
        }
        XCTAssertTrue(report.description.contains("shape mismatch: dense.kernel expects (144, 10), the file has (144, 5)"),
                      report.description)
    }

    func testByNameBelowTheShareFailsLoudly() throws {
        let model = tinyEngineModel(names: ["conv", "b1", "d1"])
        let before = snapshot(model)
        XCTAssertThrowsError(try model.loadWeights(from: weightFixture("keras2_root.h5"), options: LoadOptions(mode: .byName))) {
            let message = ($0 as? WeightLoadError)?.message ?? "\($0)"
            XCTAssertTrue(message.contains("only 1 of the model's 3 layers with weights were loaded by name (33%, at least 50% required)"),
                          message)
        }
        XCTAssertEqual(snapshot(model), before)
        // With a lower bar the same load goes ahead and says what it left out.
        let report = try model.loadWeights(from: weightFixture("keras2_root.h5"),
                                           options: LoadOptions(mode: .byName, minimumMatchedShare: 0.3))
        XCTAssertEqual(report.loaded.map(\.layer), ["conv"])
        XCTAssertEqual(report.inModelNotInFile, ["b1", "d1"])
        XCTAssertEqual(report.inFileNotInModel, ["bn", "dense"])
    }

    func testNestedModelSavedAsOneLayerLoadsIntoComposite() throws {
        let model = nestedEngineModel()
        let report = try model.loadWeights(from: weightFixture("keras3_nested_model.h5"))
        XCTAssertEqual(report.matching, .name)
        XCTAssertEqual(report.loaded.map(\.layer), ["inner", "dense"])
        XCTAssertEqual(report.loaded.first?.weightCount, 6)
        try assertNested(model)
    }

    func testNestedKeras3FileLoadsThroughLayerNames() throws {
        let model = nestedEngineModel()
        let report = try model.loadWeights(from: weightFixture("keras3_nested.weights.h5"))
        XCTAssertEqual(report.matching, .name)
        XCTAssertEqual(Set(report.loaded.map(\.layer)), ["iconv", "ibn", "dense"])
        try assertNested(model)
    }

    func assertNested(_ model: Layer, file: StaticString = #filePath, line: UInt = #line) throws {
        for layer in ["iconv", "ibn", "dense"] {
            for p in try XCTUnwrap(model.layer(named: layer)).weights {
                XCTAssertEqual(p.value, try expectedWeight("nested", layer, p.name), "\(layer).\(p.name)", file: file, line: line)
            }
        }
    }

    func testNonFiniteWeightsAreReported() throws {
        let model = tinyEngineModel()
        let report = try model.loadWeights(from: weightFixture("bad_nonfinite.h5"))
        XCTAssertEqual(report.nonFinite, [.init(layer: "dense", weight: "kernel", path: "/dense/dense/kernel:0",
                                                nanCount: 1, infinityCount: 2)])
        XCTAssertTrue(report.description.contains("non-finite values: dense.kernel (/dense/dense/kernel:0) has 1 NaN, 2 infinite"),
                      report.description)
    }

    func testByOrderFromMemorySharesTensors() throws {
        let archive = try WeightFile.read(weightFixture("keras2_root.h5"))
        let model = tinyEngineModel(names: ["c1", "b1", "d1"])
        let report = try WeightLoader.load(archive, into: model, options: LoadOptions(mode: .byOrder))
        XCTAssertEqual(report.matching, .order)
        try assertTinyModel(model, names: ["c1", "b1", "d1"])
    }

    func testKerasNaming() {
        XCTAssertEqual(KerasNaming.snakeCase("Conv2D"), "conv2d")
        XCTAssertEqual(KerasNaming.snakeCase("BatchNormalization"), "batch_normalization")
        XCTAssertEqual(KerasNaming.snakeCase("DepthwiseConv2D"), "depthwise_conv2d")
        XCTAssertEqual(KerasNaming.snakeCase("GlobalAveragePooling2D"), "global_average_pooling2d")
        let model = Sequential(name: "m", [Conv2D(name: "a", inputChannels: 1, filters: 1, kernelSize: (1, 1)),
                                           WeightsOnlyBatchNorm(name: "b", channels: 1),
                                           Conv2D(name: "c", inputChannels: 1, filters: 1, kernelSize: (1, 1)),
                                           Dense(name: "d", inputFeatures: 1, units: 1)])
        let keys = KerasNaming.keras3Keys(of: model)
        XCTAssertEqual(model.layers.map { keys[ObjectIdentifier($0)] }, ["conv2d", "batch_normalization", "conv2d_1", "dense"])
    }
}
