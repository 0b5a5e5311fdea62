import Foundation

/// Training stopped because a NaN or infinity appeared, naming the first layer where it did.
///
/// "First" is in the order of the pass that produced the values: forward order for outputs,
/// weights and BatchNorm statistics, backward order (the layer whose backward produced it
/// first) for gradients. No checkpoint is written for the failing epoch, so `lastCheckpoint`
/// still holds the last good state; `Trainer.resume(from:)` continues from it.
public struct NonFiniteError: Error, CustomStringConvertible {
    /// Where the non-finite value was found.
    public enum Kind: String, Sendable {
        /// The loss itself, with every layer's output finite.
        case loss
        /// A layer's output in the forward pass.
        case output
        /// A parameter's gradient after the backward pass.
        case gradient
        /// A weight, after the optimizer step or before the forward.
        case weight
        /// A BatchNorm running mean or variance.
        case batchNormStatistics
    }

    /// 1-based epoch and batch.
    public struct Position: Equatable, Sendable {
        public var epoch: Int
        public var batch: Int
    }

    public let kind: Kind
    public let position: Position
    /// The first offending layer; nil only for `.loss`.
    public let layer: String?
    /// The offending weight or gradient's parameter name, for `.gradient`, `.weight`, `.batchNormStatistics`.
    public let parameter: String?
    public let lastCheckpoint: URL?

    public var description: String {
        var what: String
        switch kind {
        case .loss: what = "the loss is NaN or infinite while every layer's output is finite"
        case .output: what = "non-finite loss; the first layer whose output has NaN or infinity is '\(layer ?? "?")'"
        case .gradient: what = "the gradient of '\(parameter ?? "?")' in layer '\(layer ?? "?")' has NaN or infinity "
            + "(the first layer to produce one in the backward pass)"
        case .weight: what = "weight '\(parameter ?? "?")' of layer '\(layer ?? "?")' has NaN or infinity"
        case .batchNormStatistics: what = "BatchNorm statistic '\(parameter ?? "?")' of layer '\(layer ?? "?")' "
            + "has NaN or infinity"
        }
        what += lastCheckpoint.map { "; the last good checkpoint is \($0.path)" } ?? "; no checkpoint was written"
        return "training stopped at epoch \(position.epoch), batch \(position.batch): \(what)"
    }
}

/// Finds where non-finite values are. Every check reads raw buffers once.
enum NonFiniteGuard {
    static func isFinite(_ t: Tensor) -> Bool {
        let p = t.data
        for i in 0..<t.count where !p[i].isFinite { return false }
        return true
    }

    /// The first parameter (trainable or frozen, not state) with a non-finite element, in forward order.
    static func firstNonFiniteParameter(in model: Layer) -> (Layer, Parameter)? {
        for layer in model.allLayers {
            for p in layer.parameters where !isFinite(p.value) { return (layer, p) }
        }
        return nil
    }

    /// The first BatchNorm, in forward order, whose running statistics are not finite.
    static func firstNonFiniteStatistics(in model: Layer) -> (Layer, Parameter)? {
        for layer in model.allLayers {
            guard let bn = layer as? BatchNorm else { continue }
            for p in bn.state where !isFinite(p.value) { return (bn, p) }
        }
        return nil
    }

    /// The first gradient with a non-finite element in backward order (layers in reverse).
    static func firstNonFiniteGradient(in model: Layer) -> (Layer, Parameter)? {
        for layer in model.allLayers.reversed() {
            for p in layer.parameters where p.trainable && p.hasGradient && !isFinite(p.gradient) { return (layer, p) }
        }
        return nil
    }

    /// After a non-finite loss or statistic: runs the forward again one layer at a time (in
    /// training mode, as the failing step did) and reports the first layer whose weights, output
    /// or BatchNorm statistics are not finite.
    static func diagnoseForward(_ model: Layer, input: Tensor, loss: Float, at position: NonFiniteError.Position,
                                lastCheckpoint: URL?) -> NonFiniteError {
        func error(_ kind: NonFiniteError.Kind, _ layer: Layer?, _ parameter: Parameter?) -> NonFiniteError {
            NonFiniteError(kind: kind, position: position, layer: layer?.name, parameter: parameter?.name,
                           lastCheckpoint: lastCheckpoint)
        }
        if let (layer, p) = firstNonFiniteParameter(in: model) { return error(.weight, layer, p) }
        // The trace runs on this rank alone: no statistics are exchanged with the others.
        for norm in model.allLayers.compactMap({ $0 as? BatchNorm }) { norm.synchronization = nil }
        do {
            if let found = try trace(model, input) {
                return error(found.kind, found.layer, found.parameter)
            }
        } catch {
            // The forward just ran; if it fails now, report what we know.
        }
        return error(.loss, nil, nil)
    }

    private typealias Finding = (kind: NonFiniteError.Kind, layer: Layer, parameter: Parameter?)

    /// Walks `layer` on `x`: into a `Sequential` layer by layer; into other composites by tracing
    /// each branch on the composite's input (Residual's and Concatenate's branches all read it)
    /// before checking the composite's own output.
    private static func trace(_ layer: Layer, _ x: Tensor) throws -> Finding? {
        try forwardTrace(layer, x).1
    }

    private static func forwardTrace(_ layer: Layer, _ x: Tensor) throws -> (Tensor?, Finding?) {
        if let sequential = layer as? Sequential {
            var y = x
            for l in sequential.layers {
                let (next, finding) = try forwardTrace(l, y)
                if let finding { return (nil, finding) }
                y = next!
            }
            return (y, nil)
        }
        for sub in layer.sublayers {
            let (_, finding) = try forwardTrace(sub, x)
            if let finding { return (nil, finding) }
        }
        let y = try layer.forward(x, mode: .training)
        if let bn = layer as? BatchNorm, let p = bn.state.first(where: { !isFinite($0.value) }) {
            return (nil, (.batchNormStatistics, bn, p))
        }
        if !isFinite(y) { return (nil, (.output, layer, nil)) }
        return (y, nil)
    }
}
