import Foundation
import TestSupport
import XCTest
@testable import WeightIO

/// PyTorch and safetensors files that are truncated or lie: each fails with one WeightFileError
/// naming the file and what was expected, without trapping.
final class BadForeignFileTests: XCTestCase {
    static let foreign = fixtureURL("foreign")

    func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = try temporaryDirectory(self).appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func refused(_ url: URL, _ texts: String..., line: UInt = #line) {
        guard let e = expectWeightFileError({ _ = try WeightFile.read(url) }, line: line) else { return }
        XCTAssertEqual(e.file, url.path, line: line)
        for text in texts { XCTAssertTrue(e.message.contains(text), "'\(text)' missing from: \(e)", line: line) }
    }

    /// A safetensors file: the header (padded with `padding` spaces), then `data`.
    func safetensors(_ header: String, padding: Int = 0, data: Int) -> [UInt8] {
        let json = Array(header.utf8) + [UInt8](repeating: 0x20, count: padding)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + [UInt8](repeating: 0, count: data)
    }

    func testSafetensorsWithMetadataAndPaddingReads() throws {
        let url = try write(safetensors(#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"#
            + #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, padding: 5, data: 12), "ok.safetensors")
        let file = try WeightFile.open(url)
        XCTAssertEqual(file.format, .safetensors)
        XCTAssertEqual(file.attributes["format"], .string("pt"))
        XCTAssertEqual(file.layers.map(\.name), ["a", "b"])
        XCTAssertEqual(try file.read().layers.map { $0.weights[0].value.scalars }, [[0, 0], [0, 0]])
    }

    func testSafetensorsHeadersThatLie() throws {
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        refused(try write(safetensors(overlap, data: 12), "overlap.safetensors"), "overlapping the tensor before it")
        let hole = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        refused(try write(safetensors(hole, data: 12), "hole.safetensors"), "leaving a hole after byte 4")
        let outside = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        refused(try write(safetensors(outside, data: 8), "outside.safetensors"), "past the data's 8 bytes")
        let wrongSize = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        refused(try write(safetensors(wrongSize, data: 8), "size.safetensors"), "for shape (3) of float32, but its storage is bytes")
        let trailing = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        refused(try write(safetensors(trailing, data: 8), "trailing.safetensors"), "cover 4 bytes of the data but it has 8")
        let dtype = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        refused(try write(safetensors(dtype, data: 1), "dtype.safetensors"), "has dtype U8; expected one of F32")
        let absurd = #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#
        refused(try write(safetensors(absurd, data: 4), "absurd.safetensors"), "absurd dimensions")
        // A header length of 200 MB in a file of a few bytes: refused before reading or allocating it.
        let huge = withUnsafeBytes(of: UInt64(200_000_000).littleEndian, Array.init) + Array("{}".utf8)
        refused(try write(huge, "huge.safetensors"), "declares 200000000 bytes; expected at most 100000000")
        let longer = withUnsafeBytes(of: UInt64(90_000_000).littleEndian, Array.init) + Array("{}".utf8)
        refused(try write(longer, "longer.safetensors"), "the file has 10")
    }

    func testTruncatedPyTorchFiles() throws {
        for name in ["resnet50.pth", "resnet34-legacy.pth"] {
            let bytes = [UInt8](try Data(contentsOf: Self.foreign.appendingPathComponent(name)))
            for keep in [bytes.count / 2, bytes.count - 30, 100] {
                let url = try write(Array(bytes.prefix(keep)), "cut-\(keep)-\(name)")
                _ = expectWeightFileError { _ = try WeightFile.read(url) }
            }
        }
        let legacy = [UInt8](try Data(contentsOf: Self.foreign.appendingPathComponent("resnet34-legacy.pth")))
        refused(try write(Array(legacy.dropLast(10)), "short.pth"), "truncated file?")
    }

    func testDamagedZipEntryFailsItsCRC() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.foreign.appendingPathComponent("resnet50.pth")))
        // The last stored entry before the directory holds tensor bytes; flip one.
        let url0 = try write(bytes, "intact.pth")
        let file = try ReadOnlyFile(url0)
        let entry = try XCTUnwrap(ZipDirectory(file).entries.first { $0.name.hasSuffix("data/0") })
        bytes[entry.data.lowerBound] ^= 0xFF
        refused(try write(bytes, "damaged.pth"), "CRC-32 mismatch")
    }

    /// PyTorch's tar format (tools/make_tar_fixture.py), damaged: a header whose checksum fails,
    /// the archive cut anywhere, a storage count past its member, a tensor past its storage.
    func testDamagedTarFiles() throws {
        var header = [UInt8](repeating: 0, count: 1024)
        header.replaceSubrange(0..<8, with: Array("sys_info".utf8))
        header.replaceSubrange(257..<262, with: Array("ustar".utf8))
        refused(try write(header, "old.tar"), "wrong checksum; expected a tar header")

        let url = Self.foreign.appendingPathComponent("resnet50-tar.pth")
        let bytes = [UInt8](try Data(contentsOf: url))
        // tarfile pads archives with zero blocks; cuts inside the members' data are what must fail.
        let end = try XCTUnwrap(TarDirectory(ReadOnlyFile(url)).members.map(\.data.upperBound).max())
        for keep in stride(from: 600, to: end, by: end / 23) {
            let cut = try write(Array(bytes.prefix(keep)), "cut-\(keep).pth")
            _ = expectWeightFileError { _ = try WeightFile.read(cut) }
        }
        refused(try write(Array(bytes.prefix(end - 100)), "short.pth"), "truncated file?")
        refused(Self.foreign.appendingPathComponent("tar-storage-past-member.pth"), "past the end of the 'storages' member")
        refused(Self.foreign.appendingPathComponent("tar-tensor-past-storage.pth"), "but its storage is bytes")
        refused(Self.foreign.appendingPathComponent("tar-view-past-root.pth"), "views elements")
    }
}
