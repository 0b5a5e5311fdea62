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

    /// One pass tapping several layers gives each what a pass to it alone gives, bit for bit, also a
    /// layer inside a fused Conv -> BatchNorm -> ReLU group and a nested Sequential as a whole.
    func testTappingSeveralLayersGivesEachItsOwnPassBitForBit() throws {
        func convBNReLU(_ p: String, _ inC: Int, _ outC: Int) -> [Layer] {
            let bn = BatchNorm(name: p + "_bn", channels: outC, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)
            bn.gamma!.value = randomTensor([outC], seed: 11)
            bn.movingVariance.value = Tensor(shape: [outC], scalars: (0..<outC).map { 0.5 + Float($0) / 7 })
            return [Conv2D(name: p + "_conv", inputChannels: inC, filters: outC, kernelSize: (3, 3), padding: .same, useBias: false),
                    bn, ActivationLayer(name: p + "_relu", .relu)]
        }
        let stage = Sequential(name: "stage", convBNReLU("b", 4, 6) + [MaxPool2D(name: "pool", poolSize: (2, 2))])
        let net = Sequential(name: "net", convBNReLU("a", 3, 4) + [stage, GlobalAveragePooling2D(name: "gap"),
                                                                  Dense(name: "fc", inputFeatures: 6, units: 3)])
        let x = randomTensor([2, 8, 8, 3])
        let names: Set = ["a_conv", "a_bn", "a_relu", "b_relu", "stage", "pool", "fc"]
        let tapped = try net.forward(x, mode: .inference, tapping: names)
        XCTAssertEqual(Set(tapped.keys), names)
        for name in names {
            XCTAssertEqual(tapped[name], try net.forward(x, mode: .inference, stoppingAfter: name), name)
        }
        XCTAssertEqual(tapped["fc"], try net.forward(x, mode: .inference), "the last layer's tap is the whole network's output")
        XCTAssertEqual(tapped["stage"], tapped["pool"])
        // A tap inside the fused group is the layers one by one, and the pass goes on fused.
        let conv = try net.layers[0].forward(x, mode: .inference)
        XCTAssertEqual(tapped["a_conv"], conv)
        XCTAssertEqual(tapped["a_bn"], try net.layers[1].forward(conv, mode: .inference))
        assertClose(tapped["a_relu"]!, try net.layers[2].forward(tapped["a_bn"]!, mode: .inference), relative: 1e-5, "fused relu")
        XCTAssertTrue(try net.forward(x, mode: .inference, tapping: ["nope"]).isEmpty)
        XCTAssertTrue(net.reaches("b_conv") && net.reaches("stage") && !net.reaches("nope"))
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
