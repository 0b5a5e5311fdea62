import Foundation
import TestSupport
import XCTest

/// `zoo run` and `zoo inspect` on PyTorch and safetensors files of the torchvision twins
/// (tools/make_foreign_fixtures.py), against PyTorch's outputs: no --model, the keys say it.
final class ForeignWeightCommandTests: XCTestCase {
    var directory: URL!
    let fixtures = fixtureURL("")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-foreign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func testInspectShowsAForeignFile() throws {
        let r = try ZooBinary.run(["inspect", fixtures.appendingPathComponent("foreign/resnet50.pth").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("PyTorch zip archive"), r.stdout)
        XCTAssertTrue(r.stdout.contains("layer1.0.conv1") && r.stdout.contains("float32"), r.stdout)
    }

    func testForbiddenGlobalIsOneClearError() throws {
        let url = fixtures.appendingPathComponent("foreign/evil.pth")
        let r = try ZooBinary.run(["predict", "--weights", url.path, url.path], directory: directory)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("'posix.system'") && r.stderr.contains(url.path), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }
}

extension RunCommandTests {
    /// No --model: the keys say the architecture.
    func testTwinsRunFromPyTorchAndSafetensorsFiles() throws {
        for (file, twin, divisor, hidden) in [("resnet34-legacy.pth", "resnet34", "32", nil),
                                              ("googlenet.safetensors", "googlenet", "16", nil),
                                              ("vgg16-bn-timm.safetensors", "vgg16-bn", "32", "32")] {
            let dir = self.twin(twin)
            let out = directory.appendingPathComponent("\(twin).npy")
            let r = try ZooBinary.run(["run", "--channel-divisor", divisor] + (hidden.map { ["--hidden-units", $0] } ?? [])
                + ["--weights", fixtureURL("foreign/\(file)").path,
                   "--input", dir.appendingPathComponent("input.npy").path, "--out", out.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("Loaded") && r.stderr.contains("layers loaded"), r.stderr)
            try assertMatches(out, dir.appendingPathComponent("output.npy"))
        }
    }

    /// A bare torchvision GoogLeNet file runs with transform_input off (torchvision's constructor
    /// default); --transform-input gives PyTorch's googlenet(transform_input=True) on the same weights
    /// (tools/make_transform_input_fixture.py). Other architectures have no such option.
    func testTransformInputFlagOnABareGoogLeNetFile() throws {
        let dir = twin("googlenet"), input = dir.appendingPathComponent("input.npy").path
        let weights = fixtureURL("foreign/googlenet.safetensors").path
        let out = directory.appendingPathComponent("t.npy")
        let on = try ZooBinary.run(["run", "--channel-divisor", "16", "--weights", weights, "--transform-input",
                                    "--input", input, "--out", out.path])
        XCTAssertEqual(on.status, 0, on.stderr)
        try assertMatches(out, fixtureURL("foreign/googlenet-transform-input-output.npy"))
        let off = try ZooBinary.run(["run", "--channel-divisor", "16", "--weights", weights, "--input", input, "--out", out.path])
        XCTAssertEqual(off.status, 0, off.stderr)
        try assertMatches(out, dir.appendingPathComponent("output.npy"))

        let resnet = try ZooBinary.run(["run", "--channel-divisor", "32", "--weights", fixtureURL("foreign/resnet50.pth").path,
                                        "--transform-input", "--input", input, "--out", out.path])
        XCTAssertNotEqual(resnet.status, 0)
        XCTAssertTrue(resnet.stderr.contains("resnet50 has no transform_input"), resnet.stderr)
    }
}
