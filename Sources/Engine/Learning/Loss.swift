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
        try requireSameShape(output, target, loss: name)
        let n = output.count
        var gradient = Tensor(uninitialized: output.shape)
        let x = output.data, y = target.data, g = gradient.mutableData()
        let scale = Float(2) / Float(n)
        var sum = 0.0
        for i in 0..<n {
            let d = x[i] - y[i]
            sum += Double(d) * Double(d)
            g[i] = scale * d
        }
        return LossResult(value: Float(sum / Double(n)), gradient: gradient)
    }
}

func requireSameShape(_ output: Tensor, _ target: Tensor, loss: String) throws {
    guard output.shape == target.shape, output.count > 0 else {
        throw LossError(loss: loss, "output \(shapeString(output.shape)) and target \(shapeString(target.shape)) "
            + "must have the same, non-empty shape")
    }
}
