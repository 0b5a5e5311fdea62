import Foundation
import TestSupport
import XCTest

/// `zoo predict`, `zoo features` and `zoo evaluate` as the built binary runs them, on a LeNet-5
/// weight file written by `zoo demo` (classes "0".."4") and a small image folder with a corrupt file.
final class PredictFeaturesEvaluateTests: XCTestCase {
    static let repo = repositoryRoot
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-predict-\(UUID().uuidString)")
    static var weights: URL { work.appendingPathComponent("lenet5-digits-0to4.h5") }
    static var folder: URL { work.appendingPathComponent("images") }
    nonisolated(unsafe) static var setUpError: String?

    /// Class folder -> fixture images copied into it; `2/broken.jpg` cannot be decoded.
    static let layout = [("0", ["ant/1.png", "ant/2.png"]), ("1", ["ant/3.png", "Dog/one.png"]),
                         ("2", ["Dog/two.png", "cat/A.png", "Dog/broken.jpg"])]
    static let readableImages = 6

    override class func setUp() {
        super.setUp()
        do {
            let fm = FileManager.default
            let fixtures = repo.appendingPathComponent("Tests/Fixtures/images/folder")
            for (label, files) in layout {
                let dir = folder.appendingPathComponent(label)
                try fm.createDirectory(at: dir, withIntermediateDirectories: true)
                for file in files {
                    try fm.copyItem(at: fixtures.appendingPathComponent(file),
                                    to: dir.appendingPathComponent(URL(fileURLWithPath: file).lastPathComponent))
                }
            }
            let r = try ZooBinary.run(["demo", "--data", repo.appendingPathComponent("datasets/digits").path,
                                       "--out", work.path, "--shots", "3"])
            if r.status != 0 { setUpError = "zoo demo failed: \(r.stderr)" }
        } catch {
            setUpError = "\(error)"
        }
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: work)
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let problem = Self.setUpError { XCTFail(problem) }
        try XCTSkipIf(Self.setUpError != nil)
    }

    func image(_ label: String, _ name: String) -> String { Self.folder.appendingPathComponent("\(label)/\(name)").path }

    func testPredictPrintsSortedProbabilitiesNamedFromTheFileAndWarnsAboutTheCorruptImage() throws {
        let images = [image("0", "1.png"), image("2", "broken.jpg"), image("2", "A.png")]
        let r = try ZooBinary.run(["predict", "--weights", Self.weights.path] + images)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("broken.jpg"), r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.contains(images[1]), r.stdout)
        for path in [images[0], images[2]] {
            let start = try XCTUnwrap(lines.firstIndex(of: path), r.stdout)
            let rows = lines[(start + 1)...].prefix(while: { $0.hasPrefix("  ") })
            XCTAssertEqual(rows.count, 5, r.stdout)  // min(5, 5 classes)
            let parsed = rows.map { $0.split(separator: " ").map(String.init) }
            XCTAssertEqual(Set(parsed.map { $0[1] }), ["0", "1", "2", "3", "4"], r.stdout)
            let p = try parsed.map { try XCTUnwrap(Double($0[2]), r.stdout) }
            XCTAssertEqual(p, p.sorted(by: >), r.stdout)
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-3, r.stdout)
        }
    }

    func testPredictTopKAndFailureWhenNoImageIsReadable() throws {
        let one = try ZooBinary.run(["predict", "--weights", Self.weights.path, "--top", "2", image("1", "3.png")])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(one.stdout.split(separator: "\n").count, 3, one.stdout)
        let none = try ZooBinary.run(["predict", "--weights", Self.weights.path, image("2", "broken.jpg")])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("broken.jpg"), none.stderr)
        XCTAssertTrue(none.stderr.contains("none of the 1 image(s) could be read"), none.stderr)
    }

    func testFeaturesWritesOneRowPerReadableImageAsNpyCsvAndH5() throws {
        let npy = Self.work.appendingPathComponent("f6.npy")
        let r = try ZooBinary.run(["features", "--weights", Self.weights.path, "--layer", "f6", Self.folder.path,
                                   "--out", npy.path, "--batch", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("broken.jpg"), r.stderr)
        XCTAssertTrue(r.stdout.contains("skipped 1 unreadable"), r.stdout)
        XCTAssertEqual(try npyShape(npy), [Self.readableImages, 84])

        let csv = Self.work.appendingPathComponent("f6.csv")
        let c = try ZooBinary.run(["features", "--weights", Self.weights.path, "--layer", "f6", Self.folder.path,
                                   "--out", csv.path])
        XCTAssertEqual(c.status, 0, c.stderr)
        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        XCTAssertEqual(lines.count, Self.readableImages + 1)
        XCTAssertEqual(Array(lines[0].prefix(3)), ["label", "path", "f0"])
        XCTAssertTrue(lines.allSatisfy { $0.count == 2 + 84 })
        XCTAssertEqual(lines.dropFirst().map { String($0[0]) }, ["0", "0", "1", "1", "2", "2"])
        XCTAssertEqual(String(lines[1][1]), image("0", "1.png"))

        let h5 = Self.work.appendingPathComponent("f6.h5")
        let h = try ZooBinary.run(["features", "--weights", Self.weights.path, "--layer", "f6", Self.folder.path,
                                   "--out", h5.path])
        XCTAssertEqual(h.status, 0, h.stderr)
        XCTAssertEqual(Array(try Data(contentsOf: h5).prefix(4)), [0x89, 0x48, 0x44, 0x46])
    }

    /// `zoo features` of seeded LeNet-5 at `layer` (one or several) on a (3, 32, 32, 1) batch.
    func lenetFeatures(_ layer: String, out: URL) throws -> ZooBinary.Result {
        let input = Self.work.appendingPathComponent("batch.npy")
        if !FileManager.default.fileExists(atPath: input.path) { try npyData(shape: [3, 32, 32, 1]).write(to: input) }
        return try ZooBinary.run(["features", "--model", "lenet5", "--layer", layer, "--input", input.path, "--out", out.path])
    }

    func testFeaturesFromAnNpyBatchAndAnUnknownLayer() throws {
        let out = Self.work.appendingPathComponent("c5.csv")
        let r = try lenetFeatures("c5", out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(lines.dropFirst().map { String($0[1]) }, ["0", "1", "2"])
        XCTAssertEqual(lines[1].count, 2 + 120)

        let bad = try lenetFeatures("nope", out: out)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("nope"), bad.stderr)
    }

    func testFeaturesOfSeveralLayersAndTheResNetPyramid() throws {
        let out = Self.work.appendingPathComponent("multi.npy")
        let r = try lenetFeatures("s4,f6", out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        let s4 = Self.work.appendingPathComponent("multi-s4.npy"), f6 = Self.work.appendingPathComponent("multi-f6.npy")
        XCTAssertTrue(r.stdout.contains("wrote \(s4.path), \(f6.path): 3 rows of s4 (5, 5, 16), f6 (84)"), r.stdout)
        XCTAssertEqual(try npyShape(s4), [3, 5, 5, 16])
        XCTAssertEqual(try npyShape(f6), [3, 84])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "several layers write one file each, not --out")
        // Each layer's file holds what extracting it alone gives.
        let alone = Self.work.appendingPathComponent("s4-alone.npy")
        XCTAssertEqual(try lenetFeatures("s4", out: alone).status, 0)
        XCTAssertEqual(try readFloat32NPY(s4).values, try readFloat32NPY(alone).values)

        let unknown = try lenetFeatures("s4,nope", out: out)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("lenet5 has no tap 'nope'; taps: s4, c5, f6"), unknown.stderr)
        XCTAssertEqual(try lenetFeatures("s4,", out: out).status, 64)

        let rgb = Self.work.appendingPathComponent("rgb.npy")
        try npyData(shape: [2, 64, 64, 3]).write(to: rgb)
        let h5 = Self.work.appendingPathComponent("pyramid.h5")
        let p = try ZooBinary.run(["features", "--model", "resnet18", "--channel-divisor", "16", "--layer", "pyramid",
                                   "--input", rgb.path, "--out", h5.path])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(p.stdout.contains("2 rows of conv1_relu (32, 32, 4), conv2_block2_out (16, 16, 4), conv3_block2_out (8, 8, 8), "
            + "conv4_block2_out (4, 4, 16), conv5_block2_out (2, 2, 32)"), p.stdout)
    }

    /// `--exif` turns a photo upright by its orientation tag (6: rotated 90 degrees); without it the
    /// pixels are used as stored, as Keras and torchvision do.
    func testExifOrientationIsAppliedOnlyWhenAsked() throws {
        let folder = Self.work.appendingPathComponent("exif/photo")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(at: Self.repo.appendingPathComponent("Tests/Fixtures/images/exif6.jpg"),
                                          to: folder.appendingPathComponent("exif6.jpg"))
        var outputs: [Data] = []
        for exif in [false, true, false] {
            let out = Self.work.appendingPathComponent("exif-\(exif)-\(outputs.count).npy")
            let r = try ZooBinary.run(["features", "--model", "lenet5", "--layer", "c1", folder.deletingLastPathComponent().path,
                                       "--out", out.path] + (exif ? ["--exif"] : []))
            XCTAssertEqual(r.status, 0, r.stderr)
            outputs.append(try Data(contentsOf: out))
        }
        XCTAssertEqual(outputs[0], outputs[2], "the same run twice")
        XCTAssertNotEqual(outputs[0], outputs[1], "upright pixels give other features")
        let p = try ZooBinary.run(["predict", "--weights", Self.weights.path, "--exif", folder.appendingPathComponent("exif6.jpg").path])
        XCTAssertEqual(p.status, 0, p.stderr)
    }

    func testEvaluatePrintsAccuracyAndWritesTheConfusionMatrix() throws {
        let out = Self.work.appendingPathComponent("confusion.csv")
        let r = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", Self.folder.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("broken.jpg"), r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("top-1 accuracy:") && $0.contains("(6 images)") }, r.stdout)
        XCTAssertFalse(r.stdout.contains("top-5"), "5 classes: every label is in the top 5, so it is not shown: \(r.stdout)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("0 ") || $0.hasPrefix("4 ") }.count, 2, r.stdout)
        let rows = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        XCTAssertEqual(rows.count, 6)
        XCTAssertTrue(rows.allSatisfy { $0.count == 6 })
        let counts = rows.dropFirst().map { $0.dropFirst().compactMap { Int($0) } }
        XCTAssertEqual(counts.map { $0.reduce(0, +) }, [2, 2, 2, 0, 0])
    }

    func testEvaluateWritesTheHeatMapPNGNextToTheCSVOrWhereAsked() throws {
        let csv = Self.work.appendingPathComponent("heat.csv")
        let r = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", Self.folder.path, "--out", csv.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = Self.work.appendingPathComponent("heat.png")
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("wrote \(png.path): ") }, r.stdout)
        let size = try pngSize(png)
        XCTAssertTrue(line.contains(": \(size.width)x\(size.height) heat map"), String(line))
        // 5 classes: 60-pixel cells and grid lines (306 px), under a title line, a caption and
        // one-character column labels, above the colour legend.
        XCTAssertEqual(size.height, 424)
        XCTAssertGreaterThanOrEqual(size.width, 306)

        let chosen = Self.work.appendingPathComponent("chosen-heat-map.png")
        let csv2 = Self.work.appendingPathComponent("other.csv")
        let o = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", Self.folder.path, "--out", csv2.path,
                                   "--png", chosen.path])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(try pngSize(chosen).height, 424)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.work.appendingPathComponent("other.png").path))

        let clash = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", Self.folder.path,
                                       "--out", chosen.path, "--png", chosen.path])
        XCTAssertNotEqual(clash.status, 0)
        XCTAssertTrue(clash.stderr.contains("the PNG would replace the CSV"), clash.stderr)
    }

    func testEvaluateRejectsClassFoldersTheModelDoesNotHave() throws {
        let fixtures = Self.repo.appendingPathComponent("Tests/Fixtures/images/folder").path
        let r = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", fixtures,
                                   "--out", Self.work.appendingPathComponent("unused.csv").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("3 class folders (Dog, ant, cat)"), r.stderr)
    }

    /// The width and height of a PNG file, after checking its signature, that it is 8-bit RGB, and
    /// that every chunk's CRC is right up to IEND.
    func pngSize(_ url: URL) throws -> (width: Int, height: Int) {
        let bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], url.path)
        func uint32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        var offset = 8, types: [String] = []
        while offset + 12 <= bytes.count {
            let length = uint32(offset)
            guard offset + 12 + length <= bytes.count else { break }
            let typeAndData = Array(bytes[offset + 4..<offset + 8 + length])
            types.append(String(decoding: typeAndData.prefix(4), as: UTF8.self))
            XCTAssertEqual(crc32(typeAndData), UInt32(uint32(offset + 8 + length)), "\(url.path): chunk \(types.last!)")
            offset += 12 + length
        }
        XCTAssertEqual(types.first, "IHDR", url.path)
        XCTAssertEqual(types.last, "IEND", url.path)
        XCTAssertTrue(types.contains("IDAT"), url.path)
        XCTAssertEqual(offset, bytes.count, "\(url.path): bytes after IEND")
        XCTAssertEqual(Array(bytes[24...25]), [8, 2], "\(url.path): expected 8-bit RGB")
        return (uint32(16), uint32(20))
    }

    /// The CRC-32 PNG chunks carry (ISO 3309, the polynomial zlib uses).
    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// The shape in a .npy header.
    func npyShape(_ url: URL) throws -> [Int] {
        let header = String(decoding: try Data(contentsOf: url).prefix(128), as: UTF8.self)
        let start = try XCTUnwrap(header.range(of: "'shape': (")).upperBound
        let end = try XCTUnwrap(header[start...].firstIndex(of: ")"))
        return header[start..<end].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// A float32 .npy of `shape` with values 0, 0.001, 0.002, ...
    func npyData(shape: [Int]) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        for i in 0..<shape.reduce(1, *) {
            withUnsafeBytes(of: (Float(i % 1000) / 1000).bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }
}
