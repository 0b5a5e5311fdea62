import Engine
import Foundation
import TestSupport
import XCTest
@testable import WeightIO

/// A file under Tests/Fixtures/caffe (written by tools/make_caffe_fixtures.py).
func caffeFixture(_ name: String) -> URL { fixtureURL("caffe/" + name) }

/// The caffemodel index and blob reads, against the twins' converter-written HDF5 files.
final class CaffeModelTests: XCTestCase {
    func twinWeights(_ name: String) throws -> WeightArchive {
        try WeightFile.read(fixtureURL("zoo/\(name)/weights.h5"))
    }

    func testV2AlexNetIndex() throws {
        let model = try CaffeModel.open(caffeFixture("alexnet-caffe.caffemodel"))
        XCTAssertEqual(model.version, .layer)
        XCTAssertEqual(model.netName, "AlexNet")
        XCTAssertEqual(model.layers.map(\.name).prefix(4), ["data", "conv1", "relu1", "norm1"])
        XCTAssertEqual(model.layers.last?.type, "SoftmaxWithLoss")
        let weighted = model.layers.filter { !$0.blobs.isEmpty }
        XCTAssertEqual(weighted.map(\.name), ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"])
        XCTAssertEqual(weighted[1].blobs.map(\.shape), [[16, 3, 5, 5], [16]])  // conv2: two groups of 6/2 inputs
        XCTAssertEqual(weighted[5].blobs[0].shape, [64, 64])
        XCTAssertEqual(CaffeReader.architecture(of: model), "alexnet-caffe")
    }

    /// Every weight, converted to ConvZoo's layouts as it is read, equals the twin's converter file.
    func testConvertedWeightsEqualTheConverters() throws {
        for (file, twin) in [("alexnet-caffe.caffemodel", "alexnet-caffe"), ("alexnet-caffe-v1.caffemodel", "alexnet-caffe"),
                             ("googlenet-caffe.caffemodel", "googlenet-caffe")] {
            let caffe = try WeightFile.open(caffeFixture(file))
            XCTAssertEqual(caffe.format, .caffe)
            XCTAssertEqual(caffe.metadata.architecture, twin)
            let reference = try twinWeights(twin)
            let read = try caffe.read()
            for expected in reference.layers where !expected.weights.isEmpty {
                let layer = try XCTUnwrap(read.layer(named: expected.name), "\(file): \(expected.name)")
                XCTAssertEqual(layer.weights.map(\.value), expected.weights.map(\.value), "\(file): \(expected.name)")
            }
            let auxiliary = read.layers.map(\.name).filter { !reference.layers.map(\.name).contains($0) }
            XCTAssertEqual(auxiliary, twin == "googlenet-caffe"
                           ? ["loss1_conv", "loss1_fc", "loss1_classifier", "loss2_conv", "loss2_fc", "loss2_classifier"] : [])
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
        XCTAssertEqual([fc6.blobs[0].essentialShape(rank: 2), fc6.blobs[1].essentialShape(rank: 1)], [[64, 64], [64]])
        let conv1 = try XCTUnwrap(v1.layers.first { $0.name == "conv1" })
        XCTAssertEqual(conv1.blobs[0].runs.count, 1, "one field per float, merged into one run")
        XCTAssertEqual(conv1.blobs[0].runs.first?.stride, 5)
        XCTAssertEqual(v1.layers.first { $0.name == "fc8" }?.blobs[0].dtype, .float64)
        XCTAssertEqual(v1.layers.first { $0.name == "conv3" }?.blobs[1].dtype, .float64)
    }

    func testGoogLeNetNamesAndAuxiliaryClassifiers() throws {
        let model = try CaffeModel.open(caffeFixture("googlenet-caffe.caffemodel"))
        let weighted = model.layers.filter { !$0.blobs.isEmpty }.map(\.name)
        XCTAssertEqual(weighted.prefix(4), ["conv1/7x7_s2", "conv2/3x3_reduce", "conv2/3x3", "inception_3a/1x1"])
        XCTAssertTrue(weighted.contains("loss1/classifier") && weighted.contains("loss2/fc"))
        XCTAssertEqual(weighted.count, 3 + 9 * 6 + 2 * 3 + 1)
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
        for (cut, layer) in [(bytes.count - 100, "fc8"), (bytes.count / 2, "conv5"), (3, nil)] {
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

    /// Found by tools/fuzz.sh: a length whose own varint runs past its message's end trapped.
    func testLengthVarintPastItsMessage() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("cut-length.caffemodel")
        // name "AlexNet"; a 2-byte layer (field 100) holding a field-1 key and the first byte of a
        // 2-byte length varint whose second byte lies after the layer.
        try Data([0x0A, 0x07] + Array("AlexNet".utf8) + [0xA2, 0x06, 0x02, 0x0A, 0x80, 0x01, 0x00, 0x00]).write(to: url)
        let e = refusal(url)
        XCTAssertTrue(e?.message.contains("but its message ends at byte") == true, "\(String(describing: e))")
    }

    func testAbsurdShapeAndCountMismatch() {
        let shape = refusal(caffeFixture("bad/absurd-shape.caffemodel"))
        XCTAssertEqual(shape?.path, "layer 'conv1', blob 0")
        XCTAssertTrue(shape?.message.contains("shape dimension 1099511627776") == true, "\(String(describing: shape))")
        let count = refusal(caffeFixture("bad/shape-count-mismatch.caffemodel"))
        XCTAssertEqual(count?.path, "layer 'conv1', blob 0")
        XCTAssertTrue(count?.message.contains("has 363 values but the blob stores 10") == true, "\(String(describing: count))")
    }

    func testNotACaffeModel() throws {
        XCTAssertTrue(CaffeModel.looksLikeCaffeModel(caffeFixture("alexnet-caffe-v1.caffemodel")))
        XCTAssertTrue(CaffeModel.looksLikeCaffeModel(caffeFixture("googlenet-caffe.caffemodel")))
        XCTAssertFalse(CaffeModel.looksLikeCaffeModel(fixtureURL("zoo/alexnet-caffe/weights.h5")))
        let url = try temporaryDirectory(self).appendingPathComponent("page.caffemodel")
        try Data("<html>not weights</html>\n".utf8).write(to: url)
        XCTAssertFalse(CaffeModel.looksLikeCaffeModel(url))
        XCTAssertNotNil(refusal(url))
    }
}
