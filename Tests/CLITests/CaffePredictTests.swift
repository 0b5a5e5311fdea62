import Foundation
import TestSupport
import XCTest

/// `zoo predict` on a caffemodel it has to recognize by content and by layer names (no --model),
/// with Caffe's preprocessing and the googlenet-caffe model's resize and crop; the probabilities
/// are PyTorch's, from tools/make_caffe_fixtures.py.
final class CaffePredictTests: XCTestCase {
    static let weights = fixtureURL("caffe/googlenet-caffe.caffemodel")

    /// (name, probability) rows printed under `path`.
    func rows(under path: String, in stdout: String) throws -> [(String, Double)] {
        let lines = stdout.split(separator: "\n").map(String.init)
        let start = try XCTUnwrap(lines.firstIndex(of: path), stdout)
        return try lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { line in
            let parts = line.split(separator: " ")
            return (String(parts[1]), try XCTUnwrap(Double(parts[parts.count - 1]), line))
        }
    }

    func float32Values(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertTrue(String(decoding: data[10..<(10 + headerLength)], as: UTF8.self).contains("'<f4'"))
        return data.dropFirst(10 + headerLength).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func testGoogLeNetCaffeModelRecognizedAndPredicted() throws {
        let images = ["images/rgb.png", "images/gray.png"].map { fixtureURL($0).path }
        let r = try ZooBinary.run(["predict", "--weights", Self.weights.path, "--channel-divisor", "16"] + images)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("in the file, not in the model: loss1_conv, loss1_fc, loss1_classifier, "
                                        + "loss2_conv, loss2_fc, loss2_classifier"), r.stderr)
        let expected = try float32Values(fixtureURL("caffe/googlenet-caffe-predict.npy"))
        for (i, path) in images.enumerated() {
            let row = Array(expected[(i * 10)..<(i * 10 + 10)])
            let order = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
            let printed = try rows(under: path, in: r.stdout)
            XCTAssertEqual(printed.map(\.0), order.map(String.init), r.stdout)
            for ((_, p), c) in zip(printed, order) { XCTAssertEqual(p, Double(row[c]), accuracy: 1e-4, r.stdout) }
        }
    }

    func testTruncatedCaffeModelIsAClearErrorNotATrap() throws {
        let cut = try temporaryDirectory(self).appendingPathComponent("cut.caffemodel")
        let bytes = try Data(contentsOf: Self.weights)
        try bytes.prefix(bytes.count - 1000).write(to: cut)
        let r = try ZooBinary.run(["predict", "--weights", cut.path, "--channel-divisor", "16",
                                   fixtureURL("images/rgb.png").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(cut.path) && r.stderr.contains("'loss3/classifier'")
                      && r.stderr.contains("truncated"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), r.stderr)
    }
}
