import Engine
import Foundation
@testable import Transfer
import XCTest

/// EXIF orientation: read from JPEG and PNG, applied as Pillow's `ImageOps.exif_transpose`, and only when asked.
final class EXIFOrientationTests: XCTestCase {
    func testOrientationIsIgnoredUnlessAsked() throws {
        let plain = try ImageDecoder.decode(contentsOf: imageFixture("exif6.jpg"))
        XCTAssertEqual([plain.height, plain.width], [48, 64])
        try assertMatches(plain, "exif6_rgb", tolerance: 0)
    }

    func testJPEGOrientationSixTurnsTheImageUpright() throws {
        let data = try Data(contentsOf: imageFixture("exif6.jpg"))
        XCTAssertEqual(data.withUnsafeBytes { EXIFOrientation.read($0) }, 6)
        let upright = try ImageDecoder.decode(data, name: "exif6.jpg", applyEXIF: true)
        XCTAssertEqual([upright.height, upright.width], [64, 48])
        try assertMatches(upright, "exif6_upright", tolerance: 0)
    }

    func testAllEightOrientationsMatchPillow() throws {
        for k in 1...8 {
            let data = try Data(contentsOf: imageFixture("orientation\(k).png"))
            XCTAssertEqual(data.withUnsafeBytes { EXIFOrientation.read($0) }, k)
            let upright = try ImageDecoder.decode(data, name: "orientation\(k).png", applyEXIF: true)
            try assertMatches(upright, "orientation\(k)_upright", tolerance: 0)
        }
    }

    func testFilesWithoutOrientationReadNil() throws {
        for name in ["photo.jpg", "rgb.png"] {
            let data = try Data(contentsOf: imageFixture(name))
            XCTAssertNil(data.withUnsafeBytes { EXIFOrientation.read($0) }, name)
        }
        // A damaged EXIF block (offsets past the end) reads as no orientation, not a crash.
        var data = [UInt8](try Data(contentsOf: imageFixture("exif6.jpg")))
        if let i = (0..<(data.count - 6)).first(where: { data[$0..<($0 + 6)].elementsEqual("Exif\0\0".utf8) }) {
            data[i + 10] = 0x7F; data[i + 11] = 0xFF  // IFD0 offset far outside the block
        }
        XCTAssertNil(data.withUnsafeBytes { EXIFOrientation.read($0) })
    }
}
