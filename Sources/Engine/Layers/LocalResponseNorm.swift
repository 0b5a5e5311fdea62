import Foundation

/// Local response normalization across channels, PyTorch `nn.LocalResponseNorm` semantics
/// (= Caffe `ACROSS_CHANNELS`, used by the original AlexNet and GoogLeNet), on channels-last input:
///
///     b_c = a_c / (k + alpha / size * sum_{c' in window(c)} a_{c'}^2)^beta
///
/// The window runs from `c - size / 2` to `c + (size - 1) / 2`, zeros outside: PyTorch pads
/// `size / 2` channels before and `(size - 1) / 2` after, which only matters for even sizes.
public final class LocalResponseNorm: Layer {
    public let name: String
    public let size: Int
    public let alpha: Float
    public let beta: Float
    public let k: Float

    /// The input of the last training forward; backward recomputes the cheap denominators rather
    /// than keeping two more activation-sized tensors alive.
    private var savedInput: Tensor?

    /// Defaults are PyTorch's. Caffe's bvlc_alexnet and bvlc_googlenet use size 5, alpha 1e-4, beta 0.75
    /// and Caffe's default k = 1; the AlexNet paper's k = 2 goes with an alpha not divided by size.
    public init(name: String, size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        self.name = name
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard size >= 1 else { throw LayerError(layer: name, "window size must be at least 1, got \(size)") }
        guard s.count >= 2, s.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "expected a (..., channels) input of rank 2 or more, got shape \(shapeString(s))")
        }
        return s
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        let channels = input.shape.last!, rows = input.count / channels
        var out = Tensor(uninitialized: input.shape)
        let x = input.data, y = out.mutableData()
        Parallel.forRanges(rows, minimumChunk: max(1, 4096 / channels)) { r in
            let buffers = RowBuffers(channels: channels, size: self.size)
            defer { buffers.deallocate() }
            for row in r {
                let xr = x + row * channels, yr = y + row * channels, f = buffers.factor
                self.denominators(xr, buffers)
                for c in 0..<channels { yr[c] = xr[c] * f[c] }
            }
        }
        if mode == .training { savedInput = input }
        return out
    }

    /// Per-thread scratch rows: squares between zero pads (so every window is a fixed-length run the
    /// loops can vectorize), d = k + alpha / size * S and f = d^-beta.
    struct RowBuffers {
        let channels: Int, padded: UnsafeMutablePointer<Float>
        let base: UnsafeMutablePointer<Float>, factor: UnsafeMutablePointer<Float>
        init(channels: Int, size: Int) {
            self.channels = channels
            padded = .allocate(capacity: channels + size - 1)
            padded.initialize(repeating: 0, count: channels + size - 1)
            base = .allocate(capacity: 2 * channels)
            factor = base + channels
        }
        func deallocate() { padded.deallocate(); base.deallocate() }
    }

    /// Fills `buffers.base` and `buffers.factor` for one pixel's channels `x`.
    @inline(__always) private func denominators(_ x: UnsafePointer<Float>, _ buffers: RowBuffers) {
        let channels = buffers.channels, padded = buffers.padded, d = buffers.base
        let squares = padded + size / 2, coefficient = alpha / Float(size)
        for c in 0..<channels { squares[c] = x[c] * x[c] }
        d.update(from: padded, count: channels)
        for j in 1..<size {
            let window = padded + j
            for c in 0..<channels { d[c] += window[c] }
        }
        for c in 0..<channels { d[c] = k + coefficient * d[c] }
        LocalResponseNorm.inversePower(d, buffers.factor, count: channels, beta: beta)
    }

    /// f = d^-beta. For AlexNet's and GoogLeNet's beta = 0.75, d^-3/4 = r * rsqrt(d * r) with
    /// r = rsqrt(d) by Newton's method: it vectorizes, unlike sqrtf and powf, and stays within 4 ulp of
    /// pow over all normal floats. A row holding a zero, subnormal, negative or non-finite d takes pow.
    static func inversePower(_ d: UnsafePointer<Float>, _ f: UnsafeMutablePointer<Float>, count: Int, beta: Float) {
        if beta == 0.75 {
            // Positive normal floats are exactly the bit patterns 0x0080_0000...0x7F7F_FFFF read as Int32;
            // min/max reductions over them keep the loop vectorized.
            var lowest = Int32.max, highest = Int32.min
            for c in 0..<count {
                let r = inverseSquareRoot(d[c])
                f[c] = r * inverseSquareRoot(d[c] * r)
                let bits = Int32(bitPattern: d[c].bitPattern)
                lowest = min(lowest, bits); highest = max(highest, bits)
            }
            if lowest >= 0x0080_0000 && highest <= 0x7F7F_FFFF { return }
        }
        for c in 0..<count { f[c] = Foundation.pow(d[c], -beta) }
    }

    /// 1 / sqrt(d) for normal positive d: a bit-level first guess and three Newton steps.
    @inline(__always) static func inverseSquareRoot(_ d: Float) -> Float {
        var r = Float(bitPattern: 0x5F37_5A86 &- (d.bitPattern >> 1))
        let half = 0.5 * d
        r *= 1.5 - half * r * r
        r *= 1.5 - half * r * r
        r *= 1.5 - half * r * r
        return r
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let input = try requireSaved(savedInput)
        try requireGradientShape(outputGradient, input.shape)
        guard needsInputGradient else { return nil }
        let channels = input.shape.last!, rows = input.count / channels
        var dx = Tensor(uninitialized: input.shape)
        let x = input.data, dy = outputGradient.data, out = dx.mutableData()
        // Channel c's window holds j when j - (size - 1) / 2 <= c <= j + size / 2: the mirror image.
        let below = (size - 1) / 2, size = self.size
        let coefficient = 2 * alpha * beta / Float(size)

        // dx_j = dy_j d_j^-beta - 2 alpha beta / size * a_j * sum_{c: j in window(c)} dy_c a_c d_c^(-beta-1)
        Parallel.forRanges(rows, minimumChunk: max(1, 4096 / channels)) { r in
            let buffers = RowBuffers(channels: channels, size: size)
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: channels + size - 1)
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: channels)
            defer { buffers.deallocate(); padded.deallocate(); sums.deallocate() }
            padded.initialize(repeating: 0, count: channels + size - 1)
            let terms = padded + below, d = buffers.base, f = buffers.factor
            for row in r {
                let xr = x + row * channels, dyr = dy + row * channels, dxr = out + row * channels
                self.denominators(xr, buffers)
                for c in 0..<channels { terms[c] = dyr[c] * xr[c] * f[c] / d[c] }
                sums.update(from: padded, count: channels)
                for i in 1..<size {
                    let window = padded + i
                    for j in 0..<channels { sums[j] += window[j] }
                }
                for j in 0..<channels { dxr[j] = dyr[j] * f[j] - coefficient * xr[j] * sums[j] }
            }
        }
        return dx
    }
}
