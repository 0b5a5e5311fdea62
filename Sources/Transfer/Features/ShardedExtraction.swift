import Engine
import Foundation

extension FeatureExtractor {
    /// `extract(from:)` spread over the ranks of `cluster`: each rank extracts a contiguous run of
    /// the single process's batches and rank 0 gathers the shares in rank order, which is dataset order, so its
    /// result (and any file written from it) is a single process's. Nil on the other ranks.
    public func extract(from dataset: LabeledDataset, indices: [Int]? = nil, batchSize: Int = 32,
                        across cluster: Cluster, logger: DataLogger = .standardError,
                        progress: ((ExtractionProgress) -> Void)? = nil) throws -> ExtractedFeatures? {
        let all = indices ?? Array(0..<dataset.count)
        let share = Array(all[cluster.share(of: all.count, inBatchesOf: batchSize)])
        let part = try rows(of: dataset, indices: share, batchSize: batchSize, logger: logger, progress: progress)
        let header = ShareHeader(kept: part.kept, loaded: part.summary.loaded, skipped: part.summary.skipped,
                                 width: part.values?.shape[1] ?? 0)
        let values = part.values.map { Data(bytes: $0.data, count: $0.count * MemoryLayout<Float>.size) } ?? Data()
        let headers = try cluster.gather(try JSONEncoder().encode(header))
        let pieces = try cluster.gather(values)
        guard let headers, let pieces else { return nil }
        let shares = try headers.map { try JSONDecoder().decode(ShareHeader.self, from: $0) }
        var summary = LoadSummary()
        summary.loaded = shares.reduce(0) { $0 + $1.loaded }
        summary.skipped = shares.flatMap(\.skipped)
        let rowCount = shares.reduce(0) { $0 + $1.kept.count }
        guard rowCount > 0, let width = shares.first(where: { !$0.kept.isEmpty })?.width else {
            throw TransferError("\(layer): no sample could be read; \(summary)")
        }
        var matrix = Tensor(uninitialized: [rowCount, width])
        var offset = 0
        for (share, piece) in zip(shares, pieces) where !share.kept.isEmpty {
            guard share.width == width, piece.count == share.kept.count * width * MemoryLayout<Float>.size else {
                throw TransferError("\(layer): a rank sent \(piece.count) bytes for \(share.kept.count) rows of "
                    + "\(share.width) features; expected rows of \(width)")
            }
            piece.withUnsafeBytes { p in
                (matrix.mutableData() + offset).update(from: p.bindMemory(to: Float.self).baseAddress!, count: piece.count / 4)
            }
            offset += piece.count / 4
        }
        return features(matrix, kept: shares.flatMap(\.kept), summary: summary, of: dataset)
    }
}

/// What one rank extracted, sent to rank 0 ahead of its rows.
private struct ShareHeader: Codable {
    let kept: [Int]
    let loaded: Int
    let skipped: [LoadSummary.Skipped]
    let width: Int
}
