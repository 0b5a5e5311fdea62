import Foundation
import XCTest

/// `zoo predict`, `zoo features` and `zoo evaluate` as the built binary runs them, on a LeNet-5
/// weight file written by `zoo demo` (classes "0".."4") and a small image folder with a corrupt file.
final class PredictFeaturesEvaluateTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
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

    func testFeaturesFromAnNpyBatchAndAnUnknownLayer() throws {
        let input = Self.work.appendingPathComponent("batch.npy")
        try npyData(shape: [3, 32, 32, 1]).write(to: input)
        let out = Self.work.appendingPathComponent("c5.csv")
        let r = try ZooBinary.run(["features", "--model", "lenet5", "--layer", "c5", "--input", input.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(lines.dropFirst().map { String($0[1]) }, ["0", "1", "2"])
        XCTAssertEqual(lines[1].count, 2 + 120)

        let bad = try ZooBinary.run(["features", "--model", "lenet5", "--layer", "nope", "--input", input.path,
                                     "--out", out.path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("nope"), bad.stderr)
    }

    func testEvaluatePrintsAccuracyAndWritesTheConfusionMatrix() throws {
        let out = Self.work.appendingPathComponent("confusion.csv")
        let r = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", Self.folder.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("broken.jpg"), r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("top-1 accuracy:") && $0.contains("(6 images)") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("top-5 accuracy: 100.00%") }, r.stdout)  // 5 classes: always in the top 5
        XCTAssertEqual(lines.filter { $0.hasPrefix("0 ") || $0.hasPrefix("4 ") }.count, 2, r.stdout)
        let rows = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        XCTAssertEqual(rows.count, 6)
        XCTAssertTrue(rows.allSatisfy { $0.count == 6 })
        let counts = rows.dropFirst().map { $0.dropFirst().compactMap { Int($0) } }
        XCTAssertEqual(counts.map { $0.reduce(0, +) }, [2, 2, 2, 0, 0])
    }

    func testEvaluateRejectsClassFoldersTheModelDoesNotHave() throws {
        let fixtures = Self.repo.appendingPathComponent("Tests/Fixtures/images/folder").path
        let r = try ZooBinary.run(["evaluate", "--weights", Self.weights.path, "--data", fixtures,
                                   "--out", Self.work.appendingPathComponent("unused.csv").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("3 class folders (Dog, ant, cat)"), r.stderr)
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
