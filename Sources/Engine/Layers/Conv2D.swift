/// 2-D convolution on NHWC input, Keras `Conv2D` semantics, with an optional fused activation.
///
/// Weights: `kernel` (kh, kw, in / groups, out), Keras's HWIO; `bias` (out).
/// The kernel is used as it is stored: viewed as a row-major (kh*kw*in/groups, out) matrix it is
/// the right-hand side of the im2col GEMM, so loading needs no packing.
///
/// An optional `kernelMask` (0/1, the kernel's shape) makes a partially connected convolution such
/// as LeNet-5's C3: forward applies kernel * mask, backward masks the kernel gradient, and the
/// masked-out elements are left out of the parameter counts. Without a mask nothing changes.
public final class Conv2D: Layer {
    public let name: String
    /// Per output pixel, every kernel element of the filters (a masked kernel's missing connections do no work).
    public func multiplyAccumulates(outputShape: [Int]) -> Int { outputShape[1] * outputShape[2] * kernel.weightCount }
    public let inputChannels: Int
    public let filters: Int
    public let kernelSize: (height: Int, width: Int)
    public let strides: (height: Int, width: Int)
    public let dilation: (height: Int, width: Int)
    public let padding: Padding
    public let groups: Int
    public let activation: Activation
    public let kernel: Parameter
    public let bias: Parameter?
    /// Fixed 0/1 connections of the kernel, its shape; nil: fully connected.
    public let kernelMask: Tensor?

    private var savedInput: Tensor?
    private var savedOutput: Tensor?
    private let winogradKernels = WinogradKernelCache()
    private let winogradGradientKernels = WinogradKernelCache()

