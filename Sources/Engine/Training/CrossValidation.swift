import Foundation

/// The scores of a cross-validation, one per fold, with their mean and standard deviation.
public struct CrossValidationReport: CustomStringConvertible {
    public var scores: [Double]

    /// A report of one score per fold, in fold order.
    public init(scores: [Double]) { self.scores = scores }

    public var mean: Double { scores.reduce(0, +) / Double(max(scores.count, 1)) }

    /// Population standard deviation (NumPy's default `std`, what scikit-learn users report).
    public var standardDeviation: Double {
        let m = mean
        return (scores.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(scores.count, 1))).squareRoot()
    }

    /// One `fold=i score=s` line per fold, then `mean=... std=...`.
    public var description: String {
        (scores.enumerated().map { String(format: "fold=%d score=%.6f", $0.offset + 1, $0.element) }
            + [String(format: "mean=%.6f std=%.6f", mean, standardDeviation)]).joined(separator: "\n")
    }
}

/// Runs a model-selection experiment over folds.
public enum CrossValidation {
    /// Calls `score(fold, split)` for each fold (a fresh model trained on `split.training`, scored
    /// on `split.validation`) and collects the scores.
    public static func run(_ folds: [Split], score: (Int, Split) throws -> Double) rethrows -> CrossValidationReport {
        CrossValidationReport(scores: try folds.enumerated().map { try score($0.offset, $0.element) })
    }
}
