import XCTest
@testable import Engine

/// Real training on the bundled digits, held-out accuracy asserted: an MLP on the raw 8x8 digits,
/// a LeNet-5-style CNN on their 32x32 canvas, and what dropout and weight decay do to over-fitting.
final class DigitsTrainingTests: XCTestCase {
    /// A stratified 80/20 split of the digits (the same for every test).
    func split(_ data: LabeledData) throws -> (training: LabeledData, validation: LabeledData) {
        let s = try Splits.stratified(labels: data.labels, validationFraction: 0.2, generator: RandomGenerator(seed: 2024))
        return (try data.subset(s.training), try data.subset(s.validation))
    }

    func testMLPReachesNinetyFivePercentHeldOut() throws {
        let (training, validation) = try split(try bundledDigits().flattened())
        let model = makeMLP([64, 128, 10], seed: 1)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(),
                              optimizer: try Adam(model.trainableParameters, learningRate: 3e-3),
                              configuration: TrainingConfiguration(batchSize: 32, seed: 1))
        let records = try trainer.fit(training, validation: validation, epochs: 20)
        let accuracy = try XCTUnwrap(records.last?.validation?.top1)
        print("MLP held-out top-1: \(accuracy)")
        XCTAssertGreaterThanOrEqual(accuracy, 0.95)
    }

    /// LeNet-5 (LeCun et al., 1998) in its modern form: ReLU and max pooling instead of the scaled
    /// tanh and trainable subsampling, a plain Dense output instead of the RBF units.
    static func makeLeNet(seed: UInt64) -> Sequential {
        RandomGenerator.global.reseed(seed)
        return Sequential(name: "lenet5", [
            Conv2D(name: "c1", inputChannels: 1, filters: 6, kernelSize: (5, 5), activation: .relu),
            MaxPool2D(name: "s2", poolSize: (2, 2)),
            Conv2D(name: "c3", inputChannels: 6, filters: 16, kernelSize: (5, 5), activation: .relu),
            MaxPool2D(name: "s4", poolSize: (2, 2)),
            Conv2D(name: "c5", inputChannels: 16, filters: 120, kernelSize: (5, 5), activation: .relu),
            Flatten(name: "flatten"),
            Dense(name: "f6", inputFeatures: 120, units: 84, activation: .relu),
            Dense(name: "output", inputFeatures: 84, units: 10),
        ])
    }

    func testLeNetReachesNinetySevenPercentHeldOut() throws {
        let (training, validation) = try split(try Digits.lenetCanvas(try bundledDigits()))
        let model = Self.makeLeNet(seed: 5)
        let epochs = 8, batchSize = 32
        let optimizer = try Adam(model.trainableParameters, learningRate: 2e-3)
        let cosine = try CosineAnnealingLR(optimizer: optimizer,
                                           maxIterations: epochs * ((training.count + batchSize - 1) / batchSize))
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(labelSmoothing: 0.1), optimizer: optimizer,
                              schedule: .perBatch(cosine), configuration: TrainingConfiguration(batchSize: batchSize, seed: 5),
                              callbacks: [ProgressLogger(style: .lines)])
        let records = try trainer.fit(training, validation: validation, epochs: epochs)
        let accuracy = try XCTUnwrap(records.last?.validation?.top1)
        print("LeNet-5 held-out top-1: \(accuracy)")
        XCTAssertGreaterThanOrEqual(accuracy, 0.97)
    }

    /// An over-parameterized MLP (85k weights for 287 samples) memorizes its training set, here
    /// with a quarter of the labels replaced by random ones: the digits are so easy that without
    /// such noise memorizing costs little validation accuracy, and the gap regularization closes
    /// is within noise (measured: 6.1% plain, 3.9-6.4% with dropout, across seeds). Dropout and
    /// weight decay each keep the network from fitting the noise.
    func testDropoutAndWeightDecayShrinkTheGeneralizationGap() throws {
        let digits = try bundledDigits().flattened()
        let s = try Splits.stratified(labels: digits.labels, validationFraction: 0.2, generator: RandomGenerator(seed: 2024))
        let few = try Splits.stratified(labels: s.training.map { digits.labels[$0] }, validationFraction: 0.8,
                                        generator: RandomGenerator(seed: 3))
        var training = try digits.subset(few.training.map { s.training[$0] })
        let validation = try digits.subset(s.validation)
        let noise = RandomGenerator(seed: 17)
        for i in 0..<training.count where noise.nextDouble() < 0.25 { training.labels[i] = noise.nextInt(below: 10) }

        func accuracies(dropout: Float, weightDecay: Double) throws -> (train: Double, validation: Double, gap: Double) {
            let model = makeMLP([64, 256, 256, 10], dropout: dropout, seed: 9)
            let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(),
                                  optimizer: try AdamW(model.trainableParameters, learningRate: 1e-3, weightDecay: weightDecay),
                                  configuration: TrainingConfiguration(batchSize: 32, seed: 9))
            try trainer.fit(training, epochs: 60)
            let train = try trainer.evaluate(training).top1, held = try trainer.evaluate(validation).top1
            return (train, held, train - held)
        }
        let plain = try accuracies(dropout: 0, weightDecay: 0)
        let dropout = try accuracies(dropout: 0.5, weightDecay: 0)
        let decay = try accuracies(dropout: 0, weightDecay: 3)
        for (name, r) in [("plain", plain), ("dropout 0.5", dropout), ("weight decay 3", decay)] {
            print("\(name): train \(r.train) validation \(r.validation) gap \(r.gap)")
        }
        XCTAssertEqual(plain.train, 1, "the unregularized network memorizes every label, noise included")
        XCTAssertLessThan(dropout.gap, plain.gap - 0.1)
        XCTAssertLessThan(decay.gap, plain.gap - 0.1)
        XCTAssertGreaterThan(dropout.validation, plain.validation)
        XCTAssertGreaterThan(decay.validation, plain.validation)
    }
}
