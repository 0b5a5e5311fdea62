import Foundation
import TestSupport
import XCTest

/// `zoo predict` on a torchvision-flavour model (its output is logits) whose file has no class
/// names and a 1000-class head: it prints PyTorch's softmax of the logits and ImageNet's names,
/// from any working directory. The file, the expected probabilities and the top-5 indices are
/// written by tools/make_predict_fixtures.py (a narrow AlexNet twin run by torchvision's pipeline).
final class PredictImageNetTests: XCTestCase {
    static let repo = repositoryRoot
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    static let weights = fixtures.appendingPathComponent("predict/alexnet-1000.h5")
    static let images = ["images/rgb.png", "images/gray.png"]
    /// The hidden options that build the twin the file was written for.
    static let twin = ["--channel-divisor", "64", "--hidden-units", "8"]

    static var imageNetNames: [String] {
        get throws {
            try String(contentsOf: repo.appendingPathComponent("weights/imagenet_classes.txt"), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
    }

    /// One image's printed rows: (rank, name, probability).
    struct Row: Equatable {
        let rank: Int
        let name: String
        let probability: Double
    }

    /// The rows printed under `path` (lines `  1. <name padded>  0.1234`).
    func rows(under path: String, in stdout: String) throws -> [Row] {
        let lines = stdout.split(separator: "\n").map(String.init)
        let start = try XCTUnwrap(lines.firstIndex(of: path), "\(path) not printed: \(stdout)")
        return try lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            let dot = try XCTUnwrap(text.firstIndex(of: "."), line)
            let space = try XCTUnwrap(text.lastIndex(of: " "), line)
            return Row(rank: try XCTUnwrap(Int(text[..<dot]), line),
                       name: text[text.index(after: dot)..<space].trimmingCharacters(in: .whitespaces),
                       probability: try XCTUnwrap(Double(text[text.index(after: space)...]), line))
        }
    }

    func testPrintsTorchsSoftmaxOfTheLogitsUnderImageNetNames() throws {
        let paths = Self.images.map { Self.fixtures.appendingPathComponent($0).path }
        let r = try ZooBinary.run(["predict", "--weights", Self.weights.path] + Self.twin + paths)
        XCTAssertEqual(r.status, 0, r.stderr)
        let names = try Self.imageNetNames
        XCTAssertEqual(names.count, 1000)
        let top5 = try npyValues(Self.fixtures.appendingPathComponent("predict/top5.npy")).map { Int($0) }
        let probabilities = try npyValues(Self.fixtures.appendingPathComponent("predict/probabilities.npy"))
        XCTAssertEqual(top5.count, paths.count * 5)
        XCTAssertEqual(probabilities.count, paths.count * 1000)
        for (i, path) in paths.enumerated() {
            let printed = try rows(under: path, in: r.stdout)
            XCTAssertEqual(printed.map(\.rank), [1, 2, 3, 4, 5], r.stdout)
            let expected = top5[(i * 5)..<(i * 5 + 5)]
            XCTAssertEqual(printed.map(\.name), expected.map { names[$0] }, r.stdout)
            for (row, c) in zip(printed, expected) {
                // Printed to 4 decimals: half a unit of rounding, and float differences far below it.
                XCTAssertEqual(row.probability, probabilities[i * 1000 + c], accuracy: 6e-5, "\(path): \(row)")
            }
        }
    }

    func testFindsImageNetsNamesWithoutTheRepositoryAtHand() throws {
        // A copy of the binary in a directory of its own, run from there: no weights/ folder
        // beside it or in the working directory, so the names must be built in.
        let fm = FileManager.default
        let elsewhere = fm.temporaryDirectory.appendingPathComponent("zoo-elsewhere-\(UUID().uuidString)")
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: elsewhere) }
        try fm.copyItem(at: ZooBinary.url, to: elsewhere.appendingPathComponent("zoo"))
        try fm.copyItem(at: Self.weights, to: elsewhere.appendingPathComponent("model.h5"))
        try fm.copyItem(at: Self.fixtures.appendingPathComponent(Self.images[0]),
                        to: elsewhere.appendingPathComponent("picture.png"))
        let r = try ZooBinary.run(["predict", "--weights", "model.h5", "--top", "3"] + Self.twin + ["picture.png"],
                                  executable: elsewhere.appendingPathComponent("zoo"), directory: elsewhere)
        XCTAssertEqual(r.status, 0, r.stderr)
        let top5 = try npyValues(Self.fixtures.appendingPathComponent("predict/top5.npy")).map { Int($0) }
        let names = try Self.imageNetNames
        XCTAssertEqual(try rows(under: "picture.png", in: r.stdout).map(\.name), top5.prefix(3).map { names[$0] },
                       r.stdout)
    }

    /// The elements of a little-endian float32 or int64 .npy file, in order.
    func npyValues(_ url: URL) throws -> [Double] {
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.prefix(6)), [0x93] + Array("NUMPY".utf8))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        let body = data.dropFirst(10 + headerLength)
        XCTAssertTrue(header.contains("'fortran_order': False"), header)
        /// The little-endian unsigned integer in `width` bytes at `i`.
        func word(at i: Int, width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(body[i + $1]) << (8 * $1) }
        }
        if header.contains("'<f4'") {
            return stride(from: body.startIndex, to: body.endIndex, by: 4).map {
                Double(Float(bitPattern: UInt32(word(at: $0, width: 4))))
            }
        }
        XCTAssertTrue(header.contains("'<i8'"), header)
        return stride(from: body.startIndex, to: body.endIndex, by: 8).map {
            Double(Int64(bitPattern: word(at: $0, width: 8)))
        }
    }
}
