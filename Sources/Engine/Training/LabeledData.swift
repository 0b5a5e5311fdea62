import Foundation

/// Labelled samples a trainer draws mini-batches from: held in memory (`LabeledData`) or read
/// from files batch by batch (the transfer module's image folders).
public protocol TrainingData {
    /// The number of samples; batches name samples by position 0..<count.
    var count: Int { get }
    var classes: Int { get }
    /// Calls `body` with the batch of each list of positions, in order. A source that reads files
    /// may leave out a sample it cannot read (and report it); it never calls `body` with an empty batch.
    func forEachBatch(_ batches: [[Int]], _ body: (Batch) throws -> Void) throws
}

/// Samples with one class label each, stacked on the first axis: NHWC images (n, h, w, c) or
/// feature vectors (n, features).
public struct LabeledData: TrainingData {
    public var inputs: Tensor
    public var labels: [Int]
    public let classes: Int

    /// Checks that there is one label per sample and every label lies in 0..<classes.
    public init(inputs: Tensor, labels: [Int], classes: Int) throws {
        guard inputs.rank >= 2, inputs.shape[0] == labels.count else {
            throw TrainingError("\(labels.count) labels for inputs of shape \(shapeString(inputs.shape)); "
                + "expected (samples, ...) with one label per sample")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw TrainingError("label \(labels[bad]) of sample \(bad) is outside 0..<\(classes)")
        }
        self.inputs = inputs
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }
    /// The shape of one sample, e.g. (h, w, c).
    public var sampleShape: [Int] { Array(inputs.shape.dropFirst()) }

    /// How many samples each class has.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for l in labels { counts[l] += 1 }
        return counts
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) throws -> LabeledData {
        LabeledData(unchecked: try gather(indices), labels: indices.map { labels[$0] }, classes: classes)
    }

    /// The samples at `indices` as a mini-batch with hard labels.
    public func batch(_ indices: [Int]) throws -> Batch {
        Batch(inputs: try gather(indices), labels: indices.map { labels[$0] }, classes: classes)
    }

    public func forEachBatch(_ batches: [[Int]], _ body: (Batch) throws -> Void) throws {
        for indices in batches { try body(try batch(indices)) }
    }

    /// Every sample as one feature vector, (n, features), for a multilayer perceptron.
    public func flattened() -> LabeledData {
        LabeledData(unchecked: inputs.reshaped([count, sampleShape.reduce(1, *)]), labels: labels, classes: classes)
    }

    private init(unchecked inputs: Tensor, labels: [Int], classes: Int) {
        self.inputs = inputs
        self.labels = labels
        self.classes = classes
    }

    private func gather(_ indices: [Int]) throws -> Tensor {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw TrainingError("sample index \(bad) is outside 0..<\(count)")
        }
        let size = sampleShape.reduce(1, *)
        var out = Tensor(uninitialized: [indices.count] + sampleShape)
        let src = inputs.data, dst = out.mutableData()
        for (row, i) in indices.enumerated() {
            (dst + row * size).update(from: src + i * size, count: size)
        }
        return out
    }
}

/// A mini-batch on its way to the loss: inputs, hard labels, and soft targets once mixing
/// (mixup, cutmix) has blended labels.
public struct Batch {
    public var inputs: Tensor
    public var labels: [Int]
    public let classes: Int
    /// Per-class target probabilities (batch, classes), or nil while the labels are hard.
    public var softTargets: Tensor?

    /// A batch with hard labels, or soft targets (batch, classes) when given.
    public init(inputs: Tensor, labels: [Int], classes: Int, softTargets: Tensor? = nil) {
        self.inputs = inputs
        self.labels = labels
        self.classes = classes
        self.softTargets = softTargets
    }

    public var count: Int { labels.count }

    /// What the loss compares the output with: the soft targets, or the labels as whole floats (batch,),
    /// the two forms `SoftmaxCrossEntropy` accepts.
    public var lossTarget: Tensor {
        softTargets ?? Tensor(shape: [labels.count], scalars: labels.map { Float($0) })
    }

    /// The soft targets, or the labels one-hot encoded.
    public var probabilityTargets: Tensor {
        if let softTargets { return softTargets }
        var t = Tensor(zeros: [labels.count, classes])
        let p = t.mutableData()
        for (row, l) in labels.enumerated() { p[row * classes + l] = 1 }
        return t
    }
}

/// A training setting or dataset that cannot work, with what was expected.
public struct TrainingError: Error, CustomStringConvertible, Equatable {
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
