import XCTest
@testable import Engine

/// Passes its input through and records, per forward, the mode and the first feature of each sample.
final class ForwardSpy: Layer {
    let name = "spy"
    var modes: [Mode] = []
    var firstFeatures: [[Float]] = []
    private var shape: [Int]?

    func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        modes.append(mode)
        let size = input.count / input.batch
        firstFeatures.append((0..<input.batch).map { input[flat: $0 * size] })
        shape = input.shape
        return input
    }

    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        needsInputGradient ? outputGradient : nil
    }
}

/// Keeps every epoch's weights, as they were when the epoch ended.
final class WeightRecorder: TrainingCallback {
    var snapshots: [[Tensor]] = []
    var batches: [BatchRecord] = []
    func batchEnded(_ trainer: Trainer, _ batch: BatchRecord) throws { batches.append(batch) }
    func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        snapshots.append(trainer.model.allWeights.map(\.value))
    }
}

final class TrainerTests: XCTestCase {
    func testMetricsCountTopOneTopFiveAndTheConfusionMatrix() throws {
        var metrics = MetricAccumulator(classes: 6)
        let logits = Tensor(shape: [4, 6], scalars: [
            0, 1, 9, 2, 3, 4,      // label 2: first
            1, 5, 6, 7, 0, 2,      // label 0: 4th (three higher) -> top-5 only, predicted 3
            9, 8, 7, 6, 5, 0,      // label 5: last -> neither
            4, 4, 1, 2, 3, 0,      // label 1: tied with class 0, which wins by index -> top-5 only
        ])
        try metrics.add(logits: logits, labels: [2, 0, 5, 1], meanLoss: 2)
        try metrics.add(logits: Tensor(shape: [1, 6], scalars: [0, 0, 0, 0, 0, 1]), labels: [5], meanLoss: 0.5)
        let r = metrics.report
        XCTAssertEqual(r.samples, 5)
        XCTAssertEqual(r.loss, (2 * 4 + 0.5) / 5, accuracy: 1e-12)
        XCTAssertEqual(r.top1, 2.0 / 5)
        XCTAssertEqual(r.top5, 4.0 / 5)
        var confusion = Array(repeating: Array(repeating: 0, count: 6), count: 6)
        confusion[2][2] = 1; confusion[0][3] = 1; confusion[5][0] = 1; confusion[1][0] = 1; confusion[5][5] = 1
        XCTAssertEqual(r.confusion, confusion)
        XCTAssertEqual(r.precision, [0, 0, 1, 0, 0, 1])
        XCTAssertEqual(r.recall, [0, 0, 1, 0, 0, 0.5])
        XCTAssertThrowsError(try metrics.add(logits: logits, labels: [0], meanLoss: 0))
    }

    func testANaNScoreIsAMissNotAHit() throws {
        var metrics = MetricAccumulator(classes: 6)
        try metrics.add(logits: Tensor(shape: [2, 6], scalars: [.nan, .nan, .nan, .nan, .nan, .nan,
                                                                 0, .nan, 0, 0, 0, 0]), labels: [0, 1], meanLoss: 0)
        XCTAssertEqual(metrics.report.top1, 0)
        XCTAssertEqual(metrics.report.top5, 0)
    }

    /// Inputs whose first feature is the sample's index, so the spy can tell which samples a batch held.
    func indexedData(_ n: Int) throws -> LabeledData {
        try LabeledData(inputs: Tensor(shape: [n, 2], scalars: (0..<n).flatMap { [Float($0), 0] }),
                        labels: (0..<n).map { $0 % 2 }, classes: 2)
    }

