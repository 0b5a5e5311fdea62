import Engine
import Foundation
@testable import Transfer
import XCTest

/// Decoding every fixture against the pixels Pillow decodes for it.
final class ImageDecodingTests: XCTestCase {
    static let decodable = ["photo.jpg", "progressive.jpg", "grayscale.jpg", "cmyk.jpg", "exif6.jpg", "rgb.png",
                            "rgba.png", "gray.png", "gray_alpha.png", "gray4.png", "palette.png", "rgb16.png"]

    func testEveryFixtureDecodesAsPillowDoesInRGBAndGray() throws {
        for name in Self.decodable {
            let stem = String(name.split(separator: ".")[0])
            let rgb = try ImageDecoder.decode(contentsOf: imageFixture(name), channels: 3)
            XCTAssertEqual(rgb.channels, 3, name)
            try assertMatches(rgb, stem + "_rgb")
            let gray = try ImageDecoder.decode(contentsOf: imageFixture(name), channels: 1)
            XCTAssertEqual(gray.channels, 1, name)
            try assertMatches(gray, stem + "_l")
        }
    }

    func testPNGsAreLosslessSoTheyMatchExactly() throws {
        for name in Self.decodable where name.hasSuffix(".png") {
            let stem = String(name.split(separator: ".")[0])
            for (channels, suffix) in [(3, "_rgb"), (1, "_l")] {
                let image = try ImageDecoder.decode(contentsOf: imageFixture(name), channels: channels)
                XCTAssertEqual(maxDifference(tensor(image), try referencePixels(stem + suffix)), 0, name + suffix)
            }
        }
    }

    func testJPEGDecodingMatchesPillowsLibjpegTurbo() throws {
        // Same IDCT (ISLOW) and upsampling defaults as Pillow: the pixels agree exactly, not just within 1.
        for name in ["photo.jpg", "progressive.jpg", "grayscale.jpg"] {
            let stem = String(name.split(separator: ".")[0])
            let image = try ImageDecoder.decode(contentsOf: imageFixture(name), channels: 3)
            XCTAssertEqual(maxDifference(tensor(image), try referencePixels(stem + "_rgb")), 0, name)
        }
    }

    func testGrayscaleIsPillowsFixedPointLuma() {
        let rgb = PixelImage(height: 1, width: 4, channels: 3,
                             pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 33])
        let gray = rgb.converted(toChannels: 1)
        // (19595 R + 38470 G + 7471 B + 32768) >> 16
        XCTAssertEqual(gray.pixels, [76, 150, 29, (10 * 19595 + 200 * 38470 + 33 * 7471 + 32768) >> 16].map(UInt8.init))
        XCTAssertEqual(gray.converted(toChannels: 3).pixels, [76, 76, 76, 150, 150, 150, 29, 29, 29, 124, 124, 124])
    }

    func testSixteenBitGrayKeepsTheHighByte() throws {
        // Pillow's convert('L') clips 16-bit gray to 255 (all white); ConvZoo keeps the high byte,
        // as Pillow itself does for 16-bit RGB (rgb16.png above).
        let gray = try ImageDecoder.decode(contentsOf: imageFixture("gray16.png"), channels: 1)
        XCTAssertEqual(maxDifference(tensor(gray), try referencePixels("gray16_highbyte")), 0)
        let rgb = try ImageDecoder.decode(contentsOf: imageFixture("gray16.png"), channels: 3)
        XCTAssertEqual(rgb.converted(toChannels: 1), gray)
    }

    func testFormatComesFromTheContentNotTheName() throws {
        let data = try Data(contentsOf: imageFixture("rgb.png"))
        let image = try ImageDecoder.decode(data, name: "misnamed.jpg", channels: 3)
        try assertMatches(image, "rgb_rgb", tolerance: 0)
        XCTAssertEqual(data.withUnsafeBytes { ImageFormat.sniff($0) }, .png)
    }

    func testTruncatedJPEGIsAnErrorNamingTheFile() {
        let url = imageFixture("truncated.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url)) { error in
            guard let e = error as? ImageError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .truncated)
            XCTAssertTrue(e.description.contains(url.path), e.description)
            XCTAssertTrue(e.description.contains("truncated"), e.description)
        }
    }

    func testTruncatedPNGIsAnErrorNamingTheFile() throws {
        let data = try Data(contentsOf: imageFixture("rgb.png"))
        XCTAssertThrowsError(try ImageDecoder.decode(data.prefix(data.count / 2), name: "half.png")) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .truncated)
            XCTAssertTrue("\(error)".hasPrefix("half.png: truncated"), "\(error)")
        }
    }

    func testNotAnImageIsAnErrorNamingTheFile() {
        let url = imageFixture("not_an_image.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url)) { error in
            guard let e = error as? ImageError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .notAnImage)
            XCTAssertTrue(e.description.hasPrefix(url.path + ": not a JPEG or PNG image"), e.description)
        }
    }

    func testEmptyMissingAndDamagedFilesAreErrorsNotTraps() throws {
        XCTAssertEqual(error(try ImageDecoder.decode(Data(), name: "empty.png"))?.kind, .empty)
        XCTAssertEqual(error(try ImageDecoder.decode(contentsOf: imageFixture("no-such-file.jpg")))?.kind, .unreadable)
        var png = [UInt8](try Data(contentsOf: imageFixture("rgb.png")))
        png[40] ^= 0xFF  // inside IDAT: the chunk's CRC no longer matches
        XCTAssertEqual(error(try ImageDecoder.decode(Data(png), name: "bad-crc.png"))?.kind, .corrupt)
        var jpeg = [UInt8](try Data(contentsOf: imageFixture("photo.jpg")))
        for i in 2..<40 { jpeg[i] = 0xFF }  // markers destroyed
        XCTAssertNotNil(error(try ImageDecoder.decode(Data(jpeg), name: "bad.jpg")))
        XCTAssertEqual(error(try ImageDecoder.decode(Data([0xFF, 0xD8, 0xFF]), name: "stub.jpg"))?.kind, .truncated)
        XCTAssertEqual(error(try ImageDecoder.decode(contentsOf: imageFixture("rgb.png"), channels: 4))?.kind, .unsupported)
    }

    private func error(_ body: @autoclosure () throws -> PixelImage) -> ImageError? {
        do { _ = try body(); return nil } catch { return error as? ImageError }
    }
}
