/// Keras `GlobalAveragePooling2D`: the mean over height and width, NHWC `(N, H, W, C)` -> `(N, C)`.
public final class GlobalAveragePooling2D: Layer {
    public let name: String
    private var savedInputShape: [Int]?

    public init(name: String) { self.name = name }

    public func outputShape(for s: [Int]) throws -> [Int] { try globalPoolShape(s) }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try globalPoolShape(input.shape)   // before reading the shape
        let d = Float(input.shape[1] * input.shape[2])
        let out = try globalPool(input, from: 0) { yn, xp, C in for c in 0..<C { yn[c] += xp[c] } } finish: { yn, C in
            for c in 0..<C { yn[c] /= d }
        }
        if mode == .training { savedInputShape = input.shape }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let s = try requireSaved(savedInputShape)
        try requireGradientShape(outputGradient, [s[0], s[3]])
        guard needsInputGradient else { return nil }
        let (H, W, C) = (s[1], s[2], s[3])
        var dx = Tensor(uninitialized: s)
        let dy = outputGradient.data, dxData = dx.mutableData()
        let d = Float(H * W)
        Parallel.forRanges(s[0] * H, minimumChunk: 8) { lines in
            for line in lines {
                let g = dy + (line / H) * C
                for w in 0..<W {
                    let dxi = dxData + (line * W + w) * C
                    for c in 0..<C { dxi[c] = g[c] / d }
                }
            }
        }
        return dx
    }
}

/// Keras `GlobalMaxPooling2D`: the maximum over height and width, NHWC `(N, H, W, C)` -> `(N, C)`.
///
/// Backward splits the gradient evenly among tied maxima, as Keras does (TensorFlow's and torch's
/// reduce-max gradient); ties are common here, e.g. a channel that a ReLU zeroed everywhere.
public final class GlobalMaxPooling2D: Layer {
    public let name: String
    private var saved: (input: Tensor, output: Tensor)?

    public init(name: String) { self.name = name }

    public func outputShape(for s: [Int]) throws -> [Int] { try globalPoolShape(s) }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let out = try globalPool(input, from: -.infinity) { yn, xp, C in
            for c in 0..<C where xp[c] > yn[c] || xp[c].isNaN { yn[c] = xp[c] }
        }
        if mode == .training { saved = (input, out) }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let (input, output) = try requireSaved(saved)
        try requireGradientShape(outputGradient, output.shape)
        guard needsInputGradient else { return nil }
        let (pixels, C) = (input.shape[1] * input.shape[2], input.shape[3])
        var dx = Tensor(zeros: input.shape)
        let x = input.data, y = output.data, dy = outputGradient.data, dxData = dx.mutableData()
        Parallel.forRanges(input.shape[0]) { samples in
            var share = [Float](repeating: 0, count: C)
            for n in samples {
                let yn = y + n * C, gn = dy + n * C
                share.withUnsafeMutableBufferPointer { s in
                    s.update(repeating: 0)
                    for p in 0..<pixels {
                        let xp = x + (n * pixels + p) * C
                        for c in 0..<C where xp[c] == yn[c] { s[c] += 1 }
                    }
                    for c in 0..<C where s[c] > 0 { s[c] = gn[c] / s[c] }
                    for p in 0..<pixels {
                        let xp = x + (n * pixels + p) * C, dxp = dxData + (n * pixels + p) * C
                        for c in 0..<C where xp[c] == yn[c] { dxp[c] = s[c] }
                    }
                }
            }
        }
        return dx
    }
}

extension Layer {
    /// (N, H, W, C) -> (N, C).
    func globalPoolShape(_ s: [Int]) throws -> [Int] {
        try requireRank(s, 4, "(batch, height, width, channels)")
        return [s[0], s[3]]
    }

    /// Each sample's pixels folded into one row of C: the row starts at `initial`, `fold(row,
    /// pixel, C)` takes in each pixel in order, `finish(row, C)` completes it.
    func globalPool(_ input: Tensor, from initial: Float,
                    fold: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
                    finish: (UnsafeMutablePointer<Float>, Int) -> Void = { _, _ in }) throws -> Tensor {
        let outShape = try globalPoolShape(input.shape)
        let (pixels, C) = (input.shape[1] * input.shape[2], input.shape[3])
        var out = Tensor(uninitialized: outShape)
        let x = input.data, y = out.mutableData()
        Parallel.forRanges(outShape[0]) { samples in
            for n in samples {
                let yn = y + n * C
                yn.update(repeating: initial, count: C)
                for p in 0..<pixels { fold(yn, x + (n * pixels + p) * C, C) }
                finish(yn, C)
            }
        }
        return out
    }
}
