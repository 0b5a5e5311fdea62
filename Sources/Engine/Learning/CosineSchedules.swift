#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PyTorch's `CosineAnnealingLR`: lr follows eta_min + (base_lr - eta_min)(1 + cos(π epoch / T_max)) / 2,
/// computed recursively as PyTorch does (and, like PyTorch's, rising again after T_max).
public final class CosineAnnealingLR: LearningRateScheduler {
    public let maxIterations: Int
    public let minimumLearningRate: Double

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, maxIterations: Int, minimumLearningRate: Double = 0) throws {
        guard maxIterations > 0 else {
            throw OptimizerError(optimizer: "CosineAnnealingLR", "T_max \(maxIterations) must be positive")
        }
        self.maxIterations = maxIterations
        self.minimumLearningRate = minimumLearningRate
        super.init(optimizer: optimizer)
    }

    public override func nextLearningRates() -> [Double] {
        let etaMin = minimumLearningRate, tMax = Double(maxIterations), e = Double(lastEpoch)
        if isInitial { return currentLearningRates }
        if stepCount == 1 && lastEpoch > 0 {
            return baseLearningRates.map { etaMin + ($0 - etaMin) * (1 + cos(e * Double.pi / tMax)) / 2 }
        }
        if (lastEpoch - 1 - maxIterations) % (2 * maxIterations) == 0 {
            return zip(baseLearningRates, currentLearningRates).map { base, lr in
                lr + (base - etaMin) * (1 - cos(Double.pi / tMax)) / 2
            }
        }
        return currentLearningRates.map {
            (1 + cos(Double.pi * e / tMax)) / (1 + cos(Double.pi * (e - 1) / tMax)) * ($0 - etaMin) + etaMin
        }
    }

    public override func closedFormLearningRates() -> [Double]? {
        let etaMin = minimumLearningRate
        return baseLearningRates.map {
            etaMin + ($0 - etaMin) * (1 + cos(Double.pi * Double(lastEpoch) / Double(maxIterations))) / 2
        }
    }
}

/// PyTorch's `CosineAnnealingWarmRestarts` (SGDR): cosine annealing over T_i steps, then a restart
/// at base_lr with T_i multiplied by `periodMultiplier`. Inside `SequentialLR` it resumes, as in
/// PyTorch, from the position its own constructor step left (the start of the first period).
public final class CosineAnnealingWarmRestarts: LearningRateScheduler {
    public let firstPeriod: Int
    public let periodMultiplier: Int
    public let minimumLearningRate: Double
    /// Steps since the last restart, and the current period.
    public private(set) var stepsSinceRestart: Int
    public private(set) var period: Int

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, firstPeriod: Int, periodMultiplier: Int = 1,
                minimumLearningRate: Double = 0) throws {
        guard firstPeriod > 0, periodMultiplier >= 1 else {
            throw OptimizerError(optimizer: "CosineAnnealingWarmRestarts",
                                 "T_0 \(firstPeriod) must be positive and T_mult \(periodMultiplier) at least 1")
        }
        self.firstPeriod = firstPeriod
        self.periodMultiplier = periodMultiplier
        self.minimumLearningRate = minimumLearningRate
        stepsSinceRestart = -1
        period = firstPeriod
        super.init(optimizer: optimizer)
    }

    public override func step() {
        stepCount += 1
        if lastEpoch < 0 {
            period = firstPeriod
            stepsSinceRestart = 0
            lastEpoch = 0
        } else {
            lastEpoch += 1
            stepsSinceRestart += 1
            if stepsSinceRestart >= period {
                stepsSinceRestart %= period
                period *= periodMultiplier
            }
        }
        let values = nextLearningRates()
        for g in optimizer.groups.indices { optimizer.groups[g].learningRate = values[g] }
        lastLearningRates = values
    }

    public override func nextLearningRates() -> [Double] {
        let etaMin = minimumLearningRate
        return baseLearningRates.map {
            etaMin + ($0 - etaMin) * (1 + cos(Double.pi * Double(stepsSinceRestart) / Double(period))) / 2
        }
    }
}
