import Engine
import Foundation
import TestSupport
@testable import Transfer
import XCTest
import Zoo

/// Grad-CAM against a PyTorch Grad-CAM (forward hook and autograd) on the zoo's narrow twins, from
/// tools/make_gradcam_fixtures.py; and its score gradient against finite differences.
final class GradCAMTests: XCTestCase {
    struct Entry: Decodable { let layer: String; let top1: [Int]; let other: Int; let shape: [Int] }

    /// The twin of tools/make_zoo_fixtures.py with its weights; `softmax` overrides its head.
    func twin(_ name: String, inputSize: Int, softmax: Bool? = nil) throws -> Model {
        let dir = fixtureURL("zoo/\(name)")
        let spec = try TwinSpec.read(dir)
        var o = ModelOptions(classes: spec.classes, inputSize: (inputSize, inputSize))
        o.channelDivisor = spec.channel_divisor ?? 1
        o.hiddenUnits = spec.hidden_units
        o.classifierActivation = (softmax ?? (spec.output.activation == "softmax")) ? .softmax : .linear
        let model = try Catalog.architecture(named: spec.architecture).make(o)
        let report = try model.loadWeights(from: dir.appendingPathComponent("weights.h5"))
        XCTAssertTrue(report.isComplete, "\(name): \(report)")
        return model
    }

    /// The twin's own input, or the one the Grad-CAM fixture drew for it.
    func input(_ name: String) throws -> Tensor {
        let own = fixtureURL("gradcam/\(name)_input.npy")
        return try NPY.read(FileManager.default.fileExists(atPath: own.path) ? own : fixtureURL("zoo/\(name)/input.npy"))
    }

