#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loss's value, averaged over its elements as PyTorch's `reduction="mean"` does, and its gradient
/// with respect to the loss's input (the model output), ready for the last layer's `backward`.
public struct LossResult {
    public var value: Float
    public var gradient: Tensor
}

/// A training objective comparing a model's output with a target of the same batch.
public protocol Loss {
    var name: String { get }
    func callAsFunction(_ output: Tensor, _ target: Tensor) throws -> LossResult
}


/// Mean squared error, PyTorch's `mse_loss`: mean over every element of (output - target)².
public struct MeanSquaredError: Loss {
    public var name: String { "MeanSquaredError" }

    public init() {}

    public func callAsFunction(_ output: Tensor, _ target: Tensor) throws -> LossResult {
        let scale = Float(2) / Float(output.count)
        return try elementwiseLoss(output, target, loss: name) { x, y in
            let d = x - y
            return (Double(d) * Double(d), scale * d)
        } mean: { sum, n in Float(sum / Double(n)) }
    }
}

/// A loss that is the mean over every element of `term(output, target)`: `term` gives each
/// element's loss (summed in Double) and its gradient (already divided by the count); `mean`
/// turns the sum and the count into the value, as the reference computes it.
func elementwiseLoss(_ output: Tensor, _ target: Tensor, loss: String, term: (Float, Float) -> (Double, Float),
                     mean: (Double, Int) -> Float) throws -> LossResult {
    guard output.shape == target.shape, output.count > 0 else {
        throw LossError(loss: loss, "output \(shapeString(output.shape)) and target \(shapeString(target.shape)) "
            + "must have the same, non-empty shape")
    }
    let n = output.count
    var gradient = Tensor(uninitialized: output.shape)
    let x = output.data, y = target.data, g = gradient.mutableData()
    var sum = 0.0
    for i in 0..<n {
        let (value, slope) = term(x[i], y[i])
        sum += value
        g[i] = slope
    }
    return LossResult(value: mean(sum, n), gradient: gradient)
}
