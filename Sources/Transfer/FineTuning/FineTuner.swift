import Engine
import Foundation
import WeightIO
import Zoo

/// Settings of a fine-tuning run; the defaults are `zoo finetune`'s.
public struct FineTuneSettings {
    public var epochs = 10
    public var batchSize = 32
    public var optimizer = OptimizerChoice.adam
    /// The learning rate of the new layers.
    public var learningRate = 1e-3
    /// The learning rate of pre-trained layers that train; nil: `learningRate / 10`.
    public var trunkLearningRate: Double?
    public var augmentations: [AugmentationChoice] = []
    /// The share of each class held out for validation (0: none).
    public var validationFraction = 0.2
    /// Stop once the validation loss has not improved for this many epochs (nil: never).
    public var earlyStopPatience: Int?
    /// Seeds the split, shuffling, augmentation and dropout.
    public var seed: UInt64 = 0
    /// Train the head on trunk features computed once, when the plan allows it (with augmentation:
    /// run the frozen trunk in inference mode each step); false runs the whole network every step.
    public var cacheFeatures = true
    /// Under data parallelism, normalize training BatchNorm layers with the global batch's
    /// statistics (`--sync-bn`), which gives the single process's result; otherwise each rank's
    /// share's (PyTorch DDP's default).
    public var synchronizeBatchNorm = false

    public init() {}
}

/// What a fine-tuning run did.
public struct FineTuneResult {
    public let history: [EpochRecord]
    /// The epoch whose weights the output file holds, and its monitored figure.
    public let bestEpoch: Int
    public let best: Double
    public let monitor: Monitor
    /// Samples trained and validated on (unreadable ones excluded).
    public let trainingSamples: Int
    public let validationSamples: Int
    /// Seconds spent computing trunk features, when they were cached.
    public let featureSeconds: Double?
    public let stopReason: String?
    /// Samples left out because they could not be read.
    public let skipped: [String]
}

/// Fine-tunes a zoo model on a labelled dataset: a stratified validation split, the freezing
/// plan, two learning rates, augmentation, validation each epoch, the best epoch's weights written
/// to the output file (with class names and preprocessing), checkpoints each epoch and resume.
///
/// When the bottom of the network is frozen (`TrunkSplit`) and no augmentation is asked for, the
/// trunk's outputs are computed once per sample and only the head runs each step; with
/// augmentation the trunk runs each step, in inference mode. Either gives the updates the whole
/// network would (tested), faster and in less memory.
public final class FineTuner {
    public let model: Model
    public let plan: FreezePlan
    public let settings: FineTuneSettings
    /// Called with each status line (the split, the cache, the outcome).
    public var log: (String) -> Void = { print($0) }
    /// Extra callbacks (a progress display, plots), run before the checkpoint is written.
    public var callbacks: [TrainingCallback] = []
    /// The ranks of a data-parallel run (`mpirun`): rank 0's weights are broadcast, trunk features
    /// are computed in shares, every batch is split across the ranks, and only rank 0 writes the
    /// output file and checkpoints. Nil for a single process.
    public var cluster: Cluster?
    /// True in a single process and on rank 0: the one that writes files.
    private var writes: Bool { cluster?.isRoot ?? true }

    public init(model: Model, plan: FreezePlan, settings: FineTuneSettings) {
        self.model = model
        self.plan = plan
        self.settings = settings
    }

    /// The new layers at the head's learning rate, then the pre-trained layers that train at the
    /// trunk's (`learningRate / 10` unless set); empty groups left out.
    public var parameterGroups: [ParameterGroup] {
        let trunkRate = settings.trunkLearningRate ?? settings.learningRate / 10
        var groups: [ParameterGroup] = []
        if !plan.head.isEmpty { groups.append(ParameterGroup(plan.head, learningRate: settings.learningRate)) }
        if !plan.trunk.isEmpty { groups.append(ParameterGroup(plan.trunk, learningRate: trunkRate)) }
        return groups
    }

    /// What the trainer runs and on what: the whole network on the streamed samples; or, below a
    /// frozen trunk, the head on trunk features computed once; or, with augmentation, the head
    /// above a trunk that runs in inference mode each step.
    private func trainingSetup(_ training: StreamedData, _ validation: StreamedData?) throws
        -> (network: Layer, training: TrainingData, validation: TrainingData?, cached: Bool, featureSeconds: Double?) {
        guard settings.cacheFeatures, let cut = TrunkSplit(model.network) else {
            return (model.network, training, validation, false, nil)
        }
        let below = cut.trunk.layers.last?.name ?? cut.trunk.name
        let head = cut.head.layers.map(\.name).joined(separator: ", ")
        guard settings.augmentations.isEmpty else {
            log("frozen trunk below '\(below)' runs in inference mode each step (augmentation changes its inputs); "
                + "the head (\(head)) trains")
            return (Sequential(name: model.network.name, [InferenceTrunk(cut.trunk)] + cut.head.layers), training,
                    validation, false, nil)
        }
        let started = Stopwatch.now()
        let features = try TrunkFeatures(trunk: cut.trunk, batchSize: settings.batchSize)
        let cachedTraining = try features.compute(training, across: cluster)
        let cachedValidation = try validation.map { try features.compute($0, across: cluster) }
        let seconds = Stopwatch.now() - started
        log(String(format: "cached trunk features: %@ per sample below '%@', %.1f s; only the head (%@) runs each step",
                   cachedTraining.sampleShape.map(String.init).joined(separator: "x"), below, seconds, head))
        return (cut.head, cachedTraining, cachedValidation, true, seconds)
    }

