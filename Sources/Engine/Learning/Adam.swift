#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Adam (optionally AMSGrad), PyTorch's `torch.optim.Adam`, and with decoupled weight decay AdamW.
///
/// m = lerp(m, g, 1 - β1); v = β2 v + (1 - β2) g²; p -= lr / (1 - β1^t) * m / (sqrt(v̂) / sqrt(1 - β2^t) + eps),
/// where v̂ is v, or with AMSGrad the running maximum of v. Plain Adam adds weight_decay * p to g
/// (L2); AdamW instead shrinks p by (1 - lr * weight_decay) before the step. Defaults are PyTorch's.
public class Adam: Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let amsgrad: Bool
    /// AdamW's decay of the weights themselves instead of L2 on the gradient.
    public let decoupledWeightDecay: Bool

    /// `parameters` (if any) form the first group, then `groups`; settings a group lacks come from here.
    public init(_ parameters: [Parameter] = [], groups: [ParameterGroup] = [], learningRate: Double = 1e-3,
                betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8, weightDecay: Double = 0,
                amsgrad: Bool = false, decoupledWeightDecay: Bool = false) throws {
        beta1 = betas.0
        beta2 = betas.1
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.decoupledWeightDecay = decoupledWeightDecay
        try super.init(parameters, groups: groups, learningRate: learningRate, weightDecay: weightDecay)
        guard (0..<1).contains(beta1), (0..<1).contains(beta2), epsilon >= 0 else {
            throw OptimizerError(optimizer: kind, "betas (\(beta1), \(beta2)) must lie in [0, 1) and eps \(epsilon) be non-negative")
        }
    }

    public override func update(_ parameter: Parameter, group: ParameterGroup, state: inout ParameterState) {
        let count = parameter.value.count, shape = parameter.shape
        let p = parameter.value.mutableData(), grad = parameter.gradient.data
        let m = state.buffer("exp_avg", shape: shape), v = state.buffer("exp_avg_sq", shape: shape)
        let vMax = amsgrad ? state.buffer("max_exp_avg_sq", shape: shape) : nil
        // Scalars are formed in Double and rounded once, as PyTorch passes Python floats to float32 kernels.
        let lr = group.learningRate, t = Double(state.step)
        let l2 = decoupledWeightDecay ? 0 : Float(group.weightDecay)
        let shrink = decoupledWeightDecay && group.weightDecay != 0 ? Float(1 - lr * group.weightDecay) : nil
        let w1 = Float(1 - beta1), b2 = Float(beta2), w2 = Float(1 - beta2)
        let negStepSize = Float(-(lr / (1 - pow(beta1, t))))
        let correction2 = Float(pow(1 - pow(beta2, t), 0.5)), eps = Float(epsilon)
        forEachChunk(count) { r in
            for i in r {
                var g = grad[i]
                if let shrink { p[i] *= shrink } else if l2 != 0 { g += l2 * p[i] }
                m[i] = lerp(m[i], g, w1)
                v[i] = v[i] * b2 + w2 * g * g
                var second = v[i]
                if let vMax { vMax[i] = max(vMax[i], second); second = vMax[i] }
                let denominator = second.squareRoot() / correction2 + eps
                p[i] += negStepSize * m[i] / denominator
            }
        }
    }
}

/// AdamW, PyTorch's `torch.optim.AdamW`: Adam with decoupled weight decay, default 1e-2.
public final class AdamW: Adam {
    /// `parameters` (if any) form the first group, then `groups`; settings a group lacks come from here.
    public init(_ parameters: [Parameter] = [], groups: [ParameterGroup] = [], learningRate: Double = 1e-3,
                betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8, weightDecay: Double = 1e-2,
                amsgrad: Bool = false) throws {
        try super.init(parameters, groups: groups, learningRate: learningRate, betas: betas, epsilon: epsilon,
                       weightDecay: weightDecay, amsgrad: amsgrad, decoupledWeightDecay: true)
    }
}

/// PyTorch's `lerp`: exact at both ends, switching formula at weight 0.5.
@inline(__always) func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
    abs(weight) < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
}
