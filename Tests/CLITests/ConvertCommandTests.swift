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
}
