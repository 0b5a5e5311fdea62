import Engine
import Foundation

/// How Keras names things in weight files.
public enum KerasNaming {
    /// Keras's `to_snake_case`: `Conv2D` -> `conv2d`, `BatchNormalization` -> `batch_normalization`.
    public static func snakeCase(_ name: String) -> String {
        var s = name.filter { $0.isLetter || $0.isNumber || $0 == "_" }
        s = replace(s, "(.)([A-Z][a-z]+)", "$1_$2")
        s = replace(s, "([a-z])([A-Z])", "$1_$2")
        return s.lowercased()
    }

    private static func replace(_ s: String, _ pattern: String, _ template: String) -> String {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return s }
        return regex.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
    }

    /// Keras 3 keys of the model's layers that hold weights: snake_case class name plus a
    /// per-class counter (`conv2d`, `conv2d_1`, ...) counted over the model's leaf layers in order.
    ///
    /// Composite layers are flattened, as Keras's functional applications models are flat;
    /// a nested Keras model (`sequential/conv2d`) is matched through the layers' names instead.
    public static func keras3Keys(of model: Layer) -> [ObjectIdentifier: String] {
        var used: [String: Int] = [:]
        var keys: [ObjectIdentifier: String] = [:]
        // Weighted leaves in the reference's order; weightless layers take no key, and the
        // classes that hold weights (conv2d, dense, batch_normalization) never go without.
        for layer in ModelWeights.weightedLayers(model) where layer.sublayers.isEmpty {
            let base = snakeCase(layer.kerasClassName)
            let n = used[base, default: -1] + 1
            used[base] = n
            if !layer.weights.isEmpty { keys[ObjectIdentifier(layer)] = n == 0 ? base : "\(base)_\(n)" }
        }
        return keys
    }
}

/// The model side of loading and saving: which layers hold weights, in Keras order.
enum ModelWeights {
    /// Layers that hold weights of their own, depth first (Keras's topological order for
    /// models built in that order).
    static func weightedLayers(_ model: Layer) -> [Layer] {
        if let order = (model as? Sequential)?.referenceWeightOrder { return order }
        return model.allLayers.filter { !$0.weights.isEmpty }
    }

    /// A layer's weights as a Keras legacy file lists them for it: its own for a plain layer;
    /// for a composite (a nested model saved as one layer) every trainable weight below it,
    /// then every non-trainable one, as Keras's `trainable_weights + non_trainable_weights`.
    static func legacyWeights(of layer: Layer) -> [Parameter] {
        if layer.sublayers.isEmpty { return layer.weights }
        let all = layer.allLayers
        return all.flatMap { $0.parameters } + all.flatMap { $0.state }
    }
}

extension WeightArchive {
    /// The weights of `model`'s layers that hold any, in order, with their Keras 3 keys;
    /// tensors are shared with the model, not copied.
    public init(model: Layer, metadata: ConvZooMetadata = ConvZooMetadata()) {
        let keys = KerasNaming.keras3Keys(of: model)
        let layers = ModelWeights.weightedLayers(model).map { layer in
            LayerWeights(name: layer.name, weights: layer.weights.map { NamedTensor(name: $0.name, value: $0.value) },
                         keras3Key: keys[ObjectIdentifier(layer)])
        }
        self.init(layers: layers)
        self.metadata = metadata
    }
}
