import XCTest
@testable import Engine

/// `.npz` archives: numpy's own `np.savez` output reads, ours round-trips, corruption and
/// compression are reported.
final class NPZTests: XCTestCase {
    func testReadsNumpySavez() throws {
        let entries = try NPZ.read(fixtureURL("training/savez.npz"))
        XCTAssertEqual(entries.map(\.name), ["a", "conv/kernel", "b"])
        XCTAssertEqual(entries[0].tensor, Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(entries[1].tensor.shape, [3, 3, 1, 2])
        XCTAssertEqual(entries[1].tensor[flat: 0], -1)
        XCTAssertEqual(entries[1].tensor[flat: 17], 1)
        XCTAssertEqual(entries[2].tensor, Tensor(shape: [3], scalars: [1, 2, 3]))
    }

    func testRoundTripKeepsNamesOrderAndBits() throws {
        let g = RandomGenerator(seed: 1)
        let entries = [("conv/kernel", Tensor(shape: [2, 2, 1, 3], scalars: (0..<12).map { _ in g.normal() })),
                       ("0.exp_avg", Tensor(shape: [5], scalars: [.infinity, -0, 1e-40, 3, .greatestFiniteMagnitude])),
                       ("scalar", Tensor(shape: [], scalars: [7]))]
        let data = try NPZ.encode(entries)
        let back = try NPZ.decode(data)
        XCTAssertEqual(back.map(\.name), entries.map(\.0))
        XCTAssertEqual(back.map(\.tensor), entries.map(\.1))
    }

    func testCorruptionAndCompressionAreReported() throws {
        var data = try NPZ.encode([("w", Tensor(shape: [4], scalars: [1, 2, 3, 4]))])
        data[data.count / 3] ^= 0xFF
        XCTAssertThrowsError(try NPZ.decode(data, file: "w.npz")) { XCTAssert("\($0)".contains("w.npz"), "\($0)") }
        XCTAssertThrowsError(try NPZ.read(fixtureURL("training/savez_compressed.npz"))) {
            XCTAssert("\($0)".contains("compressed"), "\($0)")
        }
        XCTAssertThrowsError(try NPZ.decode(Data("not a zip".utf8))) { XCTAssert("\($0)".contains("not a zip"), "\($0)") }
    }
}
