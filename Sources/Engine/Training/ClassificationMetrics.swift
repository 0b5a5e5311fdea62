/// How a classifier did on a set of samples: mean loss, top-1 and top-5 accuracy, and the
/// confusion matrix from which per-class precision and recall follow.
public struct ClassificationReport: Codable, Equatable {
    /// Mean loss per sample (each batch's mean loss weighted by its size).
    public var loss: Double
    public var samples: Int
    public var top1: Double
    /// Accuracy counting the label among the 5 highest outputs (all of them when there are fewer classes).
    public var top5: Double
    /// `confusion[actual][predicted]`: how many samples of class `actual` were predicted as `predicted`.
    public var confusion: [[Int]]

    /// Checkpoint manifests hold every epoch's reports: each confusion row is written as one string
    /// of counts ("12 0 3"), one line per class in the JSON instead of one line per count.
    private enum CodingKeys: String, CodingKey { case loss, samples, top1, top5, confusion }

    /// A report from its figures.
    public init(loss: Double, samples: Int, top1: Double, top5: Double, confusion: [[Int]]) {
        self.loss = loss
        self.samples = samples
        self.top1 = top1
        self.top5 = top5
        self.confusion = confusion
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        loss = try c.decode(Double.self, forKey: .loss)
        samples = try c.decode(Int.self, forKey: .samples)
        top1 = try c.decode(Double.self, forKey: .top1)
        top5 = try c.decode(Double.self, forKey: .top5)
        confusion = try c.decode([String].self, forKey: .confusion).map { row in
            try row.split(separator: " ").map { field in
                guard let n = Int(field) else {
                    throw DecodingError.dataCorruptedError(forKey: .confusion, in: c, debugDescription: "bad count '\(field)'")
                }
                return n
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(loss, forKey: .loss)
        try c.encode(samples, forKey: .samples)
        try c.encode(top1, forKey: .top1)
        try c.encode(top5, forKey: .top5)
        try c.encode(confusion.map { $0.map(String.init).joined(separator: " ") }, forKey: .confusion)
    }

    /// Per class: of the samples predicted as that class, the share that belong to it (0 when none was).
    public var precision: [Double] {
        confusion.indices.map { c in
            let predicted = confusion.reduce(0) { $0 + $1[c] }
            return predicted == 0 ? 0 : Double(confusion[c][c]) / Double(predicted)
        }
    }

    /// Per class: of the samples of that class, the share predicted as it (0 when it has none).
    public var recall: [Double] {
        confusion.indices.map { c in
            let actual = confusion[c].reduce(0, +)
            return actual == 0 ? 0 : Double(confusion[c][c]) / Double(actual)
        }
    }
}

/// Builds a `ClassificationReport` batch by batch.
public struct MetricAccumulator {
    public let classes: Int
    private var lossSum = 0.0
    private var samples = 0
    private var top1Hits = 0
    private var top5Hits = 0
    private var confusion: [[Int]]

    /// An empty accumulator for `classes` classes.
    public init(classes: Int) {
        self.classes = classes
        confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    }

    /// Adds a batch: its logits (batch, classes), true labels and mean loss.
    public mutating func add(logits: Tensor, labels: [Int], meanLoss: Float) throws {
        guard logits.rank == 2, logits.shape[0] == labels.count, logits.shape[1] == classes else {
            throw TrainingError("metrics expected outputs (\(labels.count), \(classes)), got \(shapeString(logits.shape))")
        }
        let k = min(5, classes)
        let x = logits.data
        for (row, label) in labels.enumerated() {
            let r = x + row * classes
            // Rank of the label's logit, ties broken by index as argmax and topk break them.
            var better = 0, argmax = 0
            let target = r[label]
            for c in 0..<classes {
                // A NaN score ranks below everything: a NaN row is a miss, never a hit.
                if r[c] > target || (r[c] == target && c < label) || (target.isNaN && c != label) { better += 1 }
                if r[c] > r[argmax] { argmax = c }
            }
            if better == 0 { top1Hits += 1 }
            if better < k { top5Hits += 1 }
            confusion[label][argmax] += 1
        }
        lossSum += Double(meanLoss) * Double(labels.count)
        samples += labels.count
    }

    /// Adds every other rank's counts to this one's, so each rank holds the whole job's figures.
    public mutating func sum(across cluster: Cluster) throws {
        let packed = [lossSum, Double(samples), Double(top1Hits), Double(top5Hits)] + confusion.joined().map(Double.init)
        let total = try cluster.sum(packed)
        lossSum = total[0]
        samples = Int(total[1])
        top1Hits = Int(total[2])
        top5Hits = Int(total[3])
        confusion = (0..<classes).map { row in (0..<classes).map { Int(total[4 + row * classes + $0]) } }
    }

    /// The figures over every batch added so far.
    public var report: ClassificationReport {
        let n = Double(max(samples, 1))
        return ClassificationReport(loss: lossSum / n, samples: samples, top1: Double(top1Hits) / n,
                                    top5: Double(top5Hits) / n, confusion: confusion)
    }
}
