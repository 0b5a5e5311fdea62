import CImageCodecs
import Engine
import Foundation

/// Encodes 8-bit images as PNG with libpng, for the plots ConvZoo writes.
public enum PNGWriter {
    /// The PNG bytes of `image` (gray or RGB); `name` is what an error calls it.
    public static func encode(_ image: PixelImage, name: String) throws -> Data {
        guard image.width >= 1, image.height >= 1 else {
            throw TransferError("\(name): cannot write a PNG of \(image.width)x\(image.height) pixels; a PNG needs at least 1x1")
        }
        var encoded: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            convzoo_encode_png(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                               &encoded, &size, &message, message.count)
        }
        defer { convzoo_encoded_release(encoded) }
        guard status == Int32(CONVZOO_IMAGE_OK), let bytes = encoded else {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TransferError("\(name): cannot encode \(image.width)x\(image.height) pixels as PNG (\(detail))")
        }
        return Data(bytes: bytes, count: size)
    }

    /// Writes `image` as a PNG file at `url`, atomically: a reader never sees half a file.
    public static func write(_ image: PixelImage, to url: URL) throws {
        try DurableFile.write(try encode(image, name: url.path), to: url)
    }
}
