import Engine

/// What a family's builder hands the assembly step: the trunk, and the classifier top for it.
struct Parts {
    /// The layers up to the last feature map.
    var trunk: [Layer]
    /// The classifier top for a trunk output of this shape (batch excluded), ending in `activation`
    /// (the classifier activation asked for, else the reference's own).
    var top: (_ features: [Int], _ activation: Activation) throws -> [Layer]
    /// The global average pool's name without the top (Caffe GoogLeNet: `pool5_7x7_s1`).
    var averagePoolName = "avg_pool"
    /// Weighted layers in the reference's order when it is not the network's (Keras ResNet).
    var weightedLayerOrder: [String]? = nil
    /// Draws the assembled network's weights anew where the reference does not initialize layer by
    /// layer (the paper's LeNet-5 draws by each unit's fan-in).
    var initialize: ((Sequential) -> Void)? = nil
}

extension Architecture {
    /// `options` with the architecture's defaults filled in: input size, classes and channels.
    func resolved(_ options: ModelOptions) -> ModelOptions {
        var o = options
        if o.inputSize == nil { o.inputSize = (defaultInput[0], defaultInput[1]) }
        if o.requestedClasses == nil { o.requestedClasses = defaultClasses }
        if o.inputChannels == nil { o.inputChannels = defaultInput[2] }
        return o
    }

    /// The one assembly step of every architecture (Keras's `include_top` / `pooling`): the trunk,
    /// checked against the input size, then the top, or a global pool, or nothing.
    func assemble(_ parts: Parts, options o: ModelOptions) throws -> Model {
        let size = o.inputSize ?? (defaultInput[0], defaultInput[1])
        let inputShape = [size.height, size.width, o.inputChannels ?? defaultInput[2]]
        let network = Sequential(name: name.replacingOccurrences(of: "-", with: "_"), parts.trunk)
        let features = try Model.outputShape(of: network, for: inputShape, architecture: name).dropFirst()
        if o.includeTop {
            let activation = o.classifierActivation ?? (headOutput == .probabilities ? .softmax : .linear)
            let top: [Layer]
            do { top = try parts.top(Array(features), activation) } catch let refused as MemoryBudget.Exceeded {
                throw ModelError("\(name) with a \(size.height)x\(size.width) input: \(refused)")
            }
            for layer in top { network.append(layer) }
        } else if let pooling = o.pooling {
            network.append(pooling == .average ? GlobalAveragePooling2D(name: parts.averagePoolName)
                           : GlobalMaxPooling2D(name: "max_pool"))
        }
        // Redrawing would allocate what a shapes-only build leaves unallocated.
        if !Parameter.isDeferringAllocation { parts.initialize?(network) }
        return try Model(definition: self, network: network, inputShape: inputShape, options: o,
                         weightedLayerOrder: parts.weightedLayerOrder, averagePoolName: parts.averagePoolName)
    }
}
