import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo finetune`: a pre-trained network with a new head for the dataset's classes, trained as asked.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a network on an image folder (or arrays): new head, freezing, validation, best checkpoint, resume.",
        discussion: """
            By default only the new head trains: the layers from --weights stay frozen (a frozen BatchNorm keeps \
            its statistics). --trainable-from LAYER (or --freeze-until LAYER) opens later layers, which train at \
            --trunk-lr. Without --weights every layer starts from the architecture's initialization and trains. \
            The best epoch (validation loss) is written to --out with its class names and preprocessing; a \
            checkpoint is kept each epoch for --resume; the training curves go to <out>-curves.svg.
            """)

    @Option(help: "Architecture (see `zoo list`); the weight file's recorded one when omitted.")
    var model: String?

    @Option(help: "Pre-trained weights (.h5, .weights.h5, .keras, .pth/.pt/.bin, .safetensors, .caffemodel); without it, training from scratch.")
    var weights: String?

    @Option(help: "Training data: an image folder root/<class>/<image>, a directory with images.npy and labels.npy, or an .h5 file with x and y.")
    var data: String

    @Option(help: "The fine-tuned model's weight file (.h5 or .weights.h5).")
    var out: String

    @Option(help: "Freeze this layer and every earlier one; later ones train.")
    var freezeUntil: String?

    @Option(help: "Train this layer and every later one; earlier ones stay frozen.")
    var trainableFrom: String?

    @Option(help: "Epochs in total (a resumed run continues to this count).")
    var epochs = 10

    @Option(help: "Samples per batch.")
    var batch = 32

    @Option(help: "Optimizer: \(OptimizerChoice.allCases.map(\.rawValue).joined(separator: ", ")).")
    var optimizer = "adam"

    @Option(help: "Learning rate of the new head.")
    var lr = 1e-3

    @Option(help: "Learning rate of pre-trained layers that train (default: --lr / 10).")
    var trunkLr: Double?

    @Option(help: "Augmentations, comma separated: \(AugmentationChoice.allCases.map(\.rawValue).joined(separator: ", ")).")
    var augment = "none"

    @Option(help: "Share of each class held out for validation.")
    var valSplit = 0.2

    @Option(help: "Stop after this many epochs without a better validation loss (default: off).")
    var earlyStop: Int?

    @Flag(help: "Continue from the newest checkpoint in the checkpoint directory.")
    var resume = false

    @Option(help: "Checkpoint directory (default: <out without extension>.checkpoints).")
    var checkpoints: String?

    @Option(help: "Input preprocessing to train with and record: caffe, torch, tf or none (default: the weights' or the architecture's).")
    var preprocessing: String?

    @Flag(help: "Turn images upright by their EXIF orientation (Keras, PIL and torchvision ignore it).")
    var exif = false

    @Option(help: "Seed of the split, shuffling, augmentation, dropout and the new head's initialization.")
    var seed: UInt64 = 0

    @Flag(help: "Run the whole network every step even when trunk features could be cached (for comparison).")
    var noFeatureCache = false

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption

    @Flag(help: "Under mpirun: training BatchNorm layers use the statistics of the whole batch, over every rank, which gives one process's result (default: each rank's share's, as PyTorch DDP).")
    var syncBn = false

    @OptionGroup var twin: TwinOptions

    func validate() throws {
        try OptionCheck.inRange(epochs, 1...100_000, "--epochs")
        try OptionCheck.inRange(batch, OptionCheck.batchRange, "--batch")
        try OptionCheck.positive(lr, "--lr")
        try OptionCheck.positive(trunkLr, "--trunk-lr")
        guard valSplit >= 0, valSplit < 1 else { throw ValidationError("--val-split must be in [0, 1), got \(valSplit)") }
        try OptionCheck.inRange(earlyStop, 1...100_000, "--early-stop")
        if earlyStop != nil && valSplit == 0 {
            throw ValidationError("--early-stop watches the validation loss; give a --val-split above 0")
        }
        guard out.hasSuffix(".h5") else {
            throw ValidationError("--out \(out): expected a weight file name ending in .h5 (Keras legacy) or .weights.h5 (Keras 3)")
        }
        guard OptimizerChoice(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer \(optimizer): choose from "
                + OptimizerChoice.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if let preprocessing, Preprocessing(rawValue: preprocessing) == nil {
            throw ValidationError("--preprocessing \(preprocessing): choose from "
                + Preprocessing.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if model == nil && weights == nil { throw ValidationError("give --model (or --weights recording one)") }
        if freezeUntil != nil && trainableFrom != nil {
            throw ValidationError("give --freeze-until or --trainable-from, not both")
        }
        _ = try AugmentationChoice.parse(augment)
    }

    func run() throws {
        let outURL = URL(fileURLWithPath: out)
        let outputs = FineTuneOutputs(weights: out)
        let checkpointDirectory = URL(fileURLWithPath: checkpoints ?? outputs.checkpoints)
        // Before any training: a folder that cannot be written would fail only after the first epoch.
        try OptionCheck.outputFile(out, option: "--out")
        try OptionCheck.writableFolder(checkpointDirectory, option: "--checkpoints")
        let cluster = try Cluster.world().flatMap { $0.size > 1 ? $0 : nil }
        // Under mpirun rank 0 alone writes checkpoints and reads the one it resumes from.
        if resume && (cluster?.isRoot ?? true) && Checkpointer.latest(in: checkpointDirectory) == nil {
            throw CommandFailure("--resume: no checkpoint in \(checkpointDirectory.path)")
        }
        let classNames = try TrainingDataSource.classNames(of: data)
        let (model, report) = try buildModel(classes: classNames.count, cluster: cluster)
        if let report { print(report.description) }
        if let preprocessing { model.preprocessing = Preprocessing(rawValue: preprocessing)! }  // validated
        let dataset = try TrainingDataSource.open(data, for: model, applyEXIF: exif)
        // Only the head trains unless layers of the weights are opened (or there are none).
        let trunkTrains = weights == nil || trainableFrom != nil || freezeUntil != nil
        try model.checkMemory(batch: min(batch, max(dataset.count, 1)), training: trunkTrains, option: "--batch")
        let plan = try FreezePlan(model: model, newLayers: NewHeadModel.newLayers(report),
                                  pretrained: weights != nil, trainableFrom: trainableFrom, freezeUntil: freezeUntil)
        print("\(model.architecture): \(plan.trainable.count) of \(plan.trainable.count + plan.frozen.count) layers with "
            + "weights train (\(grouped(plan.trainableCount)) weights): " + describe(plan))

        var settings = FineTuneSettings()
        settings.epochs = epochs
        settings.batchSize = batch
        settings.optimizer = OptimizerChoice(rawValue: optimizer)!
        settings.learningRate = lr
        settings.trunkLearningRate = trunkLr
        settings.augmentations = try AugmentationChoice.parse(augment)
        settings.validationFraction = valSplit
        settings.earlyStopPatience = earlyStop
        settings.seed = seed
        settings.cacheFeatures = !noFeatureCache
        settings.synchronizeBatchNorm = syncBn
        let tuner = FineTuner(model: model, plan: plan, settings: settings)
        if let cluster {
            tuner.cluster = cluster
            print("data parallel: \(cluster.size) ranks of \(Parallel.threadCount) thread(s) each; global batch \(batch); "
                + "training BatchNorm statistics " + (syncBn ? "of the global batch (--sync-bn)" : "per rank"))
        }
        let curves = outputs.curves
        if tuner.cluster?.isRoot ?? true {
            tuner.callbacks = [ProgressLogger(), CurvesWriter(url: URL(fileURLWithPath: curves),
                                                              title: "\(model.architecture) on \(data), "
                                                                  + (weights.map { "from \($0)" } ?? "from scratch"))]
        }
        if let interruption = TestInterruption.fromEnvironment() { tuner.callbacks.append(interruption) }
        let started = Stopwatch.now()
        let result: FineTuneResult
        do {
            result = try tuner.run(on: dataset, output: outURL, checkpoints: checkpointDirectory, resume: resume)
        } catch let mismatch as ResumedSettingsMismatch {
            let flags = mismatch.settings.map { Self.flags[$0] ?? $0 }
            throw CommandFailure("--resume: the checkpoint was written with other " + Set(flags).sorted().joined(separator: ", ")
                + "; resume with the settings of the interrupted run, or start afresh without --resume")
        }
        let seconds = Stopwatch.now() - started
        if !result.skipped.isEmpty {
            print("skipped \(result.skipped.count) unreadable sample(s) (warned above): trained on \(result.trainingSamples), "
                + "validated on \(result.validationSamples)")
        }
        let bestRecord = result.history.first { $0.epoch == result.bestEpoch }
        var summary = "best epoch \(result.bestEpoch) of \(result.history.count): " + String(format: "%@ %.4f", monitorName(result.monitor), result.best)
        if let v = bestRecord?.validation { summary += String(format: ", validation top-1 %.2f%%", 100 * v.top1) }
        print(summary)
        print("wrote \(out) (\(classNames.count) classes: \(classNames.prefix(10).joined(separator: ", "))"
            + (classNames.count > 10 ? ", ..." : "") + "; preprocessing \(model.preprocessing)), curves \(curves), "
            + "checkpoints in \(checkpointDirectory.path)")
        print(String(format: "%.1f s in all", seconds) + (result.featureSeconds.map { String(format: ", %.1f s of it computing trunk features once", $0) } ?? ""))
    }

    /// The flag that sets each `FineTuneSettings` property a checkpoint records.
    static let flags = ["seed": "--seed", "learningRate": "--lr", "trunkLearningRate": "--trunk-lr", "batchSize": "--batch",
                        "validationFraction": "--val-split", "earlyStopPatience": "--early-stop",
                        "augmentations": "--augment", "synchronizeBatchNorm": "--sync-bn"]

    /// The architecture with a new head for `classes`, and the pre-trained weights loaded around it
    /// (under mpirun by rank 0 alone, which broadcasts the result).
    func buildModel(classes: Int, cluster: Cluster?) throws -> (Model, LoadReport?) {
        let options = channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions())))
        RandomGenerator.global.reseed(seed)
        return try withFlagHints {
            try Model.loadedOnRoot(of: cluster) {
                try NewHeadModel.build(architecture: model, weights: weights.map { URL(fileURLWithPath: $0) },
                                       classes: classes, options: options)
            }
        }
    }

    func describe(_ plan: FreezePlan) -> String {
        let names = plan.trainable.map(\.name)
        return names.count <= 6 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + ", ... "
            + names.suffix(2).joined(separator: ", ")
    }

    func monitorName(_ m: Monitor) -> String { m == .validationLoss ? "validation loss" : "training loss" }
}
