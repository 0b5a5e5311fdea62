import Foundation
import TestSupport
import XCTest
@testable import Zoo

/// ConvZoo's MD5, SHA-1 and SHA-256 against hashlib (Tests/Fixtures/pretrained/digests.json, written by
/// tools/make_digest_fixtures.py) and against the RFC 1321 / FIPS 180-2 examples.
final class DigestTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let length: Int; let md5: String; let sha1: String; let sha256: String }
        let cases: [Case]
    }

    func message(_ n: Int) -> Data { Data((0..<n).map { UInt8((31 * $0 + 7) % 251) }) }

    func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixtureURL("pretrained/digests.json")))
    }

    func testDigestsMatchHashlibAcrossBlockBoundaries() throws {
        let cases = try fixture().cases
        XCTAssertGreaterThan(cases.count, 10)
        for c in cases {
            XCTAssertEqual(MD5Digest.hex(of: message(c.length)), c.md5, "md5 of \(c.length) bytes")
            XCTAssertEqual(SHA1Digest.hex(of: message(c.length)), c.sha1, "sha1 of \(c.length) bytes")
            XCTAssertEqual(SHA256Digest.hex(of: message(c.length)), c.sha256, "sha256 of \(c.length) bytes")
        }
    }

    /// Pieces of every awkward size give the digest of the whole.
    func testSplitUpdatesGiveTheSameDigest() throws {
        let c = try XCTUnwrap(try fixture().cases.first { $0.length == 1000 })
        let data = message(1000)
        for pieces in [[1000], [1, 999], [63, 1, 64, 872], [55, 9, 100, 836], Array(repeating: 10, count: 100)] {
            var md5 = MD5Digest(), sha1 = SHA1Digest(), sha = SHA256Digest()
            var start = 0
            for n in pieces {
                data[start..<start + n].withUnsafeBytes { md5.update($0); sha1.update($0); sha.update($0) }
                start += n
            }
            XCTAssertEqual(hexString(md5.finalize()), c.md5, "md5 in pieces \(pieces)")
            XCTAssertEqual(hexString(sha1.finalize()), c.sha1, "sha1 in pieces \(pieces)")
            XCTAssertEqual(hexString(sha.finalize()), c.sha256, "sha256 in pieces \(pieces)")
        }
    }

    func testPublishedExamples() {
        XCTAssertEqual(MD5Digest.hex(of: Data()), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(MD5Digest.hex(of: Data("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(MD5Digest.hex(of: Data("message digest".utf8)), "f96b697d7cb7938d525a2f31aaf161d0")
        XCTAssertEqual(SHA1Digest.hex(of: Data("abc".utf8)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(SHA256Digest.hex(of: Data("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Digest.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testFileDigestReadsInPieces() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let c = try XCTUnwrap(try fixture().cases.first { $0.length == 100003 })
        try message(100003).write(to: url)
        XCTAssertEqual(try MD5Digest.hex(ofFile: url), c.md5)
        XCTAssertEqual(try SHA1Digest.hex(ofFile: url), c.sha1)
        XCTAssertEqual(try SHA256Digest.hex(ofFile: url), c.sha256)
        let missing = url.appendingPathExtension("missing")
        XCTAssertThrowsError(try MD5Digest.hex(ofFile: missing)) { XCTAssertTrue("\($0)".contains(missing.path), "\($0)") }
    }
}