    public init(name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int),
                strides: (Int, Int) = (1, 1), padding: Padding = .valid, dilation: (Int, Int) = (1, 1),
                groups: Int = 1, useBias: Bool = true, activation: Activation = .linear,
                initializer: Initializer = .glorotUniform, kernelMask: Tensor? = nil) {
        self.name = name
        self.inputChannels = inputChannels
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.groups = groups
        self.activation = activation
        let shape = [kernelSize.0, kernelSize.1, max(1, inputChannels / max(groups, 1)), filters]
        kernel = Parameter(name: "kernel", shape: shape) {
            var k = initializer.make(shape: shape)
            // Stored weights show the structure: masked-out elements are zero (and not counted).
            if let kernelMask, kernelMask.shape == shape {
                let p = k.mutableData(), m = kernelMask.data
                for i in 0..<kernelMask.count where m[i] == 0 { p[i] = 0 }
            }
            return k
        }
        bias = useBias ? Parameter(name: "bias", shape: [filters], initializer: initializer.biasInitializer(kernelShape: shape)) : nil
        self.kernelMask = kernelMask
        if let kernelMask, kernelMask.shape == shape {
            kernel.maskedOutCount = kernelMask.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        }
    }

    /// The kernel the convolution applies: the stored one, or with a mask its connected elements only.
    var appliedKernel: Tensor {
        guard let kernelMask else { return kernel.value }
        var k = kernel.value
        let p = k.mutableData(), m = kernelMask.data
        for i in 0..<k.count { p[i] *= m[i] }
        return k
    }

    public var parameters: [Parameter] { [kernel] + (bias.map { [$0] } ?? []) }

    /// The Winograd output tile of stride-1 3x3 convolutions (forward and input gradient): 2 (the default: F(2x2, 3x3),
    /// 1.3-1.6x faster on most such layers, rounding error no larger than direct convolution's), 4
    /// (opt-in: F(4x4, 3x3), 2-2.5x faster on large layers, about 10x direct convolution's rounding
    /// error) or 0 (direct convolution only). `ZOO_WINOGRAD=0|2|4` sets it at start; other values are ignored.
    public static var winogradOutputTile: Int {
        get { WinogradPlan.outputTile }
        set { if [0, 2, 4].contains(newValue) { WinogradPlan.outputTile = newValue } }
    }

    func geometry(_ s: [Int]) -> WindowGeometry {
        WindowGeometry(height: s[1], width: s[2], kernel: kernelSize, stride: strides, dilation: dilation,
                       padding: padding)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        try requireRank(s, 4, "(batch, height, width, channels)")
        guard groups >= 1, inputChannels % groups == 0, filters % groups == 0 else {
            throw LayerError(layer: name, "\(inputChannels) input channels and \(filters) filters must both "
                + "divide into \(groups) groups")
        }
        guard kernelSize.0 > 0, kernelSize.1 > 0, strides.0 > 0, strides.1 > 0, dilation.0 > 0, dilation.1 > 0 else {
            throw LayerError(layer: name, "kernel, strides and dilation must be positive")
        }
        if let kernelMask {
            guard kernelMask.shape == kernel.shape, kernelMask.scalars.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw LayerError(layer: name, "kernel mask must be 0/1 of the kernel's shape \(shapeString(kernel.shape)), "
                    + "got shape \(shapeString(kernelMask.shape))")
            }
        }
        guard s[3] == inputChannels else {
            throw LayerError(layer: name, "expected \(inputChannels) input channels, got input shape \(shapeString(s))")
        }
        let g = geometry(s)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw LayerError(layer: name, "input \(shapeString(s)) is too small for a \(kernelSize.0)x\(kernelSize.1) "
                + "kernel with dilation \(dilation.0)x\(dilation.1) and padding \(padding): output would be empty")
        }
        return [s[0], g.outHeight, g.outWidth, filters]
    }

    /// True when the convolution is a plain GEMM over the input's pixels.
    var isPointwise: Bool {
        kernelSize == (1, 1) && strides == (1, 1) && groups == 1 && (padding == .valid || padding == .same)
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        var out = Tensor(uninitialized: outShape)
        if let plan = WinogradPlan(conv: self, inputShape: input.shape, activation: activation) {
            winogradForward(plan, input, scale: nil, shift: bias?.value.data, activation: activation, y: out.mutableData())
        } else {
            let k = appliedKernel
            withExtendedLifetime(k) {   // k.data is read here; a masked k owns its storage
                ConvPlan(conv: self, inputShape: input.shape)
                    .forward(x: input.data, kernel: k.data, scale: nil, shift: bias?.value.data, activation: activation,
                             y: out.mutableData())
            }
        }
        if mode == .training {
            savedInput = input
            savedOutput = activation.keptForBackward(out)
        }
        return out
    }

    /// Inference with a following BatchNorm and activation folded into the GEMM epilogue:
    /// activation((conv(x) + bias) * scale + shift), one pass over the output instead of three.
    func forwardFused(_ input: Tensor, scale: [Float], shift: [Float], then after: Activation) throws -> Tensor {
        let outShape = try outputShape(for: input.shape)
        var combinedShift = shift
        if let bias { for c in 0..<filters { combinedShift[c] += bias.value[flat: c] * scale[c] } }
        var out = Tensor(uninitialized: outShape)
        let y = out.mutableData()
        let winograd = WinogradPlan(conv: self, inputShape: input.shape, activation: after)
        let k = winograd == nil ? appliedKernel : kernel.value
        scale.withUnsafeBufferPointer { sc in
            combinedShift.withUnsafeBufferPointer { sh in
                if let winograd {
                    winogradForward(winograd, input, scale: sc.baseAddress, shift: sh.baseAddress, activation: after, y: y)
                } else {
                    ConvPlan(conv: self, inputShape: input.shape)
                        .forward(x: input.data, kernel: k.data, scale: sc.baseAddress, shift: sh.baseAddress,
                                 activation: after, y: y)
                }
            }
        }
        return out
    }

    /// The Winograd path of an inference forward, with this layer's cached transformed kernel.
    private func winogradForward(_ plan: WinogradPlan, _ input: Tensor, scale: UnsafePointer<Float>?,
                                 shift: UnsafePointer<Float>?, activation: Activation, y: UnsafeMutablePointer<Float>) {
        let u = winogradKernels.kernel(version: kernel.version, outputTile: plan.m) {
            let k = appliedKernel
            return withExtendedLifetime(k) {
                WinogradPlan.transformKernel(k.data, channels: inputChannels, filters: filters, outputTile: plan.m)
            }
        }
        plan.forward(x: input.data, u: u.data, scale: scale, shift: shift, relu: activation == .relu, y: y)
        withExtendedLifetime(u) {}
    }

    /// dx from dy by Winograd: the input gradient of a stride-1 3x3 convolution is itself one
    /// (`WinogradPlan.init(inputGradientOf:)`), with its own cached transformed kernel.
    private func winogradInputGradient(_ plan: WinogradPlan, dy: Tensor, dx: UnsafeMutablePointer<Float>) {
        let u = winogradGradientKernels.kernel(version: kernel.version, outputTile: plan.m) {
            let k = appliedKernel
            return withExtendedLifetime(k) {
                WinogradPlan.transformGradientKernel(k.data, channels: inputChannels, filters: filters, outputTile: plan.m)
            }
        }
        plan.forward(x: dy.data, u: u.data, scale: nil, shift: nil, relu: false, y: dx)
        withExtendedLifetime(u) {}
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let x = try requireSaved(savedInput)
        let outShape = try outputShape(for: x.shape)
        try requireGradientShape(outputGradient, outShape)
        var dy = outputGradient
        activation.backward(&dy, kept: savedOutput, lastAxis: filters)
        let pixels = outShape[0] * outShape[1] * outShape[2]
        if let bias, bias.trainable {
            accumulateColumnSums(dy.data, rows: pixels, columns: filters, into: bias.gradient.mutableData())
        }
        let kernelGradient: UnsafeMutablePointer<Float>? = kernel.trainable ? kernel.gradient.mutableData() : nil
        var dx: Tensor? = needsInputGradient ? Tensor(uninitialized: x.shape) : nil
        let dxData = dx?.mutableData()
        let k = appliedKernel
        defer { withExtendedLifetime(k) {} }   // k.data is read below; a masked k owns its storage

        if isPointwise {
            if let dw = kernelGradient {
                BLAS.parallelSgemm(transA: true, m: inputChannels, n: filters, k: pixels, a: x.data,
                                   lda: inputChannels, b: dy.data, ldb: filters, beta: 1, c: dw, ldc: filters)
            }
            if let dxData {
                BLAS.parallelSgemm(transB: true, m: pixels, n: inputChannels, k: filters, a: dy.data, lda: filters,
                                   b: k.data, ldb: filters, beta: 0, c: dxData, ldc: inputChannels)
            }
        } else {
            let plan = ConvPlan(conv: self, inputShape: x.shape)
            if let dw = kernelGradient { plan.accumulateKernelGradient(x: x.data, dy: dy.data, dw: dw) }
            if let dxData {
                if let winograd = WinogradPlan(inputGradientOf: self, inputShape: x.shape) {
                    winogradInputGradient(winograd, dy: dy, dx: dxData)
                } else {
                    plan.inputGradient(dy: dy.data, kernel: k.data, dx: dxData)
                }
            }
        }
        if let dw = kernelGradient, let kernelMask {
            // Masked-out elements were zero before this pass; keep them so.
            let m = kernelMask.data
            for i in 0..<kernelMask.count { dw[i] *= m[i] }
        }
        return dx
    }
}

/// Adds the column sums of a row-major (rows, columns) matrix to `out`, in a fixed order.
func accumulateColumnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    Parallel.forRanges(columns, minimumChunk: 64) { cols in
        for r in 0..<rows {
            let row = m + r * columns
            for c in cols { out[c] += row[c] }
        }
    }
}
