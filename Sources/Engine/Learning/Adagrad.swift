/// Adagrad, PyTorch's `torch.optim.Adagrad`: s += g²; p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps),
/// with g = gradient + weight_decay * p and s starting at `initialAccumulatorValue`.
public final class Adagrad: Optimizer {
    public let learningRateDecay: Double
    public let initialAccumulatorValue: Double
    public let epsilon: Double

    /// `parameters` (if any) form the first group, then `groups`; settings a group lacks come from here.
    public init(_ parameters: [Parameter] = [], groups: [ParameterGroup] = [], learningRate: Double = 1e-2,
                learningRateDecay: Double = 0, weightDecay: Double = 0, initialAccumulatorValue: Double = 0,
                epsilon: Double = 1e-10) throws {
        self.learningRateDecay = learningRateDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.epsilon = epsilon
        try super.init(parameters, groups: groups, learningRate: learningRate, weightDecay: weightDecay)
        guard learningRateDecay >= 0, initialAccumulatorValue >= 0, epsilon >= 0 else {
            throw OptimizerError(optimizer: kind, "lr decay, initial accumulator value and eps must be non-negative")
        }
    }

    public override func update(_ parameter: Parameter, group: ParameterGroup, state: inout ParameterState) {
        let p = parameter.value.mutableData(), grad = parameter.gradient.data
        let sum = state.buffer("sum", shape: parameter.shape, initial: Float(initialAccumulatorValue))
        let wd = Float(group.weightDecay), eps = Float(epsilon)
        let negCLR = Float(-(group.learningRate / (1 + Double(state.step - 1) * learningRateDecay)))
        forEachChunk(parameter.value.count) { r in
            for i in r {
                var g = grad[i]
                if wd != 0 { g += wd * p[i] }
                sum[i] += g * g
                p[i] += negCLR * g / (sum[i].squareRoot() + eps)
            }
        }
    }
}

/// Adadelta, PyTorch's `torch.optim.Adadelta`: v = ρ v + (1 - ρ) g²; δ = sqrt(u + eps) / sqrt(v + eps) g;
/// u = ρ u + (1 - ρ) δ²; p -= lr δ, with g = gradient + weight_decay * p. Default lr 1.0 as PyTorch.
public final class Adadelta: Optimizer {
    public let rho: Double
    public let epsilon: Double

    /// `parameters` (if any) form the first group, then `groups`; settings a group lacks come from here.
    public init(_ parameters: [Parameter] = [], groups: [ParameterGroup] = [], learningRate: Double = 1.0,
                rho: Double = 0.9, epsilon: Double = 1e-6, weightDecay: Double = 0) throws {
        self.rho = rho
        self.epsilon = epsilon
        try super.init(parameters, groups: groups, learningRate: learningRate, weightDecay: weightDecay)
        guard (0...1).contains(rho), epsilon >= 0 else {
            throw OptimizerError(optimizer: kind, "rho \(rho) must lie in [0, 1] and eps \(epsilon) be non-negative")
        }
    }

    public override func update(_ parameter: Parameter, group: ParameterGroup, state: inout ParameterState) {
        let p = parameter.value.mutableData(), grad = parameter.gradient.data
        let squareAvg = state.buffer("square_avg", shape: parameter.shape)
        let accDelta = state.buffer("acc_delta", shape: parameter.shape)
        let wd = Float(group.weightDecay), negLR = Float(-group.learningRate)
        let r = Float(rho), w = Float(1 - rho), eps = Float(epsilon)
        forEachChunk(parameter.value.count) { range in
            for i in range {
                var g = grad[i]
                if wd != 0 { g += wd * p[i] }
                squareAvg[i] = squareAvg[i] * r + w * g * g
                let std = (squareAvg[i] + eps).squareRoot()
                let delta = (accDelta[i] + eps).squareRoot() / std * g
                accDelta[i] = accDelta[i] * r + w * delta * delta
                p[i] += negLR * delta
            }
        }
    }
}
