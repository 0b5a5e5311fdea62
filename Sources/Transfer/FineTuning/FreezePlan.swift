import Engine
import Zoo

/// Which layers of a model train during fine-tuning, and at which learning rate.
///
/// New layers (the replaced head, and any layer the weight file did not hold) always train at the
/// head's rate. Layers that came from the file stay frozen unless `trainableFrom` or
/// `freezeUntil` opens them; those train at the trunk's rate. Order is the network's, depth first.
public struct FreezePlan {
    /// Weighted layers that train, in network order.
    public let trainable: [Layer]
    /// Weighted layers that stay frozen (a frozen BatchNorm normalizes with its running statistics
    /// and never updates them).
    public let frozen: [Layer]
    /// The parameters of the new layers, trained at the head's learning rate.
    public let head: [Parameter]
    /// The parameters of pre-trained layers that train, at the trunk's learning rate.
    public let trunk: [Parameter]

    /// Plans `model`'s freezing. `newLayers` names the layers the weight file did not provide;
    /// `trainableFrom` opens that layer and every later one, `freezeUntil` freezes that layer (with
    /// everything inside it) and every earlier one. Without a weight file (`pretrained` false)
    /// every layer is new and trains.
    public init(model: Model, newLayers: Set<String>, pretrained: Bool = true, trainableFrom: String? = nil,
                freezeUntil: String? = nil) throws {
        if trainableFrom != nil && freezeUntil != nil {
            throw TransferError("trainableFrom and freezeUntil both given; give one of them")
        }
        let order = model.network.allLayers
        var opensAt = order.count  // the first position of a pre-trained layer that trains
        if let name = trainableFrom {
            opensAt = try FreezePlan.position(of: name, in: order, model: model)
        } else if let name = freezeUntil {
            let at = try FreezePlan.position(of: name, in: order, model: model)
            opensAt = at + order[at].allLayers.count  // past every layer inside it
        }
        var trainable: [Layer] = [], frozen: [Layer] = [], head: [Parameter] = [], trunk: [Parameter] = []
        for (i, layer) in order.enumerated() where !layer.weights.isEmpty {
            let isNew = !pretrained || newLayers.contains(layer.name)
            if isNew || i >= opensAt {
                trainable.append(layer)
                if isNew { head += layer.parameters } else { trunk += layer.parameters }
            } else {
                frozen.append(layer)
            }
        }
        self.trainable = trainable
        self.frozen = frozen
        self.head = head
        self.trunk = trunk
    }

    /// Sets every parameter's `trainable` flag as planned.
    public func apply() {
        for layer in frozen { layer.setTrainable(false) }
        for layer in trainable { layer.setTrainable(true) }
    }

    /// Weights that train.
    public var trainableCount: Int { (head + trunk).reduce(0) { $0 + $1.weightCount } }

    static func position(of name: String, in order: [Layer], model: Model) throws -> Int {
        let resolved = model.tapAliases[name] ?? name
        guard let i = order.firstIndex(where: { $0.name == resolved }) else {
            let weighted = order.filter { !$0.parameters.isEmpty }.map(\.name)
            let shown = weighted.count <= 12 ? weighted : Array(weighted.prefix(6)) + ["..."] + Array(weighted.suffix(6))
            throw TransferError("\(model.architecture) has no layer '\(name)'; its layers with weights are "
                + shown.joined(separator: ", ") + " (`zoo summary \(model.architecture)` lists them all)")
        }
        return i
    }
}
