import XCTest
@testable import Engine

final class ConvDenseGradientTests: XCTestCase {
    func conv(_ inC: Int, _ outC: Int, _ k: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
              dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true, activation: Activation = .linear) -> Conv2D {
        let c = Conv2D(name: "conv", inputChannels: inC, filters: outC, kernelSize: k, strides: strides,
                       padding: padding, dilation: dilation, groups: groups, useBias: bias, activation: activation)
        c.bias?.value = randomTensor([outC], seed: 7)
        return c
    }

    func testConvValid() throws { try GradientCheck().check(conv(3, 4, (3, 3)), input: randomTensor([2, 5, 6, 3])) }
    func testConvSameStrided() throws {
        try GradientCheck().check(conv(2, 3, (3, 3), strides: (2, 2), padding: .same), input: randomTensor([2, 6, 7, 2]))
    }
    func testConvExplicitPaddingAsymmetric() throws {
        try GradientCheck().check(conv(2, 3, (3, 2), strides: (2, 1), padding: .explicit(top: 1, bottom: 2, left: 0, right: 1)),
                                  input: randomTensor([1, 7, 5, 2]))
    }
    func testConvDilated() throws {
        try GradientCheck().check(conv(2, 2, (3, 3), padding: .symmetric(2), dilation: (2, 2)), input: randomTensor([1, 6, 6, 2]))
    }
    func testConvGrouped() throws {
        try GradientCheck().check(conv(4, 6, (3, 3), padding: .same, groups: 2), input: randomTensor([2, 5, 5, 4]))
    }
    func testConvPointwiseNoBias() throws {
        try GradientCheck().check(conv(5, 3, (1, 1), bias: false), input: randomTensor([2, 3, 4, 5]))
    }
    func testConvStridedPointwise() throws {
        try GradientCheck().check(conv(3, 4, (1, 1), strides: (2, 2)), input: randomTensor([2, 5, 5, 3]))
    }
    func testConvFusedReLU() throws {
        let c = conv(2, 3, (3, 3), padding: .same, activation: .relu)
        c.bias?.value = Tensor(shape: [3], scalars: [0.05, -0.03, 0.02])
        // Inputs far from the kinks: outputs near zero would make ReLU's finite difference meaningless.
        try GradientCheck(eps: 1e-3).check(c, input: randomTensor([1, 4, 4, 2], seed: 3))
    }
    func testDense() throws {
        let d = Dense(name: "fc", inputFeatures: 7, units: 5)
        d.bias?.value = randomTensor([5], seed: 4)
        try GradientCheck().check(d, input: randomTensor([3, 7]))
    }
    func testDenseSoftmax() throws {
        try GradientCheck().check(Dense(name: "fc", inputFeatures: 6, units: 4, activation: .softmax),
                                  input: randomTensor([2, 6]))
    }
    func testDenseBatchOne() throws {
        try GradientCheck().check(Dense(name: "fc", inputFeatures: 40, units: 33), input: randomTensor([1, 40]))
    }

    func testFrozenKernelGetsNoGradient() throws {
        let c = conv(2, 3, (3, 3))
        c.kernel.trainable = false
        _ = try c.forward(randomTensor([1, 4, 4, 2]), mode: .training)
        _ = try c.backward(randomTensor([1, 2, 2, 3]), needsInputGradient: false)
        XCTAssertEqual(c.kernel.gradient, Tensor(zeros: c.kernel.shape))
        XCTAssertNotEqual(c.bias!.gradient, Tensor(zeros: [3]))
    }

    func testShapeErrorsNameTheLayer() {
        let c = Conv2D(name: "block1_conv1", inputChannels: 3, filters: 8, kernelSize: (3, 3))
        XCTAssertThrowsError(try c.forward(Tensor(zeros: [1, 8, 8, 4]), mode: .inference)) { e in
            XCTAssertTrue("\(e)".contains("block1_conv1") && "\(e)".contains("(1, 8, 8, 4)"), "\(e)")
        }
        XCTAssertThrowsError(try c.outputShape(for: [1, 2, 2, 3])) { e in XCTAssertTrue("\(e)".contains("too small")) }
        XCTAssertThrowsError(try c.outputShape(for: [0, 8, 8, 3]))
        let d = Dense(name: "fc1", inputFeatures: 10, units: 2)
        XCTAssertThrowsError(try d.forward(Tensor(zeros: [2, 9]), mode: .inference)) { e in
            XCTAssertTrue("\(e)".contains("fc1") && "\(e)".contains("(2, 9)"), "\(e)")
        }
    }
}
