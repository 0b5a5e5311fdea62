import Engine
import Zoo

extension Preprocessing {
    /// The 8-bit image a preprocessed (height, width, channels) sample came from: the inverse of
    /// `apply`, rounded and clamped to 0...255 (so a non-finite or out-of-range value shows as black
    /// or white). Grayscale inverts the luma constants `apply` uses.
    public func restore(_ sample: Tensor) throws -> PixelImage {
        guard sample.rank == 3, let channels = sample.shape.last, channels == 1 || channels == 3 else {
            throw TransferError("an image needs a (height, width, 1 or 3 channels) sample, got shape \(sample.shape)")
        }
        let (height, width) = (sample.shape[0], sample.shape[1])
        var pixels = [UInt8](repeating: 0, count: sample.count)
        for p in 0..<(height * width) {
            for c in 0..<channels {
                let v = Double(sample[flat: p * channels + c])
                let value: Double
                switch (self, channels) {
                case (.none, _): value = v
                case (.tf, _): value = (v + 1) * 127.5
                case (.caffe, 3): value = Double(sample[flat: p * 3 + 2 - c]) + Double(Preprocessing.caffeMeanBGR[2 - c])
                case (.caffe, _): value = v + Double(Preprocessing.luma(Preprocessing.caffeMeanBGR.reversed()))
                case (.torch, 3): value = (v * Double(Preprocessing.torchStd[c]) + Double(Preprocessing.torchMean[c])) * 255
                case (.torch, _):
                    value = (v * Double(Preprocessing.luma(Preprocessing.torchStd))
                             + Double(Preprocessing.luma(Preprocessing.torchMean))) * 255
                }
                pixels[p * channels + c] = value.isFinite ? UInt8(min(255, max(0, value.rounded()))) : 0
            }
        }
        return PixelImage(height: height, width: width, channels: channels, pixels: pixels)
    }
}
