/// Parallel branches over the same input, their outputs joined along channels: the shape of an
/// Inception block (Keras's `Concatenate(axis=-1)` over branches, torchvision's `torch.cat(..., 1)`).
///
/// Branch order is channel order. Backward hands each branch its slice of the gradient and sums
/// the branches' input gradients in branch order, so the result does not depend on timing.
public final class Concatenate: Layer {
    public let name: String
    public private(set) var branches: [Layer]
    /// Channel width of each branch's output in the last training forward.
    private var savedWidths: [Int]?
    private var savedOutputShape: [Int]?

    /// `branches` each take the block's input; their outputs are concatenated in this order.
    public init(name: String, branches: [Layer]) {
        self.name = name
        self.branches = branches
    }

    public var sublayers: [Layer] { branches }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard !branches.isEmpty else { throw LayerError(layer: name, "has no branches") }
        let shapes = try branches.map { try $0.outputShape(for: inputShape) }
        return try Merge.concatenatedShape(shapes, labels: branches.map { "branch \($0.name)" }, layer: name)
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let shape = try outputShape(for: input.shape)
        let outputs = try branches.map { try $0.forward(input, mode: mode) }
        let out = try Merge.concatenateChannels(outputs, layer: name)
        if mode == .training {
            savedWidths = outputs.map { $0.shape.last! }
            savedOutputShape = shape
        }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let widths = try requireSaved(savedWidths)
        try requireGradientShape(outputGradient, try requireSaved(savedOutputShape))
        var inputGradient: Tensor?
        var offset = 0
        for (branch, width) in zip(branches, widths) {
            defer { offset += width }
            // A branch with nothing to train matters only for the input gradient.
            guard needsInputGradient || branch.hasTrainableParameters else { continue }
            let slice = Merge.channelSlice(outputGradient, offset: offset, width: width)
            let g = try branch.backward(slice, needsInputGradient: needsInputGradient)
            guard needsInputGradient else { continue }
            guard let g else { throw LayerError(layer: name, "branch '\(branch.name)' returned no input gradient") }
            if inputGradient == nil { inputGradient = g } else { try Merge.add(into: &inputGradient!, g, layer: name) }
        }
        return inputGradient
    }
}
