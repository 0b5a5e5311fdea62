import Foundation

/// An elementwise (or, for softmax, per-row) activation.
///
/// Every case's derivative can be computed from the activation's *output*, so layers that fuse
/// an activation (Keras's `Dense(..., activation="relu")`) keep only their output for backward.
public enum Activation: Equatable, Sendable, Codable {
    case linear, relu, sigmoid, tanh
    /// max(x, alpha * x), alpha in (0, 1).
    case leakyReLU(alpha: Float)
    /// Softmax over the last axis.
    case softmax
    /// LeCun's squashing function A * tanh(S * x), A = 1.7159, S = 2/3 (LeCun et al. 1998, appendix A):
    /// f(1) = 1 and f(-1) = -1, with its largest curvature at +-1.
    case scaledTanh

    /// The amplitude A and slope S of `scaledTanh`.
    public static let scaledTanhAmplitude: Float = 1.7159
    public static let scaledTanhSlope: Float = 2.0 / 3.0

    /// Applies the activation in place to `count` values laid out as rows of `lastAxis`,
    /// split across the pool.
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int, lastAxis: Int) {
        if self == .linear { return }
        let rows = count / lastAxis
        Parallel.forRanges(rows, minimumChunk: max(1, (1 << 14) / lastAxis)) { r in
            self.applySerial(p + r.lowerBound * lastAxis, count: r.count * lastAxis, lastAxis: lastAxis)
        }
    }

    /// `apply` on the calling thread, for use inside work that is already parallel.
    func applySerial(_ p: UnsafeMutablePointer<Float>, count: Int, lastAxis: Int) {
        switch self {
        case .linear: return
        case .relu:
            // NaN passes through, as in PyTorch; explicit vectors avoid a mispredicted branch.
            var i = 0
            while i + 8 <= count {
                var v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                v.replace(with: 0, where: v .< 0)
                UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count { if p[i] < 0 { p[i] = 0 }; i += 1 }
        case .sigmoid:
            for i in 0..<count { p[i] = 1 / (1 + Foundation.exp(-p[i])) }
        case .tanh:
            for i in 0..<count { p[i] = Foundation.tanh(p[i]) }
        case .scaledTanh:
            let a = Activation.scaledTanhAmplitude, s = Activation.scaledTanhSlope
            for i in 0..<count { p[i] = a * Foundation.tanh(s * p[i]) }
        case .leakyReLU(let alpha):
            for i in 0..<count where p[i] < 0 { p[i] *= alpha }
        case .softmax:
            let rows = count / lastAxis
            for r in 0..<rows {
                let row = p + r * lastAxis
                var m = -Float.infinity
                for j in 0..<lastAxis { m = max(m, row[j]) }
                var sum: Float = 0
                for j in 0..<lastAxis { row[j] = Foundation.exp(row[j] - m); sum += row[j] }
                let inv = 1 / sum
                for j in 0..<lastAxis { row[j] *= inv }
            }
        }
    }

    /// The epilogue of a convolution or dense GEMM, run on a tile while it is still in cache:
    /// each row of `columns` values becomes activation(row * scale + shift) (scale or shift may be nil).
    func epilogue(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                  scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?) {
        switch (scale, shift) {
        case let (scale?, shift?):
            if self == .relu {
                for r in 0..<rows {
                    let row = p + r * columns
                    for c in 0..<columns { let v = row[c] * scale[c] + shift[c]; row[c] = v < 0 ? 0 : v }
                }
                return
            }
            for r in 0..<rows {
                let row = p + r * columns
                for c in 0..<columns { row[c] = row[c] * scale[c] + shift[c] }
            }
        case let (nil, shift?):
            if self == .relu {
                for r in 0..<rows {
                    let row = p + r * columns
                    for c in 0..<columns { let v = row[c] + shift[c]; row[c] = v < 0 ? 0 : v }
                }
                return
            }
            for r in 0..<rows {
                let row = p + r * columns
                for c in 0..<columns { row[c] += shift[c] }
            }
        case let (scale?, nil):
            for r in 0..<rows {
                let row = p + r * columns
                for c in 0..<columns { row[c] *= scale[c] }
            }
        case (nil, nil):
            break
        }
        applySerial(p, count: rows * columns, lastAxis: columns)
    }

    /// Turns dL/d(output) into dL/d(pre-activation) in place, given the activation's output `y`.
    func backward(_ g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, count: Int, lastAxis: Int) {
        if self == .linear { return }
        let rows = count / lastAxis
        Parallel.forRanges(rows, minimumChunk: max(1, (1 << 14) / lastAxis)) { r in
            let offset = r.lowerBound * lastAxis
            self.backwardSerial(g + offset, output: y + offset, count: r.count * lastAxis, lastAxis: lastAxis)
        }
    }

    /// `backward` on the calling thread.
    func backwardSerial(_ g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, count: Int, lastAxis: Int) {
        switch self {
        case .linear: return
        case .relu:
            // Explicit vectors: the scalar select compiled to a branch that mispredicts on random signs.
            var i = 0
            while i + 8 <= count {
                let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                gv.replace(with: 0, where: yv .<= 0)
                UnsafeMutableRawPointer(g + i).storeBytes(of: gv, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count { if !(y[i] > 0) { g[i] = 0 }; i += 1 }
        case .sigmoid:
            for i in 0..<count { g[i] *= y[i] * (1 - y[i]) }
        case .tanh:
            for i in 0..<count { g[i] *= 1 - y[i] * y[i] }
        case .scaledTanh:
            // f' = S * A * (1 - tanh^2) = S * A * (1 - (y / A)^2)
            let a = Activation.scaledTanhAmplitude, s = Activation.scaledTanhSlope, inv = 1 / a
            for i in 0..<count { let t = y[i] * inv; g[i] *= s * a * (1 - t * t) }
        case .leakyReLU(let alpha):
            for i in 0..<count { g[i] = y[i] < 0 ? g[i] * alpha : g[i] }
        case .softmax:
            // dx_j = y_j * (g_j - sum_k g_k y_k)
            let rows = count / lastAxis
            for r in 0..<rows {
                let gr = g + r * lastAxis, yr = y + r * lastAxis
                var dot: Float = 0
                for j in 0..<lastAxis { dot += gr[j] * yr[j] }
                for j in 0..<lastAxis { gr[j] = yr[j] * (gr[j] - dot) }
            }
        }
    }
}

/// A standalone activation layer (Keras `Activation`, `ReLU`, `LeakyReLU`, `Softmax`).
public final class ActivationLayer: Layer {
    public let name: String
    public var kerasClassName: String { "Activation" }
    public let activation: Activation
    private var savedOutput: Tensor?

    public init(name: String, _ activation: Activation) {
        self.name = name
        self.activation = activation
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "expected a non-empty input, got shape \(shapeString(inputShape))")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        var out = input
        activation.apply(out.mutableData(), count: out.count, lastAxis: input.shape.last!)
        if mode == .training { savedOutput = out }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let y = try requireSaved(savedOutput)
        try requireGradientShape(outputGradient, y.shape)
        guard needsInputGradient else { return nil }
        var g = outputGradient
        activation.backward(g.mutableData(), output: y.data, count: g.count, lastAxis: y.shape.last!)
        return g
    }
}

extension Activation {
    /// What a layer with this activation fused in keeps of a training forward's output for its
    /// backward: the output (the derivative is read from it), or nothing for `.linear`.
    func keptForBackward(_ output: Tensor) -> Tensor? { self == .linear ? nil : output }

    /// dLoss/dOutput into dLoss/dPre-activation, in place, from the output `keptForBackward` kept.
    func backward(_ gradient: inout Tensor, kept output: Tensor?, lastAxis: Int) {
        guard self != .linear, let output else { return }
        backward(gradient.mutableData(), output: output.data, count: gradient.count, lastAxis: lastAxis)
    }
}
