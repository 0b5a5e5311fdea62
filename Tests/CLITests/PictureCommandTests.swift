import Foundation
import TestSupport
import XCTest

/// `zoo filters` and `zoo activations` as the built binary runs them on the shipped LeNet-5.
final class PictureCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory(self) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    static let weights = repositoryRoot.appendingPathComponent("weights/lenet5-digits.h5").path

    /// A PNG file's (width, height) from its IHDR chunk.
    func pngSize(_ url: URL) throws -> [Int] {
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.prefix(4)), [0x89, 0x50, 0x4E, 0x47], url.path)
        return [16, 20].map { o in data[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
    }

    func testFiltersDrawsTheFirstConvolutionOrTheOneNamed() throws {
        let first = directory.appendingPathComponent("c1.png"), named = directory.appendingPathComponent("c3.png")
        var r = try ZooBinary.run(["filters", "--weights", Self.weights, "--out", first.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("6 of 6 kernels of c1 (5x5)"), r.stdout)
        // One input channel: a row per filter of one 20-pixel tile (5x5 values, 4 pixels each).
        XCTAssertEqual(try pngSize(first), [22, 6 * 21 + 1])
        r = try ZooBinary.run(["filters", "--weights", Self.weights, "--layer", "c3", "--out", named.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("96 of 96 kernels of c3"), r.stdout)
        XCTAssertEqual(try pngSize(named), [6 * 21 + 1, 16 * 21 + 1], "16 filters x 6 input channels")
        r = try ZooBinary.run(["filters", "--weights", Self.weights, "--layer", "f6", "--out", named.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("has no convolution 'f6'; convolutions: c1, c3, c5"), r.stderr)
    }

    func testActivationsDrawsALayersMapsForAnImage() throws {
        let out = directory.appendingPathComponent("maps.png")
        let image = fixtureURL("images/gray.png").path
        var r = try ZooBinary.run(["activations", "--weights", Self.weights, "--layer", "c1", image, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("6 of 6 feature maps of c1"), r.stdout)
        // c1's 28x28 maps drawn 1:1 in a 3x2 grid.
        XCTAssertEqual(try pngSize(out), [3 * 29 + 1, 2 * 29 + 1])
        r = try ZooBinary.run(["activations", "--weights", Self.weights, "--layer", "f6", image, "--out", out.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("choose a convolutional layer"), r.stderr)
    }
}
