/// Whether a forward pass trains (batch statistics, dropout on) or infers.
public enum Mode: Sendable {
    case training, inference
}

/// A named weight of a layer, with its gradient.
///
/// `trainable == false` freezes it: backward computes no gradient for it. Non-trainable state such
/// as BatchNorm's running statistics is also a `Parameter`, listed in `Layer.state` and never trainable.
public final class Parameter {
    /// Keras's weight name within its layer: `kernel`, `bias`, `gamma`, `moving_mean`, ...
    public let name: String
    /// The elements; a parameter made under `Parameter.withoutAllocating` draws them on first read.
    /// Every change, in place ones included (optimizers write through `value.mutableData()`), bumps
    /// `version`, which caches derived from the weights compare against.
    public var value: Tensor {
        get { storedValue ?? allocate() }
        set { storedValue = newValue; plan = nil; version &+= 1 }
        _modify {
            if storedValue == nil { _ = allocate() }
            defer { version &+= 1 }
            yield &storedValue!
        }
    }
    /// Changes with every write to `value`.
    public private(set) var version = 0
    public var trainable: Bool
    private var storedValue: Tensor?
    /// The shape and first draw of a value not allocated yet.
    private var plan: (shape: [Int], draw: () -> Tensor)?
    private var storedGradient: Tensor?

    public init(name: String, value: Tensor, trainable: Bool = true) {
        self.name = name
        self.storedValue = value
        self.trainable = trainable
    }

    /// A parameter of `shape` whose first value `draw` makes: at once, or on the first read of
    /// `value` when made inside `Parameter.withoutAllocating`.
    public init(name: String, shape: [Int], trainable: Bool = true, draw: @escaping () -> Tensor) {
        self.name = name
        self.trainable = trainable
        if Parameter.defersAllocation { plan = (shape, draw) } else { storedValue = draw() }
    }

    /// A parameter of `shape` filled by `initializer` (see `init(name:shape:trainable:draw:)`).
    public convenience init(name: String, shape: [Int], initializer: Initializer, trainable: Bool = true) {
        self.init(name: name, shape: shape, trainable: trainable) { initializer.make(shape: shape) }
    }

    public var shape: [Int] { storedValue?.shape ?? plan?.shape ?? [] }

    /// False until a parameter made inside `Parameter.withoutAllocating` is first read.
    public var isAllocated: Bool { storedValue != nil }

    private func allocate() -> Tensor {
        let value = plan?.draw() ?? Tensor(zeros: [])
        storedValue = value
        plan = nil
        return value
    }

    @TaskLocal static var defersAllocation = false

    /// Runs `body` with every parameter made inside it (on this thread) left unallocated until its
    /// value is first read: a network built this way answers shapes and parameter counts without
    /// holding its weights (`zoo summary` of a network larger than memory).
    public static func withoutAllocating<R>(_ body: () throws -> R) rethrows -> R {
        try $defersAllocation.withValue(true, operation: body)
    }

    /// True inside `withoutAllocating`: sizes of weights made now need no memory.
    public static var isDeferringAllocation: Bool { defersAllocation }

    /// Elements a fixed connection mask holds at zero (LeNet-5's C3 table): structure, not weights.
    public internal(set) var maskedOutCount = 0

    /// The weights this parameter holds, as parameter counts report them: its elements less the masked-out ones.
    public var weightCount: Int { Tensor.elementCount(shape) - maskedOutCount }

    /// dLoss/dValue, accumulated by backward passes; zero it with `zeroGradient()`.
    /// Allocated on first use, so a model that only infers holds no gradient memory.
    public var gradient: Tensor {
        get { storedGradient ?? Tensor(zeros: shape) }
        set { storedGradient = newValue }
        _modify {
            if storedGradient?.shape != shape { storedGradient = Tensor(zeros: shape) }
            yield &storedGradient!
        }
    }

    /// True once a gradient has been allocated.
    public var hasGradient: Bool { storedGradient != nil }