    func testEpochsVisitEverySampleOnceInASeededOrderAndSwitchModes() throws {
        func run(seed: UInt64, dropLast: Bool = false) throws -> (ForwardSpy, WeightRecorder) {
            let spy = ForwardSpy()
            let dense = Dense(name: "dense", inputFeatures: 2, units: 2, initializer: .zeros)
            let recorder = WeightRecorder()
            let trainer = Trainer(model: Sequential(name: "m", [spy, dense]), loss: SoftmaxCrossEntropy(),
                                  optimizer: try SGD(dense.parameters, learningRate: 0),
                                  configuration: TrainingConfiguration(batchSize: 8, seed: seed, dropLastBatch: dropLast,
                                                                       evaluationBatchSize: 50),
                                  callbacks: [recorder])
            try trainer.fit(try indexedData(30), validation: try indexedData(20), epochs: 3)
            return (spy, recorder)
        }
        let (spy, recorder) = try run(seed: 9)
        // Per epoch: 4 training batches (8, 8, 8, 6), then one validation batch.
        XCTAssertEqual(spy.modes, (0..<3).flatMap { _ in [Mode](repeating: .training, count: 4) + [.inference] })
        XCTAssertEqual(recorder.batches.map(\.samples), Array(repeating: [8, 8, 8, 6], count: 3).flatMap { $0 })
        var orders: [[Float]] = []
        for epoch in 0..<3 {
            let seen = spy.firstFeatures[(epoch * 5)..<(epoch * 5 + 4)].flatMap { $0 }
            XCTAssertEqual(seen.sorted(), (0..<30).map(Float.init), "epoch \(epoch + 1) must see every sample once")
            orders.append(seen)
        }
        XCTAssertNotEqual(orders[0], orders[1], "each epoch reshuffles")
        XCTAssertNotEqual(orders[0], (0..<30).map(Float.init))
        XCTAssertEqual(try run(seed: 9).0.firstFeatures, spy.firstFeatures, "one seed, one order")
        XCTAssertNotEqual(try run(seed: 10).0.firstFeatures, spy.firstFeatures)
        XCTAssertEqual(try run(seed: 9, dropLast: true).1.batches.map(\.samples), Array(repeating: 8, count: 9))
    }

