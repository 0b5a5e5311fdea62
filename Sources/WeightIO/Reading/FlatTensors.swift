extension WeightFile {
    /// A file that is a flat list of named tensors (PyTorch, safetensors), as layers: keys are
    /// grouped by their prefix up to the last `/` (Keras's `<layer>/<weight>`) or else the last `.`
    /// (`layer1.0.conv1.weight` -> layer `layer1.0.conv1`, weight `weight`), in the file's order.
    convenience init(flat tensors: [(key: String, tensor: StoredTensor)], name: String, format: WeightFormat,
                     attributes: [String: AttributeValue] = [:], owner: AnyObject?, limits: ReadLimits) {
        var order: [String] = []
        var weights: [String: [StoredWeight]] = [:]
        for (key, tensor) in tensors {
            let (layer, weight) = WeightFile.split(key)
            if weights[layer] == nil { order.append(layer) }
            weights[layer, default: []].append(StoredWeight(name: weight, source: tensor))
        }
        let layers = order.map { StoredLayer(name: $0, path: $0, weights: WeightFile.kerasOrder(weights[$0] ?? [])) }
        self.init(name: name, format: format, attributes: attributes, layers: layers, limits: limits, owner: owner)
    }

    /// Keras's order of a layer's weights, which loading pairs by position; safetensors files keep
    /// their data sorted by type and name, not in that order.
    static let kerasWeightOrder = ["kernel", "depthwise_kernel", "pointwise_kernel", "bias", "gamma", "beta",
                                   "moving_mean", "moving_variance"]

    static func kerasOrder(_ weights: [StoredWeight]) -> [StoredWeight] {
        let rank = weights.map { kerasWeightOrder.firstIndex(of: $0.name) }
        guard rank.allSatisfy({ $0 != nil }) else { return weights }
        return zip(weights, rank).sorted { $0.1! < $1.1! }.map(\.0)
    }

    /// `("layer1.0.conv1", "weight")` for `layer1.0.conv1.weight`; `("fc1", "kernel")` for `fc1/kernel`.
    static func split(_ key: String) -> (layer: String, weight: String) {
        if let slash = key.lastIndex(of: "/") { return (String(key[..<slash]), String(key[key.index(after: slash)...])) }
        if let dot = key.lastIndex(of: ".") { return (String(key[..<dot]), String(key[key.index(after: dot)...])) }
        return (key, key)
    }

    /// Every tensor of a flat file by its full key (`layer1.0.conv1.weight`, its path), for key tables.
    public var tensorsByKey: [String: StoredTensor] {
        var result: [String: StoredTensor] = [:]
        for layer in layers { for w in layer.weights { if let t = w.tensor { result[t.path] = t } } }
        return result
    }
}
