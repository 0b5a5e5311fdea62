import XCTest
@testable import Engine

final class SequentialTests: XCTestCase {
    func testChannelAffineGradient() throws {
        try GradientCheck().check(ChannelAffine(name: "t", scale: [0.5, -2, 3], shift: [1, 0, -1]),
                                  input: randomTensor([2, 3, 2, 3]))
    }

    func testTorchvisionGoogLeNetTransformMatchesItsFormula() throws {
        // torchvision: x_ch0 = x[:, 0] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5, and so on.
        let t = ChannelAffine.torchvisionGoogLeNetTransform()
        let y = try t.forward(Tensor(shape: [1, 1, 1, 3], scalars: [1, 1, 1]), mode: .inference)
        let expected: [Float] = [0.229 / 0.5 + (0.485 - 0.5) / 0.5, 0.224 / 0.5 + (0.456 - 0.5) / 0.5,
                                 0.225 / 0.5 + (0.406 - 0.5) / 0.5]
        for i in 0..<3 { XCTAssertEqual(y[flat: i], expected[i], accuracy: 1e-6) }
    }

    func testForwardStoppingAfterNestedLayer() throws {
        let inner = Sequential(name: "stage", [
            Dense(name: "a", inputFeatures: 3, units: 4, activation: .relu),
            Dense(name: "b", inputFeatures: 4, units: 2),
        ])
        let net = Sequential(name: "net", [inner, Dense(name: "c", inputFeatures: 2, units: 5)])
        let x = randomTensor([2, 3])
        let tapped = try XCTUnwrap(try net.forward(x, mode: .inference, stoppingAfter: "a"))
        XCTAssertEqual(tapped, try inner.layers[0].forward(x, mode: .inference))
        let whole = try XCTUnwrap(try net.forward(x, mode: .inference, stoppingAfter: "c"))
        XCTAssertEqual(whole, try net.forward(x, mode: .inference))
        XCTAssertNil(try net.forward(x, mode: .inference, stoppingAfter: "nope"))
    }

    func testFrozenTrunkGetsNoBackwardWork() throws {
        let trunk = Dense(name: "trunk", inputFeatures: 3, units: 4, activation: .tanh)
        let head = Dense(name: "head", inputFeatures: 4, units: 2)
        trunk.setTrainable(false)
        let net = Sequential(name: "net", [trunk, head])
        _ = try net.forward(randomTensor([2, 3]), mode: .training)
        let dx = try net.backward(randomTensor([2, 2]), needsInputGradient: false)
        XCTAssertNil(dx, "backward must stop below the lowest trainable layer")
        XCTAssertFalse(trunk.kernel.hasGradient, "a frozen layer allocates no gradient")
        XCTAssertNotEqual(head.kernel.gradient, Tensor(zeros: [4, 2]))
    }

    func testInferenceHoldsNoGradientMemory() throws {
        let d = Dense(name: "fc", inputFeatures: 8, units: 8)
        _ = try d.forward(randomTensor([1, 8]), mode: .inference)
        XCTAssertFalse(d.kernel.hasGradient)
        d.zeroGradients()
        XCTAssertFalse(d.kernel.hasGradient)
    }
}

final class InferenceFusionTests: XCTestCase {
    /// Conv -> BatchNorm -> ReLU folded into one GEMM epilogue gives what the three layers give.
    func testFusedConvBatchNormReLUEqualsTheLayersOneByOne() throws {
        for bias in [false, true] {
            let conv = Conv2D(name: "c", inputChannels: 3, filters: 5, kernelSize: (3, 3), strides: (2, 2),
                              padding: .same, useBias: bias)
            conv.bias?.value = randomTensor([5], seed: 3)
            let bn = BatchNorm(name: "bn", channels: 5, epsilon: 1e-3, momentum: 0.1, convention: .pytorch)
            bn.gamma!.value = randomTensor([5], seed: 4)
            bn.beta!.value = randomTensor([5], seed: 5)
            bn.movingMean.value = randomTensor([5], seed: 6)
            bn.movingVariance.value = randomTensor([5], seed: 7, low: 0.5, high: 2)
            let relu = ActivationLayer(name: "r", .relu)
            let x = randomTensor([2, 7, 6, 3])
            let expected = try relu.forward(bn.forward(conv.forward(x, mode: .inference), mode: .inference), mode: .inference)
            let fused = try Sequential(name: "s", [conv, bn, relu]).forward(x, mode: .inference)
            assertClose(fused, expected, relative: 1e-6, "bias \(bias)")
            let noReLU = try Sequential(name: "s", [conv, bn]).forward(x, mode: .inference)
            assertClose(noReLU, try bn.forward(conv.forward(x, mode: .inference), mode: .inference), relative: 1e-6)
        }
    }
}
