/// What one epoch of training produced.
public struct EpochRecord: Codable, Equatable {
    /// 1 for the first epoch.
    public var epoch: Int
    /// Metrics over the epoch's training batches, as trained on (training mode, augmented), the
    /// way Keras reports them.
    public var training: ClassificationReport
    /// Metrics over the validation set in inference mode, when there is one.
    public var validation: ClassificationReport?
    /// The first parameter group's learning rate at the start of the epoch.
    public var learningRate: Double
    /// Wall-clock time of the epoch, validation included.
    public var seconds: Double
}

/// One optimization step, as batch-end callbacks see it.
public struct BatchRecord {
    /// 1-based epoch and batch within it.
    public var epoch: Int
    public var batch: Int
    public var batchesInEpoch: Int
    public var samples: Int
    public var loss: Float
    public var learningRate: Double
}

/// A figure of an `EpochRecord` that early stopping or a plateau schedule watches.
public enum Monitor: String, Codable, Sendable {
    case validationLoss, validationTop1, validationTop5, trainingLoss, trainingTop1

    /// Accuracies improve upwards, losses downwards.
    public var higherIsBetter: Bool { self != .validationLoss && self != .trainingLoss }

    /// The figure in `record`; nil for a validation figure of an epoch without validation.
    public func value(in record: EpochRecord) -> Double? {
        switch self {
        case .validationLoss: return record.validation?.loss
        case .validationTop1: return record.validation?.top1
        case .validationTop5: return record.validation?.top5
        case .trainingLoss: return record.training.loss
        case .trainingTop1: return record.training.top1
        }
    }
}
