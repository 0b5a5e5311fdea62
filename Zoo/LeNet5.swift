import Engine

/// Gradient-Based Learning Applied to Document Recognition (LeCun, Bottou, Bengio & Haffner, 1998),
/// LeNet-5: 32x32x1 input; C1 conv 6@5x5, S2 subsampling, C3 conv 16@5x5, S4 subsampling,
/// C5 conv 120@5x5, F6 dense 84, output 10. Layer names: `c1`, `s2`, `c3`, `s4`, `c5`, `flatten`,
/// `f6`, `predictions`.
///
/// `lenet5`, the usual modern form, written as Keras would (Glorot-uniform kernels, zero biases,
/// 61,706 parameters), deviates from the paper in exactly these ways:
/// - C3 reads all six S2 maps (2,416 parameters), not the 60 map pairs of the paper's Table I (1,516).
/// - S2 and S4 are parameter-free 2x2 max pooling (option: average), not a window sum times a
///   trainable coefficient plus a trainable bias per map, then the squashing function (12 and 32).
/// - The activation is ReLU (option: tanh), not the scaled tanh 1.7159 tanh(2a/3).
/// - The output is a dense softmax layer (850 parameters), not 10 Euclidean RBF units with fixed
///   prototypes; it is meant for cross-entropy training, not the paper's MAP criterion.
/// - Weights start Glorot-uniform with zero biases, not uniform in +-2.4/F_i (F_i: the unit's fan-in).
///
/// `lenet5-paper` is the paper's form: scaled tanh after C1, S2, C3, S4, C5 and F6; S2/S4 as
/// `Subsampling`; C3 as a `Conv2D` whose (5, 5, 6, 16) kernel carries Table I as a fixed 0/1 mask;
/// an `EuclideanRBF` output of squared distances (penalties, no classifier activation); every
/// trainable weight and bias drawn from U(-2.4/F_i, 2.4/F_i). It deviates only in that the RBF
/// prototypes are seeded random +-1 patterns, not the paper's hand-drawn 7x12 bitmaps of the
/// characters. Counts: trainable 60,000 (C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164), as
/// the paper counts them: C3's 900 masked-out kernel elements are stored but are not weights and are
/// not counted. The 840 fixed prototypes are non-trainable state: total 60,840.
///
/// Neither form preprocesses its input; the paper maps the background to -0.1 and ink to 1.175.
public enum LeNet5 {
    /// How the modern form subsamples.
    public enum Pooling: String, Sendable {
        case max, average
    }

    public enum Form: Equatable, Sendable {
        /// Full C3 connectivity, `pooling` for S2/S4, `activation` after every hidden layer, softmax out.
        case modern(pooling: Pooling = .max, activation: Activation = .relu)
        /// The 1998 paper's network (see the type's documentation).
        case paper
    }

