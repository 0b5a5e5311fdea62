import Engine
import Zoo

/// Zoo's `Preprocessing` modes computed exactly as Keras's `imagenet_utils.preprocess_input` and
/// torchvision's `ToTensor` + `Normalize` compute it, in float32, on pixel values 0...255.
///
/// For 1-channel (grayscale) models, which Keras's modes do not cover, each per-channel constant
/// becomes its ITU-R 601-2 luma combination (0.299 R + 0.587 G + 0.114 B), the constant that
/// matches a gray image made from RGB by the same weights: caffe subtracts 117.378 (the luma of
/// the mean pixel); torch uses mean 0.45853 and std 0.22568. `tf` and `none` need no change.
/// (timm keeps the RGB constants whatever `in_chans` is; the plain mean of the means, 0.449 for
/// torch, would fit an image averaged from RGB, which is not how grayscale photographs are made.)
///
/// For other channel counts (multispectral arrays) channel c is normalized as the weights' channel
/// c mod 3, the one whose kernel `--input-channels` repeats into it (timm's `adapt_input_conv`):
/// torch uses mean[c % 3] and std[c % 3]; caffe subtracts the BGR mean pixel's [c % 3] and does not
/// reorder channels.
extension Preprocessing {
    static let caffeMeanBGR: [Float] = [103.939, 116.779, 123.68]
    static let torchMean: [Float] = [0.485, 0.456, 0.406]
    static let torchStd: [Float] = [0.229, 0.224, 0.225]
    static let lumaWeights: [Double] = [0.299, 0.587, 0.114]

    /// The luma combination of RGB-ordered constants, for 1-channel inputs.
    static func luma(_ rgb: [Float]) -> Float {
        Float(zip(lumaWeights, rgb).reduce(0.0) { $0 + $1.0 * Double($1.1) })
    }

    /// A new float32 tensor with `x` (NHWC or HWC, values 0...255) preprocessed; `x` itself is left as it is.
    public func apply(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1, let channels = x.shape.last, channels > 0 else {
            throw TransferError("preprocessing '\(rawValue)' expects NHWC input with channels last, got shape \(x.shape)")
        }
        var out = Tensor(uninitialized: x.shape)
        let dst = out.mutableData()
        apply(x.data, count: x.count, channels: channels, into: dst)
        return out
    }

    /// A new (height, width, channels) float32 tensor with `image`'s pixels preprocessed.
    public func apply(_ image: PixelImage) -> Tensor {
        var out = Tensor(uninitialized: [image.height, image.width, image.channels])
        let dst = out.mutableData()
        apply(image, into: dst)
        return out
    }

    /// Writes `image`'s preprocessed pixels (height * width * channels floats) to `dst`.
    public func apply(_ image: PixelImage, into dst: UnsafeMutablePointer<Float>) {
        let n = image.pixels.count
        image.pixels.withUnsafeBufferPointer { p in
            let src = p.baseAddress!
            for i in 0..<n { dst[i] = Float(src[i]) }
        }
        apply(UnsafePointer(dst), count: n, channels: image.channels, into: dst)
    }

    /// The elementwise work: `count` values in pixels of `channels`, from `src` to `dst` (may alias).
    func apply(_ src: UnsafePointer<Float>, count: Int, channels: Int, into dst: UnsafeMutablePointer<Float>) {
        let pixels = count / channels
        switch (self, channels) {
        case (.none, _):
            if UnsafePointer(dst) != src { dst.update(from: src, count: count) }
        case (.tf, _):
            for i in 0..<count { dst[i] = src[i] / 127.5 - 1 }
        case (.caffe, 3):
            let b = Preprocessing.caffeMeanBGR[0], g = Preprocessing.caffeMeanBGR[1], r = Preprocessing.caffeMeanBGR[2]
            for p in 0..<pixels {
                let s = src + 3 * p, d = dst + 3 * p
                let red = s[0], green = s[1], blue = s[2]
                d[0] = blue - b; d[1] = green - g; d[2] = red - r
            }
        case (.caffe, 1):
            let mean = Preprocessing.luma(Preprocessing.caffeMeanBGR.reversed())
            for i in 0..<count { dst[i] = src[i] - mean }
        case (.caffe, _):
            for i in 0..<count { dst[i] = src[i] - Preprocessing.caffeMeanBGR[i % channels % 3] }
        case (.torch, 3):
            let m0 = Preprocessing.torchMean[0], m1 = Preprocessing.torchMean[1], m2 = Preprocessing.torchMean[2]
            let s0 = Preprocessing.torchStd[0], s1 = Preprocessing.torchStd[1], s2 = Preprocessing.torchStd[2]
            for p in 0..<pixels {
                let s = src + 3 * p, d = dst + 3 * p
                d[0] = (s[0] / 255 - m0) / s0
                d[1] = (s[1] / 255 - m1) / s1
                d[2] = (s[2] / 255 - m2) / s2
            }
        case (.torch, 1):
            let mean = Preprocessing.luma(Preprocessing.torchMean), std = Preprocessing.luma(Preprocessing.torchStd)
            for i in 0..<count { dst[i] = (src[i] / 255 - mean) / std }
        case (.torch, _):
            for i in 0..<count {
                let c = i % channels % 3
                dst[i] = (src[i] / 255 - Preprocessing.torchMean[c]) / Preprocessing.torchStd[c]
            }
        }
    }
}
