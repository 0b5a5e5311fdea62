/// Window settings shared by `MaxPool2D` and `AvgPool2D`, and their checks.
public struct PoolWindow {
    public let poolSize: (height: Int, width: Int)
    public let strides: (height: Int, width: Int)
    public let padding: Padding
    public let ceilMode: Bool

    /// `strides` defaults to `poolSize`, as in both frameworks.
    init(poolSize: (Int, Int), strides: (Int, Int)?, padding: Padding, ceilMode: Bool) {
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
        self.ceilMode = ceilMode
    }

    /// The plan for an NHWC input, or a `LayerError` naming `layer` when the input does not fit.
    func plan(for s: [Int], layer: String, countPadding: Bool = false) throws -> PoolPlan {
        guard s.count == 4, s.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: layer, "expected a (batch, height, width, channels) input, got shape \(shapeString(s))")
        }
        guard poolSize.height > 0, poolSize.width > 0, strides.height > 0, strides.width > 0 else {
            throw LayerError(layer: layer, "pool size \(poolSize.height)x\(poolSize.width) and strides "
                + "\(strides.height)x\(strides.width) must be positive")
        }
        if case let .explicit(top, bottom, left, right) = padding, min(top, bottom, left, right) < 0 {
            throw LayerError(layer: layer, "padding \(padding) must not be negative")
        }
        let g = WindowGeometry(height: s[1], width: s[2], kernel: (poolSize.height, poolSize.width),
                               stride: (strides.height, strides.width), padding: padding, ceilMode: ceilMode)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw LayerError(layer: layer, "input \(shapeString(s)) is too small for a \(poolSize.height)x"
                + "\(poolSize.width) pool with padding \(padding): output would be empty")
        }
        let plan = PoolPlan(rows: PoolAxis(g.rows, countPadding: countPadding),
                            cols: PoolAxis(g.cols, countPadding: countPadding), batch: s[0], channels: s[3])
        guard plan.rows.everyWindowTouchesInput, plan.cols.everyWindowTouchesInput else {
            throw LayerError(layer: layer, "padding \(padding) is so large that some \(poolSize.height)x"
                + "\(poolSize.width) windows lie wholly in it (input \(shapeString(s)))")
        }
        return plan
    }
}

/// 2-D max pooling on NHWC input: PyTorch `MaxPool2d` (padding, ceil mode) and Keras `MaxPooling2D`.
///
/// Padded cells and the ceil-mode overhang are never candidates, which is PyTorch's -inf padding
/// and Keras's `same`. Backward sends each window's gradient to its first maximum, as PyTorch does.
public final class MaxPool2D: Layer {
    public let name: String
    public var kerasClassName: String { "MaxPooling2D" }
    public let window: PoolWindow
    private var saved: (plan: PoolPlan, argmax: [Int32])?

    public init(name: String, poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid,
                ceilMode: Bool = false) {
        self.name = name
        window = PoolWindow(poolSize: poolSize, strides: strides, padding: padding, ceilMode: ceilMode)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try window.plan(for: inputShape, layer: name).outputShape
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let plan = try window.plan(for: input.shape, layer: name)
        var out = Tensor(uninitialized: plan.outputShape)
        let y = out.mutableData()
        if mode == .training {
            var argmax = [Int32](repeating: 0, count: out.count)
            argmax.withUnsafeMutableBufferPointer { plan.maxForward(x: input.data, y: y, argmax: $0.baseAddress!) }
            saved = (plan, argmax)
        } else {
            plan.maxForward(x: input.data, y: y, argmax: nil)
        }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let (plan, argmax) = try requireSaved(saved)
        try requireGradientShape(outputGradient, plan.outputShape)
        guard needsInputGradient else { return nil }
        var dx = Tensor(uninitialized: plan.inputShape)
        let dxData = dx.mutableData()
        argmax.withUnsafeBufferPointer { plan.maxBackward(dy: outputGradient.data, argmax: $0.baseAddress!, dx: dxData) }
        return dx
    }
}

/// 2-D average pooling on NHWC input: PyTorch `AvgPool2d` and Keras `AveragePooling2D`.
///
/// `countIncludePad: true` is PyTorch's default: padding cells count in the divisor (but not the
/// ceil-mode overhang past the padding). `false` divides by the in-bounds cells only, which is
/// PyTorch's `count_include_pad=False` and Keras's `padding="same"` (TensorFlow's rule; note that
/// Keras 3 on the torch backend replicates the edge instead when the `same` padding is uneven).
public final class AvgPool2D: Layer {
    public let name: String
    public var kerasClassName: String { "AveragePooling2D" }
    public let countIncludePad: Bool
    public let window: PoolWindow
    private var savedPlan: PoolPlan?

    /// `strides` defaults to `poolSize`. `countIncludePad` has no default on purpose: the two
    /// frameworks disagree, and a padded or ceil-mode pool gives different numbers under each.
    public init(name: String, poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid,
                ceilMode: Bool = false, countIncludePad: Bool) {
        self.name = name
        self.countIncludePad = countIncludePad
        window = PoolWindow(poolSize: poolSize, strides: strides, padding: padding, ceilMode: ceilMode)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try window.plan(for: inputShape, layer: name, countPadding: countIncludePad).outputShape
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let plan = try window.plan(for: input.shape, layer: name, countPadding: countIncludePad)
        var out = Tensor(uninitialized: plan.outputShape)
        plan.averageForward(x: input.data, y: out.mutableData())
        if mode == .training { savedPlan = plan }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let plan = try requireSaved(savedPlan)
        try requireGradientShape(outputGradient, plan.outputShape)
        guard needsInputGradient else { return nil }
        var dx = Tensor(uninitialized: plan.inputShape)
        plan.averageBackward(dy: outputGradient.data, dx: dx.mutableData())
        return dx
    }
}
