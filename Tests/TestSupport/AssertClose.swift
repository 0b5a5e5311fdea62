import Engine
import XCTest

/// Asserts max |a - b| <= tolerance x max(1, max |b|): the project's parity tolerance (1e-4 of the
/// reference's scale by default).
public func assertClose(_ a: Tensor, _ b: Tensor, relative tolerance: Float = 1e-4, _ what: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shapes differ", file: file, line: line)
    guard a.shape == b.shape else { return }
    var maxDiff: Float = 0, scale: Float = 1
    for i in 0..<a.count {
        maxDiff = max(maxDiff, abs(a[flat: i] - b[flat: i]))
        scale = max(scale, abs(b[flat: i]))
    }
    XCTAssertLessThanOrEqual(maxDiff, tolerance * scale, "\(what): max abs diff \(maxDiff), scale \(scale)",
                             file: file, line: line)
}
