import CImageCodecs
import Engine
import Foundation

/// Why an image could not be read; the description names the file.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case unreadable = "cannot read the file"
        case empty = "the file is empty"
        case notAnImage = "not a JPEG or PNG image"
        case truncated = "truncated image"
        case corrupt = "corrupt image"
        case unsupported = "unsupported image"
        case tooLarge = "image too large"
    }

    public let file: String
    public let kind: Kind
    /// The detail behind `kind`, e.g. libjpeg's own message.
    public let detail: String

    public init(file: String, _ kind: Kind, _ detail: String = "") {
        self.file = file
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(file): \(kind.rawValue)" + (detail.isEmpty ? "" : " (\(detail))") }
}

/// Image file formats, told apart by their first bytes rather than by file name.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// The format whose signature `bytes` start with.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 8, zip(bytes.prefix(8), png).allSatisfy({ $0 == $1 }) { return .png }
        return nil
    }
}

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) files into the pixels Pillow gives for them.
public enum ImageDecoder {
    /// Pillow's decompression-bomb error threshold (2 x `Image.MAX_IMAGE_PIXELS`).
    public static let maximumPixels = 2 * 89_478_485

    /// Reads and decodes the image at `url`, with `channels` channels (1: gray, 3: RGB).
    /// `applyEXIF` turns the image upright by its EXIF orientation; Pillow, Keras and torchvision don't.
    public static func decode(contentsOf url: URL, channels: Int = 3, applyEXIF: Bool = false) throws -> PixelImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError(file: url.path, .unreadable, unreadableReason(url, error))
        }
        return try decode(data, name: url.path, channels: channels, applyEXIF: applyEXIF)
    }

    /// Decodes an encoded image held in memory; `name` is what errors call it.
    public static func decode(_ data: Data, name: String, channels: Int = 3, applyEXIF: Bool = false) throws -> PixelImage {
        guard channels == 1 || channels == 3 else {
            throw ImageError(file: name, .unsupported, "a model input of \(channels) channels; expected 1 or 3")
        }
        guard !data.isEmpty else { throw ImageError(file: name, .empty) }
        return try data.withUnsafeBytes { bytes -> PixelImage in
            guard let format = ImageFormat.sniff(bytes) else {
                throw ImageError(file: name, .notAnImage, "starts with bytes " + hexPrefix(bytes))
            }
            var decoded = convzoo_image()
            let base = bytes.bindMemory(to: UInt8.self).baseAddress!
            let status = format == .jpeg
                ? convzoo_decode_jpeg(base, bytes.count, Int64(maximumPixels), &decoded)
                : convzoo_decode_png(base, bytes.count, Int64(maximumPixels), &decoded)
            defer { convzoo_image_release(&decoded) }
            let detail = withUnsafeBytes(of: decoded.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            switch Int(status) {
            case Int(CONVZOO_IMAGE_OK): break
            case Int(CONVZOO_IMAGE_TRUNCATED): throw ImageError(file: name, .truncated, "\(format.rawValue.uppercased()) data end early")
            case Int(CONVZOO_IMAGE_UNSUPPORTED): throw ImageError(file: name, .unsupported, detail)
            case Int(CONVZOO_IMAGE_TOO_LARGE): throw ImageError(file: name, .tooLarge, detail)
            default: throw ImageError(file: name, .corrupt, "\(format.rawValue.uppercased()): \(detail)")
            }
            let count = Int(decoded.width) * Int(decoded.height) * Int(decoded.channels)
            var image = PixelImage(height: Int(decoded.height), width: Int(decoded.width), channels: Int(decoded.channels),
                                   pixels: Array(UnsafeBufferPointer(start: decoded.pixels, count: count)))
            if applyEXIF, let orientation = EXIFOrientation.read(bytes) {
                image = EXIFOrientation.apply(orientation, to: image)
            }
            return image.converted(toChannels: channels)
        }
    }

    private static func hexPrefix(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}
