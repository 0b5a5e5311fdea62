import Engine
import Foundation
@testable import Transfer
import XCTest
import Zoo

/// ImageFolder lists what torchvision's ImageFolder lists, in its order; tensor datasets read .npy and .h5.
final class ImageFolderTests: XCTestCase {
    let pipeline = try! ImagePipeline(height: 8, width: 8, channels: 3, resize: .direct(.bilinear), preprocessing: .none)

    func testClassesAndFilesInTorchvisionsOrder() throws {
        let root = imageFixture("folder")
        let folder = try ImageFolder(root: root, pipeline: pipeline)
        let classes = try String(contentsOf: imageFixture("folder_classes.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        XCTAssertEqual(folder.classNames, classes)
        XCTAssertEqual(folder.classNames, ["Dog", "ant", "cat"])  // code point order: upper case first
        let samples = try String(contentsOf: imageFixture("folder_samples.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(folder.files.map { String($0.path.dropFirst(root.path.count + 1)) }, samples.map { $0[0] })
        XCTAssertEqual(folder.fileLabels, samples.map { Int($0[1])! })
        XCTAssertEqual(folder.labels, folder.fileLabels)
        XCTAssertEqual(folder.sampleShape, [8, 8, 3])
    }

    func testMissingOrEmptyFoldersAreClearErrors() throws {
        let temp = try temporaryDirectory()
        XCTAssertThrowsError(try ImageFolder(root: temp.appendingPathComponent("absent"), pipeline: pipeline)) {
            XCTAssertTrue("\($0)".contains("no such directory"), "\($0)")
        }
        XCTAssertThrowsError(try ImageFolder(root: temp, pipeline: pipeline)) {
            XCTAssertTrue("\($0)".contains("no class folders"), "\($0)")
        }
        try FileManager.default.createDirectory(at: temp.appendingPathComponent("only_text"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: temp.appendingPathComponent("only_text/readme.txt"))
        XCTAssertThrowsError(try ImageFolder(root: temp, pipeline: pipeline)) {
            XCTAssertTrue("\($0)".contains("only_text"), "\($0)")
        }
    }

    func testALinkBackUpTheTreeIsNotFollowedForever() throws {
        let temp = try temporaryDirectory()
        let cls = temp.appendingPathComponent("cls")
        try FileManager.default.createDirectory(at: cls, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: imageFixture("rgb.png"), to: cls.appendingPathComponent("a.png"))
        try FileManager.default.createSymbolicLink(at: cls.appendingPathComponent("loop"), withDestinationURL: cls)
        let folder = try ImageFolder(root: temp, pipeline: pipeline)
        XCTAssertEqual(folder.files.map(\.lastPathComponent), ["a.png"])
    }

    func testSamplesLoadThroughThePipeline() throws {
        let folder = try ImageFolder(root: imageFixture("folder"), pipeline: pipeline)
        let i = folder.files.firstIndex { $0.lastPathComponent == "one.png" }!
        var out = Tensor(uninitialized: folder.sampleShape)
        try folder.load(at: i, into: out.mutableData())
        XCTAssertEqual(out, try pipeline.load(folder.files[i]))
        let broken = folder.files.firstIndex { $0.lastPathComponent == "broken.jpg" }!
        XCTAssertThrowsError(try folder.load(at: broken, into: out.mutableData())) {
            XCTAssertEqual(($0 as? ImageError)?.kind, .truncated)
        }
    }

    func testPipelineFromAModelUsesItsRecordedTransformAndPreprocessing() throws {
        let model = try Catalog.architecture(named: "lenet5").make()
        let fromModel = try ImagePipeline(model: model)
        XCTAssertEqual(fromModel.sampleShape, [32, 32, 1])
        XCTAssertEqual(fromModel.resize, .direct(.nearest))
        XCTAssertEqual(fromModel.preprocessing, .none)
        let x = try fromModel.load(imageFixture("photo.jpg"))
        let gray = try ImageDecoder.decode(contentsOf: imageFixture("photo.jpg"), channels: 1)
        XCTAssertEqual(x, tensor(gray.resized(height: 32, width: 32, interpolation: .nearest)))
        XCTAssertThrowsError(try ImagePipeline(height: 32, width: 32, channels: 3, resize: .resize256Crop224,
                                               preprocessing: .torch)) {
            XCTAssertTrue("\($0)".contains("resize256-crop224 gives 224x224"), "\($0)")
        }
    }

    func testTensorDatasetFromNPYAndHDF5() throws {
        let x = try NPY.read(imageFixture("tensors_x.npy"))
        let fromNPY = try TensorDataset.npy(inputs: imageFixture("tensors_x.npy"), labels: imageFixture("tensors_y.npy"))
        let fromH5 = try TensorDataset.hdf5(imageFixture("tensors.h5"))
        for dataset in [fromNPY, fromH5] {
            XCTAssertEqual(dataset.count, 6)
            XCTAssertEqual(dataset.sampleShape, [4, 5, 1])
            XCTAssertEqual(dataset.labels, [0, 2, 1, 2, 0, 2])
            var sample = Tensor(uninitialized: [4, 5, 1])
            try dataset.load(at: 3, into: sample.mutableData())
            XCTAssertEqual(sample.scalars, Array(x.scalars[(3 * 20)..<(4 * 20)]))
        }
        XCTAssertEqual(fromNPY.classNames, ["0", "1", "2"])
        XCTAssertEqual(fromH5.classNames, ["zero", "one", "two"])
        XCTAssertThrowsError(try TensorDataset.hdf5(imageFixture("tensors.h5"), labels: "labels")) {
            XCTAssertTrue("\($0)".contains("no dataset 'labels'"), "\($0)")
        }
    }

    func testTensorDatasetChecksShapesAndLabels() throws {
        XCTAssertThrowsError(try TensorDataset(inputs: Tensor(zeros: [3, 2, 2]), labels: [0, 1])) {
            XCTAssertTrue("\($0)".contains("3 inputs but 2 labels"), "\($0)")
        }
        XCTAssertThrowsError(try TensorDataset.integerLabels(Tensor(shape: [2], scalars: [0, 1.5]), file: "y.npy")) {
            XCTAssertTrue("\($0)".contains("y.npy: label 1 is 1.5"), "\($0)")
        }
        // Gray (N, H, W) inputs gain a channel; preprocessing applies as samples load, not to the stored data.
        let digits = try TensorDataset(inputs: Tensor(shape: [1, 1, 2], scalars: [0, 255]), labels: [0], preprocessing: .tf)
        XCTAssertEqual(digits.sampleShape, [1, 2, 1])
        var sample = Tensor(uninitialized: [1, 2, 1])
        try digits.load(at: 0, into: sample.mutableData())
        XCTAssertEqual(sample.scalars, [-1, 1])
        XCTAssertEqual(digits.inputs.scalars, [0, 255])
    }

    func testTheBundledDigitsLoadAsATensorDataset() throws {
        let dir = fixtureURL("../../datasets/digits")
        let digits = try TensorDataset.npy(inputs: dir.appendingPathComponent("images.npy"),
                                           labels: dir.appendingPathComponent("labels.npy"))
        XCTAssertEqual(digits.count, 1797)
        XCTAssertEqual(digits.sampleShape, [8, 8, 1])
        XCTAssertEqual(digits.classNames.count, 10)
    }
}

extension XCTestCase {
    /// A fresh directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("convzoo-transfer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
