/// What a classifier head outputs, which decides how its scores rank, read as probabilities and train.
public enum HeadOutput: String, Sendable {
    /// Softmax probabilities: higher is better, each row sums to 1.
    case probabilities
    /// Logits: higher is better; their softmax gives the probabilities.
    case logits
    /// Penalties, such as LeNet-5's RBF squared distances: lower is better; the softmax of the
    /// negated penalties gives the probabilities (the paper's posterior reading, exp(-penalty)).
    case penalties

    /// Row-wise probabilities of a (batch, classes) output.
    public func probabilities(_ output: Tensor) throws -> Tensor {
        switch self {
        case .probabilities: return output
        case .logits: return try softmax(output)
        case .penalties: return try softmax(Self.negated(output))
        }
    }

    /// Scores where higher is better (what argmax and top-k rank): the penalties negated, else the output.
    public func scores(_ output: Tensor) -> Tensor { self == .penalties ? Self.negated(output) : output }

    /// The cross-entropy a head of this kind trains with: softmax cross-entropy of its logits, or of
    /// its negated penalties (a softmax over -penalty, so the right class's penalty is pushed down
    /// and the others' up, as the paper's discriminative criterion does). A softmax head trains
    /// from its logits: build it without the softmax.
    public func crossEntropy(labelSmoothing: Float = 0) -> SoftmaxCrossEntropy {
        SoftmaxCrossEntropy(labelSmoothing: labelSmoothing, ofPenalties: self == .penalties)
    }

    static func negated(_ x: Tensor) -> Tensor {
        var y = x
        y.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = -p[i] } }
        return y
    }

    private func softmax(_ x: Tensor) throws -> Tensor {
        guard x.rank == 2 else {
            throw LayerError(layer: "softmax", "expected a (batch, classes) output, got shape \(shapeString(x.shape))")
        }
        return try ActivationLayer(name: "softmax", .softmax).forward(x, mode: .inference)
    }
}