    public func zeroGradient() {
        guard storedGradient != nil else { return }
        storedGradient!.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// A layer: shape inference, forward, backward and named weights.
///
/// Contract:
/// - `outputShape(for:)` answers before any data moves and throws `LayerError` naming the layer
///   and both shapes when the input does not fit.
/// - `forward` keeps what `backward` needs; `backward` takes dLoss/dOutput of the last forward,
///   *accumulates* into the gradients of trainable parameters and returns dLoss/dInput when
///   `needsInputGradient` is true (otherwise it may skip that work and return nil).
public protocol Layer: AnyObject {
    var name: String { get }
    func outputShape(for inputShape: [Int]) throws -> [Int]
    func forward(_ input: Tensor, mode: Mode) throws -> Tensor
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor?
    /// Weights that training may update, in Keras's order (e.g. kernel, bias).
    var parameters: [Parameter] { get }
    /// Non-trainable state (BatchNorm's running statistics), in Keras's order after `parameters`.
    var state: [Parameter] { get }
    /// Direct children of a composite layer.
    var sublayers: [Layer] { get }
    /// The Keras class this layer stands for (`Conv2D`, `BatchNormalization`): it names the layer in
    /// summaries and decides its key in Keras 3 files.
    var kerasClassName: String { get }
    /// Multiply-accumulates of one image through this layer, whose output for it has `outputShape`
    /// (batch first); 0 for layers whose work is not multiply-accumulates.
    func multiplyAccumulates(outputShape: [Int]) -> Int
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var state: [Parameter] { [] }
    public var sublayers: [Layer] { [] }
    /// The Swift type's name, which is the Keras class's unless a layer says otherwise.
    public var kerasClassName: String { String(describing: type(of: self)) }
    public func multiplyAccumulates(outputShape: [Int]) -> Int { 0 }

    /// This layer's own weights in Keras order: `parameters` then `state`.
    public var weights: [Parameter] { parameters + state }

    /// This layer and every layer below it, depth first, parents before children.
    public var allLayers: [Layer] { [self] + sublayers.flatMap { $0.allLayers } }

    /// Every weight of this layer and its descendants.
    public var allWeights: [Parameter] { allLayers.flatMap { $0.weights } }

    /// Every trainable parameter of this layer and its descendants.
    public var trainableParameters: [Parameter] {
        allLayers.flatMap { $0.parameters }.filter { $0.trainable }
    }

    /// True when backward through this layer would update any weight.
    public var hasTrainableParameters: Bool {
        allLayers.contains { layer in layer.parameters.contains { $0.trainable } }
    }

    /// Freezes (or unfreezes) this layer and its descendants: every parameter's flag, and a
    /// BatchNorm's own frozen flag (one without gamma and beta has no parameter to carry it).
    public func setTrainable(_ trainable: Bool) {
        for layer in allLayers {
            if let norm = layer as? BatchNorm { norm.isFrozen = !trainable } else { for p in layer.parameters { p.trainable = trainable } }
        }
    }

    /// The first layer named `name` here or below.
    public func layer(named name: String) -> Layer? {
        allLayers.first { $0.name == name }
    }

    public func zeroGradients() { for p in allWeights { p.zeroGradient() } }

    /// Number of weights (trainable, frozen and state), Keras's "Total params"; masked-out kernel
    /// elements are not weights.
    public var parameterCount: Int { allWeights.reduce(0) { $0 + $1.weightCount } }
}


func shapeString(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }

extension Layer {
    /// Throws unless `shape` has `rank` dimensions, all positive.
    func requireRank(_ shape: [Int], _ rank: Int, _ what: String) throws {
        guard shape.count == rank, shape.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "expected a \(what) input, got shape \(shapeString(shape))")
        }
    }

    /// Throws unless a backward's incoming gradient has the shape the last forward produced.
    func requireGradientShape(_ gradient: Tensor, _ expected: [Int]) throws {
        guard gradient.shape == expected else {
            throw LayerError(layer: name, "backward got gradient of shape \(shapeString(gradient.shape)), "
                + "expected \(shapeString(expected)) (the last forward's output)")
        }
    }

    /// The input saved by forward, or an error if backward comes first.
    func requireSaved<T>(_ value: T?) throws -> T {
        guard let v = value else { throw LayerError(layer: name, "backward needs a forward in training mode first (inference keeps nothing for it)") }
        return v
    }
}