    /// A dropout MLP with noise and mixup on the digits: everything random flows from the seed.
    func runDigits(seed: UInt64, epochs: Int = 3) throws -> (Sequential, [EpochRecord]) {
        let digits = try bundledDigits().flattened()
        let split = try Splits.stratified(labels: digits.labels, validationFraction: 0.2, generator: RandomGenerator(seed: 1))
        let model = makeMLP([64, 48, 10], dropout: 0.2, seed: 3)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(labelSmoothing: 0.1),
                              optimizer: try Adam(model.trainableParameters, learningRate: 3e-3),
                              configuration: TrainingConfiguration(batchSize: 32, seed: seed),
                              augmentations: [GaussianNoise(standardDeviation: 0.05), Mixup(alpha: 0.3)])
        let records = try trainer.fit(digits.subset(split.training), validation: digits.subset(split.validation),
                                      epochs: epochs)
        return (model, records)
    }

    func testOneSeedGivesABitIdenticalRun() throws {
        let (a, ra) = try runDigits(seed: 42)
        let (b, rb) = try runDigits(seed: 42)
        assertSameWeights(a, b, "same seed")
        XCTAssertEqual(timeless(ra), timeless(rb))
        let (c, _) = try runDigits(seed: 43)
        XCTAssertNotEqual(a.allWeights[0].value, c.allWeights[0].value, "another seed, another run")
        XCTAssert(ra.last!.validation!.top1 > 0.85, "the run learns: \(ra.last!.validation!.top1)")
    }

    func testEarlyStoppingStopsAfterPatienceAndRestoresTheBestWeights() throws {
        let digits = try bundledDigits().flattened()
        let split = try Splits.stratified(labels: digits.labels, validationFraction: 0.8, generator: RandomGenerator(seed: 2))
        let model = makeMLP([64, 256, 10], seed: 4)
        let early = EarlyStopping(monitor: .validationLoss, patience: 3)
        let recorder = WeightRecorder()
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(),
                              optimizer: try Adam(model.trainableParameters, learningRate: 0.02),
                              configuration: TrainingConfiguration(batchSize: 16, seed: 5),
                              callbacks: [recorder, early])
        let validation = try digits.subset(split.validation)
        let records = try trainer.fit(digits.subset(split.training), validation: validation, epochs: 200)
        let stopped = try XCTUnwrap(early.stoppedEpoch, "an over-fitting run must stop early")
        XCTAssertLessThan(stopped, 200)
        XCTAssertEqual(stopped, early.bestEpoch + 3)
        XCTAssertEqual(records.count, stopped)
        let losses = records.map { $0.validation!.loss }
        XCTAssertEqual(early.best, losses.min()!)
        XCTAssertEqual(losses.firstIndex(of: losses.min()!)! + 1, early.bestEpoch)
        XCTAssert(trainer.stopReason?.contains("early stopping") == true)
        for (w, best) in zip(model.allWeights, recorder.snapshots[early.bestEpoch - 1]) {
            XCTAssertEqual(w.value, best, "restored weights are the best epoch's")
        }
        XCTAssertEqual(try trainer.evaluate(validation).loss, early.best)
    }

    func testProgressLinesAreParseableAndTheBarShowsThroughputAndETA() throws {
        func run(_ style: ProgressLogger.Style) throws -> String {
            var text = ""
            let model = makeMLP([2, 2], seed: 1)
            let logger = ProgressLogger(style: style, batchLineInterval: 2) { text += $0 }
            let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(),
                                  optimizer: try SGD(model.trainableParameters, learningRate: 0.1),
                                  configuration: TrainingConfiguration(batchSize: 8), callbacks: [logger])
            try trainer.fit(try indexedData(30), validation: try indexedData(10), epochs: 2)
            return text
        }
        let lines = try run(.lines).split(separator: "\n").map(String.init)
        let epochLines = lines.filter { !$0.contains("batch=") }
        XCTAssertEqual(epochLines.count, 2)
        XCTAssertEqual(lines.filter { $0.contains("batch=") }.count, 4, "batches 2 and 4 of each epoch")
        for (i, line) in epochLines.enumerated() {
            let fields = Dictionary(uniqueKeysWithValues: line.split(separator: " ").map { f -> (String, String) in
                let kv = f.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), String(kv[1]))
            })
            XCTAssertEqual(fields["epoch"], "\(i + 1)/2")
            for key in ["loss", "top1", "val_loss", "val_top1", "lr", "samples_per_second", "seconds"] {
                XCTAssertNotNil(fields[key].flatMap(Double.init), "\(key) in \(line)")
            }
            XCTAssertNil(fields["val_top5"], "two classes: top-5 is always 1, so it is not shown")
        }
        let bar = try run(.bar)
        XCTAssert(bar.contains("\r"))
        XCTAssert(bar.contains("ETA "))
        XCTAssert(bar.contains("samples/s"))
        XCTAssert(bar.contains("[========================] 1/1"))
        XCTAssertEqual(bar.filter { $0 == "\n" }.count, 2, "one kept line per epoch")
    }

    func testBadSettingsAreReported() throws {
        let model = makeMLP([2, 2], seed: 1)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(),
                              optimizer: try SGD(model.trainableParameters), configuration: TrainingConfiguration(batchSize: 0))
        XCTAssertThrowsError(try trainer.fit(try indexedData(4), epochs: 1)) { XCTAssert("\($0)".contains("batch sizes")) }
        XCTAssertThrowsError(try LabeledData(inputs: Tensor(zeros: [3, 2]), labels: [0, 1, 2], classes: 2)) {
            XCTAssert("\($0)".contains("label 2 of sample 2"), "\($0)")
        }
        XCTAssertThrowsError(try indexedData(4).subset([1, 4])) { XCTAssert("\($0)".contains("index 4"), "\($0)") }
        let stopping = Trainer(model: model, loss: SoftmaxCrossEntropy(), optimizer: try SGD(model.trainableParameters),
                               callbacks: [EarlyStopping(monitor: .validationTop1, patience: 1)])
        XCTAssertThrowsError(try stopping.fit(try indexedData(4), epochs: 1)) { XCTAssert("\($0)".contains("validation")) }
    }
}
