import Engine
import Foundation
import XCTest
@testable import WeightIO

/// A file under Tests/Fixtures/caffe (written by tools/make_caffe_fixtures.py).
func caffeFixture(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/caffe").appendingPathComponent(name)
}

/// The caffemodel index and blob reads, against the twins' converter-written HDF5 files.
final class CaffeModelTests: XCTestCase {
    func twinWeights(_ name: String) throws -> WeightArchive {
        try WeightFile.read(caffeFixture("../zoo/\(name)/weights.h5"))
    }

    /// Reads a blob converted as the zoo stores it: convolutions (out, in, kh, kw) -> (kh, kw, in, out),
    /// fully connected (out, in) -> (in, out), vectors as they are.
    func converted(_ model: CaffeModel, _ layer: CaffeLayer, _ i: Int, spatial: (Int, Int)? = nil) throws -> Tensor {
        let blob = layer.blobs[i]
        let s = blob.essentialShape
        var source = s, permutation = Array(s.indices)
        if s.count == 4 { permutation = [2, 3, 1, 0] }
        if s.count == 2 {
            permutation = [1, 0]
            if let (h, w) = spatial {
                source = [s[0], s[1] / (h * w), h, w]
                permutation = [2, 3, 1, 0]
            }
        }
        var t = Tensor(uninitialized: [blob.count])
        try t.withUnsafeMutableBufferPointer { try model.read(blob, of: layer, into: $0, sourceShape: source, permutation: permutation) }
        return t
    }

