import Engine

extension Model {
    /// About the bytes a pass over a batch of `batch` holds at its peak, from shape inference alone:
    /// the weights (with gradients and two optimizer states when training) and the activations
    /// (the largest three at once in inference; every one, twice, when training keeps them for the
    /// backward pass). Nil when the count overflows.
    public func estimatedBytes(batch: Int, training: Bool) -> Int? {
        var rows: [ModelSummary.Row] = []
        guard (try? ModelSummary.walk(network, [1] + inputShape, into: &rows)) != nil else { return nil }
        let perImage = rows.map { MemoryBudget.product($0.outputShape) ?? Int.max }
        let activations = training ? MemoryBudget.sum(perImage).flatMap { MemoryBudget.product([$0, 2]) }
            : MemoryBudget.product([(perImage.max() ?? 0), 3])
        guard let activations, let batchActivations = MemoryBudget.product([activations, batch, 4]) else { return nil }
        return MemoryBudget.sum([batchActivations, totalParameters * 4 * (training ? 4 : 1)])
    }

    /// Throws before a pass over `batch` images when it would not fit in memory, with the estimate;
    /// `option` names what sets the batch size, for the hint (a caller's flag, say).
    public func checkMemory(batch: Int, training: Bool, option: String = "batch size") throws {
        try MemoryBudget.check(estimatedBytes(batch: batch, training: training),
                               for: "\(architecture) on a batch of \(batch) \(inputShape[0])x\(inputShape[1]) inputs"
                                + (training ? " in training" : ""),
                               hint: "use a smaller \(option)")
    }
}
