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
        var none: [String: Tensor] = [:]
        return try run(input, mode: mode, tapping: [], through: layers.count - 1, into: &none)
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
        try forward(input, mode: mode, tapping: [name])[name]
    }

    /// The outputs of the layers named `names` (found here or inside nested `Sequential`s) from one
    /// pass that stops after the last of them; names not reachable that way are absent.
    ///
    /// Inference fuses Conv2D -> BatchNorm [-> activation] exactly as `forward` does, and a tapped
    /// layer inside such a group is also computed on its own from the group's input, so every output
    /// is bit for bit what a pass to that layer alone gives, whatever else is tapped.
    public func forward(_ input: Tensor, mode: Mode, tapping names: Set<String>) throws -> [String: Tensor] {
        var outputs: [String: Tensor] = [:]
        guard let last = layers.lastIndex(where: { reaches($0, names) }) else { return outputs }
        _ = try run(input, mode: mode, tapping: names, through: last, into: &outputs)
        return outputs
    }

    /// True when a layer named `name` is here or inside nested `Sequential`s, so a pass can tap it.
    public func reaches(_ name: String) -> Bool { layers.contains { reaches($0, [name]) } }

    /// True when `names` holds `layer`'s name or one reachable inside it through nested `Sequential`s.
    private func reaches(_ layer: Layer, _ names: Set<String>) -> Bool {
        names.contains(layer.name) || (layer as? Sequential)?.layers.contains { reaches($0, names) } == true
    }

    /// Runs `layers[0...last]` on `input`, storing the outputs of the layers `names` reaches into
    /// `outputs`, and returns `layers[last]`'s output.
    private func run(_ input: Tensor, mode: Mode, tapping names: Set<String>, through last: Int,
                     into outputs: inout [String: Tensor]) throws -> Tensor {
        var x = input
        var i = 0
        while i <= last {
            if let nested = layers[i] as? Sequential, nested.layers.contains(where: { reaches($0, names) }) {
                // Through the nested layers to its last tap, or all of them when more is needed.
                let whole = i < last || names.contains(nested.name)
                let end = whole ? nested.layers.count - 1 : nested.layers.lastIndex { reaches($0, names) }!
                x = try nested.run(x, mode: mode, tapping: names, through: end, into: &outputs)
                if names.contains(nested.name) { outputs[nested.name] = x }
                i += 1
                continue
            }
            let (y, used) = mode == .inference ? try Sequential.fusedInference(layers, at: i, x)
                : (try layers[i].forward(x, mode: mode), 1)
            if let deepest = (i..<(i + used - 1)).last(where: { names.contains(layers[$0].name) }) {
                var z = x
                for j in i...deepest {
                    z = try layers[j].forward(z, mode: mode)
                    if names.contains(layers[j].name) { outputs[layers[j].name] = z }
                }
            }
            if names.contains(layers[i + used - 1].name) { outputs[layers[i + used - 1].name] = y }
            x = y
            i += used
        }
        return x
    }
}
