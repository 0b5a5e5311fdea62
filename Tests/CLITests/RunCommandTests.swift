import Foundation
import TestSupport
import XCTest

/// `zoo run` on the narrow twins' real weight files, against the reference frameworks' outputs.
final class RunCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func twin(_ name: String) -> URL {
        fixtureURL("zoo/\(name)")
    }

    func testKerasResNetTwinThroughTheBinary() throws {
        let dir = twin("resnet50-keras")
        for weights in ["weights.h5", "weights.weights.h5"] {
            let out = directory.appendingPathComponent("y.npy")
            let r = try ZooBinary.run(["run", "--model", "resnet50-keras", "--channel-divisor", "32",
                                       "--weights", dir.appendingPathComponent(weights).path,
                                       "--input", dir.appendingPathComponent("input.npy").path, "--out", out.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("Loaded"), "the load report is shown: \(r.stderr)")
            try assertMatches(out, dir.appendingPathComponent("output.npy"))
            let tap = directory.appendingPathComponent("tap.npy")
            let t = try ZooBinary.run(["run", "--model", "resnet50-keras", "--channel-divisor", "32", "--layer", "avg_pool",
                                       "--weights", dir.appendingPathComponent(weights).path,
                                       "--input", dir.appendingPathComponent("input.npy").path, "--out", tap.path])
            XCTAssertEqual(t.status, 0, t.stderr)
            try assertMatches(tap, dir.appendingPathComponent("tap_avg_pool.npy"))
        }
    }

    func testTorchvisionTwinThroughTheConverterAndTheBinary() throws {
        let dir = twin("googlenet")
        let out = directory.appendingPathComponent("y.npy")
        let r = try ZooBinary.run(["run", "--model", "googlenet", "--channel-divisor", "16",
                                   "--weights", dir.appendingPathComponent("weights.h5").path,
                                   "--input", dir.appendingPathComponent("input.npy").path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertMatches(out, dir.appendingPathComponent("output.npy"))
    }

    /// The Caffe twins as caffemodels (tools/make_caffe_fixtures.py), against PyTorch's logits.
    func testCaffeModelsThroughTheBinary() throws {
        let caffe = fixtureURL("caffe")
        for (file, model, hidden, logits) in [("alexnet-caffe.caffemodel", "alexnet-caffe", ["--hidden-units", "64"], "fc8"),
                                              ("alexnet-caffe-v1.caffemodel", "alexnet-caffe", ["--hidden-units", "64"], "fc8"),
                                              ("googlenet-caffe.caffemodel", "googlenet-caffe", [], "loss3_classifier")] {
            let dir = twin(model)
            let out = directory.appendingPathComponent("y.npy")
            let r = try ZooBinary.run(["run", "--model", model, "--channel-divisor", "16"] + hidden
                                      + ["--weights", caffe.appendingPathComponent(file).path,
                                         "--input", dir.appendingPathComponent("input.npy").path, "--out", out.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("(Caffe .caffemodel) by name"), r.stderr)
            try assertMatches(out, dir.appendingPathComponent("tap_\(logits).npy"))
        }
    }

    func testWrongFlavourAndBadInputAreClearErrors() throws {
        let dir = twin("resnet50")
        let r = try ZooBinary.run(["run", "--model", "resnet50-keras", "--channel-divisor", "32",
                                   "--weights", dir.appendingPathComponent("weights.h5").path,
                                   "--input", dir.appendingPathComponent("input.npy").path,
                                   "--out", directory.appendingPathComponent("y.npy").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--model resnet50"), r.stderr)
        let junk = directory.appendingPathComponent("x.npy")
        try Data("garbage".utf8).write(to: junk)
        let bad = try ZooBinary.run(["run", "--model", "resnet18", "--input", junk.path,
                                     "--out", directory.appendingPathComponent("y.npy").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains(junk.path), bad.stderr)
    }
}
