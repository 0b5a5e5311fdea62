import Foundation

/// Data-parallel training (Horovod's model): every rank holds the whole model and draws the same
/// global batches from the same seed; each computes the gradients of its share of every batch, the
/// shares' gradients are averaged with a few allreduce calls, and every rank takes the same step.
///
/// The result does not depend on the number of ranks: a batch's gradient is the mean over all its
/// samples however they are split, augmentations run on the whole batch gathered on every rank
/// (so their random draws are the single process's), and each `Dropout` draws the masks of the
/// whole batch and keeps its own rows. What differs is rounding, and BatchNorm in training mode:
/// by default it normalizes each rank's share by that share's statistics and every rank then takes
/// rank 0's running statistics, as PyTorch's DistributedDataParallel does (it broadcasts its
/// buffers); with `synchronizesBatchNorm` the statistics are the global batch's on every rank.
extension Trainer {
    /// One epoch's `batches` (positions in `training`), each split across `cluster`'s ranks.
    /// `started` is called before each batch that has any readable sample and gives its position
    /// for error reports; `ended` hears the batch's samples and mean loss over every rank.
    func trainShares(of batches: [[Int]], from training: TrainingData, across cluster: Cluster,
                     metrics: inout MetricAccumulator, started: () -> NonFiniteError.Position,
                     ended: (Int, Float) throws -> Void) throws {
        let averager = GradientAverager(parameters: model.trainableParameters, cluster: cluster)
        let dropouts = dropoutLayers
        let norms = model.allLayers.compactMap { $0 as? BatchNorm }
        let synchronization = synchronizesBatchNorm ? BatchNormSynchronization(group: cluster) : nil
        for norm in norms { norm.synchronization = synchronization }
        defer {
            for d in dropouts { d.globalBatch = nil }
            for norm in norms { norm.synchronization = nil }
        }
        // Whether a training step exchanges statistics, so that a rank without samples must take part.
        let exchanges = synchronization != nil && norms.contains { !$0.isFrozen }
        for global in batches {
            let share = Array(global[cluster.share(of: global.count)])
            var local: Batch?
            if !share.isEmpty { try training.forEachBatch([share]) { local = $0 } }
            let counts = try cluster.allGather(local?.count ?? 0)
            let total = counts.reduce(0, +)
            // A batch no rank could read anything of is skipped, as a single process skips it.
            guard total > 0 else { continue }
            let position = started()
            let offset = counts[..<cluster.rank].reduce(0, +)
            if !augmentations.isEmpty {
                local = try augmentedShare(local, counts: counts, offset: offset, classes: training.classes, cluster)
            }
            // Synchronized statistics: a rank with no sample runs one stand-in sample of zeros that
            // counts for nothing, to take its part in every exchange of the step.
            let standIn = exchanges && counts.contains(0)
                ? try standInBatch(local, counts: counts, classes: training.classes, cluster) : nil
            var lossShare: Float = 0
            if let batch = local {
                synchronization?.contributes = true
                for d in dropouts { d.globalBatch = (offset, total) }
                let result = try computeGradients(batch, at: position)
                try metrics.add(logits: headOutput.scores(result.output), labels: batch.labels, meanLoss: result.value)
                lossShare = result.value * Float(batch.count) / Float(total)
            } else if let standIn {
                synchronization?.contributes = false
                // One sample drawn at the batch's start, the rest skipped: the whole batch's masks.
                for d in dropouts { d.globalBatch = (0, total) }
                _ = try computeGradients(standIn, at: position)
                model.zeroGradients()
            } else {
                model.zeroGradients()
                for d in dropouts { d.skipMasks(samples: total) }
            }
            let loss = try averager.average(share: Float(local?.count ?? 0) / Float(total), extra: lossShare)
            try update(at: position)
            if synchronization == nil { try takeRunningStatistics(of: norms, from: cluster) }
            try ended(total, loss)
        }
    }

    /// On a rank without samples, one sample of zeros shaped like the other ranks' (all ranks
    /// take part in the exchange); nil on the others.
    private func standInBatch(_ local: Batch?, counts: [Int], classes: Int, _ cluster: Cluster) throws -> Batch? {
        let shapes = try cluster.allGather(Data(integers: local.map { Array($0.inputs.shape.dropFirst()) } ?? []))
        guard local == nil, let first = counts.firstIndex(where: { $0 > 0 }) else { return nil }
        return Batch(inputs: Tensor(zeros: [1] + shapes[first].integers), labels: [0], classes: classes)
    }

    /// Rank 0's running statistics of every training BatchNorm on every rank, in one exchange: each
    /// rank updated its own from its share, and validation and the saved model must not depend on
    /// which rank evaluates or writes (DistributedDataParallel broadcasts its buffers likewise).
    private func takeRunningStatistics(of norms: [BatchNorm], from cluster: Cluster) throws {
        let state = norms.filter { !$0.isFrozen }.flatMap(\.state)
        guard !state.isEmpty else { return }
        var values = state.flatMap(\.value.scalars)
        try values.withUnsafeMutableBytes { try cluster.broadcast($0) }
        var at = 0
        for p in state {
            let n = p.value.count
            p.value.mutableData().update(from: Array(values[at..<(at + n)]), count: n)
            at += n
        }
    }

