import Engine
import Foundation
import TestSupport
import Transfer
import WeightIO
import XCTest
import Zoo

/// The ResNet feature pyramid against timm's `features_only=True`, and RGB weights adapted to other
/// input channels against timm's `adapt_input_conv`, on the zoo's narrow twins
/// (tools/make_pyramid_fixtures.py).
final class PyramidTests: XCTestCase {
    func fixture(_ name: String) throws -> Tensor { try NPY.read(fixtureURL("pyramid/\(name).npy")) }

    /// The twin of `name` with the weights of Tests/Fixtures/zoo/`name`.
    func twin(_ name: String, divisor: Int, side: Int, channels: Int? = nil) throws -> (Model, LoadReport) {
        var options = ModelOptions(classes: 10, inputSize: (side, side))
        options.channelDivisor = divisor
        options.inputChannels = channels
        let model = try Catalog.architecture(named: name).make(options)
        let report = try model.loadWeights(from: fixtureURL("zoo/\(name)/weights.h5"))
        return (model, report)
    }

    func testResNetPyramidIsTimmsFeaturesOnlyLevels() throws {
        for (name, divisor, input) in [("resnet18", 16, "resnet18"), ("resnet50", 32, "resnet50"),
                                       ("resnet50-keras", 32, "resnet50")] {
            let (model, _) = try twin(name, divisor: divisor, side: 64)
            let x = try fixture("\(input)_pyramid_input")
            let extractor = try FeatureExtractor(model: model, layers: ["pyramid"])
            XCTAssertEqual(extractor.layers, model.definition.pyramid)
            XCTAssertEqual(extractor.layers.first, "conv1_relu")
            let levels = try model.outputs(at: extractor.layers, for: x)
            XCTAssertEqual(levels.count, 5)
            for (i, level) in levels.enumerated() {
                let expected = try fixture("\(name)_level\(i)")
                XCTAssertEqual(level.shape, expected.shape, "\(name) level \(i)")
                assertClose(level, expected, relative: 1e-4, "\(name) level \(i)")
                XCTAssertLessThan(maxDifference(level, expected), 1e-5 * max(1, maxMagnitude(expected)), "\(name) level \(i)")
            }
            XCTAssertEqual(levels.map { $0.shape[1] }, [32, 16, 8, 4, 2], "strides 2, 4, 8, 16, 32")
            // The rows a feature extractor gives are these levels flattened.
            let rows = try extractor.featuresOfEachLayer(of: x)
            for (row, level) in zip(rows, levels) { XCTAssertEqual(row, level.reshaped([2, level.count / 2])) }
        }
    }

    func testTimmModuleNamesAnswerForTorchvisionResNets() throws {
        let (model, _) = try twin("resnet18", divisor: 16, side: 64)
        let x = try fixture("resnet18_pyramid_input")
        let timmNames = try model.outputs(at: ["act1", "layer1", "layer2", "layer3", "layer4"], for: x)
        XCTAssertEqual(timmNames, try model.outputs(at: model.definition.pyramid, for: x))
        XCTAssertThrowsError(try Catalog.architecture(named: "resnet50-keras").make().output(at: "layer1", for: x))
    }

    func testRGBWeightsAdaptToOtherInputChannelsAsTimmDoes() throws {
        for (name, divisor, stem) in [("resnet18", 16, 4), ("resnet50", 32, 2)] {
            for channels in [1, 4] {
                let what = "\(name) with \(channels) channels"
                let (model, report) = try twin(name, divisor: divisor, side: 32, channels: channels)
                XCTAssertEqual(model.inputShape, [32, 32, channels])
                XCTAssertTrue(report.isComplete, "\(report)")
                XCTAssertEqual(report.adaptedInput?.layer, "conv1_conv")
                XCTAssertEqual(report.adaptedInput?.stored, [7, 7, 3, stem])
                XCTAssertEqual(report.adaptedInput?.adapted, [7, 7, channels, stem])
                XCTAssertTrue(report.description.contains("input channels adapted as timm's adapt_input_conv: conv1_conv.kernel "
                    + "(7, 7, 3, \(stem)) -> (7, 7, \(channels), \(stem)), "
                    + (channels == 1 ? "summed over RGB" : "RGB repeated 2 times, first 4 kept, scaled by 3/4")),
                    report.description)
                let kernel = try XCTUnwrap(model.network.layer(named: "conv1_conv") as? Conv2D).kernel.value
                assertClose(kernel, try fixture("\(name)_in\(channels)_conv1"), relative: 1e-6, what)
                let y = try model.predict(try fixture("\(name)_in\(channels)_input"))
                let expected = try fixture("\(name)_in\(channels)_output")
                assertClose(y, expected, relative: 1e-4, what)
                XCTAssertLessThan(maxDifference(y, expected), 1e-5 * max(1, maxMagnitude(expected)), what)
            }
        }
    }

    func testAdaptationIsTheSumOrTheScaledRepeat() throws {
        let rgb = Tensor(shape: [1, 1, 3, 2], scalars: [1, 10, 2, 20, 4, 40])
        XCTAssertEqual(InputChannelAdaptation.adapt(rgb, to: 1).scalars, [7, 70])
        XCTAssertEqual(InputChannelAdaptation.adapt(rgb, to: 4).scalars, [0.75, 7.5, 1.5, 15, 3, 30, 0.75, 7.5])
        XCTAssertEqual(InputChannelAdaptation.adapt(rgb, to: 2).scalars, [1.5, 15, 3, 30])
    }

    func testInputChannelsAreRangeCheckedAndRecordedInSavedFiles() throws {
        var options = ModelOptions()
        options.inputChannels = 0
        XCTAssertThrowsError(try Catalog.architecture(named: "resnet18").make(options)) {
            XCTAssertTrue("\($0)".contains("input channels 0 is out of range; expected 1 to 512"), "\($0)")
        }
        options.inputChannels = 1
        options.transformInput = true
        XCTAssertThrowsError(try Catalog.architecture(named: "googlenet").make(options)) {
            XCTAssertTrue("\($0)".contains("transform_input"), "\($0)")
        }
        // A fine-tuned gray model reloads as one: the file records its channels.
        let (gray, _) = try twin("resnet18", divisor: 16, side: 32, channels: 1)
        let file = try temporaryDirectory().appendingPathComponent("gray.h5")
        try gray.saveWeights(to: file)
        var twinOptions = ModelOptions()
        twinOptions.channelDivisor = 16
        let (reloaded, report) = try Model.load(from: file, options: twinOptions)
        XCTAssertEqual(reloaded.inputShape, [32, 32, 1])
        XCTAssertNil(report.adaptedInput)
        let x = try fixture("resnet18_in1_input")
        XCTAssertEqual(try reloaded.predict(x), try gray.predict(x))
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
    }

    func maxMagnitude(_ a: Tensor) -> Float { a.scalars.map(abs).max() ?? 0 }
}