    func testV2AlexNetIndexAndValues() throws {
        let model = try CaffeModel.open(caffeFixture("alexnet-caffe.caffemodel"))
        XCTAssertEqual(model.version, .layer)
        XCTAssertEqual(model.netName, "AlexNet")
        XCTAssertEqual(model.layers.map(\.name).prefix(4), ["data", "conv1", "relu1", "norm1"])
        XCTAssertEqual(model.layers.last?.type, "SoftmaxWithLoss")
        let weighted = model.layers.filter { !$0.blobs.isEmpty }
        XCTAssertEqual(weighted.map(\.name), ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"])
        XCTAssertEqual(weighted[1].blobs.map(\.shape), [[16, 3, 5, 5], [16]])  // conv2: two groups of 6/2 inputs
        XCTAssertEqual(weighted[5].blobs[0].shape, [64, 64])
        let reference = try twinWeights("alexnet-caffe")
        for layer in weighted {
            let expected = try XCTUnwrap(reference.layer(named: layer.name))
            let kernel = try converted(model, layer, 0, spatial: layer.name == "fc6" ? (2, 2) : nil)
            XCTAssertEqual(kernel.scalars, expected.weights[0].value.scalars, "\(layer.name) kernel")
            XCTAssertEqual(try converted(model, layer, 1).scalars, expected.weights[1].value.scalars, "\(layer.name) bias")
        }
    }

    func testV1LegacyShapesUnpackedAndDoubleData() throws {
        let v1 = try CaffeModel.open(caffeFixture("alexnet-caffe-v1.caffemodel"))
        let v2 = try CaffeModel.open(caffeFixture("alexnet-caffe.caffemodel"))
        XCTAssertEqual(v1.version, .v1Layers)
        XCTAssertEqual(v1.layers.map(\.name), v2.layers.map(\.name))
        XCTAssertEqual(v1.layers.map(\.type), v2.layers.map(\.type), "V1 enums read as V2 type names")
        let fc6 = try XCTUnwrap(v1.layers.first { $0.name == "fc6" })
        XCTAssertEqual(fc6.blobs.map(\.shape), [[1, 1, 64, 64], [1, 1, 1, 64]])
        XCTAssertEqual(fc6.blobs.map(\.essentialShape), [[64, 64], [64]])
        let conv1 = try XCTUnwrap(v1.layers.first { $0.name == "conv1" })
        XCTAssertEqual(conv1.blobs[0].runs.count, 1, "one field per float, merged into one run")
        XCTAssertEqual(conv1.blobs[0].runs.first?.stride, 5)
        XCTAssertEqual(v1.layers.first { $0.name == "fc8" }?.blobs[0].dtype, .float64)
        XCTAssertEqual(v1.layers.first { $0.name == "conv3" }?.blobs[1].dtype, .float64)
        for (a, b) in zip(v1.layers, v2.layers) where !a.blobs.isEmpty {
            for i in a.blobs.indices {
                XCTAssertEqual(try converted(v1, a, i).scalars, try converted(v2, b, i).scalars, "\(a.name) blob \(i)")
            }
        }
    }

    func testGoogLeNetNamesAndAuxiliaryClassifiers() throws {
        let model = try CaffeModel.open(caffeFixture("googlenet-caffe.caffemodel"))
        let weighted = model.layers.filter { !$0.blobs.isEmpty }.map(\.name)
        XCTAssertEqual(weighted.prefix(4), ["conv1/7x7_s2", "conv2/3x3_reduce", "conv2/3x3", "inception_3a/1x1"])
        XCTAssertTrue(weighted.contains("loss1/classifier") && weighted.contains("loss2/fc"))
        XCTAssertEqual(weighted.count, 3 + 9 * 6 + 2 * 3 + 1)
    }

    func testPermutedWriterAcrossPieces() throws {
        // (2, 3, 4) -> (4, 2, 3), values fed in uneven pieces.
        var writer = try PermutedWriter(shape: [2, 3, 4], permutation: [2, 0, 1])
        let values = (0..<24).map(Float.init)
        var out = [Float](repeating: -1, count: 24)
        out.withUnsafeMutableBufferPointer { dest in
            values.withUnsafeBufferPointer { v in
                for range in [0..<5, 5..<6, 6..<17, 17..<24] {
                    writer.write(UnsafeBufferPointer(rebasing: v[range]), into: dest.baseAddress!)
                }
            }
        }
        for a in 0..<2 { for b in 0..<3 { for c in 0..<4 {
            XCTAssertEqual(out[(c * 2 + a) * 3 + b], values[(a * 3 + b) * 4 + c])
        } } }
    }

    // MARK: - bad files: one clear error naming the file and the layer, no trap

    func refusal(_ url: URL, file: StaticString = #filePath, line: UInt = #line) -> WeightFileError? {
        let e = expectWeightFileError({ _ = try CaffeModel.open(url) }, file: file, line: line)
        XCTAssertEqual(e?.file, url.path, file: file, line: line)
        return e
    }

    func testTruncatedFileNamesTheLayerCutOff() throws {
        let bytes = try Data(contentsOf: caffeFixture("alexnet-caffe.caffemodel"))
        let dir = try temporaryDirectory(self)
        for (cut, layer) in [(bytes.count - 100, "fc8"), (bytes.count / 2, "fc6"), (3, nil)] {
            let url = dir.appendingPathComponent("cut-\(cut).caffemodel")
            try bytes.prefix(cut).write(to: url)
            let e = refusal(url)
            XCTAssertTrue(e?.description.contains("truncated") == true, "\(String(describing: e))")
            if let layer { XCTAssertTrue(e?.message.contains("'\(layer)'") == true, "\(String(describing: e))") }
        }
    }

    func testV0IsRefusedWithTheUpgradeTool() {
        let e = refusal(caffeFixture("bad/v0.caffemodel"))
        XCTAssertEqual(e?.path, "layer #1")
        XCTAssertTrue(e?.message.contains("V0 format") == true && e?.message.contains("upgrade_net_proto_binary") == true)
    }

    func testAbsurdLengthAndOverlongVarint() {
        let length = refusal(caffeFixture("bad/absurd-length.caffemodel"))
        XCTAssertTrue(length?.message.contains("claims 4611686018427387904 bytes") == true, "\(String(describing: length))")
        XCTAssertTrue(length?.message.contains("layer #1 'conv1'") == true, "\(String(describing: length))")
        let varint = refusal(caffeFixture("bad/overlong-varint.caffemodel"))
        XCTAssertTrue(varint?.message.contains("overflows 64 bits") == true, "\(String(describing: varint))")
    }

    func testAbsurdShapeAndCountMismatch() {
        let shape = refusal(caffeFixture("bad/absurd-shape.caffemodel"))
        XCTAssertEqual(shape?.path, "layer 'conv1', blob 0")
        XCTAssertTrue(shape?.message.contains("absurd shape (1099511627776, 3)") == true, "\(String(describing: shape))")
        let count = refusal(caffeFixture("bad/shape-count-mismatch.caffemodel"))
        XCTAssertEqual(count?.path, "layer 'conv1', blob 0")
        XCTAssertTrue(count?.message.contains("has 363 values but the blob stores 10") == true, "\(String(describing: count))")
    }

    func testNotACaffeModel() throws {
        XCTAssertTrue(CaffeModel.looksLikeCaffeModel(caffeFixture("alexnet-caffe-v1.caffemodel")))
        XCTAssertTrue(CaffeModel.looksLikeCaffeModel(caffeFixture("googlenet-caffe.caffemodel")))
        XCTAssertFalse(CaffeModel.looksLikeCaffeModel(caffeFixture("../zoo/alexnet-caffe/weights.h5")))
        let url = try temporaryDirectory(self).appendingPathComponent("page.caffemodel")
        try Data("<html>not weights</html>\n".utf8).write(to: url)
        XCTAssertFalse(CaffeModel.looksLikeCaffeModel(url))
        XCTAssertNotNil(refusal(url))
    }
}
