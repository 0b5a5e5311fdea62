/// A residual block: `activation(main(x) + shortcut(x))`, the shortcut being the identity or a
/// projection (ResNet's strided 1x1 convolution with batch norm).
///
/// Keras names the add and the activation as layers of their own (`conv2_block1_add`,
/// `conv2_block1_out`); they hold no weights, so here they are only names (`addName`, `outName`)
/// for summaries and error messages.
public final class Residual: Layer {
    public let name: String
    public let main: Layer
    /// nil: the identity.
    public let shortcut: Layer?
    /// Applied after the add (`.relu` in ResNet).
    public let activation: Activation
    /// Keras's name for the add (`conv2_block1_add`); shape errors of the add name it.
    public var addName: String
    /// Keras's name for the activation after the add (`conv2_block1_out`).
    public var outName: String

    private var savedOutputShape: [Int]?
    /// The block's output, kept when the activation's backward needs it.
    private var savedOutput: Tensor?

    /// `addName` and `outName` default to `<name>_add` and `<name>_out`, Keras's pattern.
    public init(name: String, main: Layer, shortcut: Layer? = nil, activation: Activation = .linear,
                addName: String? = nil, outName: String? = nil) {
        self.name = name
        self.main = main
        self.shortcut = shortcut
        self.activation = activation
        self.addName = addName ?? name + "_add"
        self.outName = outName ?? name + "_out"
    }

    public var sublayers: [Layer] { [main] + (shortcut.map { [$0] } ?? []) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let mainShape = try main.outputShape(for: inputShape)
        let shortcutShape = try shortcut?.outputShape(for: inputShape) ?? inputShape
        guard mainShape == shortcutShape else {
            let what = shortcut.map { "shortcut '\($0.name)'" } ?? "identity shortcut"
            throw LayerError(layer: addName, "main path '\(main.name)' gives \(shapeString(mainShape)) but the "
                + "\(what) gives \(shapeString(shortcutShape)) for input \(shapeString(inputShape)); "
                + "they must match to be added")
        }
        return mainShape
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let shape = try outputShape(for: input.shape)
        var sum = try main.forward(input, mode: mode)
        try Merge.add(into: &sum, try shortcut?.forward(input, mode: mode) ?? input, layer: addName)
        activation.apply(sum.mutableData(), count: sum.count, lastAxis: shape.last!)
        if mode == .training {
            savedOutputShape = shape
            savedOutput = activation.keptForBackward(sum)
        }
        return sum
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let shape = try requireSaved(savedOutputShape)
        try requireGradientShape(outputGradient, shape)
        var g = outputGradient
        activation.backward(&g, kept: savedOutput, lastAxis: shape.last!)
        // Each path runs backward only if it has weights to update or the caller needs dx.
        var inputGradient: Tensor?
        if needsInputGradient || main.hasTrainableParameters {
            inputGradient = try main.backward(g, needsInputGradient: needsInputGradient)
        }
        var shortcutGradient: Tensor?
        if let shortcut {
            if needsInputGradient || shortcut.hasTrainableParameters {
                shortcutGradient = try shortcut.backward(g, needsInputGradient: needsInputGradient)
            }
        } else {
            shortcutGradient = g
        }
        guard needsInputGradient else { return nil }
        guard var dx = inputGradient, let ds = shortcutGradient else {
            throw LayerError(layer: name, "a path returned no input gradient")
        }
        try Merge.add(into: &dx, ds, layer: addName)
        return dx
    }
}