    /// The whole batch gathered from every rank's share, augmented with the trainer's generator
    /// exactly as one process would, and this rank's rows of it.
    private func augmentedShare(_ local: Batch?, counts: [Int], offset: Int, classes: Int,
                                _ cluster: Cluster) throws -> Batch? {
        // Each rank sends its rows, and its sample shape ahead of its labels.
        let inputs = try cluster.allGather(local.map { Data(tensor: $0.inputs) } ?? Data())
        let described = try cluster.allGather(local.map { Data(integers: Array($0.inputs.shape.dropFirst()) + $0.labels) }
                                               ?? Data()).map(\.integers)
        guard let first = counts.indices.first(where: { counts[$0] > 0 }) else { return nil }
        let sampleShape = Array(described[first].prefix(described[first].count - counts[first]))
        let labels = counts.indices.flatMap { described[$0].suffix(counts[$0]) }
        var whole = Batch(inputs: Tensor(rows: inputs, shape: [labels.count] + sampleShape), labels: labels,
                          classes: classes)
        for augmentation in augmentations { try augmentation.apply(to: &whole, generator: augmentationGenerator) }
        guard let local else { return nil }
        let mine = offset..<(offset + local.count)
        return Batch(inputs: whole.inputs.rows(mine), labels: Array(whole.labels[mine]), classes: classes,
                     softTargets: whole.softTargets?.rows(mine))
    }
}

/// Averages gradients over the ranks in buckets of up to `bucketElements` floats (Horovod's
/// tensor fusion): a few large allreduce calls per step instead of one per parameter, whose fixed
/// latency would dominate for the many small biases and BatchNorm vectors.
final class GradientAverager {
    let parameters: [Parameter]
    let cluster: Cluster
    private var buffer: [Float]

    /// 8 M floats (32 MB) per bucket: ResNet-50's 25.6 M gradients go in four calls.
    init(parameters: [Parameter], cluster: Cluster, bucketElements: Int = 1 << 23) {
        self.parameters = parameters
        self.cluster = cluster
        let total = parameters.reduce(0) { $0 + $1.value.count }
        buffer = [Float](repeating: 0, count: min(total, bucketElements) + 1)
    }

    /// Replaces every gradient by the sum over the ranks of each rank's gradient times its `share`
    /// of the batch (its samples over the batch's), i.e. the batch-mean gradient; `extra` is
    /// summed alongside in the last bucket and its sum returned.
    func average(share: Float, extra: Float) throws -> Float {
        let total = parameters.reduce(0) { $0 + $1.value.count }
        let bucket = buffer.count - 1
        var start = 0, extraSum: Float = 0
        repeat {
            let n = min(bucket, total - start)
            let last = start + n == total
            try buffer.withUnsafeMutableBufferPointer { b in
                forEachPiece(start, n) { gradient, range, at in
                    for (k, i) in range.enumerated() { b[at + k] = gradient[i] * share }
                }
                if last { b[n] = extra }
                try cluster.sum(UnsafeMutableBufferPointer(rebasing: b[0..<(last ? n + 1 : n)]))
                forEachPiece(start, n) { gradient, range, at in
                    for (k, i) in range.enumerated() { gradient[i] = b[at + k] }
                }
                if last { extraSum = b[n] }
            }
            start += n
        } while start < total
        return extraSum
    }

    /// Calls `body` with each parameter's gradient that overlaps elements `start..<start + count` of
    /// all gradients laid end to end: the range within that gradient and where it starts in the bucket.
    private func forEachPiece(_ start: Int, _ count: Int,
                              _ body: (UnsafeMutablePointer<Float>, Range<Int>, Int) -> Void) {
        var base = 0
        for p in parameters {
            let n = p.value.count
            defer { base += n }
            let lower = max(start, base), upper = min(start + count, base + n)
            guard lower < upper else { continue }
            p.gradient.withUnsafeMutableBufferPointer { g in
                body(g.baseAddress!, (lower - base)..<(upper - base), lower - start)
            }
        }
    }
}

extension Data {
    /// The elements of `tensor`, as raw bytes.
    public init(tensor: Tensor) { self.init(bytes: tensor.data, count: tensor.count * MemoryLayout<Float>.size) }

    /// `values` as raw 64-bit integers.
    public init(integers values: [Int]) { self = values.withUnsafeBytes { Data($0) } }

    /// The 64-bit integers of bytes written by `init(integers:)`.
    public var integers: [Int] {
        withUnsafeBytes { Array($0.bindMemory(to: Int.self)) }
    }
}

extension Tensor {
    /// The rows of `pieces` (raw floats) laid end to end, as a tensor of `shape`.
    public init(rows pieces: [Data], shape: [Int]) {
        self.init(uninitialized: shape)
        let out = mutableData()
        var at = 0
        for piece in pieces {
            piece.withUnsafeBytes { p in
                let floats = p.bindMemory(to: Float.self)
                if let base = floats.baseAddress { (out + at).update(from: base, count: floats.count) }
                at += floats.count
            }
        }
    }

    /// Rows `range` of the first axis.
    public func rows(_ range: Range<Int>) -> Tensor {
        let size = count / Swift.max(shape[0], 1)
        var out = Tensor(uninitialized: [range.count] + shape.dropFirst())
        out.mutableData().update(from: data + range.lowerBound * size, count: range.count * size)
        return out
    }
}
