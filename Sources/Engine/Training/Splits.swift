/// Sample indices held out for validation and the ones trained on.
public struct Split: Equatable, Sendable {
    public var training: [Int]
    public var validation: [Int]

    /// A split of the given index sets.
    public init(training: [Int], validation: [Int]) {
        self.training = training
        self.validation = validation
    }
}

/// Ways to hold data out: a train/validation split, stratified or not, and k folds (scikit-learn's
/// `train_test_split`, `KFold`, `StratifiedKFold`). Shuffling draws from the given generator.
public enum Splits {
    /// A random split with round(validationFraction * count) samples held out.
    public static func trainValidation(count: Int, validationFraction: Double, generator: RandomGenerator) throws -> Split {
        try requireFraction(validationFraction, count: count)
        var order = Array(0..<count)
        generator.shuffle(&order)
        let held = Int((validationFraction * Double(count)).rounded())
        return Split(training: Array(order[held...]).sorted(), validation: Array(order[..<held]).sorted())
    }

    /// A split holding out round(validationFraction * n_c) of each class's n_c samples, so both
    /// sides keep the class proportions; but at least one when a class has two or more (so every
    /// class is validated) and never all of them (so every class is trained on); a class with a
    /// single sample stays in training. A fraction of 0 holds nothing out.
    public static func stratified(labels: [Int], validationFraction: Double, generator: RandomGenerator) throws -> Split {
        guard validationFraction >= 0, validationFraction < 1 else {
            throw TrainingError("validation fraction \(validationFraction); expected 0 <= fraction < 1")
        }
        var training: [Int] = [], validation: [Int] = []
        for var members in membersByClass(labels) {
            generator.shuffle(&members)
            var held = Int((validationFraction * Double(members.count)).rounded())
            if validationFraction > 0 && members.count >= 2 { held = min(max(held, 1), members.count - 1) }
            if members.count < 2 { held = 0 }
            validation += members[..<held]
            training += members[held...]
        }
        return Split(training: training.sorted(), validation: validation.sorted())
    }

    /// k folds of sizes differing by at most one, each validating on its own contiguous block of the
    /// (shuffled, when a generator is given) order; together the validation sets cover every sample once.
    public static func kFold(count: Int, folds k: Int, generator: RandomGenerator? = nil) throws -> [Split] {
        guard k >= 2, k <= count else { throw TrainingError("k-fold needs 2 <= k <= \(count) samples, got k = \(k)") }
        var order = Array(0..<count)
        if let generator { generator.shuffle(&order) }
        let blocks = (0..<k).map { Parallel.partition(count, parts: k, part: $0) }
        return folds(blocks.map { Array(order[$0]) }, count: count)
    }

    /// k folds that each hold about 1/k of every class: each class's (shuffled) samples are dealt
    /// to the folds in turn, the deal continuing from class to class so fold sizes differ by at most one.
    public static func stratifiedKFold(labels: [Int], folds k: Int, generator: RandomGenerator? = nil) throws -> [Split] {
        guard k >= 2, k <= labels.count else {
            throw TrainingError("stratified k-fold needs 2 <= k <= \(labels.count) samples, got k = \(k)")
        }
        var held = [[Int]](repeating: [], count: k)
        var next = 0
        for var members in membersByClass(labels) {
            if let generator { generator.shuffle(&members) }
            for i in members {
                held[next].append(i)
                next = (next + 1) % k
            }
        }
        return folds(held, count: labels.count)
    }

    private static func folds(_ held: [[Int]], count: Int) -> [Split] {
        held.map { validation in
            var isHeld = [Bool](repeating: false, count: count)
            for i in validation { isHeld[i] = true }
            return Split(training: (0..<count).filter { !isHeld[$0] }, validation: validation.sorted())
        }
    }

    private static func membersByClass(_ labels: [Int]) -> [[Int]] {
        var byClass: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() { byClass[l, default: []].append(i) }
        return byClass.keys.sorted().map { byClass[$0]! }
    }

    private static func requireFraction(_ f: Double, count: Int) throws {
        guard f > 0, f < 1, count >= 2 else {
            throw TrainingError("a split needs a validation fraction in (0, 1) and at least 2 samples, got \(f) of \(count)")
        }
    }
}
