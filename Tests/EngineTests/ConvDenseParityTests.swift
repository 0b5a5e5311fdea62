import XCTest
@testable import Engine

/// Conv2D, Dense and ActivationLayer against PyTorch and Keras: forward output, input gradient,
/// kernel gradient and bias gradient. The fixtures, and the layer settings mirrored here case by
/// case, come from tools/make_layer_fixtures.py (float64 references stored as float32).
final class ConvDenseParityTests: XCTestCase {
    /// Largest difference allowed, relative to max(1, max |expected|). Float32 against a float64 reference
    /// measured at most 6.4e-7 (1, 2 and 3 threads), so 5e-6 leaves room for other BLAS kernels.
    let tolerance: Float = 5e-6

    // MARK: PyTorch Conv2d (padding=p is .symmetric(p))

    func testTorch3x3Stride1Pad1() throws {
        try checkConv("k3_s1_p1", inputChannels: 3, filters: 4, kernel: (3, 3), padding: .symmetric(1))
    }
    func testTorch3x3Stride2Pad1OddInput() throws {
        try checkConv("k3_s2_p1_odd", inputChannels: 3, filters: 4, kernel: (3, 3), strides: (2, 2), padding: .symmetric(1))
    }
    func testTorch3x3Stride2Pad1EvenInput() throws {
        try checkConv("k3_s2_p1_even", inputChannels: 3, filters: 4, kernel: (3, 3), strides: (2, 2), padding: .symmetric(1))
    }
    func testTorch7x7Stride2Pad3ResNetStem() throws {
        try checkConv("k7_s2_p3_stem", inputChannels: 3, filters: 4, kernel: (7, 7), strides: (2, 2), padding: .symmetric(3))
    }
    func testTorch1x1PointwiseGEMM() throws {
        let conv = try checkConv("k1_s1_pointwise", inputChannels: 32, filters: 32, kernel: (1, 1))
        XCTAssertTrue(conv.isPointwise, "this case exists to cover the plain-GEMM path")
    }
    func testTorch1x1Stride2Projection() throws {
        try checkConv("k1_s2_projection", inputChannels: 4, filters: 6, kernel: (1, 1), strides: (2, 2))
    }
    func testTorchDilation2Pad2() throws {
        try checkConv("k3_d2_p2_dilated", inputChannels: 3, filters: 4, kernel: (3, 3), padding: .symmetric(2),
                      dilation: (2, 2))
    }
    func testTorchGroups2AlexNetStyle() throws {
        try checkConv("k5_p2_groups2", inputChannels: 4, filters: 6, kernel: (5, 5), padding: .symmetric(2), groups: 2)
    }
    func testTorchNoBias() throws {
        try checkConv("k3_s1_p1_nobias", inputChannels: 3, filters: 4, kernel: (3, 3), padding: .symmetric(1),
                      useBias: false)
    }
    func testTorchAsymmetricPaddingThroughFPad() throws {
        // F.pad(x, (left 0, right 1, top 1, bottom 2)) then a padding-0 Conv2d.
        try checkConv("k3_s2_fpad_t1b2l0r1", inputChannels: 3, filters: 4, kernel: (3, 3), strides: (2, 2),
                      padding: .explicit(top: 1, bottom: 2, left: 0, right: 1))
    }
    func testTorch11x11Stride4Pad2AlexNetFirstLayer() throws {
        try checkConv("k11_s4_p2_alexnet", inputChannels: 3, filters: 4, kernel: (11, 11), strides: (4, 4),
                      padding: .symmetric(2))
    }

    // MARK: Keras Conv2D

    func testKerasSameStride2EvenInputPadsBottomRight() throws {
        try checkConv("keras_same_s2_even", inputChannels: 3, filters: 4, kernel: (3, 3), strides: (2, 2), padding: .same)
    }
    func testKerasSameStride2OddInput() throws {
        try checkConv("keras_same_s2_odd", inputChannels: 3, filters: 4, kernel: (3, 3), strides: (2, 2), padding: .same)
    }
    func testKerasSameEvenKernel() throws {
        try checkConv("keras_same_s1_k4", inputChannels: 3, filters: 4, kernel: (4, 4), padding: .same)
    }
    func testKerasValidNonSquare() throws {
        try checkConv("keras_valid_k3x2_s2x1", inputChannels: 3, filters: 4, kernel: (3, 2), strides: (2, 1),
                      padding: .valid)
    }
    func testKerasFusedReLU() throws {
        try checkConv("keras_same_relu", inputChannels: 3, filters: 4, kernel: (3, 3), padding: .same, activation: .relu)
    }

