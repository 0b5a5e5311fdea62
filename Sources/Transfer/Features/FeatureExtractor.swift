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
    /// The layer the rows come from, as asked (a tap or an alias).
    public var layer: String
    /// What the pass loaded and skipped.
    public var summary: LoadSummary
    /// The layer's output shape for one sample, e.g. (56, 56, 256), whose product is `width`; empty
    /// when not known (then taken as `(width)`).
    public var sampleShape: [Int] = []

    /// The layer's output shape for all rows: (rows, ...sampleShape).
    public var mapShape: [Int] { [rowCount] + (sampleShape.isEmpty ? [width] : sampleShape) }

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

/// A model's layers as a feature extractor: inference mode, batched, one flattened row per sample
/// and layer. Several layers come from one pass over the data, one forward per batch.
///
/// Rows are exactly `model.outputs(at: layers, for:)` of the batches streamed, which for each layer
/// is `model.output(at:for:)` bit for bit: nothing is recomputed or reordered.
public struct FeatureExtractor {
    public let model: Model
    /// Taps of the model (see `Model.taps`) or their aliases, e.g. `fc2`, `f6`, `avg_pool`.
    public let layers: [String]
    /// The first of `layers` (the only one for a single-layer extractor).
    public var layer: String { layers[0] }

    /// One layer; an unknown one is reported when extracting.
    public init(model: Model, layer: String) {
        self.model = model
        self.layers = [layer]
    }

    /// Several layers, computed in one pass; the word `pyramid` stands for the architecture's feature
    /// pyramid (`Architecture.pyramid`). Throws for no layer, a layer named twice, or an unknown one
    /// (the error lists the taps).
    public init(model: Model, layers: [String]) throws {
        let expanded = try model.expandingPyramid(layers)
        guard !expanded.isEmpty else { throw TransferError("no layer to extract features from") }
        if let twice = expanded.first(where: { name in expanded.filter { $0 == name }.count > 1 }) {
            throw TransferError("layer '\(twice)' is asked for twice")
        }
        _ = try model.layerNames(of: expanded)
        self.model = model
        self.layers = expanded
    }

    /// The features of a preprocessed NHWC batch at the first layer: (batch, features).
    public func features(of batch: Tensor) throws -> Tensor {
        try featuresOfEachLayer(of: batch)[0]
    }

    /// The features of a preprocessed NHWC batch at every layer, in `layers` order: (batch, features) each.
    public func featuresOfEachLayer(of batch: Tensor) throws -> [Tensor] {
        let rows = batch.shape[0]
        return try model.outputs(at: layers, for: batch).map { y in y.reshaped([rows, rows == 0 ? 0 : y.count / rows]) }
    }

    /// The features of `dataset`'s samples at `indices` (all when nil), streamed in batches of
    /// `batchSize` with the next batch decoded while the current one computes. An unreadable sample
    /// is left out, reported to `logger` and counted in the summary; `progress` hears after every batch.
    /// The first layer's; see `extractEachLayer(from:)` for all of them.
    public func extract(from dataset: LabeledDataset, indices: [Int]? = nil, batchSize: Int = 32,
                        logger: DataLogger = .standardError,
                        progress: ((ExtractionProgress) -> Void)? = nil) throws -> ExtractedFeatures {
        try extractEachLayer(from: dataset, indices: indices, batchSize: batchSize, logger: logger, progress: progress)[0]
    }

    /// `extract(from:)` for every layer at once, in `layers` order; the rows' samples are the same in each.
    public func extractEachLayer(from dataset: LabeledDataset, indices: [Int]? = nil, batchSize: Int = 32,
                                 logger: DataLogger = .standardError,
                                 progress: ((ExtractionProgress) -> Void)? = nil) throws -> [ExtractedFeatures] {
        let part = try rows(of: dataset, indices: indices, batchSize: batchSize, logger: logger, progress: progress)
        guard let values = part.values else {
            throw TransferError("\(layers.joined(separator: ", ")): no sample could be read; \(part.summary)")
        }
        return features(values, shapes: part.shapes, kept: part.kept, summary: part.summary, of: dataset)
    }

