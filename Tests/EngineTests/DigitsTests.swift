import XCTest
@testable import Engine

/// The bundled digits load as documented, and their LeNet canvas is PyTorch's bilinear upsampling.
final class DigitsTests: XCTestCase {
    func testLoadsTheBundledDigitsScaledToUnitRange() throws {
        let digits = try bundledDigits()
        XCTAssertEqual(digits.inputs.shape, [1797, 8, 8, 1])
        XCTAssertEqual(digits.classes, 10)
        XCTAssertEqual(digits.classCounts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        let values = digits.inputs.scalars
        XCTAssertEqual(values.min(), 0)
        XCTAssertEqual(values.max(), 1)
        XCTAssert(values.allSatisfy { ($0 * 16).rounded() == $0 * 16 }, "pixels are sixteenths")
    }

    func testLeNetCanvasIsPyTorchBilinearUpsamplingCentredIn32x32() throws {
        let digits = try bundledDigits()
        let canvas = try Digits.lenetCanvas(digits.subset([0, 1, 2]))
        XCTAssertEqual(canvas.inputs.shape, [3, 32, 32, 1])
        XCTAssertEqual(canvas.labels, Array(digits.labels[0..<3]))
        let expected = try NPY.read(fixtureURL("training/digits_lenet_head.npy"))
        assertClose(canvas.inputs.reshaped([3, 32, 32]), expected, relative: 1e-6, "LeNet canvas")
        for i in 0..<3 { for k in 0..<32 {
            XCTAssertEqual(canvas.inputs[i, 0, k, 0], 0, "the 2-pixel margin stays empty")
            XCTAssertEqual(canvas.inputs[i, k, 31, 0], 0)
        } }
        let full = try Digits.loadLeNet(from: digitsDirectory())
        XCTAssertEqual(full.inputs.shape, [1797, 32, 32, 1])
    }

    func testMissingOrMalformedFilesAreNamed() throws {
        let empty = try temporaryDirectory(self)
        XCTAssertThrowsError(try Digits.load(from: empty)) { XCTAssert("\($0)".contains("images.npy"), "\($0)") }
        try NPY.encode(Tensor(zeros: [5, 8, 8])).write(to: empty.appendingPathComponent("images.npy"))
        try NPY.encode(Tensor(shape: [5], scalars: [0, 1, 2, 3, 12])).write(to: empty.appendingPathComponent("labels.npy"))
        XCTAssertThrowsError(try Digits.load(from: empty)) { XCTAssert("\($0)".contains("label 12"), "\($0)") }
        XCTAssertThrowsError(try Digits.lenetCanvas(try bundledDigits().flattened()))
    }
}
