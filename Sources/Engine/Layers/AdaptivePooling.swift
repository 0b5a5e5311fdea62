/// PyTorch's `AdaptiveAvgPool2d` on NHWC input: a fixed output size whatever the input size.
///
/// Output cell `i` of `n` averages input rows floor(i*H/n) ..< ceil((i+1)*H/n) (and likewise for
/// columns), so bins may overlap when H is not a multiple of n. torchvision's AlexNet and VGG put
/// one before the classifier, (6, 6) and (7, 7); at the native 224x224 input it is the identity.
public final class AdaptiveAvgPool2D: Layer {
    public let name: String
    public let outputSize: (height: Int, width: Int)
    private var savedPlan: PoolPlan?

    public init(name: String, outputSize: (Int, Int)) {
        self.name = name
        self.outputSize = (outputSize.0, outputSize.1)
    }

    func plan(for s: [Int]) throws -> PoolPlan {
        try requireRank(s, 4, "(batch, height, width, channels)")
        guard outputSize.height > 0, outputSize.width > 0 else {
            throw LayerError(layer: name, "output size \(outputSize.height)x\(outputSize.width) must be positive")
        }
        return PoolPlan(rows: PoolAxis(adaptiveInput: s[1], output: outputSize.height),
                        cols: PoolAxis(adaptiveInput: s[2], output: outputSize.width), batch: s[0], channels: s[3])
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { try plan(for: inputShape).outputShape }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let plan = try plan(for: input.shape)
        if mode == .training { savedPlan = plan }
        if plan.outputShape == input.shape { return input }
        var out = Tensor(uninitialized: plan.outputShape)
        plan.averageForward(x: input.data, y: out.mutableData())
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let plan = try requireSaved(savedPlan)
        try requireGradientShape(outputGradient, plan.outputShape)
        guard needsInputGradient else { return nil }
        if plan.outputShape == plan.inputShape { return outputGradient }
        var dx = Tensor(uninitialized: plan.inputShape)
        plan.averageBackward(dy: outputGradient.data, dx: dx.mutableData())
        return dx
    }
}
