/// A learning-rate scheduler, PyTorch's `torch.optim.lr_scheduler.LRScheduler`, step for step.
///
/// Like PyTorch's, a scheduler writes the learning rate of each of its optimizer's groups: the
/// constructor performs step 0 and each `step()` (called after `optimizer.step()`) the next one.
/// Most schedules are computed recursively from the groups' current rates, exactly as PyTorch
/// does, so that compositions (`SequentialLR`) and the float roundings match PyTorch's sequence.
/// The first scheduler over an optimizer records each group's `initialLearningRate`; every
/// scheduler starts from those (`baseLearningRates`).
open class LearningRateScheduler {
    public let optimizer: Optimizer
    public internal(set) var baseLearningRates: [Double] = []
    /// Index of the last step taken; 0 after construction.
    public internal(set) var lastEpoch: Int = -1
    /// The group learning rates this scheduler last set.
    public internal(set) var lastLearningRates: [Double] = []
    var stepCount = 0
    /// True during the step the constructor performs.
    var isInitial = false

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer) {
        self.optimizer = optimizer
        for g in optimizer.groups.indices where optimizer.groups[g].initialLearningRate == nil {
            optimizer.groups[g].initialLearningRate = optimizer.groups[g].learningRate
        }
        baseLearningRates = optimizer.groups.map { $0.initialLearningRate! }
        initialStep()
    }

    /// For a scheduler that takes no step of its own when built (PyTorch's `SequentialLR`).
    init(withoutInitialStep optimizer: Optimizer) {
        self.optimizer = optimizer
    }

    func initialStep() {
        stepCount = 0
        isInitial = true
        step()
        isInitial = false
    }

    /// Advances one step and writes the new learning rates into the optimizer's groups.
    open func step() {
        stepCount += 1
        updateLearningRates(epoch: nil)
    }

    /// One step forward, or with `epoch` a jump to it through the closed form where there is one.
    func updateLearningRates(epoch: Int?) {
        let values: [Double]
        if let epoch {
            lastEpoch = epoch
            values = closedFormLearningRates() ?? nextLearningRates()
        } else {
            lastEpoch += 1
            values = nextLearningRates()
        }
        for g in optimizer.groups.indices { optimizer.groups[g].learningRate = values[g] }
        lastLearningRates = values
    }

    /// PyTorch's `get_lr()`: the rates at `lastEpoch`, usually from the groups' current rates.
    open func nextLearningRates() -> [Double] { currentLearningRates }

    /// PyTorch's `_get_closed_form_lr()`, where the schedule has one.
    open func closedFormLearningRates() -> [Double]? { nil }

    /// The optimizer's group learning rates as they are now.
    public var currentLearningRates: [Double] { optimizer.groups.map { $0.learningRate } }
}

/// PyTorch's `LambdaLR`: lr = base_lr * factor(epoch), one factor function per group or one for all.
public final class LambdaLR: LearningRateScheduler {
    let factors: [(Int) -> Double]

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, factor: @escaping (Int) -> Double) {
        factors = Array(repeating: factor, count: optimizer.groups.count)
        super.init(optimizer: optimizer)
    }

    /// Takes over `optimizer`'s group learning rates and sets them for step 0.
    public init(optimizer: Optimizer, factors: [(Int) -> Double]) throws {
        guard factors.count == optimizer.groups.count else {
            throw OptimizerError(optimizer: "LambdaLR", "\(factors.count) factor functions for \(optimizer.groups.count) groups")
        }
        self.factors = factors
        super.init(optimizer: optimizer)
    }

    public override func nextLearningRates() -> [Double] {
        zip(baseLearningRates, factors).map { $0 * $1(lastEpoch) }
    }
}

/// PyTorch's `SequentialLR`: runs `schedulers` one after another, switching at each milestone;
/// the next scheduler then restarts from its closed form at epoch 0. Build the schedulers on the
/// optimizer first, in order, then this (as in PyTorch). `linearWarmup` builds the usual warm-up.
public final class SequentialLR: LearningRateScheduler {
    public let schedulers: [LearningRateScheduler]
    public let milestones: [Int]

    /// Chains `schedulers` (already built on `optimizer`, in order), switching at each of `milestones`.
    public init(optimizer: Optimizer, schedulers: [LearningRateScheduler], milestones: [Int]) throws {
        func fail(_ m: String) -> OptimizerError { OptimizerError(optimizer: "SequentialLR", m) }
        guard !schedulers.isEmpty else { throw fail("needs at least one scheduler") }
        guard milestones.count == schedulers.count - 1 else {
            throw fail("\(schedulers.count) schedulers need \(schedulers.count - 1) milestones, got \(milestones.count)")
        }
        guard schedulers.allSatisfy({ $0.optimizer === optimizer }) else {
            throw fail("every scheduler must belong to the same optimizer")
        }
        self.schedulers = schedulers
        self.milestones = milestones
        guard milestones == milestones.sorted() else { throw fail("milestones \(milestones) must be in increasing order") }
        super.init(withoutInitialStep: optimizer)
        lastEpoch = 0
        for g in optimizer.groups.indices {
            optimizer.groups[g].learningRate = optimizer.groups[g].initialLearningRate ?? optimizer.groups[g].learningRate
        }
        SequentialLR.undoInitialSteps(schedulers)
        let first = schedulers[SequentialLR.index(milestones, 0)]
        first.initialStep()
        lastLearningRates = first.lastLearningRates
    }

    /// A linear warm-up from `startFactor` * lr to lr over `steps` steps (PyTorch's `LinearLR`), then
    /// the schedule `then` builds: `SequentialLR([LinearLR(...), then(optimizer)], milestones: [steps])`.
    public static func linearWarmup(optimizer: Optimizer, startFactor: Double, steps: Int,
                                    then: (Optimizer) throws -> LearningRateScheduler) throws -> SequentialLR {
        let warmup = try LinearLR(optimizer: optimizer, startFactor: startFactor, totalIterations: steps)
        return try SequentialLR(optimizer: optimizer, schedulers: [warmup, try then(optimizer)], milestones: [steps])
    }

    /// PyTorch's `recursive_undo`: every scheduler's constructor step is taken back.
    static func undoInitialSteps(_ schedulers: [LearningRateScheduler]) {
        for s in schedulers {
            if let sequential = s as? SequentialLR { undoInitialSteps(sequential.schedulers) } else { s.lastEpoch -= 1 }
        }
    }

    /// Python's `bisect_right(milestones, epoch)`.
    static func index(_ milestones: [Int], _ epoch: Int) -> Int { milestones.filter { $0 <= epoch }.count }

    public override func step() {
        lastEpoch += 1
        let idx = SequentialLR.index(milestones, lastEpoch)
        let scheduler = schedulers[idx]
        if idx > 0 && milestones[idx - 1] == lastEpoch {
            scheduler.updateLearningRates(epoch: 0)
        } else {
            scheduler.step()
        }
        lastLearningRates = scheduler.lastLearningRates
    }
}