    /// Each layer's rows of the readable samples among `indices` and its per-sample shape, those
    /// samples, and what was loaded and skipped; `values` is nil when no sample could be read.
    func rows(of dataset: LabeledDataset, indices: [Int]?, batchSize: Int, logger: DataLogger,
              progress: ((ExtractionProgress) -> Void)?)
    throws -> (values: [Tensor]?, shapes: [[Int]], kept: [Int], summary: LoadSummary) {
        let stream = try BatchStream(dataset, indices: indices, batchSize: batchSize, logger: logger)
        let shapes = try outputShapes(sample: dataset.sampleShape)
        let what = "the features of \(stream.order.count) samples at \(layers.joined(separator: ", "))"
        try MemoryBudget.check(MemoryBudget.sum(shapes.map { MemoryBudget.product([stream.order.count, 4] + $0) ?? .max }),
                               for: what, hint: "extract fewer samples or layers at a time")
        var collectors = layers.map { _ in RowCollector(capacity: stream.order.count) }
        var kept: [Int] = []
        for (i, batch) in stream.enumerated() {
            for (l, rows) in try featuresOfEachLayer(of: batch.inputs).enumerated() {
                try collectors[l].append(rows, layer: layers[l])
            }
            kept += batch.indices
            progress?(ExtractionProgress(batch: i + 1, batchCount: stream.batchCount, rows: kept.count))
        }
        let values = collectors.compactMap(\.matrix)
        return (values.count == layers.count ? values : nil, shapes, kept, stream.summary)
    }

    /// Each layer's output shape for one sample of `sample`'s shape (batch excluded).
    func outputShapes(sample: [Int]) throws -> [[Int]] {
        let names = try model.layerNames(of: layers)
        var found: [String: [Int]] = [:]
        func visit(_ layer: Layer, _ input: [Int]) throws -> [Int] {
            let output = try layer.outputShape(for: input)
            if let nested = layer as? Sequential, names.contains(where: nested.reaches) {
                var x = input
                for inner in nested.layers { x = try visit(inner, x) }
            }
            if names.contains(layer.name) { found[layer.name] = Array(output.dropFirst()) }
            return output
        }
        _ = try visit(model.network, [1] + sample)
        return names.map { found[$0] ?? [] }
    }

    /// `values` (one matrix per layer) as the features of `dataset`'s samples `kept`, with their labels and names.
    func features(_ values: [Tensor], shapes: [[Int]], kept: [Int], summary: LoadSummary,
                  of dataset: LabeledDataset) -> [ExtractedFeatures] {
        let labels = kept.map(dataset.label(at:)), names = kept.map(dataset.sampleName(at:))
        return zip(layers, zip(values, shapes)).map { layer, value in
            ExtractedFeatures(values: value.0, indices: kept, labels: labels, classNames: dataset.classNames,
                              names: names, layer: layer, summary: summary, sampleShape: value.1)
        }
    }

    /// The features of the images at `urls`, read through `pipeline` (see `extract(from:)`); the
    /// rows have no labels, and `indices` are positions in `urls`.
    public func extract(images urls: [URL], pipeline: ImagePipeline, batchSize: Int = 32,
                        logger: DataLogger = .standardError,
                        progress: ((ExtractionProgress) -> Void)? = nil) throws -> ExtractedFeatures {
        try extractEachLayer(images: urls, pipeline: pipeline, batchSize: batchSize, logger: logger, progress: progress)[0]
    }

    /// `extract(images:)` for every layer at once, in `layers` order.
    public func extractEachLayer(images urls: [URL], pipeline: ImagePipeline, batchSize: Int = 32,
                                 logger: DataLogger = .standardError,
                                 progress: ((ExtractionProgress) -> Void)? = nil) throws -> [ExtractedFeatures] {
        try extractEachLayer(from: ImageList(files: urls, pipeline: pipeline), batchSize: batchSize,
                             logger: logger, progress: progress).map { features in
            var unlabelled = features
            unlabelled.labels = nil
            return unlabelled
        }
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
