import Engine

/// RGB weights for a first convolution of another number of input channels, as timm's
/// `adapt_input_conv` (timm/models/_manipulate.py) makes them: for 1 channel the kernel summed
/// over its 3 input channels; for N other than 3 the 3 channels repeated ceil(N/3) times, the first N
/// kept, and scaled by 3/N (so an input whose channels all equal the same gray gives the RGB response).
public enum InputChannelAdaptation {
    /// `kernel` (kh, kw, 3, filters), HWIO, adapted to (kh, kw, channels, filters).
    public static func adapt(_ kernel: Tensor, to channels: Int) -> Tensor {
        let (kh, kw, inC, filters) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
        precondition(kernel.rank == 4 && inC == 3 && channels > 0, "adapt expects a (kh, kw, 3, filters) kernel")
        var out = Tensor(uninitialized: [kh, kw, channels, filters])
        let src = kernel.data, dst = out.mutableData()
        // timm multiplies float32 weights by the Python float 3/N, which PyTorch rounds to float32.
        let scale = Float(3.0 / Double(channels))
        for tap in 0..<(kh * kw) {
            let s = src + tap * 3 * filters, d = dst + tap * channels * filters
            for o in 0..<filters {
                if channels == 1 {
                    d[o] = s[o] + s[filters + o] + s[2 * filters + o]
                } else {
                    for c in 0..<channels { d[c * filters + o] = s[(c % 3) * filters + o] * scale }
                }
            }
        }
        return out
    }

    /// How `adapt` combines the channels, for load reports.
    public static func method(to channels: Int) -> String {
        channels == 1 ? "summed over RGB"
            : "RGB repeated \((channels + 2) / 3) times, first \(channels) kept, scaled by 3/\(channels)"
    }
}
