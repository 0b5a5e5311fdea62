import XCTest
@testable import Engine

/// The layers LeNet-5's paper form needs: scaled tanh, subsampling, masked convolution, Euclidean RBF.
final class LeNetLayerGradientTests: XCTestCase {
    func testScaledTanhMapsPlusMinusOneToThemselves() throws {
        // The paper picks A and S so that f(1) = 1 and f(-1) = -1.
        let y = try ActivationLayer(name: "squash", .scaledTanh)
            .forward(Tensor(shape: [1, 3], scalars: [1, -1, 0]), mode: .inference)
        XCTAssertEqual(y[flat: 0], 1, accuracy: 1e-4)
        XCTAssertEqual(y[flat: 1], -1, accuracy: 1e-4)
        XCTAssertEqual(y[flat: 2], 0)
    }

    func testScaledTanhGradient() throws {
        try GradientCheck(eps: 1e-3).check(ActivationLayer(name: "squash", .scaledTanh), input: randomTensor([2, 3, 3, 2], low: -3, high: 3))
    }

    func testScaledTanhFusedInDenseAndConv() throws {
        let d = Dense(name: "f6", inputFeatures: 5, units: 4, activation: .scaledTanh)
        d.bias?.value = randomTensor([4], seed: 5)
        try GradientCheck(eps: 1e-3).check(d, input: randomTensor([2, 5]))
        let c = Conv2D(name: "c1", inputChannels: 2, filters: 3, kernelSize: (3, 3), activation: .scaledTanh)
        try GradientCheck(eps: 1e-3).check(c, input: randomTensor([1, 5, 5, 2]))
    }

    func subsampling(channels: Int, activation: Activation) -> Subsampling {
        let s = Subsampling(name: "s2", channels: channels, activation: activation)
        s.coefficient.value = randomTensor([channels], seed: 11)
        s.bias.value = randomTensor([channels], seed: 12)
        return s
    }

