import XCTest
@testable import Engine

/// Two classic lessons of neural-network courses, as tests: XOR needs a hidden layer, and deep
/// sigmoid networks starve their first layers of gradient while ReLU with He init does not.
final class LectureExperimentTests: XCTestCase {
    static let xorInputs = Tensor(shape: [4, 2], scalars: [0, 0, 0, 1, 1, 0, 1, 1])

    /// Rosenblatt's perceptron on the four corners of the unit square: step activation, online
    /// updates w += (target - output) x. Returns the accuracy after each epoch.
    func perceptronAccuracies(targets: [Float], epochs: Int) throws -> [Double] {
        RandomGenerator.global.reseed(1)
        let unit = Dense(name: "perceptron", inputFeatures: 2, units: 1, initializer: .uniform(low: -0.5, high: 0.5))
        let x = Self.xorInputs
        func output(_ i: Int) -> Float {
            unit.kernel.value[0, 0] * x[i, 0] + unit.kernel.value[1, 0] * x[i, 1] + unit.bias!.value[0] > 0 ? 1 : 0
        }
        var accuracies: [Double] = []
        for _ in 0..<epochs {
            for i in 0..<4 {
                let error = targets[i] - output(i)
                unit.kernel.value[0, 0] += error * x[i, 0]
                unit.kernel.value[1, 0] += error * x[i, 1]
                unit.bias!.value[0] += error
            }
            // The engine's own forward, thresholded, is what is scored.
            let z = try unit.forward(x, mode: .inference)
            accuracies.append(Double((0..<4).filter { (z[$0, 0] > 0 ? 1 : 0) == targets[$0] }.count) / 4)
        }
        return accuracies
    }

    func testASinglePerceptronLearnsANDAndORButNeverXOR() throws {
        XCTAssertEqual(try perceptronAccuracies(targets: [0, 0, 0, 1], epochs: 50).last, 1, "AND is linearly separable")
        XCTAssertEqual(try perceptronAccuracies(targets: [0, 1, 1, 1], epochs: 50).last, 1, "OR is linearly separable")
        let xor = try perceptronAccuracies(targets: [0, 1, 1, 0], epochs: 200)
        XCTAssertLessThanOrEqual(xor.max()!, 0.75, "no line separates XOR: at most 3 of 4 corners")
    }

    func testATwoFourOneMLPWithBackpropagationLearnsXOR() throws {
        RandomGenerator.global.reseed(7)
        let model = Sequential(name: "xor", [
            Dense(name: "hidden", inputFeatures: 2, units: 4, activation: .tanh),
            Dense(name: "output", inputFeatures: 4, units: 1),
        ])
        let targets = Tensor(shape: [4, 1], scalars: [0, 1, 1, 0])
        let optimizer = try SGD(model.trainableParameters, learningRate: 0.5, momentum: 0.9)
        var loss = Float.infinity
        for _ in 0..<500 {
            model.zeroGradients()
            let result = try BinaryCrossEntropyWithLogits()(try model.forward(Self.xorInputs, mode: .training), targets)
            loss = result.value
            _ = try model.backward(result.gradient, needsInputGradient: false)
            optimizer.step()
        }
        let logits = try model.forward(Self.xorInputs, mode: .inference)
        let predictions = (0..<4).map { logits[$0, 0] > 0 ? Float(1) : 0 }
        XCTAssertEqual(predictions, targets.scalars, "all four corners right")
        XCTAssertLessThan(loss, 0.05)
    }

    /// ‖dL/dW‖ of the first and the last of ten Dense layers (64 -> 32 x 9 -> 10) on a digits batch.
    func gradientNorms(activation: Activation, initializer: Initializer) throws -> (first: Double, last: Double) {
        let digits = try bundledDigits().flattened()
        let batch = try digits.batch(Array(0..<256))
        let model = makeMLP([64] + Array(repeating: 32, count: 9) + [10], activation: activation, seed: 11,
                            initializer: initializer)
        model.zeroGradients()
        let result = try SoftmaxCrossEntropy()(try model.forward(batch.inputs, mode: .training), batch.lossTarget)
        _ = try model.backward(result.gradient, needsInputGradient: false)
        func norm(_ name: String) -> Double {
            Double(GradientClipping.globalNorm(of: [(model.layer(named: name) as! Dense).kernel]))
        }
        return (norm("dense1"), norm("dense10"))
    }

    func testGradientsVanishThroughTenSigmoidLayersButNotThroughReLUWithHeInit() throws {
        // LeCun's classic fan-in-scaled uniform, U(±1/√fan_in) (PyTorch's default for Linear).
        let sigmoid = try gradientNorms(activation: .sigmoid, initializer: .pytorchDefault)
        let relu = try gradientNorms(activation: .relu, initializer: .kaimingNormal())
        let sigmoidRatio = sigmoid.first / sigmoid.last, reluRatio = relu.first / relu.last
        print("first/last layer gradient norm: sigmoid \(sigmoidRatio), ReLU + He \(reluRatio)")
        XCTAssertLessThan(sigmoidRatio, 1e-3, "sigmoid: the first layer barely learns")
        XCTAssert(reluRatio > 0.1 && reluRatio < 10, "ReLU + He keeps the gradient's scale: ratio \(reluRatio)")
    }
}
