import XCTest
@testable import Engine

final class LossTests: XCTestCase {
    /// The cases of tools/make_loss_fixtures.py, with the same settings.
    let cases: [(String, Loss)] = [
        ("cross_entropy", SoftmaxCrossEntropy()),
        ("cross_entropy_smoothing", SoftmaxCrossEntropy(labelSmoothing: 0.1)),
        ("cross_entropy_soft", SoftmaxCrossEntropy()),
        ("cross_entropy_soft_smoothing", SoftmaxCrossEntropy(labelSmoothing: 0.2)),
        ("binary_cross_entropy", BinaryCrossEntropyWithLogits()),
        ("mse", MeanSquaredError()),
    ]

    func testValuesAndGradientsEqualPyTorch() throws {
        for (name, loss) in cases {
            let dir = "learning/losses/\(name)/"
            let input = try NPY.read(fixtureURL(dir + "input.npy"))
            let target = try NPY.read(fixtureURL(dir + "target.npy"))
            let expected = try NPY.read(fixtureURL(dir + "loss.npy"))[flat: 0]
            let result = try loss(input, target)
            XCTAssertEqual(result.value, expected, accuracy: 2e-6 * max(1, abs(expected)), name)
            assertClose(result.gradient, try NPY.read(fixtureURL(dir + "gradient.npy")), relative: 1e-6, name)
        }
    }

    /// Penalties are negated logits: PyTorch's `cross_entropy(-penalties)` is the loss, and the
    /// gradient with respect to the penalties is the negated gradient of those logits.
    func testPenaltiesTrainAsSoftmaxOverTheirNegation() throws {
        for name in ["cross_entropy", "cross_entropy_soft_smoothing"] {
            let dir = "learning/losses/\(name)/"
            let logits = try NPY.read(fixtureURL(dir + "input.npy"))
            let penalties = Tensor(shape: logits.shape, scalars: logits.scalars.map { -$0 })
            let smoothing: Float = name.hasSuffix("smoothing") ? 0.2 : 0
            let result = try HeadOutput.penalties.crossEntropy(labelSmoothing: smoothing)(penalties, NPY.read(fixtureURL(dir + "target.npy")))
            let expected = try NPY.read(fixtureURL(dir + "loss.npy"))[flat: 0]
            XCTAssertEqual(result.value, expected, accuracy: 2e-6 * max(1, abs(expected)), name)
            let gradient = try NPY.read(fixtureURL(dir + "gradient.npy"))
            assertClose(result.gradient, Tensor(shape: gradient.shape, scalars: gradient.scalars.map { -$0 }), relative: 1e-6, name)
        }
        XCTAssertFalse(HeadOutput.logits.crossEntropy().ofPenalties)
    }

    func testHeadOutputsReadAsProbabilitiesAndRankTheRightWayRound() throws {
        let output = Tensor(shape: [2, 3], scalars: [0.5, 3, 1, 4, 0.25, 2])
        let softmax = try ActivationLayer(name: "s", .softmax).forward(output, mode: .inference)
        XCTAssertEqual(try HeadOutput.logits.probabilities(output).scalars, softmax.scalars)
        XCTAssertEqual(try HeadOutput.probabilities.probabilities(softmax).scalars, softmax.scalars)
        let fromPenalties = try HeadOutput.penalties.probabilities(output)
        let negated = try ActivationLayer(name: "s", .softmax).forward(HeadOutput.penalties.scores(output), mode: .inference)
        XCTAssertEqual(fromPenalties.scalars, negated.scalars)
        // The lowest penalty (index 0, then 1) is the most probable class.
        XCTAssertEqual((0..<2).map { r in (0..<3).max { fromPenalties[r, $0] < fromPenalties[r, $1] }! }, [0, 1])
        XCTAssertEqual(HeadOutput.logits.scores(output).scalars, output.scalars)
    }

    func testLabelsArrayEqualsIndexTensor() throws {
        let logits = randomTensor([4, 6], seed: 3, low: -3, high: 3)
        let loss = SoftmaxCrossEntropy(labelSmoothing: 0.05)
        let a = try loss(logits, labels: [5, 0, 2, 2])
        let b = try loss(logits, Tensor(shape: [4], scalars: [5, 0, 2, 2]))
        XCTAssertEqual(a.value, b.value)
        XCTAssertEqual(a.gradient, b.gradient)
    }

    /// One-hot soft targets give exactly the class-index loss.
    func testOneHotTargetsEqualLabels() throws {
        let logits = randomTensor([3, 4], seed: 5, low: -2, high: 2)
        var onehot = Tensor(zeros: [3, 4])
        for (row, label) in [1, 3, 0].enumerated() { onehot[row, label] = 1 }
        let a = try SoftmaxCrossEntropy(labelSmoothing: 0.1)(logits, labels: [1, 3, 0])
        let b = try SoftmaxCrossEntropy(labelSmoothing: 0.1)(logits, onehot)
        XCTAssertEqual(a.value, b.value, accuracy: 1e-6)
        assertClose(a.gradient, b.gradient, relative: 1e-7)
    }

