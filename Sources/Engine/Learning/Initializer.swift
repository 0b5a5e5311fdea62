#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a new weight tensor is filled.
///
/// Fans follow Keras and PyTorch alike: for a kernel of shape (..., in, out) the receptive field is
/// the product of the leading dimensions, fan_in = in * receptive, fan_out = out * receptive
/// (PyTorch's (out, in, kh, kw) weights give the same numbers).
///
/// The two frameworks agree on every uniform initializer and differ on the "normal" ones: Keras's
/// `glorot_normal`, `he_normal` and `lecun_normal` draw from a normal truncated at two standard
/// deviations and widen it by 1 / 0.8796 so the variance stays scale / fan; PyTorch's
/// `xavier_normal_` and `kaiming_normal_` draw from a plain normal. Pick with `Convention`.
public enum Initializer: Equatable, Sendable {
    case zeros
    case ones
    case constant(Float)
    /// U(low, high): Keras `RandomUniform`, PyTorch `uniform_`.
    case uniform(low: Float, high: Float)
    /// N(mean, std²): Keras `RandomNormal`, PyTorch `normal_` (torchvision VGG's Linear: std 0.01).
    case normal(mean: Float, std: Float)
    /// N(mean, std²) redrawn until inside [low, high] (absolute bounds, as PyTorch's `trunc_normal_`).
    case truncatedNormal(mean: Float, std: Float, low: Float, high: Float)
    /// Keras's `VarianceScaling`: variance `scale / n` with n = fan_in, fan_out or their mean.
    case varianceScaling(scale: Double, mode: FanMode, distribution: Distribution)
    /// Keras's default: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)); PyTorch's `xavier_uniform_`.
    case glorotUniform
    /// PyTorch's default for Conv and Linear: `kaiming_uniform_(a=sqrt(5))`, i.e. U(±1 / sqrt(fan_in)),
    /// and a bias drawn from the same range (see `biasInitializer(kernelShape:)`).
    case pytorchDefault

    /// Which fan `varianceScaling` divides by.
    public enum FanMode: Equatable, Sendable { case fanIn, fanOut, fanAverage }

    /// The distribution `varianceScaling` draws from.
    public enum Distribution: Equatable, Sendable {
        /// U(-sqrt(3 v), sqrt(3 v)).
        case uniform
        /// Keras: N(0, (sqrt(v) / 0.8796)²) truncated at two of its standard deviations.
        case truncatedNormal
        /// PyTorch (Keras's "untruncated_normal"): N(0, v).
        case normal
    }

    /// Whose flavour of the normal initializers to use.
    public enum Convention: Equatable, Sendable { case keras, pytorch }

    /// Standard deviation of N(0, 1) truncated to [-2, 2], which Keras divides by.
    public static let truncatedNormalStdRatio = 0.87962566103423978

    // MARK: Named initializers, as both frameworks call them.

    /// Glorot (Xavier) normal: variance 2 / (fan_in + fan_out).
    public static func glorotNormal(_ convention: Convention = .keras) -> Initializer {
        .varianceScaling(scale: 1, mode: .fanAverage, distribution: normal(convention))
    }

    /// He (Kaiming) uniform for ReLU: U(±sqrt(6 / fan)).
    public static func heUniform(mode: FanMode = .fanIn) -> Initializer {
        .varianceScaling(scale: 2, mode: mode, distribution: .uniform)
    }

    /// He (Kaiming) normal for ReLU: variance 2 / fan. torchvision's VGG and ResNet convolutions use
    /// `heNormal(mode: .fanOut, .pytorch)`.
    public static func heNormal(mode: FanMode = .fanIn, _ convention: Convention = .keras) -> Initializer {
        .varianceScaling(scale: 2, mode: mode, distribution: normal(convention))
    }

    /// LeCun uniform: U(±sqrt(3 / fan_in)).
    public static var lecunUniform: Initializer { .varianceScaling(scale: 1, mode: .fanIn, distribution: .uniform) }

    /// LeCun normal: variance 1 / fan_in.
    public static func lecunNormal(_ convention: Convention = .keras) -> Initializer {
        .varianceScaling(scale: 1, mode: .fanIn, distribution: normal(convention))
    }

    /// PyTorch's `kaiming_uniform_(a:, mode:)` for a leaky ReLU of negative slope `a` (a = 0: ReLU).
    public static func kaimingUniform(a: Double = 0, mode: FanMode = .fanIn) -> Initializer {
        .varianceScaling(scale: 2 / (1 + a * a), mode: mode, distribution: .uniform)
    }

    /// PyTorch's `kaiming_normal_(a:, mode:)`: a plain normal of variance 2 / ((1 + a²) fan).
    public static func kaimingNormal(a: Double = 0, mode: FanMode = .fanIn) -> Initializer {
        .varianceScaling(scale: 2 / (1 + a * a), mode: mode, distribution: .normal)
    }

    /// Keras's `TruncatedNormal(mean, stddev)`: values beyond two standard deviations are redrawn.
    public static func kerasTruncatedNormal(mean: Float = 0, std: Float = 0.05) -> Initializer {
        .truncatedNormal(mean: mean, std: std, low: mean - 2 * std, high: mean + 2 * std)
    }

