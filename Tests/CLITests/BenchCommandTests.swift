import TestSupport
import XCTest

final class BenchCommandTests: XCTestCase {
    func testBenchPrintsSgemmAndLayerRates() throws {
        let r = try ZooBinary.run(["bench", "--batch", "1", "--seconds", "0.01", "--only", "1x1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let sgemm = try XCTUnwrap(lines.first { $0.hasPrefix("sgemm") }, r.stdout)
        XCTAssertGreaterThan(Double(sgemm.split(separator: " ")[2]) ?? 0, 0, sgemm)
        let peak = try XCTUnwrap(lines.first { $0.hasPrefix("FMA peak: ") }, r.stdout)
        XCTAssertGreaterThan(Double(peak.split(separator: " ")[2]) ?? 0, 0, peak)
        XCTAssertTrue(sgemm.hasSuffix("% of peak)"), sgemm)
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("resnet50 bottleneck 1x1") }, r.stdout)
        // name, batch, forward rate, (share), backward rate, (share)
        let numbers = row.dropFirst(25).split(separator: " ").compactMap { Double($0) }
        XCTAssertEqual(numbers.count, 3, row)
        XCTAssertEqual(numbers.first, 1)
        XCTAssertTrue(numbers.dropFirst().allSatisfy { $0 > 0 }, row)
        XCTAssertFalse(lines.contains { $0.hasPrefix("vgg16") }, "--only must filter the cases")
    }

    func testWinogradTileIsCheckedAndReported() throws {
        let bad = try ZooBinary.run(["bench", "--winograd", "3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--winograd must be 0, 2 or 4, got 3"), bad.stderr)
        let r = try ZooBinary.run(["bench", "--batch", "1", "--seconds", "0.01", "--only", "1x1", "--winograd", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("winograd: 4"), r.stdout)
    }

    func testUnknownOptionFailsWithUsage() throws {
        let r = try ZooBinary.run(["bench", "--no-such-option"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("no-such-option"), r.stderr)
    }
}
