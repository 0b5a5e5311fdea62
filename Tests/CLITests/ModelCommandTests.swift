import Foundation
import TestSupport
import XCTest

/// `zoo list`, `summary`, `inspect` and `convert` as a user runs them.
final class ModelCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func fixture(_ path: String) -> String {
        fixtureURL(path).path
    }

    func testListShowsEveryArchitectureWithItsReferenceCount() throws {
        let r = try ZooBinary.run(["list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("vgg16 ") && $0.contains("138,357,544") && $0.contains("224x224x3") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("resnet50-keras ") && $0.contains("25,636,712") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("googlenet ") && $0.contains("6,624,904") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 ") && $0.contains("61,706") && $0.contains("32x32x1") }, r.stdout)
        XCTAssertEqual(lines.count, 19, "a header and 18 architectures")
    }

    func testSummaryWithOptions() throws {
        let r = try ZooBinary.run(["summary", "resnet50", "--no-top", "--pooling", "avg", "--input-size", "160x160"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("avg_pool (GlobalAveragePooling2D)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("(None, 2048)"))
        XCTAssertTrue(r.stdout.contains("conv5_block3_out (Activation)             (None, 5, 5, 2048)")
                      || r.stdout.contains("(None, 5, 5, 2048)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Trainable params: 23,508,032"), r.stdout)   // torchvision resnet50 without fc
        XCTAssertFalse(r.stdout.contains("predictions"))
        let bad = try ZooBinary.run(["summary", "vgg16", "--input-size", "16x16"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("32x32"), bad.stderr)
    }

    func testInspectAndConvertBetweenFormats() throws {
        let source = fixture("weights/keras3_tiny.weights.h5")
        let inspected = try ZooBinary.run(["inspect", source])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("Keras 3 .weights.h5"), inspected.stdout)
        XCTAssertTrue(inspected.stdout.contains("(3, 3, 3, 4)"))
        XCTAssertTrue(inspected.stdout.contains("Total params: 853"), inspected.stdout)

        let legacy = directory.appendingPathComponent("tiny.h5").path
        let converted = try ZooBinary.run(["convert", source, legacy, "--format", "keras-h5"])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        let again = try ZooBinary.run(["inspect", legacy])
        XCTAssertTrue(again.stdout.contains("Keras legacy HDF5"), again.stdout)
        XCTAssertTrue(again.stdout.contains("Total params: 853"), again.stdout)
    }

    func testInspectOfACorruptFileIsAClearError() throws {
        let junk = directory.appendingPathComponent("junk.h5")
        try Data("not an hdf5 file at all".utf8).write(to: junk)
        let r = try ZooBinary.run(["inspect", junk.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(junk.path), r.stderr)
        XCTAssertFalse(r.stderr.contains("HDF5-DIAG"), "no HDF5 error stack: \(r.stderr)")
    }
}
