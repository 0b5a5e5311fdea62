import XCTest
@testable import Engine

/// Finite-difference checks of every activation's backward (PyTorch parity is in ConvDenseParityTests).
final class ActivationGradientTests: XCTestCase {
    func testEveryActivation() throws {
        let cases: [Activation] = [.relu, .sigmoid, .tanh, .leakyReLU(alpha: 0.1), .softmax, .scaledTanh]
        for a in cases {
            // Distinct inputs at least 0.05 apart keep ReLU's kink out of every finite-difference step.
            try GradientCheck(eps: 1e-3).check(ActivationLayer(name: "\(a)", a), input: distinctTensor([2, 3, 7], seed: 5))
        }
    }

    func testBackwardNeedsATrainingForward() throws {
        let layer = ActivationLayer(name: "relu", .relu)
        _ = try layer.forward(randomTensor([2, 3]), mode: .inference)
        XCTAssertThrowsError(try layer.backward(randomTensor([2, 3]), needsInputGradient: true)) {
            XCTAssertTrue("\($0)".contains("relu"), "\($0)")
        }
    }
}