    /// Keras "same" at stride 2 on an even input is not PyTorch's padding=1: the fixture must tell them apart.
    func testKerasSameEvenDiffersFromSymmetricPadding() throws {
        let f = try LayerFixture("conv", "keras_same_s2_even")
        let conv = Conv2D(name: "conv", inputChannels: 3, filters: 4, kernelSize: (3, 3), strides: (2, 2),
                          padding: .symmetric(1))
        try f.load(conv.kernel, conv.bias)
        let y = try conv.forward(f["input"], mode: .inference)
        let expected = try f["output"]
        XCTAssertEqual(y.shape, expected.shape)
        var maxDiff: Float = 0
        for i in 0..<y.count { maxDiff = max(maxDiff, abs(y[flat: i] - expected[flat: i])) }
        XCTAssertGreaterThan(maxDiff, 1e-2, "symmetric padding reproduced Keras's bottom/right padding")
    }

    /// A kernel in the wrong layout must be refused, not silently reshaped (grouped HWIO is (kh, kw, in / groups, out)).
    func testFixtureRefusesKernelOfAnotherShape() throws {
        let ungrouped = Conv2D(name: "conv", inputChannels: 4, filters: 6, kernelSize: (5, 5), padding: .symmetric(2))
        XCTAssertThrowsError(try LayerFixture("conv", "k5_p2_groups2").load(ungrouped.kernel, ungrouped.bias)) { e in
            XCTAssertTrue("\(e)".contains("(5, 5, 2, 6)") && "\(e)".contains("(5, 5, 4, 6)"), "\(e)")
        }
    }

    // MARK: Linear / Dense

    func testTorchLinearBatch1() throws { try checkDense("linear_batch1") }
    func testTorchLinearBatch4() throws { try checkDense("linear_batch4") }
    func testKerasDenseReLUBatch1() throws { try checkDense("keras_relu_batch1", activation: .relu) }
    func testKerasDenseReLUBatch4() throws { try checkDense("keras_relu_batch4", activation: .relu) }
    func testKerasDenseSoftmaxBatch1() throws { try checkDense("keras_softmax_batch1", activation: .softmax) }
    func testKerasDenseSoftmaxBatch4() throws { try checkDense("keras_softmax_batch4", activation: .softmax) }

    // MARK: Activations

    func testReLU() throws { try checkActivation("relu", .relu) }
    func testSigmoid() throws { try checkActivation("sigmoid", .sigmoid) }
    func testTanh() throws { try checkActivation("tanh", .tanh) }
    func testLeakyReLU() throws { try checkActivation("leaky_relu_0.1", .leakyReLU(alpha: 0.1)) }
    func testSoftmax() throws { try checkActivation("softmax", .softmax) }

    // MARK: Helpers

    @discardableResult
    func checkConv(_ name: String, inputChannels: Int, filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
                   padding: Padding = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1, useBias: Bool = true,
                   activation: Activation = .linear, file: StaticString = #filePath, line: UInt = #line) throws -> Conv2D {
        let conv = Conv2D(name: name, inputChannels: inputChannels, filters: filters, kernelSize: kernel,
                          strides: strides, padding: padding, dilation: dilation, groups: groups, useBias: useBias,
                          activation: activation)
        try checkLayer(conv, kernel: conv.kernel, bias: conv.bias, LayerFixture("conv", name), file: file, line: line)
        return conv
    }

    func checkDense(_ name: String, activation: Activation = .linear,
                    file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try LayerFixture("dense", name)
        let k = try f["kernel"]
        let dense = Dense(name: name, inputFeatures: k.shape[0], units: k.shape[1], activation: activation)
        try checkLayer(dense, kernel: dense.kernel, bias: dense.bias, f, file: file, line: line)
    }

    func checkActivation(_ name: String, _ activation: Activation,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        try checkLayer(ActivationLayer(name: name, activation), kernel: nil, bias: nil, LayerFixture("activation", name),
                       file: file, line: line)
    }

    /// Loads the weights, runs one training forward and one backward of the fixture's upstream
    /// gradient, and compares everything the reference framework computed.
    func checkLayer(_ layer: Layer, kernel: Parameter?, bias: Parameter?, _ f: LayerFixture,
                    file: StaticString, line: UInt) throws {
        try f.load(kernel, bias)
        let y = try layer.forward(f["input"], mode: .training)
        assertClose(y, try f["output"], relative: tolerance, "\(f.name) output", file: file, line: line)
        let dx = try XCTUnwrap(try layer.backward(f["upstream"], needsInputGradient: true), file: file, line: line)
        assertClose(dx, try f["input_grad"], relative: tolerance, "\(f.name) input gradient", file: file, line: line)
        if let kernel {
            assertClose(kernel.gradient, try f["kernel_grad"], relative: tolerance, "\(f.name) kernel gradient",
                        file: file, line: line)
        }
        if let bias {
            assertClose(bias.gradient, try f["bias_grad"], relative: tolerance, "\(f.name) bias gradient",
                        file: file, line: line)
        }
    }
}
