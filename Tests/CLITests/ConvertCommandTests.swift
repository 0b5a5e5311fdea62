import Foundation
import TestSupport
import XCTest

/// `zoo convert` on a Keras full-model file, and killed mid-save with SIGKILL.
final class ConvertCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory(self) }

    func fixture(_ path: String) -> String { fixtureURL(path).path }

    func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() }

    /// Keras's `model.save('x.h5')` of ResNet50 holds a 152 KB `model_config`, over HDF5's 64 KB
    /// limit for a fixed-length attribute (tools/make_full_model_fixture.py).
    func testConvertsAKerasFullModelFileOfResNet50() throws {
        let out = directory.appendingPathComponent("resnet50.h5").path
        let r = try ZooBinary.run(["convert", fixture("weights/keras_resnet50_full.h5"), out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let inspected = try ZooBinary.run(["inspect", out])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("Total params: 8,045 in 107 layers with weights"), inspected.stdout)
        XCTAssertEqual(try files(), ["resnet50.h5"])
    }

    /// `kill -9` in the middle of a save leaves the previous output whole and a temporary file,
    /// which the next run removes once the killed process is gone.
    func testConvertKilledMidSaveKeepsThePreviousFileAndTheNextRunCleansUp() throws {
        let source = fixture("zoo/resnet50-keras/weights.h5")
        let out = directory.appendingPathComponent("out.h5")
        let first = try ZooBinary.run(["convert", source, out.path])
        XCTAssertEqual(first.status, 0, first.stderr)
        let before = try Data(contentsOf: out)

        let killed = try ZooBinary.run(["convert", source, out.path], environment: ["ZOO_TEST_KILL_DURING_SAVE": "49152"])
        XCTAssertEqual(killed.status, SIGKILL, "killed 48 KB into the weights: \(killed.stderr)")
        XCTAssertEqual(try Data(contentsOf: out), before, "the killed save did not touch the previous file")
        let leftovers = try files().filter { $0.hasPrefix(".out.h5.") && $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers.count, 1, "a temporary file beside out.h5: \(leftovers)")
        let size = try leftovers.first.map { try Data(contentsOf: directory.appendingPathComponent($0)).count } ?? 0
        XCTAssertTrue(size >= 49152 && size < before.count, "\(size) bytes: the process died mid-write")

        let next = try ZooBinary.run(["convert", source, out.path])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertEqual(try files(), ["out.h5"], "the dead process's temporary file is gone")
        XCTAssertEqual(try Data(contentsOf: out), before, "the same weights give the same bytes")
    }

    /// `zoo convert` to .safetensors: torchvision's keys from a torch.save file of a torchvision twin,
    /// Keras's names from a Keras twin's .h5; each file runs back to its reference framework's output.
    func testConvertsToSafetensorsThatRunBack() throws {
        let cases: [(source: String, twin: String, shape: [String], keys: String)] = [
            (fixture("foreign/resnet50.pth"), "resnet50", ["--channel-divisor", "32"], "layer1.0.conv1"),
            (fixture("zoo/vgg16/weights.h5"), "vgg16", ["--model", "vgg16", "--channel-divisor", "32", "--hidden-units", "64"],
             "block1_conv1"),
        ]
        for c in cases {
            let out = directory.appendingPathComponent("\(c.twin).safetensors").path
            let converted = try ZooBinary.run(["convert", c.source, out] + (c.twin == "resnet50" ? c.shape : []))
            XCTAssertEqual(converted.status, 0, converted.stderr)
            XCTAssertTrue(converted.stdout.contains("wrote \(out) (safetensors)"), converted.stdout)
            let inspected = try ZooBinary.run(["inspect", out])
            XCTAssertTrue(inspected.stdout.contains("safetensors") && inspected.stdout.contains("\n\(c.keys)\n"), inspected.stdout)
            let y = directory.appendingPathComponent("\(c.twin).npy")
            let twin = fixtureURL("zoo/\(c.twin)")
            let run = try ZooBinary.run(["run", "--weights", out, "--input", twin.appendingPathComponent("input.npy").path,
                                         "--out", y.path] + c.shape)
            XCTAssertEqual(run.status, 0, run.stderr)
            try assertMatches(y, twin.appendingPathComponent("output.npy"))
        }
    }

    /// A safetensors save killed mid-stream leaves no output and one temporary, which the next run removes.
    func testSafetensorsSaveKilledMidStreamLeavesNoOutput() throws {
        let source = fixture("zoo/resnet50-keras/weights.h5")
        let out = directory.appendingPathComponent("out.safetensors")
        let killed = try ZooBinary.run(["convert", source, out.path], environment: ["ZOO_TEST_KILL_DURING_SAVE": "49152"])
        XCTAssertEqual(killed.status, SIGKILL, killed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        let left = try files()
        XCTAssertEqual(left.filter { $0.hasPrefix(".out.safetensors.") && $0.hasSuffix(".tmp") }.count, 1, "\(left)")
        let next = try ZooBinary.run(["convert", source, out.path])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertEqual(try files(), ["out.safetensors"])
    }
}