    func testSubsamplingForwardIsCoefficientTimesWindowSumPlusBias() throws {
        let s = Subsampling(name: "s2", channels: 1)
        s.coefficient.value = Tensor(shape: [1], scalars: [0.5])
        s.bias.value = Tensor(shape: [1], scalars: [-1])
        let x = Tensor(shape: [1, 2, 4, 1], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        let y = try s.forward(x, mode: .inference)
        XCTAssertEqual(y.shape, [1, 1, 2, 1])
        let expected: [Float] = [0.5 * 14 - 1, 0.5 * 22 - 1]   // windows {1, 2, 5, 6} and {3, 4, 7, 8}
        XCTAssertEqual(y.scalars, expected)
    }

    func testSubsamplingGradientWithSquashing() throws {
        try GradientCheck(eps: 1e-3).check(subsampling(channels: 3, activation: .scaledTanh), input: randomTensor([2, 4, 6, 3]))
    }

    func testSubsamplingGradientOddSizesLeaveTheRemainderAtZero() throws {
        let s = subsampling(channels: 2, activation: .linear)
        try GradientCheck().check(s, input: randomTensor([1, 5, 7, 2]))
        _ = try s.forward(randomTensor([1, 5, 7, 2]), mode: .training)
        let dx = try XCTUnwrap(try s.backward(Tensor(shape: [1, 2, 3, 2], repeating: 1), needsInputGradient: true))
        XCTAssertEqual(dx[0, 4, 0, 0], 0, "row 4 is in no window")
        XCTAssertEqual(dx[0, 0, 6, 1], 0, "column 6 is in no window")
        XCTAssertEqual(dx[0, 3, 5, 1], s.coefficient.value[flat: 1])
    }

    func testSubsamplingRejectsWrongChannelsAndTinyInput() {
        let s = Subsampling(name: "s4", channels: 16)
        XCTAssertThrowsError(try s.outputShape(for: [1, 10, 10, 6])) { XCTAssertTrue("\($0)".contains("s4") && "\($0)".contains("16")) }
        XCTAssertThrowsError(try s.outputShape(for: [1, 1, 10, 16])) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
    }

    /// A 3-in, 4-out partial connection table in the style of LeNet-5's C3.
    func maskedConv(activation: Activation = .linear) -> Conv2D {
        let table = [[0], [0, 1], [1, 2], [0, 1, 2]]
        var mask = Tensor(zeros: [3, 3, 3, 4])
        for tap in 0..<9 { for (o, ins) in table.enumerated() { for i in ins { mask[flat: (tap * 3 + i) * 4 + o] = 1 } } }
        let c = Conv2D(name: "c3", inputChannels: 3, filters: 4, kernelSize: (3, 3), activation: activation, kernelMask: mask)
        c.bias?.value = randomTensor([4], seed: 7)
        return c
    }

    func testMaskedConvGradient() throws {
        try GradientCheck().check(maskedConv(), input: randomTensor([2, 5, 6, 3]))
        try GradientCheck(eps: 1e-3).check(maskedConv(activation: .scaledTanh), input: randomTensor([1, 5, 5, 3], seed: 2))
    }

    func testMaskedConvIgnoresAndNeverTrainsMissingConnections() throws {
        let c = maskedConv()
        let mask = try XCTUnwrap(c.kernelMask)
        XCTAssertEqual(c.kernel.weightCount, 9 * 8, "8 of the 12 map pairs are connected")
        XCTAssertEqual(c.parameterCount, 9 * 8 + 4)
        for i in 0..<mask.count where mask[flat: i] == 0 { XCTAssertEqual(c.kernel.value[flat: i], 0) }

        let x = randomTensor([1, 5, 5, 3])
        let before = try c.forward(x, mode: .inference)
        // A kernel loaded with values where the mask has none (a dense file) gives the same output.
        var k = c.kernel.value
        for i in 0..<k.count where mask[flat: i] == 0 { k[flat: i] = 5 }
        c.kernel.value = k
        XCTAssertEqual(try c.forward(x, mode: .training).scalars, before.scalars)
        _ = try c.backward(randomTensor([1, 3, 3, 4]), needsInputGradient: false)
        var connectedGradient = false
        for i in 0..<mask.count {
            if mask[flat: i] == 0 { XCTAssertEqual(c.kernel.gradient[flat: i], 0) } else { connectedGradient = connectedGradient || c.kernel.gradient[flat: i] != 0 }
        }
        XCTAssertTrue(connectedGradient)
    }

    func testMaskedConvMatchesUnmaskedConvWithZeroedKernel() throws {
        let masked = maskedConv()
        let plain = Conv2D(name: "plain", inputChannels: 3, filters: 4, kernelSize: (3, 3))
        plain.kernel.value = masked.kernel.value
        plain.bias!.value = masked.bias!.value
        let x = randomTensor([2, 6, 6, 3], seed: 4)
        XCTAssertEqual(try masked.forward(x, mode: .inference).scalars, try plain.forward(x, mode: .inference).scalars)
    }

    func testMaskOfTheWrongShapeIsAnError() {
        let c = Conv2D(name: "c3", inputChannels: 3, filters: 4, kernelSize: (3, 3), kernelMask: Tensor(zeros: [3, 3, 4, 3]))
        XCTAssertThrowsError(try c.forward(randomTensor([1, 5, 5, 3]), mode: .inference)) {
            XCTAssertTrue("\($0)".contains("c3") && "\($0)".contains("(3, 3, 4, 3)"), "\($0)")
        }
    }

    func testEuclideanRBFForwardIsSquaredDistance() throws {
        let r = EuclideanRBF(name: "rbf", inputFeatures: 2, units: 2)
        r.centers.value = Tensor(shape: [2, 2], scalars: [1, -1, -1, -1])
        let y = try r.forward(Tensor(shape: [1, 2], scalars: [0.5, 2]), mode: .inference)
        XCTAssertEqual(y.scalars, [0.25 + 9, 2.25 + 9])
    }

    func testEuclideanRBFGradient() throws {
        let r = EuclideanRBF(name: "rbf", inputFeatures: 6, units: 4, trainableCenters: true)
        XCTAssertEqual(r.trainableParameters.count, 1)
        try GradientCheck(eps: 1e-3).check(r, input: randomTensor([3, 6]))
    }

    func testEuclideanRBFFixedCentersArePlusMinusOneStateAndStayFixed() throws {
        let r = EuclideanRBF(name: "predictions", inputFeatures: 84, units: 10, generator: RandomGenerator(seed: 3))
        XCTAssertTrue(r.parameters.isEmpty)
        XCTAssertEqual(r.state.map(\.name), ["centers"])
        XCTAssertTrue(r.centers.value.scalars.allSatisfy { $0 == 1 || $0 == -1 })
        let plus = r.centers.value.scalars.filter { $0 == 1 }.count
        XCTAssertTrue((300...540).contains(plus), "about half of 840 should be +1, got \(plus)")
        r.setTrainable(true)   // unfreezing a model leaves the paper's fixed prototypes alone
        XCTAssertFalse(r.centers.trainable)
        _ = try r.forward(randomTensor([2, 84]), mode: .training)
        XCTAssertNotNil(try r.backward(randomTensor([2, 10]), needsInputGradient: true))
        XCTAssertFalse(r.centers.hasGradient)
        XCTAssertThrowsError(try r.outputShape(for: [2, 83])) { XCTAssertTrue("\($0)".contains("predictions")) }
    }
}