    // MARK: Finite differences

    func testGradientsByFiniteDifferences() throws {
        let logits = randomTensor([3, 5], seed: 8, low: -2, high: 2)
        var soft = randomTensor([3, 5], seed: 9, low: 0, high: 1)
        for r in 0..<3 {   // normalize rows to distributions
            var s: Float = 0
            for c in 0..<5 { s += soft[r, c] }
            for c in 0..<5 { soft[r, c] /= s }
        }
        let labels = Tensor(shape: [3], scalars: [4, 0, 2])
        try gradientCheck(SoftmaxCrossEntropy(), logits, labels)
        try gradientCheck(SoftmaxCrossEntropy(labelSmoothing: 0.3), logits, labels)
        try gradientCheck(SoftmaxCrossEntropy(), logits, soft)
        try gradientCheck(SoftmaxCrossEntropy(labelSmoothing: 0.1), logits, soft)
        // Targets that do not sum to one (a cutmix row with a rounding slip): the gradient's p * Σq term.
        try gradientCheck(SoftmaxCrossEntropy(), logits, randomTensor([3, 5], seed: 10, low: 0, high: 1))
        try gradientCheck(BinaryCrossEntropyWithLogits(), logits, randomTensor([3, 5], seed: 11, low: 0, high: 1))
        try gradientCheck(MeanSquaredError(), logits, randomTensor([3, 5], seed: 12))
    }

    func gradientCheck(_ loss: Loss, _ input: Tensor, _ target: Tensor, file: StaticString = #filePath, line: UInt = #line) throws {
        let analytic = try loss(input, target).gradient
        var x = input
        let eps: Float = 1e-2
        for i in 0..<x.count {
            let v = x[flat: i]
            x[flat: i] = v + eps; let plus = Double(try loss(x, target).value)
            x[flat: i] = v - eps; let minus = Double(try loss(x, target).value)
            x[flat: i] = v
            let numeric = Float((plus - minus) / Double(2 * eps))
            XCTAssertEqual(analytic[flat: i], numeric, accuracy: 2e-4 + 1e-2 * abs(numeric),
                           "\(loss.name) d/dx[\(i)]", file: file, line: line)
        }
    }

    // MARK: Stability and errors

    func testHugeLogitsStayFinite() throws {
        let logits = Tensor(shape: [2, 3], scalars: [1e4, -1e4, 0, -3e4, -3e4 + 1, -3e4 + 2])
        let r = try SoftmaxCrossEntropy()(logits, labels: [1, 2])
        XCTAssertEqual(r.value, (2e4 + 0.40760596) / 2, accuracy: 1e-2)   // row 2: log(1 + e + e²) - 2
        XCTAssertTrue(r.gradient.scalars.allSatisfy { $0.isFinite })
        let b = try BinaryCrossEntropyWithLogits()(Tensor(shape: [2], scalars: [200, -200]), Tensor(shape: [2], scalars: [0, 0]))
        XCTAssertEqual(b.value, 100, accuracy: 1e-4)
    }

    func testBadTargetsThrowNamedErrors() {
        let logits = Tensor(zeros: [2, 3])
        XCTAssertThrowsError(try SoftmaxCrossEntropy()(logits, labels: [0, 3])) { error in
            XCTAssertEqual(error as? LossError, LossError(loss: "SoftmaxCrossEntropy", "label 3 of row 1 is outside 0..<3"))
        }
        XCTAssertThrowsError(try SoftmaxCrossEntropy()(logits, labels: [0]))
        XCTAssertThrowsError(try SoftmaxCrossEntropy()(logits, Tensor(shape: [2], scalars: [0, 1.5])))
        XCTAssertThrowsError(try SoftmaxCrossEntropy()(logits, Tensor(zeros: [3, 2])))
        XCTAssertThrowsError(try SoftmaxCrossEntropy()(Tensor(zeros: [6]), labels: [0]))
        XCTAssertThrowsError(try SoftmaxCrossEntropy(labelSmoothing: 1.5)(logits, labels: [0, 1]))
        XCTAssertThrowsError(try MeanSquaredError()(logits, Tensor(zeros: [3, 2]))) { error in
            XCTAssertTrue("\(error)".contains("(2, 3)") && "\(error)".contains("(3, 2)"), "\(error)")
        }
        XCTAssertThrowsError(try BinaryCrossEntropyWithLogits()(logits, Tensor(zeros: [2])))
    }
}