    /// max |a - b| <= 1e-4 x the reference maps' largest value.
    func assertMapsClose(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        var diff: Float = 0, scale: Float = 0
        for i in 0..<a.count { diff = max(diff, abs(a[flat: i] - b[flat: i])); scale = max(scale, abs(b[flat: i])) }
        XCTAssertGreaterThan(scale, 0, "\(what): all-zero reference maps test nothing", file: file, line: line)
        XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "\(what): max |diff| \(diff), scale \(scale)", file: file, line: line)
    }

    func testMapsMatchPyTorchGradCAMOnEveryTwin() throws {
        let entries = try JSONDecoder().decode([String: Entry].self,
                                               from: Data(contentsOf: fixtureURL("gradcam/gradcam.json")))
        XCTAssertEqual(Set(entries.keys), ["resnet18", "resnet50", "vgg16-bn", "alexnet", "googlenet", "vgg16"])
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            let x = try input(name)
            // A softmax head must explain its pre-softmax score: the torchvision twins (logits in the
            // reference) are also built with a softmax here and must give the same maps.
            for softmax in name == "vgg16" ? [true] : [false, true] {
                let model = try twin(name, inputSize: x.shape[1], softmax: softmax)
                let cam = try GradCAM(model: model)
                XCTAssertEqual(model.definition.gradCAMLayer, entry.layer, "\(name): default layer")
                let top = try cam.explain(x)
                XCTAssertEqual(top.classes, entry.top1, "\(name): top-1 classes")
                assertMapsClose(top.maps, try NPY.read(fixtureURL("gradcam/\(name).npy")), "\(name) top-1, softmax \(softmax)")
                let other = try cam.explain(x, classes: Array(repeating: entry.other, count: x.shape[0]))
                assertMapsClose(other.maps, try NPY.read(fixtureURL("gradcam/\(name)_other.npy")),
                                "\(name) class \(entry.other), softmax \(softmax)")
                XCTAssertEqual(top.probabilities.shape, [x.shape[0], 10])
            }
        }
    }

    /// dy_c/dA from GradCAM's head backward against central differences of the score computed by
    /// inference through the whole network above the layer (Dropout included, as inference has it),
    /// at 40 elements spread over A: |analytic - numeric| <= 2% of the largest numeric value. A's
    /// zeros are left out: they sit on the ReLU's kink (and tie in max pools), where the score has
    /// no derivative. `step`: large enough that float32 rounding of the score stays small beside
    /// it, small enough that few differences cross a kink further up.
    func assertScoreGradientChecks(_ model: Model, layer: String, x: Tensor, classes: [Int], sign: Float, step: Float,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let cam = try GradCAM(model: model, layer: layer)
        let a = try cam.below.forward(x, mode: .inference)
        let (gradient, _, _) = try cam.scoreGradient(a, classes: classes)
        let units = TrunkSplit.units(of: model.network)
        let cut = try XCTUnwrap(units.firstIndex { $0.name == (model.tapAliases[layer] ?? layer) })
        let rest = Sequential(name: "rest", Array(units[(cut + 1)...]))
        func score(_ a: Tensor) throws -> Double {
            let y = try rest.forward(a, mode: .inference)
            return classes.enumerated().reduce(0.0) { $0 + Double(sign * y[$1.offset, $1.element]) }
        }
        var worst: Double = 0, scale: Double = 0, checked = 0
        for i in stride(from: 0, to: a.count, by: max(1, a.count / 40)) where a[flat: i] != 0 {
            var plus = a, minus = a
            plus[flat: i] += step
            minus[flat: i] -= step
            let numeric = (try score(plus) - score(minus)) / Double(2 * step)
            worst = max(worst, abs(numeric - Double(gradient[flat: i])))
            scale = max(scale, abs(numeric))
            checked += 1
        }
        XCTAssertGreaterThan(checked, 10, "too few elements checked", file: file, line: line)
        XCTAssertGreaterThan(scale, 0, "a zero gradient checks nothing", file: file, line: line)
        XCTAssertLessThanOrEqual(worst, 2e-2 * scale, "max |numeric - analytic| \(worst), scale \(scale)", file: file, line: line)
    }

    /// lenet5-paper with weights trained in PyTorch on the digits (a random twin's maps are all zero):
    /// the score is the negated RBF penalty, the layer c3 (the convolution with its scaled tanh).
    func testTrainedPaperLeNet5MapsMatchPyTorchGradCAM() throws {
        struct PaperSpec: Decodable { let layer: String; let top1: [Int]; let other: Int; let shape: [Int] }
        let dir = "gradcam/lenet5-paper"
        let spec = try JSONDecoder().decode(PaperSpec.self, from: Data(contentsOf: fixtureURL("\(dir)/spec.json")))
        let model = try Catalog.architecture(named: "lenet5-paper").make()
        let network = model.network
        var loaded: [String] = []
        func load(_ parameter: Parameter?, _ key: String) throws {
            let p = try XCTUnwrap(parameter, key)
            let value = try NPY.read(fixtureURL("\(dir)/\(key).npy"))
            XCTAssertEqual(value.shape, p.shape, key)
            p.value = value
            loaded.append(key)
        }
        for name in ["c1", "c3", "c5"] {
            let conv = try XCTUnwrap(network.layer(named: name) as? Conv2D)
            try load(conv.kernel, "\(name)_kernel")
            try load(conv.bias, "\(name)_bias")
        }
        let f6 = try XCTUnwrap(network.layer(named: "f6") as? Dense)
        try load(f6.kernel, "f6_kernel")
        try load(f6.bias, "f6_bias")
        for name in ["s2", "s4"] {
            let s = try XCTUnwrap(network.layer(named: name) as? Subsampling)
            try load(s.coefficient, "\(name)_coefficient")
            try load(s.bias, "\(name)_bias")
        }
        try load((network.layer(named: "predictions") as? EuclideanRBF)?.centers, "predictions_centers")
        XCTAssertEqual(loaded.count, 13)
        let x = try NPY.read(fixtureURL("\(dir)/input.npy"))
        assertMapsClose(try model.predict(x), try NPY.read(fixtureURL("\(dir)/penalties.npy")), "penalties")

        let cam = try GradCAM(model: model)
        XCTAssertEqual(cam.layer, spec.layer, "LeNet-5's default Grad-CAM layer")
        let top = try cam.explain(x)
        XCTAssertEqual(top.classes, spec.top1)
        XCTAssertEqual(top.maps.shape, spec.shape)
        assertMapsClose(top.maps, try NPY.read(fixtureURL("\(dir)/maps.npy")), "lenet5-paper top-1")
        let size = spec.shape[1] * spec.shape[2]
        for image in 0..<spec.shape[0] {
            XCTAssertGreaterThan((0..<size).map { top.maps[flat: image * size + $0] }.max() ?? 0, 0, "image \(image): an all-zero map")
        }
        let other = try cam.explain(x, classes: Array(repeating: spec.other, count: x.shape[0]))
        assertMapsClose(other.maps, try NPY.read(fixtureURL("\(dir)/maps_other.npy")), "lenet5-paper class \(spec.other)")
    }

    func testScoreGradientOfPenaltiesIsTheNegatedPenaltysGradient() throws {
        let model = try Catalog.architecture(named: "lenet5-paper").make()
        let x = try NPY.read(fixtureURL("zoo/lenet5/input.npy"))
        let first = Tensor(shape: [1] + Array(x.shape.dropFirst()), scalars: Array(x.scalars[..<(x.count / 2)]))
        try assertScoreGradientChecks(model, layer: "c3", x: first, classes: [7], sign: -1, step: 0.3)
    }

    func testScoreGradientThroughBatchNormDropoutAndDenseHeads() throws {
        let vgg = try twin("vgg16-bn", inputSize: 64, softmax: false)  // above block5_pool: Dropout between three dense layers
        try assertScoreGradientChecks(vgg, layer: "block5_pool", x: try NPY.read(fixtureURL("zoo/vgg16-bn/input.npy")),
                                      classes: [1, 5], sign: 1, step: 1e-3)
        let resnet = try twin("resnet18", inputSize: 48, softmax: false)  // a residual stage with BatchNorm above the layer
        try assertScoreGradientChecks(resnet, layer: "conv4_block2_out", x: try input("resnet18"), classes: [0, 3], sign: 1, step: 1e-3)
    }

    func testExplainingLeavesTheModelAsItWas() throws {
        let model = try twin("vgg16-bn", inputSize: 64, softmax: false)
        model.network.layer(named: "block5_conv1")!.setTrainable(false)
        let before = model.network.allWeights.map(\.trainable)
        let x = try NPY.read(fixtureURL("zoo/vgg16-bn/input.npy"))
        let expected = try model.predict(x)
        let result = try GradCAM(model: model).explain(x)
        XCTAssertEqual(model.network.allWeights.map(\.trainable), before, "freeze flags restored")
        XCTAssertFalse(model.network.allWeights.contains { $0.hasGradient }, "no weight gradient accumulated")
        XCTAssertEqual(try model.predict(x), expected, "running statistics untouched")
        XCTAssertEqual(result.probabilities, try model.probabilities(expected))
    }

    func testBadLayersAndClassesAreRefused() throws {
        let model = try twin("resnet18", inputSize: 48, softmax: false)
        let x = try input("resnet18")
        XCTAssertThrowsError(try GradCAM(model: model, layer: "nope")) {
            XCTAssertTrue("\($0)".contains("no layer 'nope'"), "\($0)")
        }
        XCTAssertThrowsError(try GradCAM(model: model, layer: "conv5_block2_1_conv")) {
            XCTAssertTrue("\($0)".contains("inside block"), "\($0)")
        }
        XCTAssertThrowsError(try GradCAM(model: model, layer: "predictions")) {
            XCTAssertTrue("\($0)".contains("network's output"), "\($0)")
        }
        XCTAssertThrowsError(try GradCAM(model: model, layer: "avg_pool").explain(x)) {
            XCTAssertTrue("\($0)".contains("expected a feature map"), "\($0)")
        }
        XCTAssertThrowsError(try GradCAM(model: model).explain(x, classes: [0, 10])) {
            XCTAssertTrue("\($0)".contains("class 10 out of range"), "\($0)")
        }
        var o = ModelOptions(includeTop: false)
        o.channelDivisor = 16
        XCTAssertThrowsError(try GradCAM(model: try Catalog.architecture(named: "resnet18").make(o)))
    }
}
