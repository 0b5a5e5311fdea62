#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax cross-entropy from logits, PyTorch's `cross_entropy` (Keras's
/// `CategoricalCrossentropy(from_logits=True)`), averaged over the batch.
///
/// Logits are (batch, classes). The target is either class indices, (batch,) or `labels:`, or a
/// probability per class, (batch, classes), as mixup and cutmix produce. Label smoothing ε mixes
/// every target with the uniform distribution, q = (1 - ε) target + ε / classes, as PyTorch's
/// `label_smoothing`. Each row is computed through log-sum-exp, so logits in the thousands are fine.
/// With `ofPenalties` the input is penalties (lower is better) and the logits are their negation.
public struct SoftmaxCrossEntropy: Loss {
    public var labelSmoothing: Float
    /// True when the input is penalties (LeNet-5's RBF distances): the loss is taken over -input.
    public var ofPenalties: Bool
    public var name: String { ofPenalties ? "SoftmaxCrossEntropy(-penalties)" : "SoftmaxCrossEntropy" }

    public init(labelSmoothing: Float = 0, ofPenalties: Bool = false) {
        self.labelSmoothing = labelSmoothing
        self.ofPenalties = ofPenalties
    }

    /// Loss against class indices (stored as whole floats, (batch,)) or class probabilities (batch, classes).
    public func callAsFunction(_ logits: Tensor, _ target: Tensor) throws -> LossResult {
        let (batch, classes) = try requireLogits(logits)
        if target.shape == [batch] {
            var labels = [Int](repeating: 0, count: batch)
            for i in 0..<batch {
                let v = target.data[i]
                guard v.rounded() == v, abs(v) < 1e9 else {
                    throw LossError(loss: name, "target \(i) is \(v), expected a class index")
                }
                labels[i] = Int(v)
            }
            return try callAsFunction(logits, labels: labels)
        }
        guard target.shape == logits.shape else {
            throw LossError(loss: name, "target \(shapeString(target.shape)) must be class indices (\(batch)) "
                + "or class probabilities \(shapeString(logits.shape)) for logits \(shapeString(logits.shape))")
        }
        let t = target.data
        return try compute(logits, batch: batch, classes: classes) { row, q in
            for c in 0..<classes { q[c] = Double(t[row * classes + c]) }
        }
    }

    /// Loss against one class index per row.
    public func callAsFunction(_ logits: Tensor, labels: [Int]) throws -> LossResult {
        let (batch, classes) = try requireLogits(logits)
        guard labels.count == batch else {
            throw LossError(loss: name, "\(labels.count) labels for a batch of \(batch)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw LossError(loss: name, "label \(labels[bad]) of row \(bad) is outside 0..<\(classes)")
        }
        return try compute(logits, batch: batch, classes: classes) { row, q in
            q.update(repeating: 0)
            q[labels[row]] = 1
        }
    }

    private func requireLogits(_ logits: Tensor) throws -> (Int, Int) {
        guard logits.rank == 2, logits.shape[0] > 0, logits.shape[1] > 0 else {
            throw LossError(loss: name, "expected logits (batch, classes), got \(shapeString(logits.shape))")
        }
        guard labelSmoothing >= 0, labelSmoothing <= 1 else {
            throw LossError(loss: name, "label smoothing \(labelSmoothing) is outside [0, 1]")
        }
        return (logits.shape[0], logits.shape[1])
    }

    /// Fills each row's target distribution with `fillTarget(row, q)`, then smooths it.
    /// Per row: loss = Σ q_c (lse - x_c), d loss / d x_c = softmax_c Σq - q_c; both divided by batch.
    private func compute(_ logits: Tensor, batch: Int, classes: Int,
                         fillTarget: (Int, UnsafeMutableBufferPointer<Double>) -> Void) throws -> LossResult {
        var gradient = Tensor(uninitialized: logits.shape)
        let x = logits.data, g = gradient.mutableData()
        let q = UnsafeMutableBufferPointer<Double>.allocate(capacity: classes)
        defer { q.deallocate() }
        let eps = Double(labelSmoothing), uniform = Double(labelSmoothing) / Double(classes)
        let invBatch = 1 / Double(batch)
        let sign: Double = ofPenalties ? -1 : 1   // logits = sign * input; the gradient flows back through it
        var total = 0.0
        for row in 0..<batch {
            let xr = x + row * classes, gr = g + row * classes
            fillTarget(row, q)
            var m = -Double.infinity
            for c in 0..<classes { m = max(m, sign * Double(xr[c])) }
            var sumExp = 0.0, qSum = 0.0
            for c in 0..<classes {
                sumExp += exp(sign * Double(xr[c]) - m)
                q[c] = (1 - eps) * q[c] + uniform
                qSum += q[c]
            }
            let lse = m + log(sumExp)
            for c in 0..<classes {
                total += q[c] * (lse - sign * Double(xr[c]))
                let p = exp(sign * Double(xr[c]) - lse)
                gr[c] = Float(sign * (p * qSum - q[c]) * invBatch)
            }
        }
        return LossResult(value: Float(total * invBatch), gradient: gradient)
    }
}

/// Binary cross-entropy from logits, PyTorch's `binary_cross_entropy_with_logits` (Keras's
/// `BinaryCrossentropy(from_logits=True)`): mean over every element of
/// max(x, 0) - x y + log(1 + exp(-|x|)), which never overflows. Targets may be soft, in [0, 1].
public struct BinaryCrossEntropyWithLogits: Loss {
    public var name: String { "BinaryCrossEntropyWithLogits" }

    public init() {}

    public func callAsFunction(_ logits: Tensor, _ target: Tensor) throws -> LossResult {
        let invN = 1 / Double(logits.count)
        return try elementwiseLoss(logits, target, loss: name) { x, y in
            let xi = Double(x), yi = Double(y)
            let sigmoid = xi >= 0 ? 1 / (1 + exp(-xi)) : exp(xi) / (1 + exp(xi))
            return (max(xi, 0) - xi * yi + log1p(exp(-abs(xi))), Float((sigmoid - yi) * invN))
        } mean: { total, _ in Float(total * invN) }
    }
}
