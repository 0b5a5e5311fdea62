import Dispatch
import Foundation

/// How a trainer advances a learning-rate schedule.
public enum TrainingSchedule {
    /// `step()` after every epoch, PyTorch's usual per-epoch `scheduler.step()`.
    case perEpoch(LearningRateScheduler)
    /// `step()` after every optimizer step (warm-up, cosine over iterations).
    case perBatch(LearningRateScheduler)
    /// `step(metric:)` after every epoch with the monitored figure.
    case onPlateau(ReduceLROnPlateau, monitor: Monitor)
}

/// Settings of a training run.
public struct TrainingConfiguration {
    public var batchSize: Int
    /// Seeds shuffling, augmentation and every `Dropout` layer of the model.
    public var seed: UInt64
    public var shuffle: Bool
    /// Skips the last, smaller batch of an epoch (useful with BatchNorm, which needs more than one sample).
    public var dropLastBatch: Bool
    public var evaluationBatchSize: Int
    /// Stops on NaN or infinity in the loss, gradients, weights or BatchNorm statistics.
    public var guardNonFinite: Bool

    /// Keras's defaults where it has them: batch size 32, shuffled, the guard on.
    public init(batchSize: Int = 32, seed: UInt64 = 0, shuffle: Bool = true, dropLastBatch: Bool = false,
                evaluationBatchSize: Int = 256, guardNonFinite: Bool = true) {
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
        self.dropLastBatch = dropLastBatch
        self.evaluationBatchSize = evaluationBatchSize
        self.guardNonFinite = guardNonFinite
    }
}

/// Trains a classifier: seeded mini-batches, augmentation, epochs with validation, metrics,
/// callbacks, a learning-rate schedule, checkpoints and resume, and a guard against NaN/Inf.
///
/// Every random choice comes from generators derived from `configuration.seed` (the shuffle
/// order, augmentations, the model's `Dropout` masks), so one seed gives one run, bit for bit at a
/// given thread count; a checkpoint holds their states, so a resumed run is that same run.
public final class Trainer {
    public let model: Layer
    public let loss: Loss
    public let optimizer: Optimizer
    public let schedule: TrainingSchedule?
    public let configuration: TrainingConfiguration
    /// Applied in order to every training batch, never to validation.
    public var augmentations: [BatchAugmentation]
    public var callbacks: [TrainingCallback]
    /// What the model outputs, so that top-1/top-5 rank its scores the right way round (penalties: lowest first).
    public var headOutput: HeadOutput = .logits
    /// Draws each epoch's sample order.
    public let shuffleGenerator: RandomGenerator
    /// Draws every augmentation's random choices.
    public let augmentationGenerator: RandomGenerator

    /// Epochs completed so far (restored by `resume`).
    public internal(set) var epoch = 0
    public internal(set) var history: [EpochRecord] = []
    /// Scheduler steps taken, and the metrics a plateau schedule was given: a resume replays them.
    public internal(set) var scheduleSteps = 0
    public internal(set) var plateauMetrics: [Double] = []
    /// The newest checkpoint written or resumed from.
    public internal(set) var lastCheckpoint: URL?
    /// Why the last `fit` ended early, or nil.
    public private(set) var stopReason: String?
    /// The ranks of a data-parallel job this trainer is one of (see `DataParallel.swift`), or nil
    /// for a single process.
    public var cluster: Cluster?
    /// Under data parallelism, whether training BatchNorm layers normalize with the statistics of
    /// the global batch (PyTorch's `SyncBatchNorm`), which makes the result the single process's,
    /// instead of each rank's share (DistributedDataParallel's default, the default here too).
    public var synchronizesBatchNorm = false
    /// The cluster when it has more than one rank.
    var dataParallel: Cluster? { cluster.flatMap { $0.size > 1 ? $0 : nil } }

