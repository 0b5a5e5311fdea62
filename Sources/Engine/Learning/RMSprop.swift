/// RMSprop, PyTorch's `torch.optim.RMSprop` (plain, with momentum, centered).
///
/// v = α v + (1 - α) g²; centered: ḡ = lerp(ḡ, g, 1 - α) and v - ḡ² replaces v; a = sqrt(v) + eps
/// (eps outside the root, unlike Keras); with momentum b = μ b + g / a and p -= lr b, else p -= lr g / a.
/// g = gradient + weight_decay * p. Defaults are PyTorch's (lr 1e-2, α 0.99, eps 1e-8).
public final class RMSprop: Optimizer {
    public let alpha: Double
    public let epsilon: Double
    public let momentum: Double
    public let centered: Bool

    /// `parameters` (if any) form the first group, then `groups`; settings a group lacks come from here.
    public init(_ parameters: [Parameter] = [], groups: [ParameterGroup] = [], learningRate: Double = 1e-2,
                alpha: Double = 0.99, epsilon: Double = 1e-8, weightDecay: Double = 0, momentum: Double = 0,
                centered: Bool = false) throws {
        self.alpha = alpha
        self.epsilon = epsilon
        self.momentum = momentum
        self.centered = centered
        try super.init(parameters, groups: groups, learningRate: learningRate, weightDecay: weightDecay)
        guard alpha >= 0, epsilon >= 0, momentum >= 0 else {
            throw OptimizerError(optimizer: kind, "alpha, eps and momentum must be non-negative")
        }
    }

    public override func update(_ parameter: Parameter, group: ParameterGroup, state: inout ParameterState) {
        let shape = parameter.shape
        let p = parameter.value.mutableData(), grad = parameter.gradient.data
        let squareAvg = state.buffer("square_avg", shape: shape)
        let gradAvg = centered ? state.buffer("grad_avg", shape: shape) : nil
        let buf = momentum > 0 ? state.buffer("momentum_buffer", shape: shape) : nil
        let wd = Float(group.weightDecay), negLR = Float(-group.learningRate)
        let a = Float(alpha), w = Float(1 - alpha), eps = Float(epsilon), mu = Float(momentum)
        forEachChunk(parameter.value.count) { r in
            for i in r {
                var g = grad[i]
                if wd != 0 { g += wd * p[i] }
                squareAvg[i] = squareAvg[i] * a + w * g * g
                var avg: Float
                if let gradAvg {
                    gradAvg[i] = lerp(gradAvg[i], g, w)
                    avg = (squareAvg[i] + -1 * gradAvg[i] * gradAvg[i]).squareRoot()
                } else {
                    avg = squareAvg[i].squareRoot()
                }
                avg += eps
                if let buf {
                    buf[i] = buf[i] * mu + g / avg
                    p[i] += negLR * buf[i]
                } else {
                    p[i] += negLR * g / avg
                }
            }
        }
    }
}
