import Foundation

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

    /// `resume(from:)` on every rank of `cluster` from rank 0's checkpoint `url` (nil on the
    /// others): rank 0 alone writes checkpoints, so it alone reads one and sends it to the rest.
    public func resume(from url: URL?, across cluster: Cluster?) throws {
        guard let cluster, cluster.size > 1 else {
            guard let url else { throw TrainingError("no checkpoint to resume from") }
            return try resume(from: url)
        }
        try cluster.withFolder(url) { folder in try restore(try Checkpoint(contentsOf: folder)) }
        if cluster.isRoot { lastCheckpoint = url }
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
