import XCTest
@testable import Engine

final class NormalizationTests: XCTestCase {
    func fixture(_ name: String) throws -> Tensor { try NPY.read(fixtureURL("layers/norm/\(name).npy")) }

    func batchNorm(_ channels: Int, convention: BatchNormConvention = .keras, center: Bool = true, scale: Bool = true,
                   epsilon: Float = 1e-3) -> BatchNorm {
        let bn = BatchNorm(name: "bn", channels: channels, epsilon: epsilon,
                           momentum: convention == .keras ? 0.99 : 0.1, convention: convention,
                           center: center, scale: scale)
        bn.gamma?.value = randomTensor([channels], seed: 11, low: 0.5, high: 1.5)
        bn.beta?.value = randomTensor([channels], seed: 12)
        bn.movingMean.value = randomTensor([channels], seed: 13, low: -0.3, high: 0.3)
        bn.movingVariance.value = randomTensor([channels], seed: 14, low: 0.5, high: 1.5)
        return bn
    }

    // MARK: BatchNorm gradients

    func testBatchNormTrainingRank4Gradient() throws {
        try GradientCheck().check(batchNorm(3), input: randomTensor([2, 3, 3, 3]))
    }
    func testBatchNormTrainingRank2Gradient() throws {
        try GradientCheck().check(batchNorm(4, convention: .pytorch), input: randomTensor([6, 4], seed: 2))
    }
    func testBatchNormTrainingWithoutCenterOrScaleGradient() throws {
        try GradientCheck().check(batchNorm(3, center: false, scale: false), input: randomTensor([2, 2, 3, 3], seed: 3))
        try GradientCheck().check(batchNorm(3, center: false), input: randomTensor([2, 2, 3, 3], seed: 4))
        try GradientCheck().check(batchNorm(2, scale: false), input: randomTensor([5, 2], seed: 5))
    }
    func testFrozenBatchNormGradientIsTheAffineMap() throws {
        let bn = batchNorm(3)
        bn.setTrainable(false)
        try GradientCheck().check(bn, input: randomTensor([2, 3, 2, 3], seed: 6))
        // Inference behaviour in training mode: dx = dy * gamma / sqrt(moving_variance + eps).
        _ = try bn.forward(randomTensor([1, 1, 1, 3]), mode: .training)
        let dx = try XCTUnwrap(bn.backward(Tensor(shape: [1, 1, 1, 3], repeating: 1), needsInputGradient: true))
        for c in 0..<3 {
            XCTAssertEqual(dx[flat: c], bn.gamma!.value[flat: c] / (bn.movingVariance.value[flat: c] + 1e-3).squareRoot(),
                           accuracy: 1e-6)
        }
    }
    /// gamma trainable, beta frozen: the layer still trains, and only gamma collects a gradient.
    func testPartlyFrozenBatchNormAccumulatesOnlyTrainableGradients() throws {
        let bn = batchNorm(3)
        bn.beta!.trainable = false
        XCTAssertFalse(bn.isFrozen)
        try GradientCheck().check(bn, input: randomTensor([2, 2, 2, 3], seed: 7))
        XCTAssertEqual(bn.beta!.gradient, Tensor(zeros: [3]))
        XCTAssertNotEqual(bn.gamma!.gradient, Tensor(zeros: [3]))
    }

    // MARK: BatchNorm statistics

    /// Per-channel mean and biased variance, in Double, the plain way.
    func moments(_ x: Tensor) -> (mean: [Double], variance: [Double], count: Int) {
        let c = x.shape.last!, n = x.count / c
        var mean = [Double](repeating: 0, count: c), variance = mean
        for i in 0..<x.count { mean[i % c] += Double(x[flat: i]) / Double(n) }
        for i in 0..<x.count { variance[i % c] += pow(Double(x[flat: i]) - mean[i % c], 2) / Double(n) }
        return (mean, variance, n)
    }

