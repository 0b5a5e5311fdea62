import Foundation
import TestSupport
import XCTest

/// The process runner every CLI test uses.
final class ZooBinaryTests: XCTestCase {
    /// A child that writes far more than a pipe holds (64 KB) to stderr before its stdout ends:
    /// reading stdout to its end first would wait for ever.
    func testAChildFillingStderrBeforeStdoutEndsDoesNotDeadlock() throws {
        let result = try ZooBinary.run(["-c", "head -c 300000 /dev/zero | tr '\\000' e >&2; echo done"],
                                       executable: URL(fileURLWithPath: "/bin/sh"))
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, "done\n")
        XCTAssertEqual(result.stderr.count, 300_000)
    }
}
