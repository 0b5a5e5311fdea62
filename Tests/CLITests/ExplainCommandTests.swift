import Foundation
import TestSupport
import XCTest

/// `zoo explain` as the built binary runs it: the raw maps against PyTorch's Grad-CAM
/// (tools/make_gradcam_fixtures.py) and the overlays' files and sizes.
final class ExplainCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory(self) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A PNG file's (width, height) from its IHDR chunk.
    func pngSize(_ url: URL) throws -> (Int, Int) {
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], url.path)
        let be = { (o: Int) in data[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }

    func testMapsThroughTheBinaryMatchPyTorchGradCAM() throws {
        let input = fixtureURL("gradcam/resnet18_input.npy")
        let weights = fixtureURL("zoo/resnet18/weights.h5").path
        for (classArguments, expected) in [([String](), "resnet18"), (["--class", "9"], "resnet18_other")] {
            let maps = directory.appendingPathComponent("\(expected).npy")
            let r = try ZooBinary.run(["explain", "--weights", weights, "--model", "resnet18", "--channel-divisor", "16",
                                       "--input", input.path, "--out", directory.path, "--maps", maps.path] + classArguments)
            XCTAssertEqual(r.status, 0, r.stderr)
            let ours = try readFloat32NPY(maps), reference = try readFloat32NPY(fixtureURL("gradcam/\(expected).npy"))
            XCTAssertEqual(ours.shape, [2, 2, 2])
            XCTAssertEqual(ours.shape, reference.shape)
            let scale = reference.values.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0)
            let diff = zip(ours.values, reference.values).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "\(expected): max |diff| \(diff), scale \(scale)")
            XCTAssertTrue(r.stdout.contains("at conv5_block2_out"), r.stdout)
            XCTAssertTrue(r.stdout.contains(classArguments.isEmpty ? "[0]: 8 (" : "[0]: 9 ("), r.stdout)
        }
        for i in 0..<2 {
            let (width, height) = try pngSize(directory.appendingPathComponent("resnet18_input-\(i)-gradcam.png"))
            XCTAssertEqual(width, 48)
            XCTAssertEqual(height, 48 + 14, "the image as the model saw it under a caption line")
        }
    }

    func testImagesGiveOverlaysOfTheResizedImageNamedByClass() throws {
        let weights = fixtureURL("predict/alexnet-1000.h5").path
        let twin = ["--channel-divisor", "64", "--hidden-units", "8"]
        let images = ["rgb.png", "gray.png"].map { fixtureURL("images/\($0)").path }
        let r = try ZooBinary.run(["explain", "--weights", weights, "--out", directory.path, "--class", "tench"] + twin + images)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.components(separatedBy: ": tench (").count, 3, r.stdout)
        for name in ["rgb", "gray"] {
            let (width, height) = try pngSize(directory.appendingPathComponent("\(name)-gradcam.png"))
            XCTAssertEqual([width, height], [63, 63 + 14], "the twin's 63x63 crop under a caption line")
        }
    }

    func testBadChoicesAreClearErrors() throws {
        let weights = fixtureURL("zoo/resnet18/weights.h5").path
        let input = fixtureURL("gradcam/resnet18_input.npy").path
        let base = ["explain", "--weights", weights, "--model", "resnet18", "--channel-divisor", "16", "--out", directory.path]
        let cases: [([String], String)] = [
            (["--input", input, "--class", "10"], "--class must be from 0 to 9, got 10"),
            (["--input", input, "--class", "zebra"], "--class 'zebra' is neither a class index nor a class name"),
            (["--input", input, "--layer", "conv5_block2_1_conv"], "inside block 'conv5_block2'"),
            ([], "give image files or --input x.npy"),
        ]
        for (arguments, message) in cases {
            let r = try ZooBinary.run(base + arguments)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(message), "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "nothing written on errors")
    }
}
