import Engine

/// A Grad-CAM map drawn over the image the model saw: the map upsampled bilinearly to the image,
/// scaled so its largest value is 1, coloured (blue through green and yellow to red) and blended
/// half and half with the image, under a caption line (class name and probability) when given one.
public enum HeatMapOverlay {
    /// How much of the heat colour a pixel takes where the map is at its largest.
    static let opacity = 0.5
    static let captionScale = 1
    static let captionHeight = BitmapFont.glyphHeight * captionScale + 6

    /// `image` (any channels; gray shows as gray) with `map` (h, w) over it and `caption` above
    /// (none when nil: a page that says it in text).
    public static func render(image: PixelImage, map: Tensor, caption: String?) throws -> PixelImage {
        guard map.rank == 2, map.count > 0 else { throw TransferError("a heat map needs an (h, w) map, got shape \(map.shape)") }
        let rgb = image.converted(toChannels: 3)
        let upsampled = bilinear(map, height: image.height, width: image.width)
        let peak = upsampled.max() ?? 0
        let top = caption == nil ? 0 : captionHeight
        var canvas = Canvas(width: image.width, height: image.height + top, background: RGB(255, 255, 255))
        if let caption { canvas.text(caption, x: 3, y: 3, scale: captionScale, RGB(0, 0, 0)) }
        for y in 0..<image.height {
            for x in 0..<image.width {
                let pixel = RGB(rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2])
                let level = peak > 0 && peak.isFinite ? Double(upsampled[y * image.width + x] / peak) : 0
                canvas.fill(x: x, y: top + y, width: 1, height: 1, pixel.mixed(with: heat(level), opacity))
            }
        }
        return canvas.image
    }

    /// The jet colour map: 0 dark blue, 0.5 green-cyan, 1 dark red.
    static func heat(_ level: Double) -> RGB {
        let t = min(1, max(0, level.isFinite ? level : 0))
        func ramp(_ centre: Double) -> UInt8 { UInt8((min(1, max(0, 1.5 - abs(4 * t - centre))) * 255).rounded()) }
        return RGB(ramp(3), ramp(2), ramp(1))
    }

    /// `map` resized to height x width by bilinear interpolation with half-pixel centres (as
    /// OpenCV's `resize` and PyTorch's `interpolate(align_corners=False)`), row-major.
    static func bilinear(_ map: Tensor, height: Int, width: Int) -> [Float] {
        let (h, w) = (map.shape[0], map.shape[1])
        func source(_ i: Int, _ outer: Int, _ inner: Int) -> (Int, Int, Float) {
            let s = max(0, (Float(i) + 0.5) * Float(inner) / Float(outer) - 0.5)
            let lo = min(Int(s), inner - 1)
            return (lo, min(lo + 1, inner - 1), s - Float(lo))
        }
        var out = [Float](repeating: 0, count: height * width)
        for y in 0..<height {
            let (y0, y1, fy) = source(y, height, h)
            for x in 0..<width {
                let (x0, x1, fx) = source(x, width, w)
                let top = map[flat: y0 * w + x0] * (1 - fx) + map[flat: y0 * w + x1] * fx
                let bottom = map[flat: y1 * w + x0] * (1 - fx) + map[flat: y1 * w + x1] * fx
                out[y * width + x] = top * (1 - fy) + bottom * fy
            }
        }
        return out
    }
}
