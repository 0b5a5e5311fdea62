/// An 8-bit image: `height` rows of `width` pixels of `channels` interleaved bytes (1: gray, 3: RGB).
public struct PixelImage: Equatable, Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Row-major (height, width, channels) bytes.
    public internal(set) var pixels: [UInt8]

    /// An image over `pixels`, which must hold height * width * channels bytes.
    public init(height: Int, width: Int, channels: Int, pixels: [UInt8]) {
        precondition(height >= 0 && width >= 0 && (channels == 1 || channels == 3),
                     "PixelImage: \(height)x\(width)x\(channels)")
        precondition(pixels.count == height * width * channels,
                     "PixelImage: \(pixels.count) bytes for \(height)x\(width)x\(channels)")
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
    }

    /// An image whose bytes `fill` writes in full.
    init(height: Int, width: Int, channels: Int, fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        let pixels = [UInt8](unsafeUninitializedCapacity: height * width * channels) { buffer, count in
            if let base = buffer.baseAddress { fill(base) }
            count = height * width * channels
        }
        self.init(height: height, width: width, channels: channels, pixels: pixels)
    }

    /// The byte at row `y`, column `x`, channel `c`.
    public subscript(y: Int, x: Int, c: Int) -> UInt8 { pixels[(y * width + x) * channels + c] }

    /// This image with `count` channels, converted as Pillow's `convert('L')` and `convert('RGB')`.
    ///
    /// Gray from RGB is ITU-R 601-2 luma in Pillow's fixed point,
    /// L = (19595 R + 38470 G + 7471 B + 32768) >> 16 (R*299/1000 + G*587/1000 + B*114/1000, rounded);
    /// RGB from gray repeats the gray value.
    public func converted(toChannels count: Int) -> PixelImage {
        precondition(count == 1 || count == 3, "PixelImage: cannot convert to \(count) channels")
        if count == channels { return self }
        let n = height * width
        return pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            return PixelImage(height: height, width: width, channels: count) { dst in
                if count == 1 {
                    for i in 0..<n {
                        let r = UInt32(src[3 * i]), g = UInt32(src[3 * i + 1]), b = UInt32(src[3 * i + 2])
                        dst[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
                    }
                } else {
                    for i in 0..<n {
                        let v = src[i]
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    }
                }
            }
        }
    }

    /// The rectangle of `height` x `width` pixels whose top-left corner is (`top`, `left`); parts
    /// outside the image are zero, as torchvision's `CenterCrop` pads.
    public func cropped(top: Int, left: Int, height h: Int, width w: Int) -> PixelImage {
        let c = channels
        return pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            return PixelImage(height: h, width: w, channels: c) { dst in
                dst.initialize(repeating: 0, count: h * w * c)
                let x0 = max(0, -left), x1 = min(w, width - left)
                guard x1 > x0 else { return }
                for y in 0..<h {
                    let sy = top + y
                    guard sy >= 0, sy < height else { continue }
                    (dst + (y * w + x0) * c).update(from: src + (sy * width + left + x0) * c, count: (x1 - x0) * c)
                }
            }
        }
    }

    /// This image with every output pixel (y, x) taken from source pixel `map(y, x)`.
    func remapped(height h: Int, width w: Int, _ map: (Int, Int) -> (y: Int, x: Int)) -> PixelImage {
        let c = channels
        return pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            return PixelImage(height: h, width: w, channels: c) { dst in
                for y in 0..<h {
                    for x in 0..<w {
                        let s = map(y, x)
                        (dst + (y * w + x) * c).update(from: src + (s.y * width + s.x) * c, count: c)
                    }
                }
            }
        }
    }
}
