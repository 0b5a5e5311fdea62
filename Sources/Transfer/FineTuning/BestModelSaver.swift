import Engine

/// Keras's `ModelCheckpoint(save_best_only=True)`: after an epoch that improves on the best
/// `monitor` so far, calls `save` (which writes the model file). Its best figure travels in
/// checkpoints, so a resumed run keeps comparing with the same best.
public final class BestModelSaver: CheckpointableCallback {
    public let monitor: Monitor
    public private(set) var best: Double
    /// The epoch that reached `best`; 0 before any.
    public private(set) var bestEpoch = 0
    private let save: (EpochRecord) throws -> Void

    public init(monitor: Monitor, save: @escaping (EpochRecord) throws -> Void) {
        self.monitor = monitor
        self.save = save
        best = monitor.higherIsBetter ? -.infinity : .infinity
    }

    public var checkpointKey: String { "best_model" }

    public func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        guard let value = monitor.value(in: record) else {
            throw TrainingError("the best model is chosen by \(monitor.rawValue), which epoch \(record.epoch) did not report")
        }
        guard monitor.higherIsBetter ? value > best : value < best else { return }
        best = value
        bestEpoch = record.epoch
        try save(record)
    }

    public func saveState() -> CallbackState {
        CallbackState(scalars: ["best": best, "best_epoch": Double(bestEpoch)])
    }

    public func loadState(_ state: CallbackState) throws {
        guard let best = state.scalars["best"], let epoch = state.scalars["best_epoch"] else {
            throw TrainingError("the best-model state lacks best or best_epoch")
        }
        self.best = best
        bestEpoch = Int(epoch)
    }
}
