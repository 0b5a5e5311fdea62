/// Keras `Flatten`: `(N, d1, d2, ...)` -> `(N, d1 * d2 * ...)`.
///
/// On NHWC activations this is a plain reshape that yields Keras's (H, W, C) feature order.
/// PyTorch flattens NCHW in (C, H, W) order; the weight converter permutes the first Dense
/// layer's rows for that, so no layer ever transposes activations.
public final class Flatten: Layer {
    public let name: String
    private var savedInputShape: [Int]?

    public init(name: String) { self.name = name }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, s.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "expected a (batch, ...) input of rank 2 or more, got shape \(shapeString(s))")
        }
        return [s[0], s.dropFirst().reduce(1, *)]
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        if mode == .training { savedInputShape = input.shape }
        return input.reshaped(outShape)
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let s = try requireSaved(savedInputShape)
        try requireGradientShape(outputGradient, try outputShape(for: s))
        return needsInputGradient ? outputGradient.reshaped(s) : nil
    }
}

/// Keras `ZeroPadding2D`: zeros around the height and width of an NHWC input.
public final class ZeroPadding2D: Layer {
    public let name: String
    public let padding: (top: Int, bottom: Int, left: Int, right: Int)
    private var savedInputShape: [Int]?

    public init(name: String, padding: (top: Int, bottom: Int, left: Int, right: Int)) {
        self.name = name
        self.padding = padding
    }

    /// `padding` zeros on every side (Keras `ZeroPadding2D(padding=p)`).
    public convenience init(name: String, symmetric padding: Int) {
        self.init(name: name, padding: (padding, padding, padding, padding))
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        try requireRank(s, 4, "(batch, height, width, channels)")
        guard min(padding.top, padding.bottom, padding.left, padding.right) >= 0 else {
            throw LayerError(layer: name, "padding \(padding) must not be negative")
        }
        return [s[0], s[1] + padding.top + padding.bottom, s[2] + padding.left + padding.right, s[3]]
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        var out = Tensor(zeros: outShape)
        copyRows(from: input.data, inputShape: input.shape, to: out.mutableData(), outputShape: outShape, padding: true)
        if mode == .training { savedInputShape = input.shape }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let s = try requireSaved(savedInputShape)
        let outShape = try outputShape(for: s)
        try requireGradientShape(outputGradient, outShape)
        guard needsInputGradient else { return nil }
        var dx = Tensor(uninitialized: s)
        copyRows(from: outputGradient.data, inputShape: s, to: dx.mutableData(), outputShape: outShape, padding: false)
        return dx
    }

    /// Copies each input row into its place inside the padded tensor (`padding`), or crops the
    /// padded tensor back to the input rows (`!padding`). A row of W*C floats is contiguous in both.
    private func copyRows(from src: UnsafePointer<Float>, inputShape s: [Int], to dst: UnsafeMutablePointer<Float>,
                          outputShape o: [Int], padding pad: Bool) {
        let (H, rowCount) = (s[1], s[2] * s[3])
        let (OH, OW, C) = (o[1], o[2], o[3])
        let (top, left) = (padding.top, padding.left)
        Parallel.forRanges(s[0] * H, minimumChunk: 16) { lines in
            for line in lines {
                let n = line / H, h = line % H
                let inner = line * rowCount
                let outer = ((n * OH + h + top) * OW + left) * C
                if pad { (dst + outer).update(from: src + inner, count: rowCount) }
                else { (dst + inner).update(from: src + outer, count: rowCount) }
            }
        }
    }
}
