import Foundation
import XCTest

/// A float32 `.npy` file's shape and values, read here independently of the engine, so tests check
/// what the `zoo` binary wrote without trusting the reader under test.
public func readFloat32NPY(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws
    -> (shape: [Int], values: [Float]) {
    let data = try Data(contentsOf: url)
    let headerLength = Int(data[8]) | Int(data[9]) << 8
    let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
    XCTAssertTrue(header.contains("'<f4'"), header, file: file, line: line)
    let shapeText = header.components(separatedBy: "(")[1].components(separatedBy: ")")[0]
    let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    return (shape, data[(10 + headerLength)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
}

/// Asserts that the float32 `.npy` file `ours` (what the binary wrote) matches `reference` within
/// the parity tolerance, 1e-4 of the reference's scale.
public func assertMatches(_ ours: URL, _ reference: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let a = try readFloat32NPY(ours), b = try readFloat32NPY(reference)
    XCTAssertEqual(a.shape, b.shape, file: file, line: line)
    let scale = max(1, b.values.map(abs).max() ?? 1)
    let diff = zip(a.values, b.values).map { abs($0 - $1) }.max() ?? .infinity
    XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "max |diff| \(diff)", file: file, line: line)
}
