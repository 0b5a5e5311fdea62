import Foundation
import TestSupport
import XCTest
@testable import Engine
@testable import Zoo

/// LeNet-5 against its references, from the fixtures tools/make_lenet_fixtures.py writes: the
/// modern form against Keras 3, the paper's form against a PyTorch twin (forward and backward).
final class LeNet5ParityTests: XCTestCase {
    func fixture(_ path: String) throws -> Tensor {
        try NPY.read(fixtureURL("zoo/\(path).npy"))
    }

    /// Sets `parameter` from a fixture, refusing a shape mismatch.
    func load(_ parameter: Parameter?, _ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let p = try XCTUnwrap(parameter, "no parameter for \(path)", file: file, line: line)
        let t = try fixture(path)
        XCTAssertEqual(t.shape, p.shape, path, file: file, line: line)
        p.value = t
    }

    /// Max |a - b| within `relative` of max |b|: relative to the expected tensor's own size.
    func assertMatches(_ a: Tensor, _ b: Tensor, relative: Float = 1e-4, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        var diff: Float = 0, scale: Float = 0
        for i in 0..<b.count { diff = max(diff, abs(a[flat: i] - b[flat: i])); scale = max(scale, abs(b[flat: i])) }
        XCTAssertGreaterThan(scale, 0, "\(what): an all-zero expectation tests nothing", file: file, line: line)
        XCTAssertLessThanOrEqual(diff, relative * scale, "\(what): max abs diff \(diff), scale \(scale)", file: file, line: line)
    }

    /// c1, c3, c5, f6 (and the modern predictions) from the Keras model's weight files.
    func loadModernWeights(_ model: Model, dense predictions: Bool) throws {
        var names = ["c1", "c3", "c5"]
        for n in names {
            let c = try XCTUnwrap(model.network.layer(named: n) as? Conv2D)
            try load(c.kernel, "lenet5/\(n)_kernel")
            try load(c.bias, "lenet5/\(n)_bias")
        }
        names = predictions ? ["f6", "predictions"] : ["f6"]
        for n in names {
            let d = try XCTUnwrap(model.network.layer(named: n) as? Dense)
            try load(d.kernel, "lenet5/\(n)_kernel")
            try load(d.bias, "lenet5/\(n)_bias")
        }
    }

    func testModernFormMatchesKeras() throws {
        let cases: [(String, LeNet5.Form)] = [("", .modern()), ("avg_tanh_", .modern(pooling: .average, activation: .tanh))]
        let x = try fixture("lenet5/input")
        for (prefix, form) in cases {
            let model = try LeNet5.make(form)
            try loadModernWeights(model, dense: true)
            assertMatches(try model.predict(x), try fixture("lenet5/\(prefix)predictions"), "\(prefix)predictions")
            assertMatches(try model.output(at: "f6", for: x), try fixture("lenet5/\(prefix)f6"), "\(prefix)f6")
        }
    }

    func paperModel() throws -> Model {
        let model = try Catalog.architecture(named: "lenet5-paper").make()
        // C3 gets Keras's full kernel: the connection mask must make the 900 extra elements irrelevant.
        try loadModernWeights(model, dense: false)
        for n in ["s2", "s4"] {
            let s = try XCTUnwrap(model.network.layer(named: n) as? Subsampling)
            try load(s.coefficient, "lenet5-paper/\(n)_coefficient")
            try load(s.bias, "lenet5-paper/\(n)_bias")
        }
        try load((model.network.layer(named: "predictions") as? EuclideanRBF)?.centers, "lenet5-paper/predictions_centers")
        return model
    }

    func testPaperFormMatchesThePyTorchTwin() throws {
        let model = try paperModel()
        let x = try fixture("lenet5/input")
        assertMatches(try model.predict(x), try fixture("lenet5-paper/predictions"), "predictions")
        assertMatches(try model.output(at: "f6", for: x), try fixture("lenet5-paper/f6"), "f6")
        assertMatches(try model.output(at: "s4", for: x), try fixture("lenet5-paper/s4"), "s4")
    }

    func testPaperFormGradientsMatchThePyTorchTwin() throws {
        let model = try paperModel()
        let net = model.network
        net.zeroGradients()
        _ = try net.forward(try fixture("lenet5/input"), mode: .training)
        let dx = try XCTUnwrap(try net.backward(try fixture("lenet5-paper/upstream"), needsInputGradient: true))
        assertMatches(dx, try fixture("lenet5-paper/input_grad"), "input gradient")
        let c3 = try XCTUnwrap(net.layer(named: "c3") as? Conv2D)
        assertMatches(c3.kernel.gradient, try fixture("lenet5-paper/c3_kernel_grad"), "c3 kernel gradient (masked)")
        for n in ["s2", "s4"] {
            let s = try XCTUnwrap(net.layer(named: n) as? Subsampling)
            assertMatches(s.coefficient.gradient, try fixture("lenet5-paper/\(n)_coefficient_grad"), "\(n) coefficient gradient")
            assertMatches(s.bias.gradient, try fixture("lenet5-paper/\(n)_bias_grad"), "\(n) bias gradient")
        }
        XCTAssertFalse((net.layer(named: "predictions") as! EuclideanRBF).centers.hasGradient, "the prototypes are fixed")
    }

    /// Were the prototypes trainable, their gradient would be PyTorch's too.
    func testTrainableRBFCentersMatchThePyTorchTwin() throws {
        let rbf = EuclideanRBF(name: "predictions", inputFeatures: 84, units: 10, trainableCenters: true)
        try load(rbf.centers, "lenet5-paper/predictions_centers")
        let y = try rbf.forward(try fixture("lenet5-paper/f6"), mode: .training)
        assertMatches(y, try fixture("lenet5-paper/predictions"), "predictions from f6")
        _ = try rbf.backward(try fixture("lenet5-paper/upstream"), needsInputGradient: false)
        assertMatches(rbf.centers.gradient, try fixture("lenet5-paper/predictions_centers_grad"), "centers gradient")
    }
}
