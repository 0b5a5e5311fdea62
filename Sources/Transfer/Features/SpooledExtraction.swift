import Engine
import Foundation

/// What `FeatureExtractor.write` wrote.
public struct WrittenFeatures {
    /// The files, in layer order (one for `.h5` or a single layer).
    public let files: [URL]
    /// Rows (samples read) in every file.
    public let rowCount: Int
    /// Each layer as asked, in order, and its output shape for one sample.
    public let layers: [(name: String, sampleShape: [Int])]
    /// What the pass loaded and skipped, over every rank.
    public let summary: LoadSummary
}

extension FeatureExtractor {
    /// Extracts every layer's features of `dataset`'s samples at `indices` (all when nil) in one pass
    /// and writes them to `url` as `FeatureFile` lays them out, with bounded memory: each batch's
    /// rows go straight to unlinked temporary files (`RowSpool`), which are then copied into the
    /// output a slice at a time. Unreadable samples are left out as `extract(from:)` leaves them.
    ///
    /// With a `cluster` of several ranks each rank extracts a contiguous run of the single process's
    /// batches; rank 0 then receives the other ranks' rows in rank order, which is dataset order,
    /// slice by slice, and writes the single process's files byte for byte. Nil on the other ranks.
    /// `namedByPosition`: rows named by their sample index and without labels (an array's rows).
    public func write(from dataset: LabeledDataset, indices: [Int]? = nil, batchSize: Int = 32, to url: URL,
                      format: FeatureFile.Format? = nil, across cluster: Cluster? = nil, namedByPosition: Bool = false,
                      logger: DataLogger = .standardError,
                      progress: ((ExtractionProgress) -> Void)? = nil) throws -> WrittenFeatures? {
        _ = try FeatureFile.Format.of(url, format)
        let all = indices ?? Array(0..<dataset.count)
        let share = cluster.map { Array(all[$0.share(of: all.count, inBatchesOf: batchSize)]) } ?? all
        let stream = try BatchStream(dataset, indices: share, batchSize: batchSize, logger: logger)
        let shapes = try outputShapes(sample: dataset.sampleShape)
        let spools = try zip(layers, shapes).map { try RowSpool(width: $1.reduce(1, *), layer: $0) }
        var kept: [Int] = []
        for (i, batch) in stream.enumerated() {
            for (spool, rows) in zip(spools, try featuresOfEachLayer(of: batch.inputs)) { try spool.append(rows) }
            kept += batch.indices
            progress?(ExtractionProgress(batch: i + 1, batchCount: stream.batchCount, rows: kept.count))
        }
        var summary = stream.summary
        if let cluster, cluster.size > 1 {
            let header = ShareHeader(kept: kept, loaded: summary.loaded, skipped: summary.skipped)
            let shares = try cluster.allGather(try JSONEncoder().encode(header))
                .map { try JSONDecoder().decode(ShareHeader.self, from: $0) }
            try gatherRows(into: spools, rowsOfRanks: shares.map(\.kept.count), cluster)
            guard cluster.isRoot else { return nil }
            kept = shares.flatMap(\.kept)
            summary = LoadSummary()
            summary.loaded = shares.reduce(0) { $0 + $1.loaded }
            summary.skipped = shares.flatMap(\.skipped)
        }
        guard !kept.isEmpty else {
            throw TransferError("\(layers.joined(separator: ", ")): no sample could be read; \(summary)")
        }
        let table = FeatureTable(
            layers: zip(layers, zip(shapes, spools)).map { FeatureTable.Layer(name: $0, sampleShape: $1.0, rows: $1.1) },
            names: namedByPosition ? kept.map(String.init) : kept.map(dataset.sampleName(at:)),
            labels: namedByPosition ? nil : kept.map(dataset.label(at:)), classNames: dataset.classNames)
        let files = try FeatureFile.write(table, to: url, format: format)
        return WrittenFeatures(files: files, rowCount: kept.count, layers: zip(layers, shapes).map { (name: $0, sampleShape: $1) },
                               summary: summary)
    }

    /// Appends every other rank's spooled rows to rank 0's spools, rank after rank, layer after
    /// layer, a slice per round; every rank runs the same rounds (`rowsOfRanks` is known to all).
    private func gatherRows(into spools: [RowSpool], rowsOfRanks: [Int], _ cluster: Cluster) throws {
        for sender in 1..<cluster.size {
            for (layer, spool) in zip(layers, spools) {
                var row = 0
                while row < rowsOfRanks[sender] {
                    let n = min(spool.sliceRows, rowsOfRanks[sender] - row)
                    let piece = cluster.rank == sender
                        ? try spool.read(row..<(row + n)).withUnsafeBufferPointer { Data(buffer: $0) } : Data()
                    if let pieces = try cluster.gather(piece) {
                        guard pieces[sender].count == n * spool.width * MemoryLayout<Float>.size else {
                            throw TransferError("\(layer): rank \(sender) sent \(pieces[sender].count) bytes for \(n) rows "
                                + "of \(spool.width) features")
                        }
                        try pieces[sender].withUnsafeBytes { try spool.append($0) }
                    }
                    row += n
                }
            }
        }
    }
}

/// What one rank extracted, told to every rank before the rows move.
private struct ShareHeader: Codable {
    let kept: [Int]
    let loaded: Int
    let skipped: [LoadSummary.Skipped]
}