    func testRunningStatisticsFollowEachConvention() throws {
        let x = randomTensor([2, 3, 2, 4], seed: 8, low: -2, high: 3)
        let (mean, variance, n) = moments(x)
        for convention in [BatchNormConvention.pytorch, .keras] {
            let bn = batchNorm(4, convention: convention)
            let mean0 = bn.movingMean.value.scalars.map(Double.init)
            let var0 = bn.movingVariance.value.scalars.map(Double.init)
            _ = try bn.forward(x, mode: .training)
            for c in 0..<4 {
                let (m, v): (Double, Double)
                switch convention {
                case .pytorch:
                    m = 0.9 * mean0[c] + 0.1 * mean[c]
                    v = 0.9 * var0[c] + 0.1 * variance[c] * Double(n) / Double(n - 1)
                case .keras:
                    m = 0.99 * mean0[c] + 0.01 * mean[c]
                    v = 0.99 * var0[c] + 0.01 * variance[c]
                }
                XCTAssertEqual(Double(bn.movingMean.value[flat: c]), m, accuracy: 1e-6, "\(convention) mean[\(c)]")
                XCTAssertEqual(Double(bn.movingVariance.value[flat: c]), v, accuracy: 1e-6, "\(convention) variance[\(c)]")
            }
        }
    }

    func testInferenceUsesRunningStatisticsAndLeavesThem() throws {
        let bn = batchNorm(3)
        let before = bn.state.map(\.value)
        let x = randomTensor([2, 2, 2, 3], seed: 9)
        let y = try bn.forward(x, mode: .inference)
        XCTAssertEqual(bn.state.map(\.value), before)
        for i in 0..<x.count {
            let c = i % 3
            let expected = (x[flat: i] - bn.movingMean.value[flat: c])
                / (bn.movingVariance.value[flat: c] + 1e-3).squareRoot() * bn.gamma!.value[flat: c] + bn.beta!.value[flat: c]
            XCTAssertEqual(y[flat: i], expected, accuracy: 1e-5)
        }
        XCTAssertThrowsError(try bn.backward(y, needsInputGradient: true)) { e in
            XCTAssertTrue("\(e)".contains("needs a forward in training mode"), "\(e)")
        }
    }

    func testFrozenBatchNormKeepsStatisticsBitIdentical() throws {
        let bn = batchNorm(3)
        bn.setTrainable(false)
        XCTAssertTrue(bn.isFrozen)
        XCTAssertFalse(bn.hasTrainableParameters)
        let before = bn.state.map(\.value)
        let x = randomTensor([2, 3, 3, 3], seed: 10, low: -3, high: 5)
        let inference = try bn.forward(x, mode: .inference)
        for _ in 0..<3 {
            XCTAssertEqual(try bn.forward(x, mode: .training), inference)
            _ = try bn.backward(randomTensor([2, 3, 3, 3]), needsInputGradient: true)
        }
        XCTAssertEqual(bn.state.map(\.value), before)
        XCTAssertEqual(bn.gamma!.gradient, Tensor(zeros: [3]))

        // The control: unfrozen, the same forward moves the statistics.
        bn.isFrozen = false
        _ = try bn.forward(x, mode: .training)
        XCTAssertNotEqual(bn.state.map(\.value), before)
    }

    func testBatchNormWithoutParametersFreezesByFlag() throws {
        let bn = batchNorm(2, center: false, scale: false)
        XCTAssertTrue(bn.parameters.isEmpty)
        XCTAssertEqual(bn.weights.map(\.name), ["moving_mean", "moving_variance"])
        let x = randomTensor([4, 2], seed: 15)
        let before = bn.state.map(\.value)
        _ = try bn.forward(x, mode: .training)
        XCTAssertNotEqual(bn.state.map(\.value), before)
        bn.isFrozen = true
        let after = bn.state.map(\.value)
        XCTAssertEqual(try bn.forward(x, mode: .training), try bn.forward(x, mode: .inference))
        XCTAssertEqual(bn.state.map(\.value), after)
    }

    /// The one freeze API reaches a BatchNorm's own flag, which a layer without gamma and beta
    /// has no parameter to carry.
    func testSetTrainableFreezesABatchNormWithoutParameters() throws {
        let bn = batchNorm(2, center: false, scale: false)
        let model = Sequential(name: "m", [bn])
        model.setTrainable(false)
        XCTAssertTrue(bn.isFrozen)
        let x = randomTensor([4, 2], seed: 15)
        let before = bn.state.map(\.value)
        XCTAssertEqual(try model.forward(x, mode: .training), try model.forward(x, mode: .inference))
        XCTAssertEqual(bn.state.map(\.value), before)
        model.setTrainable(true)
        XCTAssertFalse(bn.isFrozen)
    }