    /// Trains on `dataset`, writes the best epoch's model to `output` and a checkpoint each epoch
    /// under `checkpoints`; with `resume`, continues from the newest checkpoint there.
    public func run(on dataset: LabeledDataset, output: URL, checkpoints: URL, resume: Bool = false) throws -> FineTuneResult {
        let classes = dataset.classNames.count
        guard try model.outputShape() == [1, classes] else {
            throw TransferError("\(model.architecture) outputs \(try model.outputShape()), the dataset has \(classes) classes")
        }
        model.classNames = dataset.classNames
        if writes {
            try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        plan.apply()
        if let cluster {
            // Every rank starts from rank 0's weights, whatever each read or initialized.
            for weight in model.network.allWeights { try cluster.broadcast(&weight.value) }
        }
        let split = try Splits.stratified(labels: dataset.labels, validationFraction: settings.validationFraction,
                                          generator: RandomGenerator(seed: settings.seed))
        log("data: \(dataset.count) samples of \(classes) classes; \(split.training.count) for training, "
            + "\(split.validation.count) for validation (stratified, seed \(settings.seed))")
        if settings.earlyStopPatience != nil && split.validation.isEmpty {
            throw TransferError("early stopping watches the validation loss; give a validation split above 0")
        }
        let streamedTraining = StreamedData(dataset, indices: split.training, classes: classes)
        let streamedValidation = split.validation.isEmpty ? nil : StreamedData(dataset, indices: split.validation, classes: classes)

        // Before the trunk features are computed, which may take minutes.
        // Rank 0 alone writes checkpoints, so it alone looks for one (the others receive it).
        let latest = writes ? Checkpointer.latest(in: checkpoints) : nil
        if resume && writes && latest == nil { throw TransferError("cannot resume: no checkpoint in \(checkpoints.path)") }
        let setup = try trainingSetup(streamedTraining, streamedValidation)
        let (network, training, validation) = (setup.network, setup.training, setup.validation)

        let groups = parameterGroups
        guard !groups.isEmpty else { throw TransferError("nothing to train: every layer is frozen") }
        let optimizer = try settings.optimizer.make(groups: groups, learningRate: settings.learningRate)
        let augmentations = settings.augmentations.map { $0.make(height: model.inputShape[0], width: model.inputShape[1]) }

        let monitor: Monitor = validation == nil ? .trainingLoss : .validationLoss
        let format = SaveFormat(fileName: output.lastPathComponent)
        let saver = BestModelSaver(monitor: monitor) { [model, writes] _ in
            if writes { try model.saveWeights(to: output, format: format) }
        }
        var all: [TrainingCallback] = callbacks + [saver]
        if let patience = settings.earlyStopPatience {
            all.append(EarlyStopping(monitor: .validationLoss, patience: patience, restoreBest: true))
        }
        all.append(RecordedSettings(settings))
        if writes { all.append(Checkpointer(directory: checkpoints, keep: 1)) }
        // The head's kind picks the loss and how scores rank: LeNet-5's RBF penalties train as a
        // softmax over the negated penalties, lowest penalty first.
        let head = model.headOutput ?? .logits
        let trainer = Trainer(model: network, loss: head.crossEntropy(), optimizer: optimizer,
                              configuration: TrainingConfiguration(batchSize: settings.batchSize, seed: settings.seed,
                                                                   evaluationBatchSize: settings.batchSize),
                              augmentations: augmentations, callbacks: all)
        trainer.headOutput = head
        trainer.cluster = cluster
        trainer.synchronizesBatchNorm = settings.synchronizeBatchNorm
        if resume {
            try trainer.resume(from: latest, across: cluster)
            log("resumed from \(latest?.path ?? "rank 0's checkpoint") after epoch \(trainer.epoch)")
        } else if writes {
            // A fresh run: an earlier run's checkpoints here would outrank this run's (a later
            // epoch number) and be what a later --resume picks up.
            let stale = Checkpointer.checkpoints(in: checkpoints)
            for old in stale { try FileManager.default.removeItem(at: old.url) }
            if !stale.isEmpty { log("removed \(stale.count) checkpoint(s) of an earlier run from \(checkpoints.path)") }
        }
        try trainer.fit(training, validation: validation, epochs: settings.epochs)
        guard saver.bestEpoch > 0 else { throw TransferError("no epoch was trained (\(trainer.epoch) done already)") }
        let trained = setup.cached ? training.count : streamedTraining.count - streamedTraining.skipped.count
        let validated = setup.cached ? validation?.count ?? 0
            : streamedValidation.map { $0.count - $0.skipped.count } ?? 0
        return FineTuneResult(history: trainer.history, bestEpoch: saver.bestEpoch, best: saver.best, monitor: monitor,
                              trainingSamples: trained, validationSamples: validated, featureSeconds: setup.featureSeconds,
                              stopReason: trainer.stopReason,
                              skipped: streamedTraining.skipped + (streamedValidation?.skipped ?? []))
    }
}
