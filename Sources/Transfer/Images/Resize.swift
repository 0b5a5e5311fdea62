import Foundation
import Zoo

extension PixelImage {
    /// This image resized to `height` x `width` as Pillow's `Image.resize((width, height), filter)`.
    public func resized(height outH: Int, width outW: Int, interpolation: Interpolation) -> PixelImage {
        precondition(outH > 0 && outW > 0, "resize to \(outH)x\(outW)")
        if outH == height && outW == width { return self }
        switch interpolation {
        case .nearest: return resizedNearest(height: outH, width: outW)
        case .bilinear: return resizedBilinear(height: outH, width: outW)
        }
    }

    private func resizedNearest(height outH: Int, width outW: Int) -> PixelImage {
        // Pillow's ImagingScaleAffine: positions step by in/out from half a step, truncated.
        func sourceIndices(_ inSize: Int, _ outSize: Int) -> [Int] {
            let step = Double(inSize) / Double(outSize)
            var position = step * 0.5
            var table = [Int](repeating: -1, count: outSize)
            for i in 0..<outSize {
                let s = position < 0 ? -1 : Int(position)
                if s < inSize { table[i] = s }
                position += step
            }
            return table
        }
        let xs = sourceIndices(width, outW), ys = sourceIndices(height, outH)
        let c = channels
        return pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            return PixelImage(height: outH, width: outW, channels: c) { dst in
                dst.initialize(repeating: 0, count: outH * outW * c)  // Pillow fills what maps outside
                for y in 0..<outH where ys[y] >= 0 {
                    let row = src + ys[y] * width * c, out = dst + y * outW * c
                    for x in 0..<outW where xs[x] >= 0 {
                        (out + x * c).update(from: row + xs[x] * c, count: c)
                    }
                }
            }
        }
    }

    private func resizedBilinear(height outH: Int, width outW: Int) -> PixelImage {
        // Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height
        // shrinks by more than twice as many pixels as the width; the 8-bit intermediate makes
        // the order visible in the last bit, so it is followed exactly.
        if outH < height && height - outH > 2 * (width - outW) {
            let shorter = verticalPass(ResampleCoefficients(inSize: height, outSize: outH))
            return outW == width ? shorter : shorter.horizontalPass(width: outW, rows: 0..<outH)
        }
        var vertical = ResampleCoefficients(inSize: height, outSize: outH)
        guard outW != width else { return verticalPass(vertical) }
        // Only the rows the vertical pass reads are resampled horizontally (Pillow's ybox).
        let first = vertical.start[0]
        let last = vertical.start[outH - 1] + vertical.length[outH - 1]
        let narrowed = horizontalPass(width: outW, rows: first..<last)
        guard outH != height else { return narrowed }
        for i in 0..<outH { vertical.start[i] -= first }
        return narrowed.verticalPass(vertical)
    }

    /// Rows `rows` of this image resampled to `outW` columns.
    private func horizontalPass(width outW: Int, rows: Range<Int>) -> PixelImage {
        let horizontal = ResampleCoefficients(inSize: width, outSize: outW)
        let c = channels
        return pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            return PixelImage(height: rows.count, width: outW, channels: c) { dst in
                for (y, row) in rows.enumerated() {
                    horizontal.resample(from: src + row * width * c, to: dst + y * outW * c, channels: c)
                }
            }
        }
    }

    /// This image resampled to as many rows as `vertical` has outputs.
    private func verticalPass(_ vertical: ResampleCoefficients) -> PixelImage {
        let c = channels, w = width
        return pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            return PixelImage(height: vertical.start.count, width: w, channels: c) { dst in
                vertical.resampleColumns(from: src, rowLength: w * c, to: dst)
            }
        }
    }
}

/// Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc` for its bilinear filter along one axis.
struct ResampleCoefficients {
    static let precisionBits = 22
    /// First source index of each output position.
    var start: [Int]
    /// Number of source indices of each output position.
    var length: [Int]
    /// `kernelSize` fixed-point weights per output position.
    var weights: [Int32]
    let kernelSize: Int

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        start = [Int](repeating: 0, count: outSize)
        length = [Int](repeating: 0, count: outSize)
        weights = [Int32](repeating: 0, count: outSize * kernelSize)
        var k = [Double](repeating: 0, count: kernelSize)
        let one = Double(1 << ResampleCoefficients.precisionBits)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            let xmin = max(0, Int(center - support + 0.5))  // C casts truncate toward zero
            let xmax = min(inSize, Int(center + support + 0.5)) - xmin
            var total = 0.0
            for x in 0..<kernelSize { k[x] = 0 }
            for x in 0..<max(0, xmax) {
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                let w = t < 1.0 ? 1.0 - t : 0.0
                k[x] = w
                total += w
            }
            for x in 0..<max(0, xmax) where total != 0 { k[x] /= total }
            for x in 0..<kernelSize {
                let v = k[x]
                weights[xx * kernelSize + x] = Int32(v < 0 ? -0.5 + v * one : 0.5 + v * one)
            }
            start[xx] = xmin
            length[xx] = max(0, xmax)
        }
    }

    @inline(__always) static func clip8(_ sum: Int) -> UInt8 {
        let v = sum >> precisionBits
        return v <= 0 ? 0 : v >= 255 ? 255 : UInt8(v)
    }

    /// One row: output pixel x = sum over the window of source pixels times weights, per channel.
    func resample(from src: UnsafePointer<UInt8>, to dst: UnsafeMutablePointer<UInt8>, channels: Int) {
        weights.withUnsafeBufferPointer { kk in
            for xx in 0..<start.count {
                let k = kk.baseAddress! + xx * kernelSize, s = src + start[xx] * channels
                for ch in 0..<channels {
                    var sum = 1 << (ResampleCoefficients.precisionBits - 1)
                    for x in 0..<length[xx] { sum += Int(s[x * channels + ch]) * Int(k[x]) }
                    dst[xx * channels + ch] = ResampleCoefficients.clip8(sum)
                }
            }
        }
    }

    /// The vertical pass: output row y = weighted sum of source rows, whole rows at a time.
    func resampleColumns(from src: UnsafePointer<UInt8>, rowLength: Int, to dst: UnsafeMutablePointer<UInt8>) {
        var sums = [Int](repeating: 0, count: rowLength)
        weights.withUnsafeBufferPointer { kk in
            sums.withUnsafeMutableBufferPointer { acc in
                let a = acc.baseAddress!
                for yy in 0..<start.count {
                    let k = kk.baseAddress! + yy * kernelSize
                    a.update(repeating: 1 << (ResampleCoefficients.precisionBits - 1), count: rowLength)
                    for y in 0..<length[yy] {
                        let row = src + (start[yy] + y) * rowLength, w = Int(k[y])
                        for i in 0..<rowLength { a[i] += Int(row[i]) * w }
                    }
                    let out = dst + yy * rowLength
                    for i in 0..<rowLength { out[i] = ResampleCoefficients.clip8(a[i]) }
                }
            }
        }
    }
}

extension ResizeTransform {
    /// `image` transformed for a model input of `height` x `width` (the crop transforms give
    /// crop x crop; check `incompatibility` first).
    public func apply(_ image: PixelImage, height: Int, width: Int) -> PixelImage {
        switch self {
        case .direct(let interpolation):
            return image.resized(height: height, width: width, interpolation: interpolation)
        case .resizeThenCenterCrop(let r, let c):
            let size = ResizeTransform.shorterSideSize(height: image.height, width: image.width, to: r)
            return ResizeTransform.centerCrop(image.resized(height: size.height, width: size.width, interpolation: .bilinear),
                                              size: c)
        }
    }

    /// torchvision's `Resize(size)` output for an int size: the shorter side becomes `size`, the
    /// longer `int(size * long / short)`.
    static func shorterSideSize(height: Int, width: Int, to size: Int) -> (height: Int, width: Int) {
        let short = min(height, width), long = max(height, width)
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (newLong, size) : (size, newLong)
    }

    /// torchvision's `CenterCrop`: zero padding when the crop is larger (left/top get the floor
    /// half), then offsets `int(round((in - crop) / 2))` with Python's round half to even.
    static func centerCrop(_ image: PixelImage, size: Int) -> PixelImage {
        func offset(_ extent: Int) -> Int {
            let padBefore = size > extent ? (size - extent) / 2 : 0
            let padded = size > extent ? extent + padBefore + (size - extent + 1) / 2 : extent
            return Int((Double(padded - size) / 2.0).rounded(.toNearestOrEven)) - padBefore
        }
        return image.cropped(top: offset(image.height), left: offset(image.width), height: size, width: size)
    }
}
