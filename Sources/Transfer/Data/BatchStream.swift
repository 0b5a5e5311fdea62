import Dispatch
import Engine

/// One batch: inputs (n, height, width, channels), their labels, and the dataset indices they
/// came from (n is below the batch size for the last batch and where a sample was skipped).
public struct Batch {
    public let inputs: Tensor
    public let labels: [Int]
    public let indices: [Int]
    public var count: Int { labels.count }
}

/// Batches of a dataset in a given order, each decoded while the previous one is in use.
///
/// Memory stays bounded by two batches: the one handed out and the next, which is decoded on the
/// shared background queue (`Parallel.background`, which keeps it off the compute threads) while the
/// caller computes, never on a thread of its own. A sample that cannot be read is left out of its batch, reported to the
/// logger with its name, and counted in `summary`; the stream goes on.
public final class BatchStream: Sequence, IteratorProtocol {
    public let dataset: LabeledDataset
    public let order: [Int]
    public let batchSize: Int
    public let logger: DataLogger
    /// What has been loaded and skipped so far.
    public private(set) var summary = LoadSummary()

    private var nextStart = 0
    private var pending: Pending?

    /// Streams `indices` (all samples when nil) of `dataset`, shuffled by `shuffle` when given.
    public init(_ dataset: LabeledDataset, indices: [Int]? = nil, batchSize: Int, shuffle: RandomGenerator? = nil,
                logger: DataLogger = .standardError) throws {
        guard batchSize > 0 else { throw TransferError("batch size \(batchSize); expected at least 1") }
        var order = indices ?? Array(0..<dataset.count)
        if let bad = order.first(where: { $0 < 0 || $0 >= dataset.count }) {
            throw TransferError("sample index \(bad) outside the dataset's \(dataset.count) samples")
        }
        shuffle?.shuffle(&order)
        self.dataset = dataset
        self.order = order
        self.batchSize = batchSize
        self.logger = logger
    }

    /// The number of batches (before any skipping empties one).
    public var batchCount: Int { (order.count + batchSize - 1) / batchSize }

    public func next() -> Batch? {
        while true {
            if pending == nil { pending = start() }
            guard let current = pending else { return nil }
            let result = current.wait()
            pending = start()  // decode the next batch while the caller works on this one
            summary.loaded += result.batch?.count ?? 0
            for skip in result.skipped {
                summary.skipped.append(skip)
                logger.warn("skipped \(skip.name): \(skip.reason)")
            }
            if let batch = result.batch { return batch }
        }
    }

    /// Starts decoding the batch at `nextStart` on the pool, or returns nil at the end.
    private func start() -> Pending? {
        guard nextStart < order.count else { return nil }
        let indices = Array(order[nextStart..<Swift.min(nextStart + batchSize, order.count)])
        nextStart += indices.count
        let job = Pending()
        let dataset = self.dataset
        Parallel.background { job.finish(BatchStream.decode(indices, of: dataset)) }
        return job
    }

    /// Loads `indices` into one batch tensor, leaving out (and reporting) samples that fail.
    static func decode(_ indices: [Int], of dataset: LabeledDataset) -> Decoded {
        let size = dataset.sampleSize
        var inputs = Tensor(uninitialized: [indices.count] + dataset.sampleShape)
        let base = inputs.mutableData()
        var kept: [Int] = [], skipped: [LoadSummary.Skipped] = []
        for index in indices {
            do {
                try dataset.load(at: index, into: base + kept.count * size)
                kept.append(index)
            } catch let error as ImageError {
                skipped.append(.init(name: dataset.sampleName(at: index), reason: error.kind.rawValue
                    + (error.detail.isEmpty ? "" : " (\(error.detail))")))
            } catch {
                skipped.append(.init(name: dataset.sampleName(at: index), reason: "\(error)"))
            }
        }
        guard !kept.isEmpty else { return Decoded(batch: nil, skipped: skipped) }
        if kept.count < indices.count {
            var packed = Tensor(uninitialized: [kept.count] + dataset.sampleShape)
            packed.mutableData().update(from: base, count: kept.count * size)
            inputs = packed
        }
        return Decoded(batch: Batch(inputs: inputs, labels: kept.map(dataset.label(at:)), indices: kept), skipped: skipped)
    }

    struct Decoded {
        let batch: Batch?
        let skipped: [LoadSummary.Skipped]
    }

    /// A batch being decoded on the pool; `wait` blocks until it is done.
    final class Pending: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Decoded?

        func finish(_ decoded: Decoded) {
            result = decoded
            done.signal()
        }

        func wait() -> Decoded {
            done.wait()
            return result!
        }
    }
}
