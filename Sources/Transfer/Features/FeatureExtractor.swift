import Engine
import Foundation
import Zoo

/// A layer's output for many samples: one flattened row per sample that could be read, in the
/// order the samples were streamed.
public struct ExtractedFeatures {
    /// (rows, features): each sample's layer output flattened in NHWC order (Keras's `Flatten`).
    public var values: Tensor
    /// Each row's sample: its index in the dataset, or its position in an image list.
    public var indices: [Int]
    /// Each row's label; nil when the samples have none (an image list, an unlabelled array).
    public var labels: [Int]?
    /// The names of the labels, in label order.
    public var classNames: [String]
    /// What each row's sample is called: its file path, or e.g. `x.npy[3]`.
    public var names: [String]
    /// The layer the rows come from.
    public var layer: String
    /// What the pass loaded and skipped.
    public var summary: LoadSummary

    /// The number of rows (samples read).
    public var rowCount: Int { values.shape[0] }
    /// Features per row.
    public var width: Int { values.shape[1] }
}

/// How far an extraction has got, reported after each batch.
public struct ExtractionProgress: Sendable {
    /// Batches done, counting from 1.
    public let batch: Int
    /// Batches in the whole pass (before any skipping empties one).
    public let batchCount: Int
    /// Rows extracted so far.
    public let rows: Int
}

/// A model's layer as a feature extractor: inference mode, batched, one flattened row per sample.
///
/// Rows are exactly `model.output(at: layer, for:)` of the batches streamed: nothing is
/// recomputed or reordered, so a feature matrix matches what the model computes bit for bit.
public struct FeatureExtractor {
    public let model: Model
    /// A tap of the model (see `Model.taps`) or one of its aliases, e.g. `fc2`, `f6`, `avg_pool`.
    public let layer: String

    public init(model: Model, layer: String) {
        self.model = model
        self.layer = layer
    }

    /// The features of a preprocessed NHWC batch: (batch, features).
    public func features(of batch: Tensor) throws -> Tensor {
        let y = try model.output(at: layer, for: batch)
        let rows = batch.shape[0]
        return y.reshaped([rows, rows == 0 ? 0 : y.count / rows])
    }

    /// The features of `dataset`'s samples at `indices` (all when nil), streamed in batches of
    /// `batchSize` with the next batch decoded while the current one computes. An unreadable sample
    /// is left out, reported to `logger` and counted in the summary; `progress` hears after every batch.
    public func extract(from dataset: LabeledDataset, indices: [Int]? = nil, batchSize: Int = 32,
                        logger: DataLogger = .standardError,
                        progress: ((ExtractionProgress) -> Void)? = nil) throws -> ExtractedFeatures {
        let part = try rows(of: dataset, indices: indices, batchSize: batchSize, logger: logger, progress: progress)
        guard let values = part.values else {
            throw TransferError("\(layer): no sample could be read; \(part.summary)")
        }
        return features(values, kept: part.kept, summary: part.summary, of: dataset)
    }

    /// The rows of the readable samples among `indices`, those samples, and what was loaded and
    /// skipped; `values` is nil when no sample could be read.
    func rows(of dataset: LabeledDataset, indices: [Int]?, batchSize: Int, logger: DataLogger,
              progress: ((ExtractionProgress) -> Void)?) throws -> (values: Tensor?, kept: [Int], summary: LoadSummary) {
        let stream = try BatchStream(dataset, indices: indices, batchSize: batchSize, logger: logger)
        var rows = RowCollector(capacity: stream.order.count)
        var kept: [Int] = []
        for (i, batch) in stream.enumerated() {
            try rows.append(features(of: batch.inputs), layer: layer)
            kept += batch.indices
            progress?(ExtractionProgress(batch: i + 1, batchCount: stream.batchCount, rows: kept.count))
        }
        return (rows.matrix, kept, stream.summary)
    }

    /// `values` as the features of `dataset`'s samples `kept`, with their labels and names.
    func features(_ values: Tensor, kept: [Int], summary: LoadSummary, of dataset: LabeledDataset) -> ExtractedFeatures {
        ExtractedFeatures(values: values, indices: kept, labels: kept.map(dataset.label(at:)),
                          classNames: dataset.classNames, names: kept.map(dataset.sampleName(at:)),
                          layer: layer, summary: summary)
    }

    /// The features of the images at `urls`, read through `pipeline` (see `extract(from:)`); the
    /// rows have no labels, and `indices` are positions in `urls`.
    public func extract(images urls: [URL], pipeline: ImagePipeline, batchSize: Int = 32,
                        logger: DataLogger = .standardError,
                        progress: ((ExtractionProgress) -> Void)? = nil) throws -> ExtractedFeatures {
        var features = try extract(from: ImageList(files: urls, pipeline: pipeline), batchSize: batchSize,
                                    logger: logger, progress: progress)
        features.labels = nil
        return features
    }
}

/// Feature rows gathered batch by batch into one buffer sized for every sample, so that nothing
/// is copied twice while streaming; trimmed at the end when samples were skipped.
struct RowCollector {
    let capacity: Int
    private var buffer: Tensor?
    private(set) var rows = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ batch: Tensor, layer: String) throws {
        let width = batch.shape[1]
        if buffer == nil { buffer = Tensor(uninitialized: [capacity, width]) }
        guard buffer!.shape[1] == width else {
            throw TransferError("\(layer): a batch gave \(width) features per sample, earlier ones \(buffer!.shape[1])")
        }
        buffer!.mutableData().advanced(by: rows * width).update(from: batch.data, count: batch.count)
        rows += batch.shape[0]
    }

    /// (rows, width), or nil when no row was added.
    var matrix: Tensor? {
        guard let buffer, rows > 0 else { return nil }
        if rows == capacity { return buffer }
        let width = buffer.shape[1]
        var trimmed = Tensor(uninitialized: [rows, width])
        trimmed.mutableData().update(from: buffer.data, count: rows * width)
        return trimmed
    }
}

/// Image files without labels, as a dataset for `BatchStream`.
struct ImageList: LabeledDataset {
    let files: [URL]
    let pipeline: ImagePipeline

    var count: Int { files.count }
    var classNames: [String] { [] }
    var sampleShape: [Int] { pipeline.sampleShape }
    func label(at index: Int) -> Int { 0 }
    func sampleName(at index: Int) -> String { files[index].path }
    func load(at index: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try pipeline.load(files[index], into: destination)
    }
}
