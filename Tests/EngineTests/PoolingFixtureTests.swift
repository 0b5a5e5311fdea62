import XCTest
@testable import Engine

/// Pooling forward (and some backward) against outputs PyTorch and Keras wrote
/// (tools/make_pooling_fixtures.py -> Tests/Fixtures/layers/pooling).
final class PoolingFixtureTests: XCTestCase {
    func load(_ name: String, _ key: String) throws -> Tensor {
        try NPY.read(fixtureURL("layers/pooling/\(name)_\(key).npy"))
    }

    /// Forward on the fixture's input must give its output; with a gradient fixture, backward too.
    func check(_ layer: Layer, _ name: String, backward: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try load(name, "input")
        let y = try layer.forward(x, mode: .training)
        assertClose(y, try load(name, "output"), relative: 1e-5, "\(name) forward", file: file, line: line)
        XCTAssertEqual(try layer.forward(x, mode: .inference), y, "\(name): inference differs", file: file, line: line)
        guard backward else { return }
        _ = try layer.forward(x, mode: .training)
        let dx = try XCTUnwrap(try layer.backward(try load(name, "grad_output"), needsInputGradient: true))
        assertClose(dx, try load(name, "grad_input"), relative: 1e-5, "\(name) backward", file: file, line: line)
    }

    func testTorchMaxPool() throws {
        try check(MaxPool2D(name: "maxpool", poolSize: (3, 3), strides: (2, 2), padding: .symmetric(1)), "maxpool_k3s2p1")
        try check(MaxPool2D(name: "maxpool", poolSize: (3, 3), strides: (2, 2), ceilMode: true), "maxpool_k3s2_ceil",
                  backward: true)
    }
    func testTorchMaxPoolTiesGoToFirstMaximum() throws {
        try check(MaxPool2D(name: "maxpool", poolSize: (3, 3), strides: (2, 2), padding: .symmetric(1)), "maxpool_ties",
                  backward: true)
    }
    func testTorchAvgPoolDivisors() throws {
        for include in [true, false] {
            try check(AvgPool2D(name: "avgpool", poolSize: (3, 3), strides: (2, 2), padding: .symmetric(1),
                                countIncludePad: include), include ? "avgpool_k3s2p1_include" : "avgpool_k3s2p1_exclude")
        }
        try check(AvgPool2D(name: "avgpool", poolSize: (3, 3), strides: (2, 2), padding: .symmetric(1), ceilMode: true,
                            countIncludePad: true), "avgpool_k3s2p1_ceil_include", backward: true)
    }
    func testTorchCeilModeOnInputSmallerThanWindow() throws {
        try check(MaxPool2D(name: "maxpool", poolSize: (3, 3), strides: (2, 2), ceilMode: true), "maxpool_k3s2_ceil_small")
        try check(AvgPool2D(name: "avgpool", poolSize: (3, 3), strides: (2, 2), ceilMode: true, countIncludePad: true),
                  "avgpool_k3s2_ceil_small", backward: true)
    }
    func testTorchAdaptiveAvgPool() throws {
        try check(AdaptiveAvgPool2D(name: "avgpool", outputSize: (3, 2)), "adaptive_5x7_to_3x2", backward: true)
        try check(AdaptiveAvgPool2D(name: "avgpool", outputSize: (6, 6)), "adaptive_13x13_to_6x6")
    }
    func testKerasSamePools() throws {
        for k in [2, 3] {
            try check(MaxPool2D(name: "max", poolSize: (k, k), strides: (2, 2), padding: .same), "keras_maxpool_same_p\(k)s2")
            try check(AvgPool2D(name: "avg", poolSize: (k, k), strides: (2, 2), padding: .same, countIncludePad: false),
                      "keras_avgpool_same_p\(k)s2")
        }
    }
    func testTensorFlowSameAverageWithUnevenPadding() throws {
        try check(AvgPool2D(name: "avg", poolSize: (3, 3), strides: (2, 2), padding: .same, countIncludePad: false),
                  "tf_avgpool_same_uneven")
    }
    func testKerasGlobalPools() throws {
        try check(GlobalAveragePooling2D(name: "gap"), "keras_global_avg")
        try check(GlobalMaxPooling2D(name: "gmp"), "keras_global_max")
        try check(GlobalMaxPooling2D(name: "gmp"), "keras_global_max_ties", backward: true)
    }
}
