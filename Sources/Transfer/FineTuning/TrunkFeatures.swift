import Engine
import Foundation

/// The outputs of a frozen trunk for every sample of a dataset, computed once in inference mode.
struct TrunkFeatures {
    let trunk: Sequential
    let batchSize: Int

    init(trunk: Sequential, batchSize: Int) throws {
        guard batchSize > 0 else { throw TransferError("batch size \(batchSize); expected at least 1") }
        self.trunk = trunk
        self.batchSize = batchSize
    }

    /// The trunk's output for each readable sample of `data`, in order, with its label. Across a
    /// cluster each rank computes a contiguous run of the batches and every rank gathers them all in order.
    func compute(_ data: StreamedData, across cluster: Cluster? = nil) throws -> LabeledData {
        guard let cluster, cluster.size > 1 else {
            guard let all = try compute(data, positions: 0..<data.count) else {
                throw TransferError("no sample could be read")
            }
            return all
        }
        let mine = try compute(data, positions: cluster.share(of: data.count, inBatchesOf: batchSize))
        let rows = try cluster.allGather(mine.map { Data(tensor: $0.inputs) } ?? Data())
        let described = try cluster.allGather(mine.map { Data(integers: $0.sampleShape + $0.labels) } ?? Data())
            .map(\.integers)
        let counts = try cluster.allGather(mine?.count ?? 0)
        guard let first = counts.indices.first(where: { counts[$0] > 0 }) else {
            throw TransferError("no sample could be read")
        }
        let sampleShape = Array(described[first].prefix(described[first].count - counts[first]))
        let labels = counts.indices.flatMap { described[$0].suffix(counts[$0]) }
        return try LabeledData(inputs: Tensor(rows: rows, shape: [labels.count] + sampleShape), labels: labels,
                               classes: data.classes)
    }

    /// The trunk's output for the readable samples at `positions` of `data`, nil when none could be read.
    private func compute(_ data: StreamedData, positions: Range<Int>) throws -> LabeledData? {
        let batches = stride(from: positions.lowerBound, to: positions.upperBound, by: batchSize).map {
            Array($0..<min(positions.upperBound, $0 + batchSize))
        }
        var rows: [Float] = [], labels: [Int] = [], sampleShape: [Int] = []
        try data.forEachBatch(batches) { batch in
            let y = try trunk.forward(batch.inputs, mode: .inference)
            if rows.isEmpty {
                sampleShape = Array(y.shape.dropFirst())
                rows.reserveCapacity(positions.count * sampleShape.reduce(1, *))
            }
            rows.append(contentsOf: UnsafeBufferPointer(start: y.data, count: y.count))
            labels += batch.labels
        }
        guard !labels.isEmpty else { return nil }
        return try LabeledData(inputs: Tensor(shape: [labels.count] + sampleShape, scalars: rows), labels: labels,
                               classes: data.classes)
    }
}