    /// The paper's Table I: for each of C3's 16 maps, the S2 maps it reads.
    public static let c3Connections: [[Int]] = [
        [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
        [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
        [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
        [0, 1, 2, 3, 4, 5],
    ]

    /// Table I as a 0/1 mask of C3's (5, 5, 6, 16) HWIO kernel.
    public static func c3Mask() -> Tensor {
        var mask = Tensor(zeros: [5, 5, 6, 16])
        let m = mask.mutableData()
        for (output, inputs) in c3Connections.enumerated() {
            for tap in 0..<25 { for input in inputs { m[(tap * 6 + input) * 16 + output] = 1 } }
        }
        return mask
    }

    /// LeNet-5 in `form`, with Keras's construction options; the classes default to the paper's 10.
    public static func make(_ form: Form = .modern(), options: ModelOptions = ModelOptions()) throws -> Model {
        let architecture = try Catalog.architecture(named: form == .paper ? "lenet5-paper" : "lenet5")
        let o = architecture.resolved(options)
        return try architecture.assemble(parts(form, options: o), options: o)
    }

    static func parts(_ form: Form, options o: ModelOptions) throws -> Parts {
        let hidden = o.hiddenUnits ?? 84
        let layers: [Layer]
        let squash: Activation   // after every hidden layer
        switch form {
        case let .modern(pooling, activation):
            guard activation != .softmax else { throw ModelError("lenet5: softmax is not a hidden-layer activation") }
            squash = activation
            func pool(_ name: String) -> Layer {
                pooling == .max ? MaxPool2D(name: name, poolSize: (2, 2)) : AvgPool2D(name: name, poolSize: (2, 2), countIncludePad: false)
            }
            let (w1, w3, w5) = (o.channels(6), o.channels(16), o.channels(120))
            layers = [
                Conv2D(name: "c1", inputChannels: o.imageChannels, filters: w1, kernelSize: (5, 5), activation: activation),
                pool("s2"),
                Conv2D(name: "c3", inputChannels: w1, filters: w3, kernelSize: (5, 5), activation: activation),
                pool("s4"),
                Conv2D(name: "c5", inputChannels: w3, filters: w5, kernelSize: (5, 5), activation: activation),
            ]
        case .paper:
            guard o.channelDivisor == 1 else {
                throw ModelError("lenet5-paper: C3's connection table fixes 6 and 16 maps; channelDivisor must be 1")
            }
            guard o.classifierActivation == nil || o.classifierActivation == .linear else {
                throw ModelError("lenet5-paper: the output is the RBF units' squared distances (penalties); "
                    + "no classifier activation applies")
            }
            squash = .scaledTanh
            layers = [
                Conv2D(name: "c1", inputChannels: o.imageChannels, filters: 6, kernelSize: (5, 5), activation: squash),
                Subsampling(name: "s2", channels: 6, activation: squash),
                Conv2D(name: "c3", inputChannels: 6, filters: 16, kernelSize: (5, 5), activation: squash,
                       kernelMask: c3Mask()),
                Subsampling(name: "s4", channels: 16, activation: squash),
                Conv2D(name: "c5", inputChannels: 16, filters: 120, kernelSize: (5, 5), activation: squash),
            ]
        }
        var parts = Parts(trunk: layers) { features, activation in
            let f6 = Dense(name: "f6", inputFeatures: try Model.flattenedWidth(features, units: hidden, layer: "f6"), units: hidden,
                           activation: squash)
            let out: Layer = form == .paper ? EuclideanRBF(name: "predictions", inputFeatures: hidden, units: o.classes)
                : Dense(name: "predictions", inputFeatures: hidden, units: o.classes, activation: activation)
            return [Flatten(name: "flatten"), f6, out]
        }
        if form == .paper { parts.initialize = { initializeAsThePaper($0) } }
        return parts
    }

    /// Every trainable weight and bias from U(-2.4/F_i, 2.4/F_i), F_i the fan-in of the unit it
    /// feeds (the paper's appendix C); by Table I, C3's units have 75, 100 or 150 inputs.
    static func initializeAsThePaper(_ network: Sequential, generator: RandomGenerator = .global) {
        func fill(_ p: Parameter, fanIn: (Int) -> Int) {
            p.value.withUnsafeMutableBufferPointer { d in
                for i in d.indices { let limit = 2.4 / Float(fanIn(i)); d[i] = generator.uniform(-limit, limit) }
            }
        }
        for layer in network.allLayers {
            switch layer {
            case let c as Conv2D:
                var fanIns = [Int](repeating: c.kernel.shape.dropLast().reduce(1, *), count: c.filters)
                if let mask = c.kernelMask {
                    fanIns = (0..<c.filters).map { o in
                        stride(from: o, to: mask.count, by: c.filters).reduce(0) { $0 + Int(mask[flat: $1]) }
                    }
                }
                fill(c.kernel) { fanIns[$0 % c.filters] }   // HWIO: the output map is the last axis
                if let mask = c.kernelMask {
                    c.kernel.value.withUnsafeMutableBufferPointer { k in for i in k.indices { k[i] *= mask[flat: i] } }
                }
                if let bias = c.bias { fill(bias) { fanIns[$0] } }
            case let s as Subsampling:
                let window = s.poolSize.height * s.poolSize.width
                fill(s.coefficient) { _ in window }
                fill(s.bias) { _ in window }
            case let d as Dense:
                fill(d.kernel) { _ in d.inputFeatures }
                if let bias = d.bias { fill(bias) { _ in d.inputFeatures } }
            default:
                break
            }
        }
    }
}
