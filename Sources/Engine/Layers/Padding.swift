/// How a convolution or pooling window treats the border.
public enum Padding: Equatable, Sendable {
    /// No padding: only windows that fit entirely inside the input.
    case valid
    /// Keras's `same`: output = ceil(input / stride); when the total padding is odd the extra
    /// pixel goes at the bottom / right.
    case same
    /// Explicit zeros on each side (PyTorch's `padding=p` is `.explicit(p, p, p, p)`).
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    /// Symmetric explicit padding of `p` on every side.
    public static func symmetric(_ p: Int) -> Padding { .explicit(top: p, bottom: p, left: p, right: p) }
}

/// Output size and padding along one spatial axis.
public struct WindowAxis: Equatable {
    public var input: Int, kernel: Int, stride: Int, dilation: Int
    public var padBegin: Int, padEnd: Int, output: Int

    /// Output size floor((N + Pb + Pe - D(F-1) - 1) / S) + 1, or with `ceilMode` rounded up, as
    /// PyTorch does: the last window must start inside the input or the begin padding.
    public init(input: Int, kernel: Int, stride: Int, dilation: Int = 1,
                padBegin: Int, padEnd: Int, ceilMode: Bool = false) {
        self.input = input; self.kernel = kernel; self.stride = stride; self.dilation = dilation
        self.padBegin = padBegin; self.padEnd = padEnd
        let span = input + padBegin + padEnd - dilation * (kernel - 1) - 1
        // Floor division, as PyTorch's div_rtn: in ceil mode an input shorter than the kernel
        // (span in -(stride-1)...-1) still gets one window, clipped to the input.
        let numerator = span + (ceilMode ? stride - 1 : 0)
        var out = (numerator >= 0 ? numerator / stride : -((-numerator + stride - 1) / stride)) + 1
        if ceilMode && out > 0 && (out - 1) * stride >= input + padBegin { out -= 1 }
        output = max(out, 0)
    }

    /// Keras `same` padding: output ceil(N / S), total padding split with the extra at the end.
    public static func same(input: Int, kernel: Int, stride: Int, dilation: Int = 1) -> WindowAxis {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - input, 0)
        return WindowAxis(input: input, kernel: kernel, stride: stride, dilation: dilation,
                          padBegin: total / 2, padEnd: total - total / 2)
    }
}

/// The two spatial axes of a window op on an NHWC input.
struct WindowGeometry {
    var rows: WindowAxis, cols: WindowAxis

    init(height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int) = (1, 1),
         padding: Padding, ceilMode: Bool = false) {
        switch padding {
        case .valid:
            rows = WindowAxis(input: height, kernel: kernel.0, stride: stride.0, dilation: dilation.0,
                              padBegin: 0, padEnd: 0, ceilMode: ceilMode)
            cols = WindowAxis(input: width, kernel: kernel.1, stride: stride.1, dilation: dilation.1,
                              padBegin: 0, padEnd: 0, ceilMode: ceilMode)
        case .same:
            rows = .same(input: height, kernel: kernel.0, stride: stride.0, dilation: dilation.0)
            cols = .same(input: width, kernel: kernel.1, stride: stride.1, dilation: dilation.1)
        case let .explicit(top, bottom, left, right):
            rows = WindowAxis(input: height, kernel: kernel.0, stride: stride.0, dilation: dilation.0,
                              padBegin: top, padEnd: bottom, ceilMode: ceilMode)
            cols = WindowAxis(input: width, kernel: kernel.1, stride: stride.1, dilation: dilation.1,
                              padBegin: left, padEnd: right, ceilMode: ceilMode)
        }
    }

    var outHeight: Int { rows.output }
    var outWidth: Int { cols.output }
}
