import Engine
import Foundation
import TestSupport
import XCTest
@testable import WeightIO

/// The format-neutral tensor reader: layout conversions against their index definitions, element
/// types, strides, window refills, and refusals before any allocation.
final class StoredTensorTests: XCTestCase {
    /// A file holding `values` as little-endian float32 after `padding` bytes.
    func file(_ values: [Float], padding: Int = 0) throws -> ReadOnlyFile {
        var bytes = [UInt8](repeating: 0xAB, count: padding)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let url = try temporaryDirectory(self).appendingPathComponent("t.bin")
        try Data(bytes).write(to: url)
        return try ReadOnlyFile(url)
    }

    func read(_ t: StoredTensor, chunkBytes: Int = 64) throws -> [Float] {
        var out = [Float](repeating: .nan, count: t.shape.reduce(1, *))
        try out.withUnsafeMutableBufferPointer { try t.read(into: $0, chunkBytes: chunkBytes) }
        return out
    }

    func testConvolutionKernelIsHWIO() throws {
        let (o, i, h, w) = (5, 3, 2, 4)
        let values = (0..<(o * i * h * w)).map { Float($0) }
        let t = try StoredTensor(file: file(values, padding: 7), path: "conv.weight", dtype: .float32,
                                 shape: [o, i, h, w], offset: 7, conversion: .convolutionKernel)
        XCTAssertEqual(t.shape, [h, w, i, o])
        let got = try read(t)
        for a in 0..<o { for b in 0..<i { for y in 0..<h { for x in 0..<w {
            XCTAssertEqual(got[((y * w + x) * i + b) * o + a], values[((a * i + b) * h + y) * w + x])
        } } } }
    }

    func testDenseKernelTransposesAndAcceptsOneByOneConvolution() throws {
        let values = (0..<12).map { Float($0) * 0.5 }
        let f = try file(values)
        for shape in [[4, 3], [4, 3, 1, 1]] {
            let t = try StoredTensor(file: f, path: "fc.weight", dtype: .float32, shape: shape, offset: 0,
                                     conversion: .denseKernel)
            XCTAssertEqual(t.shape, [3, 4])
            let got = try read(t, chunkBytes: 8)
            for a in 0..<4 { for b in 0..<3 { XCTAssertEqual(got[b * 4 + a], values[a * 3 + b]) } }
        }
    }

    func testFlattenedDenseKernelReordersInputsToHWC() throws {
        let (o, c, h, w) = (2, 3, 2, 2)
        let values = (0..<(o * c * h * w)).map { Float($0) }
        let f = try file(values)
        for shape in [[o, c * h * w], [o, c, h, w]] {
            let t = try StoredTensor(file: f, path: "classifier.0.weight", dtype: .float32, shape: shape, offset: 0,
                                     conversion: .flattenedDenseKernel(height: h, width: w))
            XCTAssertEqual(t.shape, [h * w * c, o])
            let got = try read(t)
            for a in 0..<o { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
                XCTAssertEqual(got[((y * w + x) * c + ch) * o + a], values[((a * c + ch) * h + y) * w + x])
            } } } }
        }
        XCTAssertThrowsError(try StoredTensor(file: f, path: "fc", dtype: .float32, shape: [o, 7], offset: 0,
                                              conversion: .flattenedDenseKernel(height: h, width: w)))
    }

    func testStridedTensorReadsInLogicalOrder() throws {
        // A (3, 2) transpose of a packed (2, 3) storage: strides (1, 3) elements.
        let storage: [Float] = [0, 1, 2, 3, 4, 5]
        let t = try StoredTensor(file: file(storage), path: "t", dtype: .float32, shape: [3, 2], offset: 0, byteSteps: [4, 12])
        XCTAssertEqual(try read(t, chunkBytes: 4), [0, 3, 1, 4, 2, 5])
        // Converting keeps the strides: the (3, 2) transpose transposed again is the storage.
        XCTAssertEqual(try read(t.converted(.denseKernel)), storage)
    }

    func testElementTypes() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("types.bin")
        var bytes: [UInt8] = []
        func append<T>(_ v: T) { withUnsafeBytes(of: v) { bytes += $0 } }
        append(Float16(1.5).bitPattern); append(Float16(-2).bitPattern)
        append(UInt16(Float(3.25).bitPattern >> 16)); append(UInt16(Float(-0.5).bitPattern >> 16))
        append(Double(0.125).bitPattern); append(Double(-7).bitPattern)
        append(Int64(42)); append(Int64(-3))
        append(Float(9).bitPattern.bigEndian)
        try Data(bytes).write(to: url)
        let f = try ReadOnlyFile(url)
        let cases: [(StoredDType, Int, [Float])] = [(.float16, 0, [1.5, -2]), (.bfloat16, 4, [3.25, -0.5]),
                                                   (.float64, 8, [0.125, -7]), (.int64, 24, [42, -3])]
        for (dtype, offset, expected) in cases {
            XCTAssertEqual(try read(StoredTensor(file: f, path: "t", dtype: dtype, shape: [2], offset: offset)), expected)
        }
        XCTAssertEqual(try read(StoredTensor(file: f, path: "t", dtype: .float32, bigEndian: true, shape: [], offset: 40)), [9])
    }

    func testRefusals() throws {
        let f = try file([1, 2, 3, 4])
        func refused(_ make: @autoclosure () throws -> StoredTensor, _ text: String, line: UInt = #line) {
            guard let e = expectWeightFileError({ _ = try make() }, line: line) else { return }
            XCTAssertEqual(e.file, f.name, line: line)
            XCTAssertEqual(e.path, "k", line: line)
            XCTAssertTrue(e.message.contains(text), "\(e)", line: line)
        }
        refused(try StoredTensor(file: f, path: "k", dtype: .float32, shape: [5], offset: 0), "needs bytes 0..<20")
        refused(try StoredTensor(file: f, path: "k", dtype: .float32, shape: [2], offset: 0, region: 0..<4), "storage is bytes 0..<4")
        refused(try StoredTensor(file: f, path: "k", dtype: .float32, shape: [1 << 40, 1 << 40], offset: 0), "absurd dimensions")
        refused(try StoredTensor(file: f, path: "k", dtype: .float32, shape: [3], offset: 0, byteSteps: [Int.max / 2 + 1]), "overflow")
        refused(try StoredTensor(file: f, path: "k", dtype: .float32, shape: [4], offset: 0, conversion: .convolutionKernel),
                "expected a 4-D convolution weight")
        refused(try StoredTensor(file: f, path: "k", dtype: .float32, shape: [2, 2, 1, 1], offset: 0, byteSteps: [4, 8, 4, 4],
                                 conversion: .denseKernel), "non-contiguous")
    }
}
