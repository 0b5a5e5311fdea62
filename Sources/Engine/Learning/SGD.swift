/// Stochastic gradient descent with momentum, dampening and Nesterov momentum, PyTorch's `torch.optim.SGD`.
///
/// With g = gradient + weight_decay * p: the momentum buffer starts as g and then follows
/// b = momentum * b + (1 - dampening) * g; the step is p -= lr * (nesterov ? g + momentum * b : b).
/// Defaults are PyTorch's (lr 1e-3, no momentum).
public final class SGD: Optimizer {
    public let momentum: Double
    public let dampening: Double
    public let nesterov: Bool

    /// `parameters` (if any) form the first group, then `groups`; settings a group lacks come from here.
    public init(_ parameters: [Parameter] = [], groups: [ParameterGroup] = [], learningRate: Double = 1e-3,
                momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) throws {
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        try super.init(parameters, groups: groups, learningRate: learningRate, weightDecay: weightDecay)
        guard momentum >= 0 else { throw OptimizerError(optimizer: kind, "momentum \(momentum) is negative") }
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw OptimizerError(optimizer: kind, "Nesterov momentum requires a momentum and zero dampening")
        }
    }

    public override func update(_ parameter: Parameter, group: ParameterGroup, state: inout ParameterState) {
        let count = parameter.value.count
        let p = parameter.value.mutableData(), grad = parameter.gradient.data
        let wd = Float(group.weightDecay), negLR = Float(-group.learningRate)
        guard momentum != 0 else {
            forEachChunk(count) { r in
                for i in r {
                    var g = grad[i]
                    if wd != 0 { g += wd * p[i] }
                    p[i] += negLR * g
                }
            }
            return
        }
        let first = state.buffers["momentum_buffer"] == nil
        let buf = state.buffer("momentum_buffer", shape: parameter.shape)
        let mu = Float(momentum), keep = Float(1 - dampening), nesterov = self.nesterov
        forEachChunk(count) { r in
            for i in r {
                var g = grad[i]
                if wd != 0 { g += wd * p[i] }
                buf[i] = first ? g : buf[i] * mu + keep * g
                g = nesterov ? g + mu * buf[i] : buf[i]
                p[i] += negLR * g
            }
        }
    }
}
