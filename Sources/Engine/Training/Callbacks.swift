import Foundation

/// Hooks into a `Trainer`'s loop. Every method has an empty default.
///
/// At each epoch's end the trainer calls the callbacks in order, then the checkpointing ones
/// (`Checkpointer`), so a checkpoint captures what the others decided (early stopping's counters).
public protocol TrainingCallback: AnyObject {
    func trainingStarted(_ trainer: Trainer, epochs: Int) throws
    func batchEnded(_ trainer: Trainer, _ batch: BatchRecord) throws
    func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws
    func trainingEnded(_ trainer: Trainer) throws
}

extension TrainingCallback {
    public func trainingStarted(_ trainer: Trainer, epochs: Int) throws {}
    public func batchEnded(_ trainer: Trainer, _ batch: BatchRecord) throws {}
    public func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {}
    public func trainingEnded(_ trainer: Trainer) throws {}
}

/// A callback's own state as a checkpoint stores it.
public struct CallbackState: Equatable {
    public var scalars: [String: Double]
    public var tensors: [String: Tensor]

    /// A state of named numbers and tensors.
    public init(scalars: [String: Double] = [:], tensors: [String: Tensor] = [:]) {
        self.scalars = scalars
        self.tensors = tensors
    }
}

/// A callback whose state goes into checkpoints, so that a resumed run continues it exactly.
public protocol CheckpointableCallback: TrainingCallback {
    /// Unique among a trainer's callbacks; names the state in the checkpoint.
    var checkpointKey: String { get }
    func saveState() -> CallbackState
    func loadState(_ state: CallbackState) throws
}

/// Keras's `EarlyStopping`: stops once `monitor` has not improved by more than `minimumDelta` for
/// `patience` epochs and, with `restoreBest`, puts back every weight (BatchNorm statistics
/// included) as it was after the best epoch.
public final class EarlyStopping: CheckpointableCallback {
    public let monitor: Monitor
    public let patience: Int
    public let minimumDelta: Double
    public let restoreBest: Bool
    /// The best value of `monitor` so far.
    public private(set) var best: Double
    /// The epoch that reached `best`; 0 before any.
    public private(set) var bestEpoch = 0
    /// Epochs since the last improvement.
    public private(set) var wait = 0
    /// The epoch at whose end training was stopped, or nil.
    public private(set) var stoppedEpoch: Int?
    private var bestWeights: [Tensor] = []

    /// Keras's defaults: watch the validation loss, any improvement counts.
    public init(monitor: Monitor = .validationLoss, patience: Int, minimumDelta: Double = 0, restoreBest: Bool = true) {
        self.monitor = monitor
        self.patience = patience
        self.minimumDelta = abs(minimumDelta)
        self.restoreBest = restoreBest
        best = monitor.higherIsBetter ? -.infinity : .infinity
    }

    public var checkpointKey: String { "early_stopping" }

    public func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        guard let value = monitor.value(in: record) else {
            throw TrainingError("early stopping watches \(monitor.rawValue), which epoch \(record.epoch) did not report "
                + "(validation figures need validation data)")
        }
        let improved = monitor.higherIsBetter ? value > best + minimumDelta : value < best - minimumDelta
        if improved {
            best = value
            bestEpoch = record.epoch
            wait = 0
            if restoreBest { bestWeights = trainer.model.allWeights.map { $0.value } }
            return
        }
        wait += 1
        guard wait >= patience else { return }
        stoppedEpoch = record.epoch
        trainer.stop(reason: "early stopping: \(monitor.rawValue) has not improved for \(wait) epochs since epoch "
            + "\(bestEpoch) (best " + String(format: "%.6g", best) + ")")
        if restoreBest && !bestWeights.isEmpty {
            let weights = trainer.model.allWeights
            guard weights.count == bestWeights.count, zip(weights, bestWeights).allSatisfy({ $0.shape == $1.shape }) else {
                throw TrainingError("early stopping kept \(bestWeights.count) best weights that do not fit the model's "
                    + "\(weights.count)")
            }
            for (p, v) in zip(weights, bestWeights) { p.value = v }
        }
    }

    public func saveState() -> CallbackState {
        var s = CallbackState(scalars: ["best": best, "best_epoch": Double(bestEpoch), "wait": Double(wait)])
        if let stoppedEpoch { s.scalars["stopped_epoch"] = Double(stoppedEpoch) }
        for (i, t) in bestWeights.enumerated() { s.tensors[String(format: "best_weight_%04d", i)] = t }
        return s
    }

    public func loadState(_ state: CallbackState) throws {
        guard let best = state.scalars["best"], let bestEpoch = state.scalars["best_epoch"],
              let wait = state.scalars["wait"] else {
            throw TrainingError("early stopping state lacks best, best_epoch or wait")
        }
        self.best = best
        self.bestEpoch = Int(bestEpoch)
        self.wait = Int(wait)
        stoppedEpoch = state.scalars["stopped_epoch"].map { Int($0) }
        bestWeights = state.tensors.keys.sorted().map { state.tensors[$0]! }
    }
}
