#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// torchvision's `RandomResizedCrop`: cuts a box of random area (a `scale` fraction of the image)
/// and aspect ratio (log-uniform in `ratio`) from each image and resizes it bilinearly to
/// `size` (default: the input's size). After ten draws that do not fit it falls back to the
/// largest centred box within `ratio`, as torchvision does.
public struct RandomResizedCrop: BatchAugmentation {
    public var size: (height: Int, width: Int)?
    public var scale: (Double, Double)
    public var ratio: (Double, Double)

    /// torchvision's defaults: scale (0.08, 1), ratio (3/4, 4/3).
    public init(size: (height: Int, width: Int)? = nil, scale: (Double, Double) = (0.08, 1),
                ratio: (Double, Double) = (3.0 / 4, 4.0 / 3)) {
        self.size = size
        self.scale = scale
        self.ratio = ratio
    }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        let (n, h, w, _) = try requireImages(batch.inputs, "RandomResizedCrop")
        guard scale.0 > 0, scale.0 <= scale.1, ratio.0 > 0, ratio.0 <= ratio.1 else {
            throw TrainingError("RandomResizedCrop: scale \(scale) and ratio \(ratio) must be positive, low <= high")
        }
        let boxes = (0..<n).map { _ in drawBox(height: h, width: w, generator: generator) }
        batch.inputs = try RandomResizedCrop.resizeCrops(batch.inputs, boxes: boxes, to: size ?? (h, w))
    }

    /// torchvision's `get_params`.
    func drawBox(height: Int, width: Int, generator: RandomGenerator) -> PixelBox {
        let area = Double(height * width)
        let logRatio = (log(ratio.0), log(ratio.1))
        for _ in 0..<10 {
            let target = area * (scale.0 + (scale.1 - scale.0) * generator.nextDouble())
            let aspect = exp(logRatio.0 + (logRatio.1 - logRatio.0) * generator.nextDouble())
            let w = Int((target * aspect).squareRoot().rounded()), h = Int((target / aspect).squareRoot().rounded())
            if w > 0, w <= width, h > 0, h <= height {
                return PixelBox(top: generator.nextInt(below: height - h + 1), left: generator.nextInt(below: width - w + 1),
                                height: h, width: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.0 { h = Int((Double(w) / ratio.0).rounded()) } else if inRatio > ratio.1 {
            w = Int((Double(h) * ratio.1).rounded())
        }
        return PixelBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// Each image's box resized to `size` (bilinear, half-pixel centres).
    public static func resizeCrops(_ images: Tensor, boxes: [PixelBox], to size: (height: Int, width: Int)) throws -> Tensor {
        let (n, h, w, c) = try requireImages(images, "RandomResizedCrop")
        guard boxes.count == n, size.height > 0, size.width > 0,
              boxes.allSatisfy({ $0.top >= 0 && $0.left >= 0 && $0.height > 0 && $0.width > 0
                                 && $0.top + $0.height <= h && $0.left + $0.width <= w }) else {
            throw TrainingError("RandomResizedCrop: need \(n) non-empty boxes inside \(h)x\(w) and a positive size")
        }
        var out = Tensor(uninitialized: [n, size.height, size.width, c])
        let src = images.data, dst = out.mutableData()
        for (i, box) in boxes.enumerated() {
            Bilinear.resize(src + i * h * w * c, width: w, channels: c, box: box, to: size,
                            into: dst + i * size.height * size.width * c)
        }
        return out
    }
}

/// Bilinear resampling with PyTorch's `align_corners=False` (`F.interpolate(mode="bilinear")`):
/// output pixel o samples source coordinate (o + 0.5) * in / out - 0.5, clamped at 0, its two
/// neighbours weighted by distance, the upper one clamped to the last row or column.
enum Bilinear {
    /// Resamples the `box` of an (…, width, channels) image to `size`, channels interleaved (HWC).
    static func resize(_ src: UnsafePointer<Float>, width: Int, channels c: Int, box: PixelBox,
                       to size: (height: Int, width: Int), into dst: UnsafeMutablePointer<Float>) {
        let rows = taps(input: box.height, output: size.height), cols = taps(input: box.width, output: size.width)
        for oy in 0..<size.height {
            let (y0, y1, wy0, wy1) = rows[oy]
            let r0 = src + ((box.top + y0) * width + box.left) * c, r1 = src + ((box.top + y1) * width + box.left) * c
            let out = dst + oy * size.width * c
            for ox in 0..<size.width {
                let (x0, x1, wx0, wx1) = cols[ox]
                for k in 0..<c {
                    out[ox * c + k] = wy0 * (wx0 * r0[x0 * c + k] + wx1 * r0[x1 * c + k])
                        + wy1 * (wx0 * r1[x0 * c + k] + wx1 * r1[x1 * c + k])
                }
            }
        }
    }

    /// Per output index: the two source indices and their weights, in float32 as PyTorch computes them.
    static func taps(input: Int, output: Int) -> [(Int, Int, Float, Float)] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { o in
            let source = max(0, scale * (Float(o) + 0.5) - 0.5)
            let i0 = min(Int(source), input - 1)
            let i1 = i0 + (i0 < input - 1 ? 1 : 0)
            let l1 = source - Float(i0)
            return (i0, i1, 1 - l1, l1)
        }
    }
}
