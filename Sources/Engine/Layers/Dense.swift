/// Fully connected layer on (batch, features) input, Keras `Dense` semantics.
///
/// Weights: `kernel` (in, out), Keras's layout (PyTorch's Linear stores the transpose);
/// `bias` (out). An optional fused activation makes the layer's output Keras's (`fc2` includes ReLU).
public final class Dense: Layer {
    public let name: String
    public func multiplyAccumulates(outputShape: [Int]) -> Int { inputFeatures * units }
    public let inputFeatures: Int
    public let units: Int
    public let activation: Activation
    public let kernel: Parameter
    public let bias: Parameter?

    private var savedInput: Tensor?
    private var savedOutput: Tensor?

    public init(name: String, inputFeatures: Int, units: Int, useBias: Bool = true,
                activation: Activation = .linear, initializer: Initializer = .glorotUniform) {
        self.name = name
        self.inputFeatures = inputFeatures
        self.units = units
        self.activation = activation
        kernel = Parameter(name: "kernel", shape: [inputFeatures, units], initializer: initializer)
        bias = useBias ? Parameter(name: "bias", shape: [units], initializer: initializer.biasInitializer(kernelShape: kernel.shape)) : nil
    }

    public var parameters: [Parameter] { [kernel] + (bias.map { [$0] } ?? []) }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 2, s[0] > 0, s[1] == inputFeatures else {
            throw LayerError(layer: name, "expected input (batch, \(inputFeatures)), got \(shapeString(s))")
        }
        return [s[0], units]
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        let n = input.shape[0]
        var out = Tensor(uninitialized: outShape)
        let y = out.mutableData()
        if let bias {
            for r in 0..<n { (y + r * units).update(from: bias.value.data, count: units) }
        } else {
            y.update(repeating: 0, count: n * units)
        }
        if n == 1 {
            BLAS.parallelRowTimesMatrix(x: input.data, w: kernel.value.data, k: inputFeatures, n: units, beta: 1, y: y)
        } else {
            BLAS.parallelSgemm(m: n, n: units, k: inputFeatures, a: input.data, lda: inputFeatures,
                               b: kernel.value.data, ldb: units, beta: 1, c: y, ldc: units)
        }
        activation.apply(y, count: out.count, lastAxis: units)
        if mode == .training {
            savedInput = input
            savedOutput = activation.keptForBackward(out)
        }
        return out
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let x = try requireSaved(savedInput)
        let n = x.shape[0]
        try requireGradientShape(outputGradient, [n, units])
        var dy = outputGradient
        activation.backward(&dy, kept: savedOutput, lastAxis: units)
        if let bias, bias.trainable {
            accumulateColumnSums(dy.data, rows: n, columns: units, into: bias.gradient.mutableData())
        }
        if kernel.trainable {
            BLAS.parallelSgemm(transA: true, m: inputFeatures, n: units, k: n, a: x.data, lda: inputFeatures,
                               b: dy.data, ldb: units, beta: 1, c: kernel.gradient.mutableData(), ldc: units)
        }
        guard needsInputGradient else { return nil }
        var dx = Tensor(uninitialized: x.shape)
        BLAS.parallelSgemm(transB: true, m: n, n: inputFeatures, k: units, a: dy.data, lda: units,
                           b: kernel.value.data, ldb: units, beta: 0, c: dx.mutableData(), ldc: inputFeatures)
        return dx
    }
}
