import Foundation

/// Writes a checkpoint at the end of every epoch to `<directory>/epoch-NNNN`, keeping the newest
/// `keep` of them. It runs after every other callback, so it records their decisions too.
///
/// An epoch that fails (the non-finite guard, an error) writes nothing, so the newest checkpoint
/// is always the last good one.
public final class Checkpointer: TrainingCallback {
    public let directory: URL
    public let keep: Int

    /// Checkpoints under `directory`, the newest `keep` (at least 1) kept.
    public init(directory: URL, keep: Int = 2) {
        self.directory = directory
        self.keep = max(1, keep)
    }

    /// The directory of epoch `epoch`'s checkpoint.
    public func url(epoch: Int) -> URL {
        directory.appendingPathComponent(String(format: "epoch-%04d", epoch))
    }

    /// The complete checkpoints in `directory`, oldest first.
    public static func checkpoints(in directory: URL) -> [(epoch: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("epoch-"), let epoch = Int(name.dropFirst(6)) else { return nil }
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("manifest.json").path) else { return nil }
            return (epoch, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest complete checkpoint in `directory`, if any.
    public static func latest(in directory: URL) -> URL? { checkpoints(in: directory).last?.url }

    public func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        let url = self.url(epoch: trainer.epoch)
        try trainer.checkpoint().write(to: url)
        trainer.lastCheckpoint = url
        for old in Checkpointer.checkpoints(in: directory).dropLast(keep) {
            try? FileManager.default.removeItem(at: old.url)
        }
    }
}

extension Trainer {
    /// The run as it stands.
    public func checkpoint() -> Checkpoint {
        let generators = namedGenerators.map { Checkpoint.GeneratorState(name: $0.name, state: $0.generator.state) }
        var states: [String: CallbackState] = [:]
        for case let c as CheckpointableCallback in callbacks { states[c.checkpointKey] = c.saveState() }
        return Checkpoint(epoch: epoch, weights: model.allLayers.flatMap { layer in
                              layer.weights.map { Checkpoint.Weight(layer: layer.name, name: $0.name, value: $0.value) }
                          },
                          optimizer: optimizer.saveState(), scheduleSteps: scheduleSteps, plateauMetrics: plateauMetrics,
                          generators: generators, history: history, callbacks: states)
    }

    /// Every generator of the run under its checkpoint name: shuffling, augmentation, each Dropout's.
    var namedGenerators: [(name: String, generator: RandomGenerator)] {
        [("shuffle", shuffleGenerator), ("augmentation", augmentationGenerator)]
            + dropoutLayers.enumerated().map { ("dropout/\($0.offset)/\($0.element.name)", $0.element.generator) }
    }

    /// Reads the checkpoint directory `url` and continues the run from it (see `restore`).
    public func resume(from url: URL) throws {
        try restore(try Checkpoint(contentsOf: url))
        lastCheckpoint = url
    }

    /// Puts the run back as `checkpoint` recorded it: weights, optimizer state, schedule position,
    /// random states, epoch, history and checkpointable callbacks. The trainer must be built like
    /// the one that wrote it (same layers, optimizer kind and groups, seed, augmentations,
    /// callbacks) and its scheduler freshly constructed: the schedule is replayed step by step.
    public func restore(_ checkpoint: Checkpoint) throws {
        let weights = model.allLayers.flatMap { layer in layer.weights.map { (layer: layer.name, p: $0) } }
        guard weights.count == checkpoint.weights.count else {
            throw TrainingError("the checkpoint has \(checkpoint.weights.count) weights, the model \(weights.count)")
        }
        for (i, (mine, saved)) in zip(weights, checkpoint.weights).enumerated()
        where mine.layer != saved.layer || mine.p.name != saved.name || mine.p.shape != saved.value.shape {
            throw TrainingError("checkpoint weight \(i) is '\(saved.layer)/\(saved.name)' \(shapeString(saved.value.shape)), "
                + "the model's is '\(mine.layer)/\(mine.p.name)' \(shapeString(mine.p.shape))")
        }
        let current = namedGenerators.map(\.name), saved = checkpoint.generators.map(\.name)
        guard current == saved else {
            throw TrainingError("the checkpoint's random generators \(saved) are not the trainer's \(current)")
        }
        let checkpointable = callbacks.compactMap { $0 as? CheckpointableCallback }
        guard Set(checkpointable.map(\.checkpointKey)) == Set(checkpoint.callbacks.keys) else {
            throw TrainingError("the checkpoint holds callback states \(checkpoint.callbacks.keys.sorted()), the trainer "
                + "has \(checkpointable.map(\.checkpointKey).sorted())")
        }
        try replaySchedule(checkpoint)
        try optimizer.loadState(checkpoint.optimizer)
        for (mine, saved) in zip(weights, checkpoint.weights) { mine.p.value = saved.value }
        for (mine, saved) in zip(namedGenerators, checkpoint.generators) { mine.generator.restore(saved.state) }
        for c in checkpointable { try c.loadState(checkpoint.callbacks[c.checkpointKey]!) }
        epoch = checkpoint.epoch
        history = checkpoint.history
        scheduleSteps = checkpoint.scheduleSteps
        plateauMetrics = checkpoint.plateauMetrics
    }

    /// Schedulers keep their position in private counters, so they are driven again through the
    /// same steps; the optimizer state loaded afterwards carries the learning rates themselves.
    private func replaySchedule(_ checkpoint: Checkpoint) throws {
        switch schedule {
        case .perEpoch(let scheduler)?, .perBatch(let scheduler)?:
            guard scheduler.lastEpoch == 0, scheduleSteps == 0 else {
                throw TrainingError("resume needs a freshly built scheduler (this one is at step \(scheduler.lastEpoch))")
            }
            for _ in 0..<checkpoint.scheduleSteps { scheduler.step() }
        case .onPlateau(let plateau, _)?:
            guard plateau.lastEpoch == 0, plateauMetrics.isEmpty else {
                throw TrainingError("resume needs a freshly built ReduceLROnPlateau (this one is at step \(plateau.lastEpoch))")
            }
            for m in checkpoint.plateauMetrics { plateau.step(metric: m) }
        case nil:
            guard checkpoint.scheduleSteps == 0, checkpoint.plateauMetrics.isEmpty else {
                throw TrainingError("the checkpoint was written with a learning-rate schedule; the trainer has none")
            }
        }
    }
}