    /// torchvision GoogLeNet's `trunc_normal_(mean=0, std=0.01, a=-2, b=2)`: the bounds are absolute,
    /// 200 standard deviations out, so in effect a plain N(0, 0.01²).
    public static let torchvisionGoogLeNet = Initializer.truncatedNormal(mean: 0, std: 0.01, low: -2, high: 2)

    private static func normal(_ convention: Convention) -> Distribution {
        convention == .keras ? .truncatedNormal : .normal
    }

    // MARK: Drawing

    /// A new tensor of `shape`, drawn from `generator`.
    public func make(shape: [Int], generator: RandomGenerator = .global) -> Tensor {
        var t = Tensor(zeros: shape)
        let fans = Fans(shape: shape)
        t.withUnsafeMutableBufferPointer { p in
            switch self {
            case .zeros: break
            case .ones: p.update(repeating: 1)
            case .constant(let v): p.update(repeating: v)
            case .uniform(let low, let high):
                for i in p.indices { p[i] = generator.uniform(low, high) }
            case .normal(let mean, let std):
                for i in p.indices { p[i] = mean + std * generator.normal() }
            case .truncatedNormal(let mean, let std, let low, let high):
                Initializer.fillTruncatedNormal(p, mean: Double(mean), std: Double(std),
                                                low: Double(low), high: Double(high), generator: generator)
            case .glorotUniform:
                let limit = (6 / Float(fans.fanIn + fans.fanOut)).squareRoot()
                for i in p.indices { p[i] = generator.uniform(-limit, limit) }
            case .pytorchDefault:
                Initializer.fillVarianceScaling(p, scale: 1.0 / 3, n: Double(fans.fanIn),
                                                distribution: .uniform, generator: generator)
            case .varianceScaling(let scale, let mode, let distribution):
                let n: Double
                switch mode {
                case .fanIn: n = Double(fans.fanIn)
                case .fanOut: n = Double(fans.fanOut)
                case .fanAverage: n = Double(fans.fanIn + fans.fanOut) / 2
                }
                Initializer.fillVarianceScaling(p, scale: scale, n: n, distribution: distribution, generator: generator)
            }
        }
        return t
    }

    /// How the bias of a layer whose kernel has `kernelShape` starts: zeros (Keras, torchvision), or
    /// for `.pytorchDefault` PyTorch's U(±1 / sqrt(fan_in)) with the kernel's fan_in.
    public func biasInitializer(kernelShape: [Int]) -> Initializer {
        guard self == .pytorchDefault else { return .zeros }
        let fanIn = Fans(shape: kernelShape).fanIn
        guard fanIn > 0 else { return .zeros }
        let bound = Float(1 / Double(fanIn).squareRoot())
        return .uniform(low: -bound, high: bound)
    }

    private static func fillVarianceScaling(_ p: UnsafeMutableBufferPointer<Float>, scale: Double, n: Double,
                                            distribution: Distribution, generator: RandomGenerator) {
        let variance = scale / max(1, n)
        switch distribution {
        case .uniform:
            let limit = Float((3 * variance).squareRoot())
            for i in p.indices { p[i] = generator.uniform(-limit, limit) }
        case .normal:
            let std = Float(variance.squareRoot())
            for i in p.indices { p[i] = std * generator.normal() }
        case .truncatedNormal:
            let std = variance.squareRoot() / truncatedNormalStdRatio
            fillTruncatedNormal(p, mean: 0, std: std, low: -2 * std, high: 2 * std, generator: generator)
        }
    }

    /// Rejection sampling while the interval holds a useful share of the mass; otherwise inverse-CDF
    /// sampling (as PyTorch's `trunc_normal_` always does), so far-out intervals cannot stall.
    private static func fillTruncatedNormal(_ p: UnsafeMutableBufferPointer<Float>, mean: Double, std: Double,
                                            low: Double, high: Double, generator: RandomGenerator) {
        guard std > 0, low < high else {
            p.update(repeating: Float(min(max(mean, low), high)))
            return
        }
        let a = (low - mean) / std, b = (high - mean) / std
        let cdfA = normalCDF(a), cdfB = normalCDF(b)
        if cdfB - cdfA >= 0.05 {
            for i in p.indices {
                var x: Double
                repeat { x = mean + std * Double(generator.normal()) } while x < low || x > high
                p[i] = Float(x)
            }
        } else {
            for i in p.indices {
                let u = cdfA + (cdfB - cdfA) * generator.nextDouble()
                p[i] = Float(min(max(mean + std * inverseNormalCDF(u, low: a, high: b), low), high))
            }
        }
    }

    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹(u) on [low, high] by bisection: slow, and used only for far-out truncation intervals.
    static func inverseNormalCDF(_ u: Double, low: Double, high: Double) -> Double {
        var lo = low, hi = high
        for _ in 0..<80 {
            let mid = (lo + hi) / 2
            if normalCDF(mid) < u { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
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
