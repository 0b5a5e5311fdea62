import Engine
import Foundation
@testable import Transfer
import XCTest
import Zoo

/// LeNet-5's paper form outputs RBF penalties (lower is better): it ranks lowest first, reads as
/// probabilities through a softmax of the negated penalties, and trains with that softmax's
/// cross-entropy, so after training the lowest penalty names the digit.
final class PenaltyHeadTests: XCTestCase {
    func testPaperLeNetTrainsSoThatTheLowestPenaltyNamesTheDigit() throws {
        let digits = try Digits.loadLeNet(from: repositoryRoot.appendingPathComponent("datasets/digits")).subset(Array(0..<600))
        let data = try TensorDataset(inputs: digits.inputs, labels: digits.labels, classNames: (0..<10).map(String.init))
        RandomGenerator.global.reseed(3)
        let (model, _) = try NewHeadModel.build(architecture: "lenet5-paper", weights: nil, classes: 10)
        XCTAssertEqual(model.headOutput, .penalties)
        var settings = FineTuneSettings()
        settings.epochs = 8
        settings.learningRate = 3e-3
        let tuner = FineTuner(model: model, plan: try FreezePlan(model: model, newLayers: [], pretrained: false),
                              settings: settings)
        tuner.log = { _ in }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-penalties-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let result = try tuner.run(on: data, output: work.appendingPathComponent("p.h5"),
                                   checkpoints: work.appendingPathComponent("ckpt"))
        let validationTop1 = try XCTUnwrap(result.history.last?.validation?.top1)

        let penalties = try model.predict(digits.inputs)
        let probabilities = try model.probabilities(penalties)
        var lowest = 0, highest = 0
        for (row, label) in digits.labels.enumerated() {
            let scores = (0..<10).map { penalties[row, $0] }
            let argmin = scores.indices.min { scores[$0] < scores[$1] }!
            XCTAssertEqual((0..<10).max { probabilities[row, $0] < probabilities[row, $1] }, argmin, "row \(row)")
            if argmin == label { lowest += 1 }
            if scores.indices.max(by: { scores[$0] < scores[$1] }) == label { highest += 1 }
        }
        let n = Double(digits.count)
        XCTAssertGreaterThan(Double(lowest) / n, 0.85, "the lowest penalty names the digit")
        XCTAssertLessThan(Double(highest) / n, 0.05, "the highest penalty is the worst match")
        XCTAssertGreaterThan(validationTop1, 0.8, "validation top-1 ranks the lowest penalty first")
    }
}
