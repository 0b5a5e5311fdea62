/// Parameters that share a learning rate and a weight decay, PyTorch's `param_groups` entry.
///
/// A `nil` learning rate or weight decay takes the optimizer's, as a PyTorch group without that key does.
public struct ParameterGroup {
    public var parameters: [Parameter]
    public var learningRate: Double
    public var weightDecay: Double
    /// The learning rate schedulers start from, PyTorch's `initial_lr`; set by the first scheduler.
    public var initialLearningRate: Double?
    let inheritsLearningRate: Bool
    let inheritsWeightDecay: Bool

    public init(_ parameters: [Parameter], learningRate: Double? = nil, weightDecay: Double? = nil) {
        self.parameters = parameters
        self.learningRate = learningRate ?? 0
        self.weightDecay = weightDecay ?? 0
        inheritsLearningRate = learningRate == nil
        inheritsWeightDecay = weightDecay == nil
    }

    /// Two groups as fine-tuning recipes use them: weights (rank 2 and up) with `weightDecay`, and
    /// biases and normalization scales and offsets (rank 1) with none.
    public static func decayingWeightsOnly(_ parameters: [Parameter], learningRate: Double? = nil,
                                           weightDecay: Double) -> [ParameterGroup] {
        [ParameterGroup(parameters.filter { $0.value.rank >= 2 }, learningRate: learningRate, weightDecay: weightDecay),
         ParameterGroup(parameters.filter { $0.value.rank < 2 }, learningRate: learningRate, weightDecay: 0)]
    }
}

/// What an optimizer keeps for one parameter: its step count and named buffers (PyTorch's names:
/// `momentum_buffer`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, `sum`, `square_avg`, `acc_delta`, `grad_avg`).
public struct ParameterState: Equatable {
    public var step: Int = 0
    public var buffers: [String: Tensor] = [:]

    public init() {}

    /// The buffer `name` of `shape`, created filled with `initial` on first use. The pointer stays
    /// valid while this state holds the buffer.
    mutating func buffer(_ name: String, shape: [Int], initial: Float = 0) -> UnsafeMutablePointer<Float> {
        if buffers[name] == nil { buffers[name] = Tensor(shape: shape, repeating: initial) }
        return buffers[name]!.mutableData()
    }
}

/// An optimizer's complete state, for checkpoints: restoring it into an optimizer of the same kind
/// over the same parameters continues training bit for bit.
///
/// Keys follow PyTorch's `state_dict` numbering, parameters counted across groups in order:
/// tensors `"<index>.<buffer>"`; scalars `"<index>.step"`, `"group.<g>.lr"`, `"group.<g>.weight_decay"`,
/// `"group.<g>.initial_lr"`, `"group.<g>.count"`.
public struct OptimizerState: Equatable {
    public var kind: String
    public var tensors: [String: Tensor]
    public var scalars: [String: Double]

    public init(kind: String, tensors: [String: Tensor] = [:], scalars: [String: Double] = [:]) {
        self.kind = kind
        self.tensors = tensors
        self.scalars = scalars
    }
}


/// Updates parameters from their accumulated gradients, with PyTorch's `torch.optim` semantics.
///
/// `step()` optionally clips the gradients of all trainable parameters, then updates every trainable
/// parameter of every group with its group's learning rate and weight decay; frozen parameters
/// (`trainable == false`) are skipped, as PyTorch skips parameters without a gradient. It does
/// not zero the gradients: call `zeroGradients()` before the next backward pass.
open class Optimizer {
    public var groups: [ParameterGroup]
    /// Per parameter, parallel to `groups[g].parameters`.
    public internal(set) var states: [[ParameterState]]
    /// Applied to the gradients of every trainable parameter at the start of each `step()`.
    public var gradientClipping: GradientClipping?

    /// `parameters` (if any) form the first group, followed by `groups`; groups without their own
    /// learning rate or weight decay take `learningRate` and `weightDecay`.
    public init(_ parameters: [Parameter], groups: [ParameterGroup], learningRate: Double, weightDecay: Double) throws {
        var all = groups
        if !parameters.isEmpty { all.insert(ParameterGroup(parameters), at: 0) }
        for i in all.indices {
            if all[i].inheritsLearningRate { all[i].learningRate = learningRate }
            if all[i].inheritsWeightDecay { all[i].weightDecay = weightDecay }
        }
        self.groups = all
        self.states = all.map { [ParameterState](repeating: ParameterState(), count: $0.parameters.count) }
        let kind = String(describing: type(of: self))
        guard all.contains(where: { !$0.parameters.isEmpty }) else {
            throw OptimizerError(optimizer: kind, "got no parameters to optimize")
        }
        var seen = Set<ObjectIdentifier>()
        for (g, group) in all.enumerated() {
            guard group.learningRate >= 0, group.weightDecay >= 0 else {
                throw OptimizerError(optimizer: kind, "group \(g) has learning rate \(group.learningRate) and weight "
                    + "decay \(group.weightDecay); both must be non-negative")
            }
            for p in group.parameters where !seen.insert(ObjectIdentifier(p)).inserted {
                throw OptimizerError(optimizer: kind, "parameter '\(p.name)' \(shapeString(p.shape)) appears in more than one group")
            }
        }
    }

