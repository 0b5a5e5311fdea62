import Engine

/// A network cut where fine-tuning may train on cached features: below the cut a trunk that is
/// frozen and behaves the same in training and inference (no Dropout; a frozen BatchNorm uses its
/// running statistics either way), above it the head that trains.
///
/// Running the trunk once per sample and training the head on its outputs then gives the same
/// updates as running the whole network every step. Nested `Sequential`s are opened to find the
/// cut; other composites (residual blocks, inception modules) stay whole.
public struct TrunkSplit {
    public let trunk: Sequential
    public let head: Sequential

    /// The cut of `network`, or nil when nothing frozen lies at the bottom.
    public init?(_ network: Sequential) {
        let units = TrunkSplit.units(of: network)
        let firstTrainable = units.firstIndex { $0.hasTrainableParameters } ?? units.count
        let firstDropout = units.firstIndex { unit in unit.allLayers.contains { $0 is Dropout } } ?? units.count
        let cut = min(firstTrainable, firstDropout)
        guard cut > 0 else { return nil }
        trunk = Sequential(name: "\(network.name)_trunk", Array(units[..<cut]))
        head = Sequential(name: "\(network.name)_head", Array(units[cut...]))
    }

    /// The layers of `network` in order, nested plain `Sequential`s opened.
    static func units(of network: Sequential) -> [Layer] {
        network.layers.flatMap { layer -> [Layer] in
            if let inner = layer as? Sequential { return units(of: inner) }
            return [layer]
        }
    }
}

/// A frozen trunk that always runs in inference mode, as the bottom of a training network when
/// augmentation changes its inputs every step: it keeps nothing for a backward pass it never
/// gets (training stops above it) and takes the fused inference path. It shows no weights, so
/// checkpoints hold only the part that trains.
final class InferenceTrunk: Layer {
    let trunk: Sequential
    var name: String { trunk.name }

    init(_ trunk: Sequential) { self.trunk = trunk }

    func outputShape(for inputShape: [Int]) throws -> [Int] { try trunk.outputShape(for: inputShape) }

    func forward(_ input: Tensor, mode: Mode) throws -> Tensor { try trunk.forward(input, mode: .inference) }

    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        throw LayerError(layer: name, "the frozen trunk has no backward pass; training stops above it")
    }
}
