import Engine
import Foundation

/// Samples of a `LabeledDataset` as a trainer's data source: read batch by batch through a
/// `BatchStream`, so memory holds two batches whatever the dataset's size.
///
/// A sample that cannot be read is left out of its batch; the warning naming it is given once,
/// not once an epoch, and `skipped` collects every such sample.
public final class StreamedData: TrainingData {
    public let dataset: LabeledDataset
    /// The dataset indices of the samples, in position order.
    public let indices: [Int]
    public let classes: Int
    private let seen = SkippedSamples()

    /// The samples at `indices` of `dataset` (all when nil); `classes` defaults to the dataset's class names.
    public init(_ dataset: LabeledDataset, indices: [Int]? = nil, classes: Int? = nil,
                logger: DataLogger = .standardError) {
        self.dataset = dataset
        self.indices = indices ?? Array(0..<dataset.count)
        self.classes = classes ?? dataset.classNames.count
        let seen = self.seen
        self.logger = DataLogger { message in if seen.first(message) { logger.warn(message) } }
    }

    private let logger: DataLogger

    public var count: Int { indices.count }

    /// The samples left out so far because they could not be read.
    public var skipped: [String] { seen.messages }

    public func forEachBatch(_ batches: [[Int]], _ body: (Engine.Batch) throws -> Void) throws {
        guard let size = batches.first?.count, size > 0 else { return }
        // The stream cuts its order into equal runs; the trainer's batches are such runs.
        guard batches.dropLast().allSatisfy({ $0.count == size }), (batches.last?.count ?? 0) <= size else {
            throw TransferError("streamed batches must all hold \(size) samples but the last; got sizes "
                + batches.map { String($0.count) }.joined(separator: ", "))
        }
        let order = try batches.flatMap { batch in
            try batch.map { position in
                guard indices.indices.contains(position) else {
                    throw TransferError("sample position \(position) outside 0..<\(indices.count)")
                }
                return indices[position]
            }
        }
        let stream = try BatchStream(dataset, indices: order, batchSize: size, logger: logger)
        for b in stream {
            try body(Engine.Batch(inputs: b.inputs, labels: b.labels, classes: classes))
        }
    }
}

/// Warnings already given, so each is given once.
private final class SkippedSamples: @unchecked Sendable {
    private let lock = NSLock()
    private var given: [String] = []
    private var set = Set<String>()

    /// True the first time `message` is seen.
    func first(_ message: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard set.insert(message).inserted else { return false }
        given.append(message)
        return true
    }

    var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return given
    }
}
