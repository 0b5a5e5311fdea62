/// Layers applied one after another.
///
/// Backward stops below the lowest layer that has trainable weights (unless the caller needs the
/// input gradient), so a frozen trunk costs no backward work during fine-tuning.
public final class Sequential: Layer {
    public let name: String
    public private(set) var layers: [Layer]
    /// The layers holding weights in the order the reference framework lists them (Keras's
    /// `model.layers`), when it differs from depth-first order; weight files are read and
    /// written by position in this order (Keras ResNet lists a block's `_0_conv` after `_2_bn`).
    public var referenceWeightOrder: [Layer]?

    public init(name: String, _ layers: [Layer]) {
        self.name = name
        self.layers = layers
    }

    public var sublayers: [Layer] { layers }

    public func append(_ layer: Layer) { layers.append(layer) }

    /// Replaces the layer named `name` (e.g. a classifier head for a new number of classes).
    public func replace(_ name: String, with layer: Layer) -> Bool {
        guard let i = layers.firstIndex(where: { $0.name == name }) else { return false }
        layers[i] = layer
        return true
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try layers.reduce(inputShape) { try $1.outputShape(for: $0) }
    }

    /// The output shape after every layer, for summaries.
    public func shapes(for inputShape: [Int]) throws -> [(Layer, [Int])] {
        var s = inputShape
        return try layers.map { l in s = try l.outputShape(for: s); return (l, s) }
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        guard mode == .inference else { return try layers.reduce(input) { try $1.forward($0, mode: mode) } }
        var x = input
        var i = 0
        while i < layers.count {
            let (y, used) = try Sequential.fusedInference(layers, at: i, x)
            x = y
            i += used
        }
        return x
    }

    /// Inference through `layers[i]`, folding Conv2D -> BatchNorm [-> activation] into one GEMM
    /// epilogue (the weights themselves are untouched). Returns the output and the layers consumed.
    static func fusedInference(_ layers: [Layer], at i: Int, _ x: Tensor) throws -> (Tensor, Int) {
        if let conv = layers[i] as? Conv2D, conv.activation == .linear, i + 1 < layers.count,
           let bn = layers[i + 1] as? BatchNorm, bn.channels == conv.filters {
            let (scale, shift) = bn.inferenceAffine()
            if i + 2 < layers.count, let act = layers[i + 2] as? ActivationLayer, act.activation != .softmax {
                return (try conv.forwardFused(x, scale: scale, shift: shift, then: act.activation), 3)
            }
            return (try conv.forwardFused(x, scale: scale, shift: shift, then: .linear), 2)
        }
        return (try layers[i].forward(x, mode: .inference), 1)
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        // needsGradientBelow[i]: some layer before i (or our caller) wants a gradient.
        var needsGradientBelow = [Bool](repeating: needsInputGradient, count: layers.count)
        for i in layers.indices.dropFirst() {
            needsGradientBelow[i] = needsGradientBelow[i - 1] || layers[i - 1].hasTrainableParameters
        }
        var g = outputGradient
        for i in layers.indices.reversed() {
            let layer = layers[i]
            if !needsGradientBelow[i] && !layer.hasTrainableParameters { return nil }
            guard let next = try layer.backward(g, needsInputGradient: needsGradientBelow[i]) else { return nil }
            g = next
        }
        return g
    }
}

extension Sequential {
    /// Runs the layers up to and including the one named `name`, found here or inside nested
    /// `Sequential`s, and returns its output; nil when no such layer is reachable that way.
    public func forward(_ input: Tensor, mode: Mode, stoppingAfter name: String) throws -> Tensor? {
        guard let i = layers.firstIndex(where: { $0.name == name || ($0 as? Sequential)?.layer(named: name) != nil })
        else { return nil }
        var x = input
        for layer in layers[..<i] { x = try layer.forward(x, mode: mode) }
        if layers[i].name == name { return try layers[i].forward(x, mode: mode) }
        return try (layers[i] as! Sequential).forward(x, mode: mode, stoppingAfter: name)
    }
}
