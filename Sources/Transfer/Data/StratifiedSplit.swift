import Engine

/// A seeded train/validation split that keeps each class's share in both parts.
///
/// Each class gives round(n * fraction) of its n samples to validation, but at least one when
/// it has two or more (so every class is validated) and never all of them (so every class is
/// trained on); a class with a single sample stays in training. Which samples go is a seeded
/// shuffle within the class, so one seed gives one split on every machine.
public struct StratifiedSplit: Equatable {
    /// Sample indices for training, ascending.
    public let train: [Int]
    /// Sample indices for validation, ascending.
    public let validation: [Int]

    public init(labels: [Int], validationFraction: Double, seed: UInt64) throws {
        guard validationFraction >= 0, validationFraction < 1 else {
            throw TransferError("validation fraction \(validationFraction); expected 0 <= fraction < 1")
        }
        var byClass: [Int: [Int]] = [:]
        for (i, label) in labels.enumerated() { byClass[label, default: []].append(i) }
        let random = RandomGenerator(seed: seed)
        var train: [Int] = [], validation: [Int] = []
        for label in byClass.keys.sorted() {
            var members = byClass[label]!
            random.shuffle(&members)
            var take = Int((Double(members.count) * validationFraction).rounded())
            if validationFraction > 0 && members.count >= 2 { take = min(max(take, 1), members.count - 1) }
            if members.count < 2 { take = 0 }
            validation += members[..<take]
            train += members[take...]
        }
        self.train = train.sorted()
        self.validation = validation.sorted()
    }
}
