import Engine
import Zoo

/// Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization", ICCV 2017): map = ReLU(sum over k of a_k A^k), where A is a
/// layer's output, a_k the spatial mean of dy_c/dA^k and y_c the class's score before softmax.
///
/// The score is what the head's kind ranks by: the logit (a softmax classifier's pre-activation,
/// so Keras flavours give the same maps as their logit twins), or for a penalty head (the paper's
/// LeNet-5, whose RBF units output squared distances, lower is better) the negated penalty.
///
/// The network is cut at the layer: below it runs in inference mode; above it, the head runs a
/// forward that keeps what backward needs, with every weight frozen (BatchNorm then normalizes
/// with its running statistics, as in inference) and Dropout left out (the identity in inference),
/// so the head computes exactly the inference function and backward accumulates no weight
/// gradient. The head's freeze flags are restored afterwards; do not explain with a model that
/// trains at the same time.
public struct GradCAM {
    public let model: Model
    /// The layer as asked for (a tap, an alias, or any top-level layer name).
    public let layer: String
    let below: Sequential
    /// The head above the layer, without Dropout and without a final classifier with a non-linear
    /// activation (that one is `classifier`).
    let above: Sequential
    /// The final dense layer when its activation (softmax) must be left out of the score.
    let classifier: Dense?

    /// What one call found for each image of a batch.
    public struct Explanation {
        /// (images, h, w): ReLU(sum_k a_k A^k) at the layer's resolution, not normalized.
        public var maps: Tensor
        /// The class each map explains.
        public var classes: [Int]
        /// (images, classes): the model's probabilities, as its head's kind reads them.
        public var probabilities: Tensor
    }

    /// Grad-CAM at `layer`, or at the architecture's default (`Architecture.gradCAMLayer`).
    public init(model: Model, layer: String? = nil) throws {
        guard model.headOutput != nil else {
            throw TransferError("Grad-CAM needs the classifier top: \(model.architecture) was built without it")
        }
        let asked = layer ?? model.definition.gradCAMLayer
        let name = model.tapAliases[asked] ?? asked
        let units = TrunkSplit.units(of: model.network)
        guard let cut = units.firstIndex(where: { $0.name == name }) else {
            let inside = units.first { $0.layer(named: name) != nil }
            throw TransferError(inside.map { "Grad-CAM layer '\(asked)' lies inside block '\($0.name)'; "
                + "choose a layer whose output is the whole network's state, e.g. '\($0.name)'" }
                ?? "\(model.architecture) has no layer '\(asked)'; its default Grad-CAM layer is '\(model.definition.gradCAMLayer)'")
        }
        var head = units[(cut + 1)...].filter { !($0 is Dropout) }
        if let nested = head.first(where: { unit in unit.allLayers.contains { $0 is Dropout } }) {
            throw TransferError("Grad-CAM cannot run through '\(nested.name)': it holds a Dropout inside a block")
        }
        if let last = head.last as? ActivationLayer, last.activation == .softmax { head.removeLast() }
        if let last = head.last as? Dense, last.activation != .linear {
            classifier = last
            head.removeLast()
        } else {
            classifier = nil
        }
        guard !head.isEmpty || classifier != nil else {
            throw TransferError("Grad-CAM layer '\(asked)' is the network's output; choose a feature map below the head")
        }
        self.model = model
        self.layer = asked
        below = Sequential(name: "\(name)_and_below", Array(units[...cut]))
        above = Sequential(name: "above_\(name)", Array(head))
    }

    /// The maps of a preprocessed NHWC batch, for `classes` (one per image), or each image's top class.
    public func explain(_ x: Tensor, classes: [Int]? = nil) throws -> Explanation {
        try model.checkInput(x)
        let activations = try below.forward(x, mode: .inference)
        guard activations.rank == 4 else {
            throw TransferError("Grad-CAM layer '\(layer)' gives shape \(activations.shape); expected a feature map (batch, h, w, channels)")
        }
        let (gradient, probabilities, chosen) = try scoreGradient(activations, classes: classes)
        return Explanation(maps: Self.weightedMaps(activations, gradient), classes: chosen, probabilities: probabilities)
    }

    /// dy_c/dA for each image's class (given, or its top class), with the model's probabilities.
    func scoreGradient(_ activations: Tensor, classes: [Int]?) throws -> (Tensor, Tensor, [Int]) {
        let frozen = Frozen(above)
        defer { frozen.restore() }
        let features = try above.forward(activations, mode: .training)
        let output = try classifier?.forward(features, mode: .inference) ?? features
        let kind = model.headOutput!
        let scores = kind.scores(output)
        let n = activations.shape[0], count = output.shape[1]
        let chosen = try classes ?? (0..<n).map { row in (0..<count).max { scores[row, $0] < scores[row, $1] }! }
        guard chosen.count == n else { throw TransferError("Grad-CAM: \(chosen.count) classes for \(n) images") }
        if let bad = chosen.first(where: { !(0..<count).contains($0) }) {
            throw TransferError("Grad-CAM: class \(bad) out of range; \(model.architecture) has \(count) classes (0...\(count - 1))")
        }
        // dy_c/d(features): the classifier's kernel column before its activation, else the one-hot
        // of the class (negated for a penalty, whose negation is the score).
        var seed = Tensor(zeros: features.shape)
        let width = features.shape[1]
        for (row, c) in chosen.enumerated() {
            if let dense = classifier {
                for i in 0..<width { seed[row, i] = dense.kernel.value[i, c] }
            } else {
                seed[row, c] = kind == .penalties ? -1 : 1
            }
        }
        let gradient = above.layers.isEmpty ? seed : try above.backward(seed, needsInputGradient: true)!
        return (gradient, try model.probabilities(output), chosen)
    }

    /// ReLU(sum_k a_k A^k) with a_k the spatial mean of the gradient: (images, h, w).
    static func weightedMaps(_ a: Tensor, _ gradient: Tensor) -> Tensor {
        let (n, h, w, k) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        var maps = Tensor(zeros: [n, h, w])
        for image in 0..<n {
            var weights = [Double](repeating: 0, count: k)
            let base = image * h * w * k
            for p in 0..<(h * w) { for c in 0..<k { weights[c] += Double(gradient[flat: base + p * k + c]) } }
            for p in 0..<(h * w) {
                var sum = 0.0
                for c in 0..<k { sum += weights[c] / Double(h * w) * Double(a[flat: base + p * k + c]) }
                maps[flat: image * h * w + p] = Float(max(sum, 0))
            }
        }
        return maps
    }
}

/// Every weight of a head frozen for one pass (BatchNorm then uses its running statistics), and
/// the flags put back as they were.
private struct Frozen {
    let parameters: [(Parameter, Bool)]
    let batchNorms: [(BatchNorm, Bool)]

    init(_ head: Layer) {
        let layers = head.allLayers
        batchNorms = layers.compactMap { $0 as? BatchNorm }.map { ($0, $0.isFrozen) }
        parameters = layers.flatMap { $0.parameters }.map { ($0, $0.trainable) }
        for (bn, _) in batchNorms { bn.isFrozen = true }
        for (p, _) in parameters { p.trainable = false }
    }

    func restore() {
        for (bn, wasFrozen) in batchNorms { bn.isFrozen = wasFrozen }
        for (p, trainable) in parameters { p.trainable = trainable }
    }
}