    func testWeightsInKerasOrder() {
        XCTAssertEqual(batchNorm(3).weights.map(\.name), ["gamma", "beta", "moving_mean", "moving_variance"])
        XCTAssertEqual(batchNorm(3, center: false).weights.map(\.name), ["gamma", "moving_mean", "moving_variance"])
        XCTAssertEqual(batchNorm(3).trainableParameters.count, 2)
        XCTAssertEqual(batchNorm(3).parameterCount, 12)
    }

    func testInferenceAffineFoldsTheLayer() throws {
        let bn = batchNorm(3)
        let (scale, shift) = bn.inferenceAffine()
        let x = randomTensor([1, 2, 2, 3], seed: 16)
        let y = try bn.forward(x, mode: .inference)
        for i in 0..<x.count { XCTAssertEqual(y[flat: i], x[flat: i] * scale[i % 3] + shift[i % 3], accuracy: 1e-6) }
    }

    // MARK: BatchNorm parity with the frameworks

    func testMatchesPyTorchBatchNorm2d() throws {
        let bn = BatchNorm(name: "bn", channels: 3, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)
        bn.gamma!.value = try fixture("torch_bn_gamma")
        bn.beta!.value = try fixture("torch_bn_beta")
        bn.movingMean.value = try fixture("torch_bn_running_mean0")
        bn.movingVariance.value = try fixture("torch_bn_running_var0")
        _ = try bn.forward(try fixture("torch_bn_x1"), mode: .training)
        let y2 = try bn.forward(try fixture("torch_bn_x2"), mode: .training)
        assertClose(y2, try fixture("torch_bn_y2"), relative: 1e-5, "training output")
        assertClose(bn.movingMean.value, try fixture("torch_bn_running_mean2"), relative: 1e-5, "running_mean")
        assertClose(bn.movingVariance.value, try fixture("torch_bn_running_var2"), relative: 1e-5, "running_var")

        let dx = try XCTUnwrap(bn.backward(try fixture("torch_bn_dy"), needsInputGradient: true))
        assertClose(dx, try fixture("torch_bn_dx2"), relative: 1e-5, "input gradient")
        assertClose(bn.gamma!.gradient, try fixture("torch_bn_dgamma"), relative: 1e-5, "gamma gradient")
        assertClose(bn.beta!.gradient, try fixture("torch_bn_dbeta"), relative: 1e-5, "beta gradient")

        assertClose(try bn.forward(try fixture("torch_bn_x3"), mode: .inference), try fixture("torch_bn_eval_y3"),
                    relative: 1e-5, "eval output")
    }

    func testMatchesKerasBatchNormalization() throws {
        let bn = BatchNorm(name: "bn", channels: 4, epsilon: 1e-3, momentum: 0.99, convention: .keras)
        bn.gamma!.value = try fixture("keras_bn_gamma")
        bn.beta!.value = try fixture("keras_bn_beta")
        bn.movingMean.value = try fixture("keras_bn_moving_mean0")
        bn.movingVariance.value = try fixture("keras_bn_moving_var0")
        let y = try bn.forward(try fixture("keras_bn_x"), mode: .training)
        assertClose(y, try fixture("keras_bn_y"), relative: 1e-5, "training output")
        assertClose(bn.movingMean.value, try fixture("keras_bn_moving_mean1"), relative: 1e-5, "moving_mean")
        assertClose(bn.movingVariance.value, try fixture("keras_bn_moving_var1"), relative: 1e-5, "moving_variance")
    }

    // MARK: BatchNorm errors

    func testBatchNormErrorsNameTheLayer() {
        let bn = BatchNorm(name: "conv1_bn", channels: 8, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)
        XCTAssertThrowsError(try bn.forward(Tensor(zeros: [1, 4, 4, 6]), mode: .inference)) { e in
            XCTAssertTrue("\(e)".contains("conv1_bn") && "\(e)".contains("(1, 4, 4, 6)") && "\(e)".contains("8"), "\(e)")
        }
        XCTAssertThrowsError(try bn.outputShape(for: [8]))
        // PyTorch refuses to estimate a variance from one value per channel; so do we.
        XCTAssertThrowsError(try bn.forward(Tensor(zeros: [1, 1, 1, 8]), mode: .training)) { e in
            XCTAssertTrue("\(e)".contains("conv1_bn") && "\(e)".contains("more than one value"), "\(e)")
        }
        XCTAssertNoThrow(try bn.forward(Tensor(zeros: [1, 1, 1, 8]), mode: .inference))
    }

