import Foundation

/// The running-average rule of a `BatchNorm`: the two frameworks differ both in what `momentum`
/// weights and in which batch variance they average.
public enum BatchNormConvention: Sendable {
    /// PyTorch `BatchNorm2d`: `running = (1 - momentum) * running + momentum * batch`, with the
    /// unbiased batch variance (n / (n - 1)).
    case pytorch
    /// Keras `BatchNormalization`: `moving = momentum * moving + (1 - momentum) * batch`, with the
    /// biased batch variance.
    case keras
}

/// Batch normalization over every axis but the last, Keras `BatchNormalization` and PyTorch
/// `BatchNorm1d/2d` semantics; input (..., channels), e.g. NHWC or (batch, features).
///
/// Weights in Keras order: `gamma` (channels, if `scale`), `beta` (channels, if `center`); state
/// `moving_mean`, `moving_variance` (channels), never trainable.
/// A frozen layer (`isFrozen`) normalizes with the running statistics even in training mode and
/// never updates them, as Keras does for `trainable = False`: fine-tuning a pretrained trunk
/// relies on it, since a small new dataset's batch statistics would wreck the trunk's features.
///
/// Under data parallelism each rank normalizes its share of the batch by that share's statistics
/// (PyTorch DDP's default) unless `synchronization` is set (`--sync-bn`, PyTorch's
/// `SyncBatchNorm`): then the statistics and the backward's sums are those of the global batch.
public final class BatchNorm: Layer {
    public let name: String
    public var kerasClassName: String { "BatchNormalization" }
    public let channels: Int
    public let epsilon: Float
    /// Weight of the old running value (Keras) or of the new batch value (PyTorch); see `convention`.
    public let momentum: Float
    public let convention: BatchNormConvention
    public let gamma: Parameter?
    public let beta: Parameter?
    public let movingMean: Parameter
    public let movingVariance: Parameter
    /// The frozen flag of a layer with neither gamma nor beta, which has no parameter to carry it.
    private var frozenWithoutParameters = false
    /// The ranks whose shares of one global batch this layer normalizes together, or nil: a training
    /// forward uses the statistics of its own input. Set per step by data-parallel training.
    public var synchronization: BatchNormSynchronization?

    /// What backward needs from the last training-mode forward: the statistics the input was
    /// normalized with, and whether they were the batch's own (so the gradient flows through them).
    private struct Saved {
        var input: Tensor
        var mean: [Float]
        var inverseStd: [Float]
        var batchStatistics: Bool
        /// The synchronization the statistics came from and the global batch's rows (nil: this input's own).
        var synchronized: (sync: BatchNormSynchronization, globalRows: Int)?
    }
    private var saved: Saved?

    /// epsilon and momentum have no defaults: their meaning and usual values differ between the
    /// conventions (Keras 1e-3 and 0.99, Keras ResNet eps 1.001e-5, PyTorch 1e-5 and 0.1).
    public init(name: String, channels: Int, epsilon: Float, momentum: Float, convention: BatchNormConvention,
                center: Bool = true, scale: Bool = true) {
        self.name = name
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        self.convention = convention
        let c = max(channels, 0)
        gamma = scale ? Parameter(name: "gamma", shape: [c], initializer: .ones) : nil
        beta = center ? Parameter(name: "beta", shape: [c], initializer: .zeros) : nil
        movingMean = Parameter(name: "moving_mean", shape: [c], initializer: .zeros, trainable: false)
        movingVariance = Parameter(name: "moving_variance", shape: [c], initializer: .ones, trainable: false)
    }

    public var parameters: [Parameter] { [gamma, beta].compactMap { $0 } }
    public var state: [Parameter] { [movingMean, movingVariance] }

