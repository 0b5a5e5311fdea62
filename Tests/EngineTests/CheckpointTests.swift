import XCTest
@testable import Engine

/// Checkpoints round-trip every part of a run, resuming is bit-identical to never stopping, writes
/// are atomic, and the non-finite guard stops with the offending layer and keeps the last good checkpoint.
final class CheckpointTests: XCTestCase {
    enum ScheduleKind: CaseIterable { case adamPerBatchCosine, sgdOnPlateau, adamWPerEpochStep }

    struct Run {
        var model: Sequential
        var trainer: Trainer
        var early: EarlyStopping
    }

    /// A small CNN with BatchNorm and Dropout, four augmentations and early stopping (which never
    /// fires here but keeps state), on 8x8 digits.
    func makeRun(_ kind: ScheduleKind, initSeed: UInt64, checkpoints: URL? = nil) throws -> Run {
        RandomGenerator.global.reseed(initSeed)
        let model = Sequential(name: "net", [
            Conv2D(name: "conv", inputChannels: 1, filters: 4, kernelSize: (3, 3), padding: .same),
            BatchNorm(name: "bn", channels: 4, epsilon: 1e-5, momentum: 0.1, convention: .pytorch),
            ActivationLayer(name: "relu", .relu),
            MaxPool2D(name: "pool", poolSize: (2, 2)),
            Flatten(name: "flatten"),
            Dropout(name: "dropout", rate: 0.3),
            Dense(name: "fc", inputFeatures: 64, units: 10),
        ])
        let parameters = model.trainableParameters
        let optimizer: Optimizer, schedule: TrainingSchedule
        switch kind {
        case .adamPerBatchCosine:
            optimizer = try Adam(parameters, learningRate: 0.01)
            schedule = .perBatch(try CosineAnnealingLR(optimizer: optimizer, maxIterations: 20))
        case .sgdOnPlateau:
            optimizer = try SGD(parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true)
            schedule = .onPlateau(try ReduceLROnPlateau(optimizer: optimizer, factor: 0.5, patience: 0, threshold: 0.5),
                                  monitor: .validationLoss)
        case .adamWPerEpochStep:
            optimizer = try AdamW(parameters, learningRate: 0.01, weightDecay: 0.05)
            schedule = .perEpoch(try StepLR(optimizer: optimizer, stepSize: 1, gamma: 0.7))
        }
        let early = EarlyStopping(monitor: .validationTop1, patience: 50)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(labelSmoothing: 0.05), optimizer: optimizer,
                              schedule: schedule,
                              configuration: TrainingConfiguration(batchSize: 32, seed: 77, dropLastBatch: true),
                              augmentations: [RandomCrop(padding: 1), Cutout(size: 3), GaussianNoise(standardDeviation: 0.02),
                                              Mixup(alpha: 0.4)],
                              callbacks: [early] + (checkpoints.map { [Checkpointer(directory: $0, keep: 2)] } ?? []))
        return Run(model: model, trainer: trainer, early: early)
    }

    func smallDigits() throws -> (LabeledData, LabeledData) {
        let digits = try bundledDigits()
        let split = try Splits.stratified(labels: digits.labels, validationFraction: 0.2, generator: RandomGenerator(seed: 8))
        return (try digits.subset(Array(split.training.prefix(240))), try digits.subset(Array(split.validation.prefix(60))))
    }

    func testResumingIsBitIdenticalToNeverStopping() throws {
        let (training, validation) = try smallDigits()
        for kind in ScheduleKind.allCases {
            let straight = try makeRun(kind, initSeed: 1)
            try straight.trainer.fit(training, validation: validation, epochs: 4)

            let directory = try temporaryDirectory(self)
            let first = try makeRun(kind, initSeed: 1, checkpoints: directory)
            try first.trainer.fit(training, validation: validation, epochs: 2)
            XCTAssertEqual(Checkpointer.checkpoints(in: directory).map(\.epoch), [1, 2])

            // A new process, in effect: new objects, other initial weights, resumed from disk.
            let resumed = try makeRun(kind, initSeed: 999, checkpoints: directory)
            try resumed.trainer.resume(from: XCTUnwrap(Checkpointer.latest(in: directory)))
            XCTAssertEqual(resumed.trainer.epoch, 2)
            try resumed.trainer.fit(training, validation: validation, epochs: 4)

            assertSameWeights(resumed.model, straight.model, "\(kind)")
            // Plain == keeps a failure's message short; these states print thousands of numbers.
            XCTAssert(resumed.trainer.optimizer.saveState() == straight.trainer.optimizer.saveState(), "\(kind): optimizer")
            XCTAssert(timeless(resumed.trainer.history) == timeless(straight.trainer.history), "\(kind): history")
            XCTAssert(resumed.trainer.checkpoint().generators == straight.trainer.checkpoint().generators, "\(kind): random")
            XCTAssert(resumed.early.saveState() == straight.early.saveState(), "\(kind): early stopping")
            XCTAssertEqual(Checkpointer.checkpoints(in: directory).map(\.epoch), [3, 4], "keeps the newest two")
            let rates = Set(straight.trainer.history.map(\.learningRate))
            XCTAssertGreaterThan(rates.count, 1, "\(kind): the schedule must have moved the learning rate")
        }
    }

    func testCheckpointRoundTripsEveryPart() throws {
        let (training, validation) = try smallDigits()
        let run = try makeRun(.sgdOnPlateau, initSeed: 2)
        try run.trainer.fit(training, validation: validation, epochs: 1)
        let saved = run.trainer.checkpoint()
        let directory = try temporaryDirectory(self).appendingPathComponent("epoch-0001")
        try saved.write(to: directory)
        let read = try Checkpoint(contentsOf: directory)
        XCTAssertEqual(read.epoch, 1)
        XCTAssertEqual(read.weights.map { "\($0.layer)/\($0.name)" },
                       ["conv/kernel", "conv/bias", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance",
                        "fc/kernel", "fc/bias"])
        XCTAssertEqual(read.weights.map(\.value), saved.weights.map(\.value))
        XCTAssertNotEqual(read.weights[4].value, Tensor(zeros: [4]), "BatchNorm statistics are saved as they are")
        XCTAssertEqual(read.optimizer, saved.optimizer)
        XCTAssertEqual(read.generators, saved.generators)
        XCTAssertEqual(read.generators.map(\.name), ["shuffle", "augmentation", "dropout/0/dropout"])
        XCTAssertEqual(read.plateauMetrics, saved.plateauMetrics)
        XCTAssertEqual(read.history, saved.history)
        XCTAssertEqual(read.callbacks, saved.callbacks)
        XCTAssertEqual(read.callbacks["early_stopping"]?.tensors.count, 8)
    }

    func testWritesAreAtomic() throws {
        let root = try temporaryDirectory(self)
        let destination = root.appendingPathComponent("epoch-0001")
        try DurableFile.replaceDirectory(destination) { try Data("old".utf8).write(to: $0.appendingPathComponent("a")) }
        struct Interrupted: Error {}
        XCTAssertThrowsError(try DurableFile.replaceDirectory(destination) { dir in
            try Data("new".utf8).write(to: dir.appendingPathComponent("a"))
            throw Interrupted()
        })
        XCTAssertEqual(try String(contentsOf: destination.appendingPathComponent("a"), encoding: .utf8), "old",
                       "a failed write leaves the old checkpoint whole")
        try DurableFile.replaceDirectory(destination) { try Data("new".utf8).write(to: $0.appendingPathComponent("b")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: destination.path), ["b"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), ["epoch-0001"],
                       "no temporary directory is left behind")
        XCTAssertNil(Checkpointer.latest(in: root), "a directory without a manifest is not a checkpoint")
    }

    func testResumeRejectsAnotherModelOrAUsedScheduler() throws {
        let (training, validation) = try smallDigits()
        let directory = try temporaryDirectory(self)
        let run = try makeRun(.adamWPerEpochStep, initSeed: 1, checkpoints: directory)
        try run.trainer.fit(training, validation: validation, epochs: 1)
        let url = try XCTUnwrap(Checkpointer.latest(in: directory))

        let other = makeMLP([64, 10], seed: 1)
        let mismatched = Trainer(model: other, loss: SoftmaxCrossEntropy(), optimizer: try SGD(other.trainableParameters))
        XCTAssertThrowsError(try mismatched.resume(from: url)) { XCTAssert("\($0)".contains("weights"), "\($0)") }

        let used = try makeRun(.adamWPerEpochStep, initSeed: 1)
        try used.trainer.fit(training, validation: validation, epochs: 1)
        XCTAssertThrowsError(try used.trainer.resume(from: url)) { XCTAssert("\($0)".contains("freshly built"), "\($0)") }
        XCTAssertThrowsError(try Checkpoint(contentsOf: directory)) { XCTAssert("\($0)".contains("manifest"), "\($0)") }
    }

    // MARK: - The non-finite guard

    func testHugeLearningRateStopsTrainingAndKeepsTheLastGoodCheckpoint() throws {
        let (training, validation) = try smallDigits()
        let directory = try temporaryDirectory(self)
        func make() throws -> (Sequential, Trainer) {
            let model = makeMLP([64, 32, 10], seed: 6)
            let optimizer = try SGD(model.trainableParameters, learningRate: 0.1)
            // Epochs 1 and 2 train normally; epoch 3 runs at a learning rate of 1e11.
            let schedule = LambdaLR(optimizer: optimizer) { $0 >= 2 ? 1e12 : 1 }
            return (model, Trainer(model: model, loss: SoftmaxCrossEntropy(), optimizer: optimizer,
                                   schedule: .perEpoch(schedule), configuration: TrainingConfiguration(batchSize: 16),
                                   callbacks: [Checkpointer(directory: directory, keep: 1)]))
        }
        let (model, trainer) = try make()
        XCTAssertThrowsError(try trainer.fit(training.flattened(), validation: validation.flattened(), epochs: 10)) { error in
            guard let error = error as? NonFiniteError else { return XCTFail("expected NonFiniteError, got \(error)") }
            XCTAssertEqual(error.position.epoch, 3)
            XCTAssert(model.layers.map(\.name).contains(error.layer ?? ""), "names a layer: \(error)")
            XCTAssertEqual(error.lastCheckpoint?.lastPathComponent, "epoch-0002")
            XCTAssert(error.description.contains("epoch 3"), error.description)
            XCTAssert(error.description.contains("'\(error.layer ?? "")'"), error.description)
            XCTAssert(error.description.contains("epoch-0002"), error.description)
        }
        XCTAssertEqual(Checkpointer.checkpoints(in: directory).map(\.epoch), [2], "the failing epoch writes nothing")
        let good = try Checkpoint(contentsOf: directory.appendingPathComponent("epoch-0002"))
        XCTAssert(good.weights.allSatisfy { NonFiniteGuard.isFinite($0.value) })
        let (_, restarted) = try make()
        try restarted.resume(from: directory.appendingPathComponent("epoch-0002"))
        XCTAssertEqual(try restarted.evaluate(validation.flattened()).loss, good.history[1].validation!.loss)
    }

    /// Fits `layers` on a few 64-feature samples and returns the guard's error.
    func guardError(_ layers: [Layer], inputs: Tensor) throws -> NonFiniteError? {
        let model = Sequential(name: "m", layers)
        let data = try LabeledData(inputs: inputs, labels: (0..<inputs.batch).map { $0 % 10 }, classes: 10)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(), optimizer: try SGD(model.trainableParameters),
                              configuration: TrainingConfiguration(batchSize: 8))
        do {
            try trainer.fit(data, epochs: 1)
        } catch let error as NonFiniteError {
            return error
        }
        return nil
    }

    func testGuardNamesTheFirstOffendingLayer() throws {
        RandomGenerator.global.reseed(3)
        func mlp() -> [Layer] {
            [Dense(name: "fc1", inputFeatures: 64, units: 16, activation: .relu),
             Dense(name: "fc2", inputFeatures: 16, units: 16, activation: .relu),
             Dense(name: "fc3", inputFeatures: 16, units: 10)]
        }
        let ones = Tensor(shape: [16, 64], repeating: 0.5)

        let poisoned = mlp()
        (poisoned[1] as! Dense).kernel.value[flat: 7] = .nan
        let weight = try XCTUnwrap(try guardError(poisoned, inputs: ones))
        XCTAssertEqual(weight.kind, .weight)
        XCTAssertEqual(weight.layer, "fc2")
        XCTAssertEqual(weight.parameter, "kernel")

        var nanInput = ones
        nanInput[flat: 100] = .nan
        let output = try XCTUnwrap(try guardError(mlp(), inputs: nanInput))
        XCTAssertEqual(output.kind, .output)
        XCTAssertEqual(output.layer, "fc1")

        var huge = Tensor(zeros: [16, 64])
        // Each feature alternates ±3e37 down the batch: a finite mean, a variance beyond float range.
        for i in 0..<huge.count { huge[flat: i] = (i / 64) % 2 == 0 ? 3e37 : -3e37 }
        let statistics = try XCTUnwrap(try guardError(
            [BatchNorm(name: "bn", channels: 64, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)] + mlp(), inputs: huge))
        XCTAssertEqual(statistics.kind, .batchNormStatistics)
        XCTAssertEqual(statistics.layer, "bn")
        XCTAssertEqual(statistics.parameter, "moving_variance")

        let layers = mlp()
        let gradient = try XCTUnwrap(try guardError([layers[0], PoisonedGradient(), layers[1], layers[2]], inputs: ones))
        XCTAssertEqual(gradient.kind, .gradient)
        XCTAssertEqual(gradient.layer, "fc1", "fc2 and fc3 have finite gradients; fc1 is the first to receive NaN")
        XCTAssertNil(gradient.lastCheckpoint)
        XCTAssert(gradient.description.contains("no checkpoint"))

        // With the guard off, the NaN run goes through.
        let model = Sequential(name: "m", mlp())
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropy(), optimizer: try SGD(model.trainableParameters),
                              configuration: TrainingConfiguration(batchSize: 8, guardNonFinite: false))
        let records = try trainer.fit(try LabeledData(inputs: nanInput, labels: Array(repeating: 0, count: 16), classes: 10),
                                      epochs: 1)
        XCTAssert(records[0].training.loss.isNaN)
    }
}

/// The identity forward whose backward returns NaN: a gradient that goes bad inside the network.
final class PoisonedGradient: Layer {
    let name = "poison"
    func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    func forward(_ input: Tensor, mode: Mode) throws -> Tensor { input }
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        Tensor(shape: outputGradient.shape, repeating: .nan)
    }
}