    // MARK: LocalResponseNorm

    func testLRNGradientSize5() throws {
        try GradientCheck().check(LocalResponseNorm(name: "lrn", size: 5, alpha: 0.1, beta: 0.75, k: 2),
                                  input: randomTensor([2, 2, 2, 7], low: -2, high: 2))
    }
    func testLRNGradientEvenSize4() throws {
        try GradientCheck().check(LocalResponseNorm(name: "lrn", size: 4, alpha: 0.2, beta: 0.6, k: 2),
                                  input: randomTensor([1, 2, 3, 6], seed: 2, low: -2, high: 2))
    }
    func testLRNGradientAlexNetParameters() throws {
        // alpha = 1e-4 only bites on large activations, as AlexNet's post-ReLU ones are.
        try GradientCheck(eps: 0.05).check(LocalResponseNorm(name: "lrn", size: 5, alpha: 1e-4, beta: 0.75, k: 2),
                                           input: randomTensor([1, 2, 2, 9], seed: 3, low: -40, high: 40))
    }
    func testLRNWindowWiderThanChannels() throws {
        try GradientCheck().check(LocalResponseNorm(name: "lrn", size: 5, alpha: 0.3, beta: 0.75, k: 1),
                                  input: randomTensor([2, 1, 1, 2], seed: 4, low: -2, high: 2))
    }

    func testMatchesPyTorchLocalResponseNorm() throws {
        for (prefix, lrn) in [("torch_lrn5", LocalResponseNorm(name: "lrn", size: 5, alpha: 1e-4, beta: 0.75, k: 2)),
                              ("torch_lrn4", LocalResponseNorm(name: "lrn", size: 4, alpha: 1e-2, beta: 0.6, k: 1))] {
            let y = try lrn.forward(try fixture(prefix + "_x"), mode: .training)
            assertClose(y, try fixture(prefix + "_y"), relative: 1e-5, prefix + " output")
            let dx = try XCTUnwrap(lrn.backward(try fixture(prefix + "_dy"), needsInputGradient: true))
            assertClose(dx, try fixture(prefix + "_dx"), relative: 1e-5, prefix + " input gradient")
        }
    }

    /// The vectorized d^-0.75 stays within a few ulp of pow, and odd values take pow itself.
    func testLRNInversePowerMatchesPow() {
        var d: [Float] = [], expected: [Float] = []
        var v: Float = 1.5e-38
        while v < 3e38 { d.append(v); expected.append(Float(pow(Double(v), -0.75))); v *= 1.37 }
        var f = [Float](repeating: 0, count: d.count)
        LocalResponseNorm.inversePower(d, &f, count: d.count, beta: 0.75)
        for i in d.indices { XCTAssertEqual(f[i], expected[i], accuracy: 4e-7 * expected[i], "d = \(d[i])") }

        let odd: [Float] = [2, 0, Float(bitPattern: 0x0001_0000), .infinity, -1]
        var g = [Float](repeating: 0, count: odd.count)
        LocalResponseNorm.inversePower(odd, &g, count: odd.count, beta: 0.75)
        XCTAssertEqual(g[0], Foundation.pow(2, -0.75))
        XCTAssertEqual(g[1], .infinity)
        XCTAssertEqual(g[2], Foundation.pow(odd[2], -0.75))
        XCTAssertEqual(g[3], 0)
        XCTAssertTrue(g[4].isNaN)
    }

    func testLRNErrorsNameTheLayer() {
        XCTAssertThrowsError(try LocalResponseNorm(name: "norm1", size: 0).outputShape(for: [1, 2, 2, 3])) { e in
            XCTAssertTrue("\(e)".contains("norm1") && "\(e)".contains("size"), "\(e)")
        }
        XCTAssertThrowsError(try LocalResponseNorm(name: "norm1", size: 5).forward(Tensor(zeros: [4]), mode: .inference)) { e in
            XCTAssertTrue("\(e)".contains("norm1") && "\(e)".contains("(4)"), "\(e)")
        }
    }
}