    /// Seeds the model's `Dropout` layers from `configuration.seed`.
    public init(model: Layer, loss: Loss, optimizer: Optimizer, schedule: TrainingSchedule? = nil,
                configuration: TrainingConfiguration = TrainingConfiguration(),
                augmentations: [BatchAugmentation] = [], callbacks: [TrainingCallback] = []) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.configuration = configuration
        self.augmentations = augmentations
        self.callbacks = callbacks
        let seeds = RandomGenerator(seed: configuration.seed)
        shuffleGenerator = RandomGenerator(seed: seeds.next())
        augmentationGenerator = RandomGenerator(seed: seeds.next())
        for dropout in dropoutLayers { dropout.reseed(seeds.next()) }
    }

    var dropoutLayers: [Dropout] { model.allLayers.compactMap { $0 as? Dropout } }

    /// Asks the loop to stop after the current epoch (callbacks call this).
    public func stop(reason: String) { stopReason = reason }

    /// Trains until `epochs` epochs are complete in total (Keras's `epochs` with `initial_epoch`
    /// = the epochs already done), or a callback stops it. Returns the records of this call's epochs.
    @discardableResult
    public func fit(_ training: TrainingData, validation: TrainingData? = nil, epochs: Int) throws -> [EpochRecord] {
        guard configuration.batchSize > 0, configuration.evaluationBatchSize > 0 else {
            throw TrainingError("batch sizes must be positive, got \(configuration.batchSize) and "
                + "\(configuration.evaluationBatchSize)")
        }
        guard training.count > 0 else { throw TrainingError("no training samples") }
        if let validation, validation.classes != training.classes {
            throw TrainingError("validation has \(validation.classes) classes, training \(training.classes)")
        }
        stopReason = nil
        let first = history.count
        for c in callbacks { try c.trainingStarted(self, epochs: epochs) }
        while epoch < epochs && stopReason == nil {
            try runEpoch(training, validation: validation)
        }
        for c in callbacks { try c.trainingEnded(self) }
        return Array(history[first...])
    }

    /// Loss and metrics of the model in inference mode over `data`.
    public func evaluate(_ data: TrainingData) throws -> ClassificationReport {
        var metrics = MetricAccumulator(classes: data.classes)
        var batches = stride(from: 0, to: data.count, by: configuration.evaluationBatchSize).map {
            Array($0..<min(data.count, $0 + configuration.evaluationBatchSize))
        }
        // Data-parallel: each rank evaluates every size-th batch and the counts are summed.
        if let cluster = dataParallel {
            batches = batches.enumerated().filter { $0.offset % cluster.size == cluster.rank }.map(\.element)
        }
        try data.forEachBatch(batches) { batch in
            let output = try model.forward(batch.inputs, mode: .inference)
            let result = try loss(output, batch.lossTarget)
            try metrics.add(logits: headOutput.scores(output), labels: batch.labels, meanLoss: result.value)
        }
        if let cluster = dataParallel { try metrics.sum(across: cluster) }
        return metrics.report
    }

    private func runEpoch(_ training: TrainingData, validation: TrainingData?) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let number = epoch + 1
        let learningRate = optimizer.groups.first?.learningRate ?? 0
        var order = Array(0..<training.count)
        if configuration.shuffle { shuffleGenerator.shuffle(&order) }
        var batches = stride(from: 0, to: order.count, by: configuration.batchSize).map {
            Array(order[$0..<min(order.count, $0 + configuration.batchSize)])
        }
        if configuration.dropLastBatch, batches.count > 1, batches.last!.count < configuration.batchSize {
            batches.removeLast()
        }
        var metrics = MetricAccumulator(classes: training.classes)
        var b = 0
        func batchEnded(samples: Int, loss: Float) throws {
            if case .perBatch(let scheduler) = schedule {
                scheduler.step()
                scheduleSteps += 1
            }
            let record = BatchRecord(epoch: number, batch: b, batchesInEpoch: batches.count, samples: samples,
                                     loss: loss, learningRate: optimizer.groups.first?.learningRate ?? 0)
            for c in callbacks { try c.batchEnded(self, record) }
        }
        if let cluster = dataParallel {
            try trainShares(of: batches, from: training, across: cluster, metrics: &metrics) {
                b += 1
                return NonFiniteError.Position(epoch: number, batch: b)
            } ended: { samples, loss in
                try batchEnded(samples: samples, loss: loss)
            }
            try metrics.sum(across: cluster)
        } else {
            try training.forEachBatch(batches) { drawn in
                var batch = drawn
                b += 1
                for augmentation in augmentations { try augmentation.apply(to: &batch, generator: augmentationGenerator) }
                let position = NonFiniteError.Position(epoch: number, batch: b)
                let stepLoss = try computeGradients(batch, at: position)
                try update(at: position)
                try metrics.add(logits: headOutput.scores(stepLoss.output), labels: batch.labels, meanLoss: stepLoss.value)
                try batchEnded(samples: batch.count, loss: stepLoss.value)
            }
        }
        let validationReport = try validation.map { try evaluate($0) }
        epoch = number
        var record = EpochRecord(epoch: number, training: metrics.report, validation: validationReport,
                                 learningRate: learningRate, seconds: 0)
        switch schedule {
        case .perEpoch(let scheduler)?:
            scheduler.step()
            scheduleSteps += 1
        case .onPlateau(let plateau, let monitor)?:
            guard let value = monitor.value(in: record) else {
                throw TrainingError("the plateau schedule watches \(monitor.rawValue), which epoch \(number) did not report")
            }
            plateau.step(metric: value)
            plateauMetrics.append(value)
        default: break
        }
        record.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        history.append(record)
        for c in callbacks where !(c is Checkpointer) { try c.epochEnded(self, record) }
        for c in callbacks where c is Checkpointer { try c.epochEnded(self, record) }
    }

    /// Forward, loss and backward on one batch (gradients zeroed first), checked for non-finite values.
    func computeGradients(_ batch: Batch, at position: NonFiniteError.Position) throws -> (output: Tensor, value: Float) {
        let guarded = configuration.guardNonFinite
        model.zeroGradients()
        let output = try model.forward(batch.inputs, mode: .training)
        let result = try loss(output, batch.lossTarget)
        if guarded && (!result.value.isFinite || NonFiniteGuard.firstNonFiniteStatistics(in: model) != nil) {
            throw NonFiniteGuard.diagnoseForward(model, input: batch.inputs, loss: result.value, at: position,
                                                 lastCheckpoint: lastCheckpoint)
        }
        _ = try model.backward(result.gradient, needsInputGradient: false)
        return (output, result.value)
    }

    /// The optimizer step from the gradients, which are checked first, and the weights after it.
    func update(at position: NonFiniteError.Position) throws {
        let guarded = configuration.guardNonFinite
        if guarded, let (layer, parameter) = NonFiniteGuard.firstNonFiniteGradient(in: model) {
            throw NonFiniteError(kind: .gradient, position: position, layer: layer.name, parameter: parameter.name,
                                 lastCheckpoint: lastCheckpoint)
        }
        optimizer.step()
        if guarded, let (layer, parameter) = NonFiniteGuard.firstNonFiniteParameter(in: model) {
            throw NonFiniteError(kind: .weight, position: position, layer: layer.name, parameter: parameter.name,
                                 lastCheckpoint: lastCheckpoint)
        }
    }
}
