import Engine
import Foundation
import XCTest

/// `.npy` headers and shapes as untrusted input: what `numpy.load` (2.4) refuses is refused, sizes
/// that overflow or exceed the limit are refused before anything is allocated.
final class NPYHeaderTests: XCTestCase {
    /// A version 1.0 file with `header` padded as NumPy pads it, and `body`.
    func file(_ header: String, body: Data = Data(count: 64), version: (UInt8, UInt8) = (1, 0)) -> Data {
        var h = Array(header.utf8)
        h += Array(repeating: UInt8(ascii: " "), count: (64 - (10 + h.count + 1) % 64) % 64) + [UInt8(ascii: "\n")]
        return Data([0x93] + Array("NUMPY".utf8) + [version.0, version.1, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h) + body
    }

    func refusal(_ data: Data) -> String? {
        do { _ = try NPY.decode(data, file: "x.npy"); return nil } catch { return "\(error)" }
    }

    func testShapesWhoseCountOrByteSizeOverflowAreRefused() throws {
        for shape in ["(4294967296, 4294967296, 1, 1)", "(4611686018427387904, 1, 1, 1)", "(9223372036854775807, 2)",
                      "(99999999999999999999999,)"] {
            let message = refusal(file("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"))
            XCTAssertNotNil(message, shape)
            XCTAssertTrue(message?.hasPrefix("x.npy: ") == true, message ?? "")
        }
        let large = refusal(file("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }"))
        XCTAssertTrue(large?.contains("more than 2147483648 elements") == true, large ?? "")
    }

    /// Each header here is one `numpy.load` refuses, with NumPy's reason in the name.
    func testHeadersNumPyRefusesAreRefused() {
        let refused = [
            "missing key": "{'descr': '<f4', 'fortran_order': False, }",
            "extra key": "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }",
            "shape is an int": "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }",
            "shape is a list": "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }",
            "shape of floats": "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
            "fortran_order not a bool": "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
            "not a dict": "['descr', '<f4']",
            "text after the dict": "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x",
            "negative dimension": "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
        ]
        for (what, header) in refused { XCTAssertNotNil(refusal(file(header)), what) }
        XCTAssertNotNil(refusal(file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", version: (1, 1))),
                        "version 1.1")
        let long = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '" + String(repeating: "k", count: 20_000) + "': 1}"
        XCTAssertTrue(refusal(file(long))?.contains("NumPy refuses headers over 10000") == true)
    }

    func testHeadersNumPyAcceptsAreRead() throws {
        let body = Data([0, 0, 128, 63, 0, 0, 0, 64])   // 1.0, 2.0 as little-endian float32
        let reordered = try NPY.decode(file("{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", body: body))
        XCTAssertEqual(reordered.scalars, [1, 2])
        let doubleQuoted = try NPY.decode(file("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 2), }", body: body))
        XCTAssertEqual(doubleQuoted.shape, [1, 2])
        let scalar = try NPY.decode(file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", body: body))
        XCTAssertEqual(scalar.scalars, [1])
    }

    func testErrorsQuoteTheFileCutToAReadableLength() {
        let dtype = String(repeating: "x", count: 5000)
        let message = refusal(file("{'descr': '\(dtype)', 'fortran_order': False, 'shape': (2,), }")) ?? ""
        XCTAssertTrue(message.contains("unsupported dtype"), message)
        XCTAssertLessThan(message.count, 300, message)
    }

    func testACorruptArchiveDirectoryEntryIsAnErrorNotATrap() throws {
        var archive = try NPZ.encode([(name: "w", tensor: Tensor(shape: [2], scalars: [1, 2]))])
        // The central directory entry's name length, raised past the end of the archive.
        let central = archive.count - 22 - (46 + 5)
        archive[archive.startIndex + central + 28] = 0xFF
        archive[archive.startIndex + central + 29] = 0xFF
        XCTAssertThrowsError(try NPZ.decode(archive))
    }
}
