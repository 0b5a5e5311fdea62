/// PyTorch's `ReduceLROnPlateau`: multiplies every group's lr by `factor` (not below its minimum)
/// once the metric passed to `step(metric:)` has not improved for more than `patience` steps,
/// then waits `cooldown` steps before counting again.
public final class ReduceLROnPlateau {
    /// Whether a lower (`min`, e.g. a loss) or higher (`max`, e.g. an accuracy) metric is better.
    public enum Mode: Sendable { case min, max }
    /// Whether an improvement must beat the best by `threshold` times it (`relative`) or by `threshold`.
    public enum ThresholdMode: Sendable { case relative, absolute }

    public let optimizer: Optimizer
    public let mode: Mode
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    public let minimumLearningRates: [Double]
    /// Reductions smaller than this are skipped.
    public let epsilon: Double

    public private(set) var best: Double
    public private(set) var badEpochs = 0
    public private(set) var cooldownCounter = 0
    public private(set) var lastEpoch = 0

    /// Watches a metric for `optimizer`, leaving its learning rates alone until a plateau.
    public init(optimizer: Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minimumLearningRate: Double = 0, minimumLearningRates: [Double]? = nil, epsilon: Double = 1e-8) throws {
        func fail(_ m: String) -> OptimizerError { OptimizerError(optimizer: "ReduceLROnPlateau", m) }
        guard factor < 1 else { throw fail("factor \(factor) must be below 1") }
        let minimums = minimumLearningRates ?? Array(repeating: minimumLearningRate, count: optimizer.groups.count)
        guard minimums.count == optimizer.groups.count else {
            throw fail("\(minimums.count) minimum learning rates for \(optimizer.groups.count) groups")
        }
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minimumLearningRates = minimums
        self.epsilon = epsilon
        best = mode == .min ? .infinity : -.infinity
    }

    /// Records this epoch's metric and reduces the learning rates if it has plateaued.
    public func step(metric: Double) {
        lastEpoch += 1
        if isBetter(metric) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            for g in optimizer.groups.indices {
                let old = optimizer.groups[g].learningRate
                let new = Swift.max(old * factor, minimumLearningRates[g])
                if old - new > epsilon { optimizer.groups[g].learningRate = new }
            }
            cooldownCounter = cooldown
            badEpochs = 0
        }
    }

    func isBetter(_ a: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return a < best * (1 - threshold)
        case (.min, .absolute): return a < best - threshold
        case (.max, .relative): return a > best * (threshold + 1)
        case (.max, .absolute): return a > best + threshold
        }
    }
}
