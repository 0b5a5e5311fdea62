import Engine
import Foundation
import TestSupport
import XCTest
@testable import WeightIO

/// Broken and hostile files: each must fail with a WeightFileError naming the file, the path
/// inside it and what was expected, without trapping and without HDF5 printing to stderr.
final class BadWeightFileTests: XCTestCase {
    /// Opens `url` (and reads it all), expecting an error at `path` whose message contains `expecting`.
    func assertRefused(_ url: URL, path: String, _ expecting: String..., file: StaticString = #filePath, line: UInt = #line) {
        let (error, stderrText) = capturingStandardError {
            expectWeightFileError({ _ = try WeightFile.read(url) }, file: file, line: line)
        }
        guard let error else { return }
        XCTAssertEqual(error.file, url.path, file: file, line: line)
        XCTAssertEqual(error.path, path, "\(error)", file: file, line: line)
        for text in expecting {
            XCTAssertTrue(error.message.contains(text), "'\(text)' missing from: \(error)", file: file, line: line)
        }
        XCTAssertEqual(stderrText, "", "nothing may reach stderr", file: file, line: line)
    }

    func copy(_ bytes: [UInt8], named name: String) throws -> URL {
        let url = try temporaryDirectory(self).appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func testStandardErrorCaptureSeesWrites() {
        // The "nothing on stderr" checks above are only as good as this capture.
        let (_, text) = capturingStandardError { fputs("HDF5-DIAG: something\n", stderr) }
        XCTAssertEqual(text, "HDF5-DIAG: something\n")
    }

    func testNotHDF5() throws {
        let url = try copy(Array("<html>not weights</html>\n".utf8), named: "page.h5")
        assertRefused(url, path: "/", "not an HDF5 file", "expected a weight file")
    }

    func testZeroBytes() throws {
        assertRefused(try copy([], named: "empty.h5"), path: "/", "empty (0 bytes)", "expected an HDF5")
    }

    func testTruncated() throws {
        let whole = try [UInt8](Data(contentsOf: weightFixture("keras2_root.h5")))
        for cut in [whole.count / 8, whole.count / 2, whole.count - 1] {
            let url = try copy(Array(whole.prefix(cut)), named: "cut\(cut).h5")
            assertRefused(url, path: "/", "damaged or truncated")
        }
    }

    func testTruncatedKerasArchive() throws {
        let whole = try [UInt8](Data(contentsOf: weightFixture("keras3_tiny.keras")))
        let url = try copy(Array(whole.prefix(whole.count / 2)), named: "cut.keras")
        let (error, stderrText) = capturingStandardError { expectWeightFileError({ _ = try WeightFile.read(url) }) }
        XCTAssertEqual(error?.file, url.path)
        XCTAssertEqual(stderrText, "")
    }

    func testWrongDtype() {
        assertRefused(weightFixture("bad_dtype.h5"), path: "/dense/dense/kernel:0", "holds int32 elements",
                      "expected float data")
    }

    func testDatasetNamedInWeightNamesButMissing() {
        assertRefused(weightFixture("bad_missing.h5"), path: "/dense/dense/bias:0", "missing: expected a dataset",
                      "listed in /dense weight_names")
    }

    func testSoftLinkRefused() {
        assertRefused(weightFixture("bad_softlink.h5"), path: "/dense/dense/bias:0", "is a soft link",
                      "expected a dataset stored in this file")
    }

    func testExternalLinkRefused() {
        // The link's target file exists beside it: it is refused, not followed.
        assertRefused(weightFixture("bad_extlink.h5"), path: "/dense/dense/bias:0", "is an external link",
                      "expected a dataset stored in this file")
    }

    func testVirtualDatasetRefused() {
        assertRefused(weightFixture("bad_virtual.h5"), path: "/dense/dense/bias:0", "virtual dataset",
                      "expected data stored in this dataset")
    }

    func testAbsurdDimensionsRefusedBeforeAllocating() {
        assertRefused(weightFixture("bad_absurd.h5"), path: "/dense/dense/kernel:0", "absurd dimensions 1099511627776 x 1048576",
                      "refused before allocating")
    }

    func testWrongShapeIsCaughtWhenLoading() throws {
        // A (144, 6) kernel is a valid dataset; the model expecting (144, 5) is what refuses it.
        let (thrown, stderrText) = capturingStandardError { () -> Error? in
            do { _ = try tinyEngineModel().loadWeights(from: weightFixture("bad_shape.h5")); return nil } catch { return error }
        }
        let error = try XCTUnwrap(thrown as? WeightLoadError)
        XCTAssertTrue(error.description.hasPrefix(weightFixture("bad_shape.h5").path + ": "))
        XCTAssertTrue(error.description.contains("expects (144, 5), the file has (144, 6) at /dense/dense/kernel:0"))
        XCTAssertEqual(stderrText, "")
    }

    func testNonFiniteIsReportedNotHidden() throws {
        let (report, stderrText) = try capturingStandardError {
            try tinyEngineModel().loadWeights(from: weightFixture("bad_nonfinite.h5"))
        }
        XCTAssertEqual(report.nonFinite.first?.path, "/dense/dense/kernel:0")
        XCTAssertEqual(report.nonFinite.first?.nanCount, 1)
        XCTAssertEqual(report.nonFinite.first?.infinityCount, 2)
        XCTAssertEqual(stderrText, "")
    }

    func testNotAKerasLayout() throws {
        // A valid HDF5 file with none of Keras's groups or attributes.
        let data = try HDF5File.makeImage(name: "x", sizeHint: 0) { root in
            try root.createDataset("something", Tensor(zeros: [2]))
        }
        let url = try copy([UInt8](data), named: "plain.h5")
        assertRefused(url, path: "/", "not a Keras weight file", "expected the attribute 'layer_names'")
    }

    func testZipWithoutWeights() throws {
        // A zip holding something else entirely (an empty archive's end-of-central-directory record
        // would not carry the local-file signature, so build a one-entry archive by hand).
        let url = try temporaryDirectory(self).appendingPathComponent("other.keras")
        try Data(oneEntryZip(name: "config.json", content: Array("{}".utf8))).write(to: url)
        let (error, stderrText) = capturingStandardError { expectWeightFileError({ _ = try WeightFile.read(url) }) }
        XCTAssertEqual(error?.path, "/")
        XCTAssertTrue(error?.message.contains("without 'model.weights.h5'") == true, "\(String(describing: error))")
        XCTAssertEqual(stderrText, "")
    }
}

/// A stored (uncompressed) zip archive with one entry.
func oneEntryZip(name: String, content: [UInt8]) -> [UInt8] {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in content {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    crc ^= 0xFFFF_FFFF
    let nameBytes = Array(name.utf8)
    let size = le32(UInt32(content.count))
    let local = [0x50, 0x4B, 0x03, 0x04] + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc) + size + size
        + le16(nameBytes.count) + le16(0) + nameBytes + content
    let central = [0x50, 0x4B, 0x01, 0x02] + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
        + size + size + le16(nameBytes.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(0) + nameBytes
    let end = [0x50, 0x4B, 0x05, 0x06] + le16(0) + le16(0) + le16(1) + le16(1) + le32(UInt32(central.count))
        + le32(UInt32(local.count)) + le16(0)
    return local + central + end
}

/// Damage that once went unnoticed: a changed weight inside a `.keras` archive, a Keras 3 layer
/// group that cannot be opened, names long enough to flood an error message.
final class DamagedWeightFileTests: XCTestCase {
    func hostile(_ name: String) -> URL { fixtureURL("hostile/\(name)") }

    func testAKerasArchiveEntryFailingItsCRCIsRefusedOnOpen() {
        let url = hostile("keras3_tiny_bad_crc.keras")
        guard let error = expectWeightFileError({ _ = try WeightFile.open(url) }) else { return }
        XCTAssertEqual(error.path, "model.weights.h5")
        XCTAssertTrue(error.message.contains("the entry is damaged"), "\(error)")
    }

    func testAKerasArchiveCompressedWithAnotherMethodSaysSo() {
        guard let error = expectWeightFileError({ _ = try WeightFile.open(hostile("keras3_tiny_bzip2.keras")) }) else { return }
        XCTAssertTrue(error.message.hasPrefix("compressed with a method other than stored or deflate"), "\(error)")
    }

    func testAKeras3LayerGroupThatCannotBeOpenedIsReportedNotSkipped() {
        let url = hostile("keras3_tiny_damaged_group.weights.h5")
        guard let error = expectWeightFileError({ _ = try WeightFile.open(url) }) else { return }
        XCTAssertTrue(error.path.hasPrefix("/layers/dense"), "\(error)")
        XCTAssertTrue(error.message.hasPrefix("damaged layer group"), "\(error)")
    }

    func testErrorsQuotingAMegabyteLayerNameStayShort() throws {
        let name = String(repeating: "n", count: 1_000_000)
        let archive = WeightArchive(layers: [LayerWeights(name: name, weights: [NamedTensor(name: "kernel", value: Tensor(zeros: [2, 2]))])])
        XCTAssertThrowsError(try WeightLoader.load(archive, into: tinyEngineModel(), options: LoadOptions(mode: .byOrder))) { error in
            XCTAssertLessThan("\(error)".count, 4000, "\(error)".prefix(300) + "...")
            XCTAssertTrue("\(error)".contains("(1000000 characters)"), "\(error)".prefix(300) + "...")
        }
        let long = WeightFileError(file: "x.h5", path: "/" + name, "no layer '\(name)'")
        XCTAssertLessThan(long.description.count, 3000)
    }
}
