import XCTest
@testable import Engine

/// Splits partition the samples, stratification keeps class proportions, folds never share a
/// sample, and a cross-validation of a real model reports each fold with mean and deviation.
final class ModelSelectionTests: XCTestCase {
    func assertPartition(_ split: Split, count: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssert(Set(split.training).isDisjoint(with: split.validation), "training and validation share samples",
                  file: file, line: line)
        XCTAssertEqual((split.training + split.validation).sorted(), Array(0..<count), file: file, line: line)
    }

    func testTrainValidationSplitIsASeededPartition() throws {
        let split = try Splits.trainValidation(count: 103, validationFraction: 0.2, generator: RandomGenerator(seed: 1))
        assertPartition(split, count: 103)
        XCTAssertEqual(split.validation.count, 21)
        XCTAssertEqual(try Splits.trainValidation(count: 103, validationFraction: 0.2, generator: RandomGenerator(seed: 1)), split)
        XCTAssertNotEqual(try Splits.trainValidation(count: 103, validationFraction: 0.2, generator: RandomGenerator(seed: 2)), split)
        XCTAssertThrowsError(try Splits.trainValidation(count: 10, validationFraction: 1, generator: RandomGenerator(seed: 1)))
    }

    func testStratifiedSplitKeepsEachClassProportion() throws {
        let labels = try bundledDigits().labels
        let split = try Splits.stratified(labels: labels, validationFraction: 0.25, generator: RandomGenerator(seed: 3))
        assertPartition(split, count: labels.count)
        for c in 0..<10 {
            let total = labels.filter { $0 == c }.count
            let held = split.validation.filter { labels[$0] == c }.count
            XCTAssertEqual(held, Int((0.25 * Double(total)).rounded()), "class \(c)")
        }
    }

    /// Fine-tuning's split: every class with two or more samples validates and trains, a single
    /// sample trains, and a fraction of 0 holds nothing out.
    func testStratifiedSplitKeepsSmallClassesOnBothSides() throws {
        // 50 of class 0, 30 of class 1, 20 of class 2, 1 of class 3, interleaved.
        let labels: [Int] = (0..<100).map { $0 % 10 < 5 ? 0 : $0 % 10 < 8 ? 1 : 2 } + [3]
        let split = try Splits.stratified(labels: labels, validationFraction: 0.2, generator: RandomGenerator(seed: 7))
        assertPartition(split, count: labels.count)
        func count(_ indices: [Int], _ c: Int) -> Int { indices.filter { labels[$0] == c }.count }
        XCTAssertEqual([0, 1, 2, 3].map { count(split.validation, $0) }, [10, 6, 4, 0])
        XCTAssertEqual([0, 1, 2, 3].map { count(split.training, $0) }, [40, 24, 16, 1])
        XCTAssertNotEqual(split.validation, try Splits.stratified(labels: labels, validationFraction: 0.2,
                                                                  generator: RandomGenerator(seed: 8)).validation)
        let small = [0, 0, 1, 1, 1, 2]
        // round(0.2) = 0, but a class of two or more gives one to validation and keeps one for training.
        let tiny = try Splits.stratified(labels: small, validationFraction: 0.1, generator: RandomGenerator(seed: 3))
        XCTAssertEqual(tiny.validation.map { small[$0] }.sorted(), [0, 1])
        XCTAssertEqual(tiny.training.count, 4)
        XCTAssertEqual(try Splits.stratified(labels: [0, 0, 1], validationFraction: 0, generator: RandomGenerator(seed: 3)).validation, [])
        XCTAssertThrowsError(try Splits.stratified(labels: [0], validationFraction: 1, generator: RandomGenerator(seed: 0)))
    }

    func testKFoldFoldsNeverShareASampleAndCoverAll() throws {
        for generator in [nil, RandomGenerator(seed: 4)] {
            let folds = try Splits.kFold(count: 53, folds: 5, generator: generator)
            XCTAssertEqual(folds.count, 5)
            var seen = Set<Int>()
            for fold in folds {
                assertPartition(fold, count: 53)
                XCTAssert(seen.isDisjoint(with: fold.validation), "a sample validates in two folds")
                seen.formUnion(fold.validation)
                XCTAssert([10, 11].contains(fold.validation.count))
            }
            XCTAssertEqual(seen.count, 53)
        }
        XCTAssertThrowsError(try Splits.kFold(count: 3, folds: 4))
    }

    func testStratifiedKFoldBalancesClassesAndNeverSharesASample() throws {
        let labels = try bundledDigits().labels
        let folds = try Splits.stratifiedKFold(labels: labels, folds: 5, generator: RandomGenerator(seed: 5))
        var seen = Set<Int>()
        for fold in folds {
            assertPartition(fold, count: labels.count)
            XCTAssert(seen.isDisjoint(with: fold.validation))
            seen.formUnion(fold.validation)
            XCTAssert((359...360).contains(fold.validation.count), "\(fold.validation.count)")
            for c in 0..<10 {
                let expected = Double(labels.filter { $0 == c }.count) / 5
                let held = Double(fold.validation.filter { labels[$0] == c }.count)
                XCTAssertLessThanOrEqual(abs(held - expected), 1, "class \(c)")
            }
        }
        XCTAssertEqual(seen.count, labels.count)
    }

    func testReportMeanAndPopulationDeviation() {
        let report = CrossValidationReport(scores: [0.9, 0.8, 1.0, 0.7])
        XCTAssertEqual(report.mean, 0.85, accuracy: 1e-12)
        XCTAssertEqual(report.standardDeviation, 0.0125.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(report.description.split(separator: "\n").count, 5)
    }

    /// 5-fold stratified cross-validation of a small MLP on the raw digits.
    func testCrossValidatedMLPOnDigitsReportsEachFold() throws {
        let digits = try bundledDigits().flattened()
        let folds = try Splits.stratifiedKFold(labels: digits.labels, folds: 5, generator: RandomGenerator(seed: 6))
        let report = try CrossValidation.run(folds) { fold, split in
            let model = makeMLP([64, 32, 10], seed: UInt64(fold))
            let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(), optimizer: try Adam(model.trainableParameters,
                                  learningRate: 0.01), configuration: TrainingConfiguration(batchSize: 64, seed: UInt64(fold)))
            try trainer.fit(digits.subset(split.training), epochs: 8)
            return try trainer.evaluate(digits.subset(split.validation)).top1
        }
        print(report)
        XCTAssertEqual(report.scores.count, 5)
        XCTAssert(report.scores.allSatisfy { $0 > 0.9 }, "\(report.scores)")
        XCTAssert(report.standardDeviation < 0.05)
        let lines = report.description.split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        XCTAssert(lines[0].hasPrefix("fold=1 score="))
        XCTAssert(lines[5].hasPrefix("mean="))
    }
}