    /// True when the layer uses and keeps its running statistics even in training mode: none of
    /// gamma and beta is trainable, or, for a layer with neither, it was frozen explicitly.
    public var isFrozen: Bool {
        get { parameters.isEmpty ? frozenWithoutParameters : !parameters.contains { $0.trainable } }
        set {
            frozenWithoutParameters = newValue
            for p in parameters { p.trainable = !newValue }
        }
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, s.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "expected a (..., \(channels)) input of rank 2 or more, got shape \(shapeString(s))")
        }
        guard s.last == channels else {
            throw LayerError(layer: name, "expected \(channels) channels (last axis), got input shape \(shapeString(s))")
        }
        return s
    }

    /// The per-channel map `y = x * scale + shift` that inference applies, from the running
    /// statistics; a converter can fold it into the convolution before.
    public func inferenceAffine() -> (scale: [Float], shift: [Float]) {
        affine(mean: movingMean.value.scalars, inverseStd: inverseStd(of: movingVariance.value.scalars))
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        let rows = input.count / channels
        let useBatch = mode == .training && !isFrozen
        let mean: [Float], inverse: [Float]
        var synchronized: (sync: BatchNormSynchronization, globalRows: Int)?
        if useBatch {
            let moments: (mean: [Double], variance: [Double], count: Int)
            if let sync = synchronization {
                moments = try globalMoments(input.data, rows: rows, sync)
                synchronized = (sync, moments.count)
            } else {
                let sums = channelSums(input.data, rows: rows)
                let m = sums.map { $0 / Double(rows) }
                moments = (m, squaredDeviations(input.data, rows: rows, mean: m).map { $0 / Double(rows) }, rows)
            }
            if convention == .pytorch && moments.count < 2 {
                throw LayerError(layer: name, "training needs more than one value per channel to estimate the variance, "
                    + "got input shape \(shapeString(input.shape))" + (synchronized == nil ? "" : " (\(moments.count) in the global batch)"))
            }
            mean = moments.mean.map { Float($0) }
            inverse = inverseStd(of: moments.variance.map { Float($0) })
            updateRunningStatistics(mean: moments.mean, variance: moments.variance, count: moments.count)
        } else {
            mean = movingMean.value.scalars
            inverse = inverseStd(of: movingVariance.value.scalars)
        }
        let (scale, shift) = affine(mean: mean, inverseStd: inverse)
        var out = Tensor(uninitialized: input.shape)
        applyAffine(input.data, out.mutableData(), rows: rows, scale: scale, shift: shift)
        if mode == .training {
            saved = Saved(input: input, mean: mean, inverseStd: inverse, batchStatistics: useBatch,
                          synchronized: synchronized)
        }
        return out
    }

    /// Mean and biased variance per channel over every rank's rows, and their number: the sums and
    /// counts, then the squared deviations from the global mean, summed over the ranks (two
    /// exchanges: the two passes a single process makes).
    private func globalMoments(_ x: UnsafePointer<Float>, rows: Int, _ sync: BatchNormSynchronization) throws
        -> (mean: [Double], variance: [Double], count: Int) {
        let local = sync.contributes ? rows : 0
        var first = sync.contributes ? channelSums(x, rows: rows) : [Double](repeating: 0, count: channels)
        first.append(Double(local))
        first = try sync.group.sum(first)
        let count = Int(first[channels].rounded())
        guard count > 0 else { throw LayerError(layer: name, "no rank holds a sample of this batch") }
        let mean = first.prefix(channels).map { $0 / Double(count) }
        let deviations = sync.contributes ? squaredDeviations(x, rows: rows, mean: mean)
            : [Double](repeating: 0, count: channels)
        let variance = try sync.group.sum(deviations).map { $0 / Double(count) }
        return (mean, variance, count)
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let s = try requireSaved(saved)
        try requireGradientShape(outputGradient, s.input.shape)
        let rows = s.input.count / channels
        let gammaValues = gamma?.value.scalars ?? [Float](repeating: 1, count: channels)
        let trainGamma = gamma?.trainable == true, trainBeta = beta?.trainable == true

        // Sums of dy and dy * xhat per channel: the gamma/beta gradients, and the terms through
        // which the batch mean and variance pass the gradient back. A rank standing in without
        // samples adds nothing.
        var sumDy = [Double](repeating: 0, count: channels), sumDyXhat = sumDy
        if (s.batchStatistics || trainGamma || trainBeta) && s.synchronized?.sync.contributes != false {
            (sumDy, sumDyXhat) = gradientSums(outputGradient.data, s.input.data, rows: rows, mean: s.mean,
                                              inverseStd: s.inverseStd)
        }
        if trainGamma, let gamma {
            let g = gamma.gradient.mutableData()
            for c in 0..<channels { g[c] += Float(sumDyXhat[c]) }
        }
        if trainBeta, let beta {
            let g = beta.gradient.mutableData()
            for c in 0..<channels { g[c] += Float(sumDy[c]) }
        }
        guard needsInputGradient else { return nil }

        // dx = a * dy + b * x + d per channel. Inference behaviour: a = gamma / std, b = d = 0.
        // Batch statistics: dx = a * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = (x - mean) / std.
        var a = [Float](repeating: 0, count: channels), b = a, d = a
        let n = Double(rows)
        var meanTerms = s.batchStatistics
        if let synchronized = s.synchronized {
            let sync = synchronized.sync
            // Each rank's loss is the mean over its own samples, so its dy is the global loss's
            // divided by its share of the batch (rows / globalRows): the ranks' sums, each times its
            // share, are the global loss's sums, and over this rank's rows they give this rank's dx
            // in its own scale (the gradient averaging multiplies it by the share again).
            let share = sync.contributes ? Double(rows) / Double(synchronized.globalRows) : 0
            let global = try sync.group.sum((sumDy + sumDyXhat).map { $0 * share })
            sumDy = Array(global[..<channels])
            sumDyXhat = Array(global[channels...])
            // A stand-in's input gradient is never used: dy passes through scaled.
            meanTerms = sync.contributes
        }
        for c in 0..<channels {
            let inv = Double(s.inverseStd[c])
            let ac = Double(gammaValues[c]) * inv
            a[c] = Float(ac)
            if meanTerms {
                let bc = -ac * inv * sumDyXhat[c] / n
                b[c] = Float(bc)
                d[c] = Float(-ac * sumDy[c] / n - bc * Double(s.mean[c]))
            }
        }
        var dx = Tensor(uninitialized: s.input.shape)
        let dy = outputGradient.data, x = s.input.data, out = dx.mutableData()
        let channels = self.channels
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in d.withUnsafeBufferPointer { d in
            let a = a.baseAddress!, b = b.baseAddress!, d = d.baseAddress!
            Parallel.forRanges(rows, minimumChunk: max(1, 16384 / channels)) { r in
                for row in r {
                    let dyr = dy + row * channels, xr = x + row * channels, dxr = out + row * channels
                    for c in 0..<channels { dxr[c] = a[c] * dyr[c] + b[c] * xr[c] + d[c] }
                }
            }
        } } }
        return dx
    }

    // MARK: - Per-channel kernels

    private func inverseStd(of variance: [Float]) -> [Float] {
        variance.map { 1 / ($0 + epsilon).squareRoot() }
    }

    /// scale = gamma / std, shift = beta - mean * scale: PyTorch's CPU kernel applies this same form.
    private func affine(mean: [Float], inverseStd: [Float]) -> (scale: [Float], shift: [Float]) {
        var scale = inverseStd, shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            if let gamma { scale[c] *= gamma.value[flat: c] }
            shift[c] = (beta?.value[flat: c] ?? 0) - mean[c] * scale[c]
        }
        return (scale, shift)
    }

    /// Per channel sums of a (rows, channels) matrix, in Double. Parallel over channels, so every
    /// sum runs in the same order whatever the thread count.
    private func channelSums(_ x: UnsafePointer<Float>, rows: Int) -> [Double] {
        let channels = self.channels
        var sums = [Double](repeating: 0, count: channels)
        sums.withUnsafeMutableBufferPointer { sp in
            let m = sp.baseAddress!
            Parallel.forRanges(channels, minimumChunk: max(1, 16384 / max(rows, 1))) { cs in
                for row in 0..<rows {
                    let xr = x + row * channels
                    for c in cs { m[c] += Double(xr[c]) }
                }
            }
        }
        return sums
    }

    /// Per channel sums of (x - mean)^2 (the variance's second pass), in Double.
    private func squaredDeviations(_ x: UnsafePointer<Float>, rows: Int, mean: [Double]) -> [Double] {
        let channels = self.channels
        var sums = [Double](repeating: 0, count: channels)
        sums.withUnsafeMutableBufferPointer { vp in mean.withUnsafeBufferPointer { mp in
            let v = vp.baseAddress!, m = mp.baseAddress!
            Parallel.forRanges(channels, minimumChunk: max(1, 16384 / max(rows, 1))) { cs in
                for row in 0..<rows {
                    let xr = x + row * channels
                    for c in cs { let e = Double(xr[c]) - m[c]; v[c] += e * e }
                }
            }
        } }
        return sums
    }

    /// Per channel: sum(dy) and sum(dy * (x - mean) * inverseStd).
    private func gradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, mean: [Float],
                              inverseStd: [Float]) -> (sumDy: [Double], sumDyXhat: [Double]) {
        let channels = self.channels
        var s1 = [Double](repeating: 0, count: channels), s2 = s1
        s1.withUnsafeMutableBufferPointer { p1 in s2.withUnsafeMutableBufferPointer { p2 in
            mean.withUnsafeBufferPointer { mp in
                let s1 = p1.baseAddress!, s2 = p2.baseAddress!, m = mp.baseAddress!
                Parallel.forRanges(channels, minimumChunk: max(1, 16384 / rows)) { cs in
                    for row in 0..<rows {
                        let dyr = dy + row * channels, xr = x + row * channels
                        for c in cs {
                            let g = Double(dyr[c])
                            s1[c] += g
                            s2[c] += g * Double(xr[c] - m[c])
                        }
                    }
                    for c in cs { s2[c] *= Double(inverseStd[c]) }
                }
            }
        } }
        return (s1, s2)
    }

    private func applyAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int,
                             scale: [Float], shift: [Float]) {
        let channels = self.channels
        scale.withUnsafeBufferPointer { sp in shift.withUnsafeBufferPointer { tp in
            let s = sp.baseAddress!, t = tp.baseAddress!
            Parallel.forRanges(rows, minimumChunk: max(1, 16384 / channels)) { r in
                for row in r {
                    let xr = x + row * channels, yr = y + row * channels
                    for c in 0..<channels { yr[c] = xr[c] * s[c] + t[c] }
                }
            }
        } }
    }

    private func updateRunningStatistics(mean: [Double], variance: [Double], count: Int) {
        let m = movingMean.value.mutableData(), v = movingVariance.value.mutableData()
        let momentum = Double(self.momentum)
        for c in 0..<channels {
            switch convention {
            case .pytorch:
                let unbiased = variance[c] * Double(count) / Double(count - 1)
                m[c] = Float((1 - momentum) * Double(m[c]) + momentum * mean[c])
                v[c] = Float((1 - momentum) * Double(v[c]) + momentum * unbiased)
            case .keras:
                m[c] = Float(momentum * Double(m[c]) + (1 - momentum) * mean[c])
                v[c] = Float(momentum * Double(v[c]) + (1 - momentum) * variance[c])
            }
        }
    }
}

/// The ranks whose shares of one global batch a `BatchNorm` normalizes together (PyTorch's
/// `SyncBatchNorm`): per-channel sums are added over the group, so the mean, the variance, the
/// running statistics and the backward's terms are the global batch's, whatever the split.
public final class BatchNormSynchronization {
    /// Adds the ranks' per-channel sums.
    public let group: BatchStatisticsGroup
    /// False on a rank that holds no sample of the batch and runs a stand-in row only to take its
    /// part in the exchanges: its rows count for nothing.
    public var contributes: Bool

    public init(group: BatchStatisticsGroup, contributes: Bool = true) {
        self.group = group
        self.contributes = contributes
    }
}

/// The members of a data-parallel step: `sum` returns, on every member, the element-wise sum of
/// the values all members passed (a `Cluster`'s allreduce). Every member must call it the same
/// number of times with the same number of values.
public protocol BatchStatisticsGroup: AnyObject {
    func sum(_ values: [Double]) throws -> [Double]
}
