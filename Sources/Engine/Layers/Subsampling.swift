/// LeNet-5's subsampling layer (S2, S4 of LeCun et al. 1998) on NHWC input.
///
/// Each output is `activation(coefficient[c] * sum(window) + bias[c])` over non-overlapping
/// `poolSize` windows (stride = pool size, the remainder of an odd edge dropped as in valid pooling).
/// With coefficient 1/4 and bias 0 and no activation it is 2x2 average pooling; the paper trains
/// both per map. Weights: `coefficient` (channels), `bias` (channels).
public final class Subsampling: Layer {
    public let name: String
    public let channels: Int
    public let poolSize: (height: Int, width: Int)
    public let activation: Activation
    public let coefficient: Parameter
    public let bias: Parameter

    /// Window sums and outputs of the last training forward.
    private var saved: (input: [Int], sums: Tensor, output: Tensor)?

    /// `coefficient` and `bias` start at 1/(window size) and 0 (an average pool) until set.
    public init(name: String, channels: Int, poolSize: (Int, Int) = (2, 2), activation: Activation = .linear) {
        self.name = name
        self.channels = channels
        self.poolSize = (poolSize.0, poolSize.1)
        self.activation = activation
        coefficient = Parameter(name: "coefficient", shape: [channels],
                                initializer: .constant(1 / Float(max(1, poolSize.0 * poolSize.1))))
        bias = Parameter(name: "bias", shape: [channels], initializer: .zeros)
    }

    public var parameters: [Parameter] { [coefficient, bias] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        try requireRank(s, 4, "(batch, height, width, channels)")
        guard poolSize.height > 0, poolSize.width > 0 else {
            throw LayerError(layer: name, "pool size \(poolSize.height)x\(poolSize.width) must be positive")
        }
        guard s[3] == channels else {
            throw LayerError(layer: name, "expected \(channels) channels, got input shape \(shapeString(s))")
        }
        guard s[1] >= poolSize.height, s[2] >= poolSize.width else {
            throw LayerError(layer: name, "input \(shapeString(s)) is smaller than the \(poolSize.height)x"
                + "\(poolSize.width) window: output would be empty")
        }
        return [s[0], s[1] / poolSize.height, s[2] / poolSize.width, channels]
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        var sums = Tensor(uninitialized: outShape)
        windowSums(input.data, inputShape: input.shape, outShape: outShape, into: sums.mutableData())
        var out = Tensor(uninitialized: outShape)
        let s = sums.data, y = out.mutableData(), a = coefficient.value.data, b = bias.value.data
        let pixels = out.count / channels
        for p in 0..<pixels {
            for c in 0..<channels { y[p * channels + c] = a[c] * s[p * channels + c] + b[c] }
        }
        activation.apply(y, count: out.count, lastAxis: channels)
        if mode == .training { saved = (input.shape, sums, out) }
        return out
    }

    /// sums[n, oy, ox, c] = sum of the (ph, pw) window of x at (oy * ph, ox * pw), channel c.
    func windowSums(_ x: UnsafePointer<Float>, inputShape s: [Int], outShape o: [Int], into sums: UnsafeMutablePointer<Float>) {
        let c = s[3]
        sums.update(repeating: 0, count: o.reduce(1, *))
        forEachWindowCell(inputShape: s, outShape: o) { out, cell in for ch in 0..<c { sums[out + ch] += x[cell + ch] } }
    }

    /// Calls `body(out, cell)` for every cell of every (ph, pw) window, in parallel over output
    /// rows: `out` is the window's offset in the output, `cell` the cell's in the input (both at
    /// channel 0). Windows do not overlap, so each input cell is visited once.
    @inline(__always)
    func forEachWindowCell(inputShape s: [Int], outShape o: [Int], _ body: (_ out: Int, _ cell: Int) -> Void) {
        let (h, w, c) = (s[1], s[2], s[3]), (oh, ow) = (o[1], o[2])
        let (ph, pw) = poolSize
        Parallel.forRanges(o[0] * oh, minimumChunk: max(1, 4096 / max(1, ow * c))) { rows in
            for r in rows {
                let n = r / oh, oy = r % oh
                for ky in 0..<ph {
                    let line = (n * h + oy * ph + ky) * w
                    for ox in 0..<ow {
                        for kx in 0..<pw { body((r * ow + ox) * c, (line + ox * pw + kx) * c) }
                    }
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let (inShape, sums, y) = try requireSaved(saved)
        try requireGradientShape(outputGradient, y.shape)
        var g = outputGradient
        let da = g.mutableData()
        defer { withExtendedLifetime(g) {} }   // da points into g's storage
        activation.backward(da, output: y.data, count: g.count, lastAxis: channels)
        let pixels = g.count / channels
        if coefficient.trainable {
            let dA = coefficient.gradient.mutableData(), s = sums.data
            for p in 0..<pixels { for c in 0..<channels { dA[c] += da[p * channels + c] * s[p * channels + c] } }
        }
        if bias.trainable {
            accumulateColumnSums(da, rows: pixels, columns: channels, into: bias.gradient.mutableData())
        }
        guard needsInputGradient else { return nil }
        // Every element of a window receives coefficient * da; rows and columns no window covers get 0.
        var dx = Tensor(zeros: inShape)
        let out = dx.mutableData(), a = coefficient.value.data, gp = UnsafePointer(da), c = channels
        forEachWindowCell(inputShape: inShape, outShape: y.shape) { o, cell in
            for ch in 0..<c { out[cell + ch] = a[ch] * gp[o + ch] }
        }
        return dx
    }
}
