/// Gradient clipping, applied to a set of parameters' gradients before an optimizer step.
///
/// `.globalNorm(max)` is PyTorch's `clip_grad_norm_(max_norm)` (Keras's `global_clipnorm`): every
/// gradient is multiplied by min(1, max / (‖all gradients‖₂ + 1e-6)). `.value(limit)` is
/// `clip_grad_value_` (Keras's `clipvalue`): every element is clamped to [-limit, limit].
public enum GradientClipping: Equatable, Sendable {
    case globalNorm(Float)
    case value(Float)

    /// Clips the gradients of `parameters` in place and returns their global L2 norm before clipping.
    /// A non-finite norm is not an error (as in PyTorch by default); the gradients then become NaN.
    @discardableResult
    public func apply(to parameters: [Parameter]) -> Float {
        let norm = GradientClipping.globalNorm(of: parameters)
        switch self {
        case .globalNorm(let maxNorm):
            // PyTorch computes the coefficient in float32 and multiplies even when it is 1.
            let coefficient = min(maxNorm / (norm + 1e-6), 1)
            for p in parameters {
                let g = p.gradient.mutableData()
                forEachChunk(p.gradient.count) { r in for i in r { g[i] *= coefficient } }
            }
        case .value(let limit):
            for p in parameters {
                let g = p.gradient.mutableData()
                forEachChunk(p.gradient.count) { r in for i in r { g[i] = min(max(g[i], -limit), limit) } }
            }
        }
        return norm
    }

    /// sqrt(Σ g²) over every gradient element, summed in Double over fixed blocks of elements in a
    /// fixed order, so the result does not depend on the thread count.
    public static func globalNorm(of parameters: [Parameter]) -> Float {
        let block = 1 << 16
        var total = 0.0
        for p in parameters {
            let g = p.gradient.data, count = p.gradient.count
            let blocks = (count + block - 1) / block
            var partial = [Double](repeating: 0, count: blocks)
            partial.withUnsafeMutableBufferPointer { out in
                Parallel.run(parts: blocks) { b in
                    var s = 0.0
                    for i in (b * block)..<min(count, (b + 1) * block) { s += Double(g[i]) * Double(g[i]) }
                    out[b] = s
                }
            }
            for s in partial { total += s }
        }
        return Float(total.squareRoot())
    }
}
