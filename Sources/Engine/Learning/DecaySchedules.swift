#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PyTorch's `StepLR`: lr = base_lr * gamma^(epoch / stepSize).
public final class StepLR: LearningRateScheduler {
    public let stepSize: Int
    public let gamma: Double

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, stepSize: Int, gamma: Double = 0.1) throws {
        guard stepSize > 0 else { throw OptimizerError(optimizer: "StepLR", "step size \(stepSize) must be positive") }
        self.stepSize = stepSize
        self.gamma = gamma
        super.init(optimizer: optimizer)
    }

    public override func nextLearningRates() -> [Double] {
        if lastEpoch == 0 || lastEpoch % stepSize != 0 { return currentLearningRates }
        return currentLearningRates.map { $0 * gamma }
    }

    public override func closedFormLearningRates() -> [Double]? {
        baseLearningRates.map { $0 * pow(gamma, Double(lastEpoch / stepSize)) }
    }
}

/// PyTorch's `MultiStepLR`: lr is multiplied by gamma at each milestone (twice if listed twice).
public final class MultiStepLR: LearningRateScheduler {
    public let milestones: [Int]
    public let gamma: Double
    let counts: [Int: Int]

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, milestones: [Int], gamma: Double = 0.1) {
        self.milestones = milestones.sorted()
        self.gamma = gamma
        counts = Dictionary(milestones.map { ($0, 1) }, uniquingKeysWith: +)
        super.init(optimizer: optimizer)
    }

    public override func nextLearningRates() -> [Double] {
        guard let n = counts[lastEpoch] else { return currentLearningRates }
        return currentLearningRates.map { $0 * pow(gamma, Double(n)) }
    }

    public override func closedFormLearningRates() -> [Double]? {
        let passed = SequentialLR.index(milestones, lastEpoch)
        return baseLearningRates.map { $0 * pow(gamma, Double(passed)) }
    }
}

/// PyTorch's `ExponentialLR`: lr = base_lr * gamma^epoch.
public final class ExponentialLR: LearningRateScheduler {
    public let gamma: Double

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, gamma: Double) {
        self.gamma = gamma
        super.init(optimizer: optimizer)
    }

    public override func nextLearningRates() -> [Double] {
        isInitial ? currentLearningRates : currentLearningRates.map { $0 * gamma }
    }

    public override func closedFormLearningRates() -> [Double]? {
        baseLearningRates.map { $0 * pow(gamma, Double(lastEpoch)) }
    }
}

/// PyTorch's `LinearLR`: the factor on base_lr moves linearly from `startFactor` to `endFactor` over
/// `totalIterations` steps, then stays. The usual warm-up (see `SequentialLR.linearWarmup`).
public final class LinearLR: LearningRateScheduler {
    public let startFactor: Double
    public let endFactor: Double
    public let totalIterations: Int

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, startFactor: Double = 1.0 / 3, endFactor: Double = 1.0,
                totalIterations: Int = 5) throws {
        guard startFactor > 0, startFactor <= 1, endFactor >= 0, endFactor <= 1, totalIterations > 0 else {
            throw OptimizerError(optimizer: "LinearLR", "factors must lie in (0, 1] (start \(startFactor)) and [0, 1] "
                + "(end \(endFactor)), and the iteration count \(totalIterations) be positive")
        }
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalIterations = totalIterations
        super.init(optimizer: optimizer)
    }

    public override func nextLearningRates() -> [Double] {
        if lastEpoch == 0 { return currentLearningRates.map { $0 * startFactor } }
        if isInitial || lastEpoch > totalIterations { return currentLearningRates }
        let change = endFactor - startFactor
        let factor = 1.0 + change / (Double(totalIterations) * startFactor + Double(lastEpoch - 1) * change)
        return currentLearningRates.map { $0 * factor }
    }

    public override func closedFormLearningRates() -> [Double]? {
        baseLearningRates.map {
            $0 * (startFactor + (endFactor - startFactor) * Double(min(totalIterations, lastEpoch)) / Double(totalIterations))
        }
    }
}
