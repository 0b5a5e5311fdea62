import Foundation
import XCTest

/// `make demo`'s job, as the built binary runs it.
final class DemoCommandTests: XCTestCase {
    func testDemoPretrainsSavesReloadsExtractsAndTransfers() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try ZooBinary.run(["demo", "--data", repo.appendingPathComponent("datasets/digits").path,
                                   "--out", out.path, "--shots", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let pretrained = try XCTUnwrap(lines.first { $0.hasPrefix("1. LeNet-5 pre-trained") }, r.stdout)
        let accuracy = try XCTUnwrap(Double(pretrained.split(separator: " ").first { $0.hasSuffix("%") }!.dropLast()))
        XCTAssertGreaterThan(accuracy, 95, pretrained)
        XCTAssertTrue(lines.contains { $0.hasPrefix("2. saved") && $0.hasSuffix("bit-identical") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains("shape [896, 84]") }, r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("lenet5-digits-0to4.h5").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("f6-features-5to9.npy").path))
        XCTAssertEqual(lines.filter { $0.hasSuffix("%") && $0.hasPrefix("   ") }.count, 3, r.stdout)
    }

    func testMissingDataIsAClearError() throws {
        let r = try ZooBinary.run(["demo", "--data", "/nonexistent/digits"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent/digits"), r.stderr)
    }
}
