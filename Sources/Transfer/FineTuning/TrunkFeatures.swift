import Engine

/// The outputs of a frozen trunk for every sample of a dataset, computed once in inference mode.
struct TrunkFeatures {
    let trunk: Sequential
    let batchSize: Int

    init(trunk: Sequential, batchSize: Int) throws {
        guard batchSize > 0 else { throw TransferError("batch size \(batchSize); expected at least 1") }
        self.trunk = trunk
        self.batchSize = batchSize
    }

    /// The trunk's output for each readable sample of `data`, in order, with its label.
    func compute(_ data: StreamedData) throws -> LabeledData {
        let batches = stride(from: 0, to: data.count, by: batchSize).map { Array($0..<min(data.count, $0 + batchSize)) }
        var rows: [Float] = [], labels: [Int] = [], sampleShape: [Int] = []
        try data.forEachBatch(batches) { batch in
            let y = try trunk.forward(batch.inputs, mode: .inference)
            if rows.isEmpty {
                sampleShape = Array(y.shape.dropFirst())
                rows.reserveCapacity(data.count * sampleShape.reduce(1, *))
            }
            rows.append(contentsOf: UnsafeBufferPointer(start: y.data, count: y.count))
            labels += batch.labels
        }
        guard !labels.isEmpty else { throw TransferError("no sample could be read") }
        return try LabeledData(inputs: Tensor(shape: [labels.count] + sampleShape, scalars: rows), labels: labels,
                               classes: data.classes)
    }
}
