import Engine
import Foundation
@testable import Transfer
import XCTest
@_exported import TestSupport

/// A file in Tests/Fixtures/images/.
func imageFixture(_ name: String) -> URL { fixtureURL("images/" + name) }

/// A reference array (H, W, C) of pixel values written by tools/make_image_fixtures.py.
func referencePixels(_ name: String) throws -> Tensor { try NPY.read(imageFixture(name + ".npy")) }

/// `image` as a float32 (H, W, C) tensor.
func tensor(_ image: PixelImage) -> Tensor {
    Tensor(shape: [image.height, image.width, image.channels], scalars: image.pixels.map(Float.init))
}

/// Asserts equal shapes and |a - b| <= tolerance everywhere; reports the worst element.
func assertPixelsClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shapes differ", file: file, line: line)
    guard a.shape == b.shape else { return }
    var worst: Float = 0, at = 0
    for i in 0..<a.count where abs(a[flat: i] - b[flat: i]) > worst { worst = abs(a[flat: i] - b[flat: i]); at = i }
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): max |difference| \(worst) at flat index \(at) "
        + "(\(a[flat: at]) vs \(b[flat: at]))", file: file, line: line)
}

/// Asserts `image` matches the reference array `name` within `tolerance`.
func assertMatches(_ image: PixelImage, _ name: String, tolerance: Float = 1,
                   file: StaticString = #filePath, line: UInt = #line) throws {
    assertPixelsClose(tensor(image), try referencePixels(name), tolerance: tolerance, name, file: file, line: line)
}

/// The largest absolute difference, for tests that want exact matches where exactness is expected.
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape)
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a[flat: i] - b[flat: i])) }
    return worst
}
