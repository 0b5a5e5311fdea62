/// How a new weight tensor is filled.
///
/// Fans follow Keras and PyTorch alike: for a kernel of shape (..., in, out) the receptive field is
/// the product of the leading dimensions, fan_in = in * receptive, fan_out = out * receptive.
public enum Initializer: Equatable, Sendable {
    case zeros
    case ones
    case constant(Float)
    /// Keras's default: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
    case glorotUniform

    /// A new tensor of `shape`, drawn from `generator`.
    public func make(shape: [Int], generator: RandomGenerator = .global) -> Tensor {
        var t = Tensor(zeros: shape)
        let fans = Fans(shape: shape)
        t.withUnsafeMutableBufferPointer { p in
            switch self {
            case .zeros: break
            case .ones: p.update(repeating: 1)
            case .constant(let v): p.update(repeating: v)
            case .glorotUniform:
                let limit = (6 / Float(fans.fanIn + fans.fanOut)).squareRoot()
                for i in p.indices { p[i] = generator.uniform(-limit, limit) }
            }
        }
        return t
    }
}

/// fan_in and fan_out of a weight shape in Keras's (..., in, out) layout.
public struct Fans: Equatable {
    public var fanIn: Int, fanOut: Int

    public init(shape: [Int]) {
        switch shape.count {
        case 0: fanIn = 1; fanOut = 1
        case 1: fanIn = shape[0]; fanOut = shape[0]
        default:
            let receptive = shape.dropLast(2).reduce(1, *)
            fanIn = shape[shape.count - 2] * receptive
            fanOut = shape[shape.count - 1] * receptive
        }
    }
}
