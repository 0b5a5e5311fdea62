/// An RGB colour of 8-bit channels.
public struct RGB: Equatable, Sendable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// The colour `fraction` of the way from `self` to `other` (0: self, 1: other), rounded.
    public func mixed(with other: RGB, _ fraction: Double) -> RGB {
        let t = min(1, max(0, fraction))
        func blend(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * t).rounded()) }
        return RGB(blend(red, other.red), blend(green, other.green), blend(blue, other.blue))
    }
}

/// An RGB raster that plots draw on: filled rectangles and bitmap-font text, clipped to the canvas.
struct Canvas {
    let width: Int
    let height: Int
    private(set) var pixels: [UInt8]

    init(width: Int, height: Int, background: RGB) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    /// Paints the rectangle with top-left corner (`x`, `y`), the part of it inside the canvas.
    mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ colour: RGB) {
        let x0 = max(0, x), x1 = min(width, x + w), y0 = max(0, y), y1 = min(height, y + h)
        guard x1 > x0, y1 > y0 else { return }
        let stride = width
        pixels.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            for row in y0..<y1 {
                var p = base + (row * stride + x0) * 3
                for _ in x0..<x1 {
                    p[0] = colour.red; p[1] = colour.green; p[2] = colour.blue
                    p += 3
                }
            }
        }
    }

    /// Writes `text` left to right with its top-left corner at (`x`, `y`), each font pixel
    /// `scale` x `scale` canvas pixels; `rotated` writes it bottom to top instead (turned a quarter
    /// turn anticlockwise), starting from the bottom-left corner (`x`, `y`).
    mutating func text(_ text: String, x: Int, y: Int, scale: Int, _ colour: RGB, rotated: Bool = false) {
        for (i, character) in text.enumerated() {
            let glyph = BitmapFont.rows(character)
            guard glyph != 0 else { continue }
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<BitmapFont.glyphWidth where BitmapFont.isInk(glyph, column: column, row: row) {
                    let along = (i * BitmapFont.advance + column) * scale
                    if rotated {
                        fill(x: x + row * scale, y: y - along - scale, width: scale, height: scale, colour)
                    } else {
                        fill(x: x + along, y: y + row * scale, width: scale, height: scale, colour)
                    }
                }
            }
        }
    }

    /// The canvas as an RGB image.
    var image: PixelImage { PixelImage(height: height, width: width, channels: 3, pixels: pixels) }
}