    /// The name written into saved states, checked when they are loaded.
    open var kind: String { String(describing: type(of: self)) }

    /// Every parameter of every group, in state-dictionary order.
    public var parameters: [Parameter] { groups.flatMap { $0.parameters } }

    /// One optimization step over the accumulated gradients.
    public func step() {
        if let gradientClipping { gradientClipping.apply(to: parameters.filter { $0.trainable }) }
        for g in groups.indices {
            let group = groups[g]
            for (i, p) in group.parameters.enumerated() where p.trainable {
                states[g][i].step += 1
                update(p, group: group, state: &states[g][i])
            }
        }
    }

    /// Updates one parameter; `state.step` already counts this step. Subclasses implement the rule.
    open func update(_ parameter: Parameter, group: ParameterGroup, state: inout ParameterState) {
        fatalError("\(kind) must override update(_:group:state:)")
    }

    /// Zeroes the gradient of every parameter of every group.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// A snapshot of the step counts, buffers and group learning rates.
    public func saveState() -> OptimizerState {
        var s = OptimizerState(kind: kind)
        var index = 0
        for (g, group) in groups.enumerated() {
            s.scalars["group.\(g).lr"] = group.learningRate
            s.scalars["group.\(g).weight_decay"] = group.weightDecay
            s.scalars["group.\(g).count"] = Double(group.parameters.count)
            if let initial = group.initialLearningRate { s.scalars["group.\(g).initial_lr"] = initial }
            for state in states[g] {
                if state.step > 0 || !state.buffers.isEmpty { s.scalars["\(index).step"] = Double(state.step) }
                for (name, t) in state.buffers { s.tensors["\(index).\(name)"] = t }
                index += 1
            }
        }
        return s
    }

    /// Replaces this optimizer's state with `saved`, after checking that it was saved by the same kind
    /// of optimizer over parameters of the same group structure and shapes.
    public func loadState(_ saved: OptimizerState) throws {
        func fail(_ m: String) -> OptimizerError { OptimizerError(optimizer: kind, "cannot load state: " + m) }
        guard saved.kind == kind else { throw fail("it was saved by \(saved.kind)") }
        var newGroups = groups
        var newStates = states
        var index = 0
        var used = Set<String>()
        for g in groups.indices {
            let count = groups[g].parameters.count
            guard saved.scalars["group.\(g).count"] == Double(count), let lr = saved.scalars["group.\(g).lr"],
                  let wd = saved.scalars["group.\(g).weight_decay"] else {
                throw fail("group \(g) of \(count) parameters is not in it or has another size")
            }
            newGroups[g].learningRate = lr
            newGroups[g].weightDecay = wd
            newGroups[g].initialLearningRate = saved.scalars["group.\(g).initial_lr"]
            used.formUnion(["group.\(g).count", "group.\(g).lr", "group.\(g).weight_decay", "group.\(g).initial_lr"])
            for (i, p) in groups[g].parameters.enumerated() {
                var state = ParameterState()
                if let step = saved.scalars["\(index).step"] {
                    guard step >= 0, step.rounded() == step else { throw fail("step \(step) of parameter \(index)") }
                    state.step = Int(step)
                    used.insert("\(index).step")
                }
                let prefix = "\(index)."
                for (key, t) in saved.tensors where key.hasPrefix(prefix) {
                    guard t.shape == p.shape else {
                        throw fail("'\(key)' has shape \(shapeString(t.shape)), parameter '\(p.name)' has \(shapeString(p.shape))")
                    }
                    state.buffers[String(key.dropFirst(prefix.count))] = t
                    used.insert(key)
                }
                newStates[g][i] = state
                index += 1
            }
        }
        let unused = Set(saved.scalars.keys).union(saved.tensors.keys).subtracting(used)
        guard unused.isEmpty else { throw fail("entries \(unused.sorted()) match no parameter or group") }
        groups = newGroups
        states = newStates
    }
}

/// Runs `body` over contiguous ranges of `0..<count` in parallel. Element-wise updates give the same
/// bits however the range is split.
@inline(__always) func forEachChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
    Parallel.forRanges(count, minimumChunk: 1 << 15, body)
}
