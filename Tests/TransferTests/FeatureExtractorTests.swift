import Engine
import Foundation
@testable import Transfer
import WeightIO
import XCTest
import Zoo

/// Feature extraction from the Swift API: rows are the model's own tap outputs bit for bit, in
/// stream order, with unreadable images left out; the three file formats read back exactly.
final class FeatureExtractorTests: XCTestCase {
    let model = try! Catalog.architecture(named: "lenet5").make()

    /// `count` seeded 32x32x1 inputs in [0, 1).
    func inputs(_ count: Int, seed: UInt64 = 3) -> Tensor {
        let random = RandomGenerator(seed: seed)
        return Tensor(shape: [count, 32, 32, 1], scalars: (0..<(count * 1024)).map { _ in Float(random.nextDouble()) })
    }

    /// Samples `rows` of the batch `x`, as one batch.
    func rows(_ rows: [Int], of x: Tensor) -> Tensor {
        let size = x.count / x.shape[0]
        let all = x.scalars
        return Tensor(shape: [rows.count] + Array(x.shape.dropFirst()),
                      scalars: rows.flatMap { all[($0 * size)..<(($0 + 1) * size)] })
    }

    /// The model's own output at `layer` for each group of rows, flattened and stacked.
    func tapOutputs(_ layer: String, batches: [Tensor]) throws -> Tensor {
        var scalars: [Float] = [], count = 0
        for batch in batches {
            scalars += try model.output(at: layer, for: batch).scalars
            count += batch.shape[0]
        }
        return Tensor(shape: [count, scalars.count / count], scalars: scalars)
    }

    func testFeaturesOfABatchAreTheTapOutputFlattened() throws {
        let x = inputs(3)
        let extractor = FeatureExtractor(model: model, layer: "c5")
        let features = try extractor.features(of: x)
        let tap = try model.output(at: "c5", for: x)
        XCTAssertEqual(tap.shape, [3, 1, 1, 120])
        XCTAssertEqual(features, tap.reshaped([3, 120]))  // Tensor == compares bits
        XCTAssertGreaterThan(features.scalars.filter { $0 != 0 }.count, 100, "a tap of zeros would prove nothing")
    }

    func testStreamedRowsAreEachBatchsTapOutputInTheOrderAsked() throws {
        let x = inputs(5)
        let data = try TensorDataset(inputs: x, labels: [0, 1, 2, 1, 0], classNames: ["a", "b", "c"], source: "x.npy")
        var heard: [ExtractionProgress] = []
        let order = [4, 0, 3, 1, 2]
        let features = try FeatureExtractor(model: model, layer: "f6")
            .extract(from: data, indices: order, batchSize: 2, logger: .silent) { heard.append($0) }
        let expected = try tapOutputs("f6", batches: [rows([4, 0], of: x), rows([3, 1], of: x), rows([2], of: x)])
        XCTAssertEqual(features.values.shape, [5, 84])
        XCTAssertEqual(features.values, expected)
        XCTAssertEqual(features.indices, order)
        XCTAssertEqual(features.labels, [0, 0, 1, 1, 2])
        XCTAssertEqual(features.classNames, ["a", "b", "c"])
        XCTAssertEqual(features.names, order.map { "x.npy[\($0)]" })
        XCTAssertEqual(features.layer, "f6")
        XCTAssertEqual(features.summary.loaded, 5)
        XCTAssertEqual(heard.map(\.batch), [1, 2, 3])
        XCTAssertEqual(heard.map(\.batchCount), [3, 3, 3])
        XCTAssertEqual(heard.map(\.rows), [2, 4, 5])
    }

    /// root/a: 1.png, 2.jpg; root/b: 0-corrupt.jpg (half of a real JPEG), 3.png, 4.png.
    func folderWithACorruptJPEG() throws -> URL {
        let root = try temporaryDirectory()
        let fm = FileManager.default
        for (source, target) in [("rgb.png", "a/1.png"), ("photo.jpg", "a/2.jpg"), ("gray.png", "b/3.png"),
                                 ("palette.png", "b/4.png")] {
            try fm.createDirectory(at: root.appendingPathComponent(target).deletingLastPathComponent(),
                                   withIntermediateDirectories: true)
            try fm.copyItem(at: imageFixture(source), to: root.appendingPathComponent(target))
        }
        let jpeg = try Data(contentsOf: imageFixture("photo.jpg"))
        XCTAssertEqual(Array(jpeg.prefix(3)), [0xFF, 0xD8, 0xFF])
        try jpeg.prefix(jpeg.count / 2).write(to: root.appendingPathComponent("b/0-corrupt.jpg"))
        return root
    }

    func testAFolderKeepsItsOrderAndSkipsTheCorruptImage() throws {
        let pipeline = try ImagePipeline(model: model)
        let folder = try ImageFolder(root: try folderWithACorruptJPEG(), pipeline: pipeline)
        XCTAssertEqual(folder.files.map(\.lastPathComponent), ["1.png", "2.jpg", "0-corrupt.jpg", "3.png", "4.png"])
        let warnings = WarningLog()
        let features = try FeatureExtractor(model: model, layer: "f6")
            .extract(from: folder, batchSize: 2, logger: warnings.logger)
        // Batches of two in folder order; the corrupt image leaves its batch with one row.
        let f = folder.files
        let expected = try tapOutputs("f6", batches: [pipeline.batch([f[0], f[1]]), pipeline.batch([f[3]]),
                                                      pipeline.batch([f[4]])])
        XCTAssertEqual(features.values, expected)
        XCTAssertEqual(features.indices, [0, 1, 3, 4])
        XCTAssertEqual(features.labels, [0, 0, 1, 1])
        XCTAssertEqual(features.classNames, ["a", "b"])
        XCTAssertEqual(features.names, [f[0], f[1], f[3], f[4]].map(\.path))
        XCTAssertEqual(features.summary.loaded, 4)
        XCTAssertEqual(features.summary.skipped.map(\.name), [f[2].path])
        XCTAssertEqual(warnings.messages.count, 1)
        XCTAssertTrue(warnings.messages[0].contains("0-corrupt.jpg") && warnings.messages[0].contains("truncated"),
                      "\(warnings.messages)")
    }

    func testImageFilesGiveUnlabelledRowsAtTheirPositions() throws {
        let pipeline = try ImagePipeline(model: model)
        let root = try folderWithACorruptJPEG()
        let urls = ["b/4.png", "b/0-corrupt.jpg", "a/1.png"].map { root.appendingPathComponent($0) }
        let features = try FeatureExtractor(model: model, layer: "c5")
            .extract(images: urls, pipeline: pipeline, batchSize: 8, logger: .silent)
        XCTAssertEqual(features.values, try tapOutputs("c5", batches: [pipeline.batch([urls[0], urls[2]])]))
        XCTAssertEqual(features.values.shape, [2, 120])
        XCTAssertEqual(features.indices, [0, 2])
        XCTAssertNil(features.labels)
        XCTAssertEqual(features.names, [urls[0].path, urls[2].path])
        XCTAssertEqual(features.summary.skipped.count, 1)

        XCTAssertThrowsError(try FeatureExtractor(model: model, layer: "c5")
            .extract(images: [urls[1]], pipeline: pipeline, logger: .silent)) {
            XCTAssertTrue("\($0)".contains("no sample could be read"), "\($0)")
        }
        XCTAssertThrowsError(try FeatureExtractor(model: model, layer: "nope").features(of: inputs(1))) {
            XCTAssertTrue("\($0)".contains("nope"), "\($0)")
        }
    }

    // MARK: - Several layers

    func testSeveralLayersInOnePassGiveEachLayersOwnExtractionBitForBit() throws {
        let x = inputs(5)
        let data = try TensorDataset(inputs: x, labels: [0, 1, 2, 1, 0], classNames: ["a", "b", "c"], source: "x.npy")
        var heard: [ExtractionProgress] = []
        let layers = ["c1", "s4", "f6"]
        let all = try FeatureExtractor(model: model, layers: layers)
            .extractEachLayer(from: data, indices: [4, 0, 3, 1, 2], batchSize: 2, logger: .silent) { heard.append($0) }
        XCTAssertEqual(all.map(\.layer), layers)
        XCTAssertEqual(all.map(\.mapShape), [[5, 28, 28, 6], [5, 5, 5, 16], [5, 84]])
        XCTAssertEqual(heard.map(\.batch), [1, 2, 3], "one pass: one report per batch, not per layer")
        for (layer, features) in zip(layers, all) {
            let alone = try FeatureExtractor(model: model, layer: layer)
                .extract(from: data, indices: [4, 0, 3, 1, 2], batchSize: 2, logger: .silent)
            XCTAssertEqual(features.values, alone.values, layer)
            XCTAssertEqual(features.indices, [4, 0, 3, 1, 2])
            XCTAssertEqual(features.labels, [0, 0, 1, 1, 2])
            XCTAssertEqual(features.names, alone.names)
        }
        XCTAssertGreaterThan(all[1].values.scalars.filter { $0 != 0 }.count, 100)
    }

    func testUnknownRepeatedOrMissingLayersAreRefusedListingTheTaps() throws {
        XCTAssertThrowsError(try FeatureExtractor(model: model, layers: ["c5", "nope"])) {
            XCTAssertTrue("\($0)".contains("no tap 'nope'") && "\($0)".contains("s4, c5, f6"), "\($0)")
        }
        XCTAssertThrowsError(try FeatureExtractor(model: model, layers: ["c5", "c5"])) {
            XCTAssertTrue("\($0)".contains("'c5' is asked for twice"), "\($0)")
        }
        XCTAssertThrowsError(try FeatureExtractor(model: model, layers: [])) {
            XCTAssertTrue("\($0)".contains("no layer"), "\($0)")
        }
        XCTAssertThrowsError(try FeatureExtractor(model: model, layers: ["pyramid"])) {
            XCTAssertTrue("\($0)".contains("lenet5 has no feature pyramid") && "\($0)".contains("resnet50-keras"), "\($0)")
        }
    }

    func testSeveralLayersGoToOneHDF5DatasetOrOneFileEach() throws {
        let directory = try temporaryDirectory()
        let data = try TensorDataset(inputs: inputs(3), labels: [1, 0, 1], classNames: ["a", "b"], source: "x.npy")
        let all = try FeatureExtractor(model: model, layers: ["s4", "f6"]).extractEachLayer(from: data, logger: .silent)

        let h5 = directory.appendingPathComponent("f.h5")
        XCTAssertEqual(try FeatureFile.write(eachLayer: all, to: h5), [h5])
        let root = try HDF5File.open(h5).root()
        XCTAssertEqual(try root.dataset("s4").readTensor(), all[0].values.reshaped([3, 5, 5, 16]))
        XCTAssertEqual(try root.dataset("f6").readTensor(), all[1].values)
        XCTAssertEqual(try root.stringArray("layers"), ["s4", "f6"])
        XCTAssertEqual(try root.dataset("labels").readTensor().scalars, [1, 0, 1])
        XCTAssertEqual(try root.stringArray("paths"), all[0].names)
        XCTAssertEqual(try root.stringArray("class_names"), ["a", "b"])
        XCTAssertFalse(root.contains("features"))

        let npy = directory.appendingPathComponent("f.npy")
        let files = try FeatureFile.write(eachLayer: all, to: npy)
        XCTAssertEqual(files.map(\.lastPathComponent), ["f-s4.npy", "f-f6.npy"])
        XCTAssertEqual(try NPY.read(files[0]), all[0].values.reshaped([3, 5, 5, 16]))
        XCTAssertEqual(try NPY.read(files[1]), all[1].values)
        let csv = try FeatureFile.write(eachLayer: all, to: directory.appendingPathComponent("f.csv"))
        XCTAssertEqual(csv.map(\.lastPathComponent), ["f-s4.csv", "f-f6.csv"])
        XCTAssertEqual(try parseCSV(String(contentsOf: csv[0], encoding: .utf8)).first?.count, 2 + 400)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)),
                       ["f.h5", "f-s4.npy", "f-f6.npy", "f-s4.csv", "f-f6.csv"], "no temporary file is left behind")
        XCTAssertEqual(FeatureFile.perLayerURL(npy, layer: "inception_3a/output").lastPathComponent, "f-inception_3a_output.npy")

        // One layer: today's single-layer file.
        let one = directory.appendingPathComponent("one.npy")
        XCTAssertEqual(try FeatureFile.write(eachLayer: [all[0]], to: one), [one])
        XCTAssertEqual(try NPY.read(one).shape, [3, 400])
    }

    // MARK: - Files

    /// Features with awkward values and names: negative, tiny, huge, signed zero; commas, quotes, a line break.
    func awkwardFeatures(labelled: Bool) -> ExtractedFeatures {
        let random = RandomGenerator(seed: 11)
        var values = (0..<(3 * 5)).map { _ in Float(random.nextDouble() * 2 - 1) * 3 }
        values[1] = -0.0
        values[2] = 1e-30
        values[3] = -3.4e38
        values[4] = 1 / 3
        let summary = LoadSummary()
        return ExtractedFeatures(
            values: Tensor(shape: [3, 5], scalars: values), indices: [7, 2, 9], labels: labelled ? [1, 0, 2] : nil,
            classNames: ["plain", "with, comma", "say \"hi\""],
            names: ["/data/a.png", "/data/b,c.png", "/data/line\nbreak.png"], layer: "fc2", summary: summary)
    }

    func testNPYReadsBackBitForBit() throws {
        let url = try temporaryDirectory().appendingPathComponent("f.npy")
        let features = awkwardFeatures(labelled: true)
        try FeatureFile.write(features, to: url)
        XCTAssertEqual(try NPY.read(url), features.values)
    }

    func testHDF5HoldsTheFeaturesLabelsPathsAndClassNames() throws {
        let directory = try temporaryDirectory()
        let features = awkwardFeatures(labelled: true)
        let url = directory.appendingPathComponent("f.h5")
        try FeatureFile.write(features, to: url)
        let root = try HDF5File.open(url).root()
        XCTAssertEqual(try root.dataset("features").readTensor(), features.values)
        XCTAssertEqual(try root.dataset("labels").readTensor().scalars, [1, 0, 2])
        XCTAssertEqual(try root.stringArray("paths"), features.names)
        XCTAssertEqual(try root.stringArray("class_names"), features.classNames)
        XCTAssertEqual(try root.stringAttribute("layer"), "fc2")

        let unlabelled = directory.appendingPathComponent("u.hdf5")
        try FeatureFile.write(awkwardFeatures(labelled: false), to: unlabelled)
        let bare = try HDF5File.open(unlabelled).root()
        XCTAssertEqual(try bare.dataset("features").readTensor(), features.values)
        XCTAssertFalse(bare.contains("labels"))
        XCTAssertNil(try bare.stringArray("class_names"))
        XCTAssertEqual(try bare.stringArray("paths"), features.names)
    }

    func testCSVParsesBackToTheSameRows() throws {
        let directory = try temporaryDirectory()
        for labelled in [true, false] {
            let features = awkwardFeatures(labelled: labelled)
            let url = directory.appendingPathComponent("f\(labelled).csv")
            try FeatureFile.write(features, to: url)
            let records = try parseCSV(String(contentsOf: url, encoding: .utf8))
            XCTAssertEqual(records.first, ["label", "path", "f0", "f1", "f2", "f3", "f4"])
            XCTAssertEqual(records.count, 4)
            for (r, record) in records.dropFirst().enumerated() {
                XCTAssertEqual(record.count, 7)
                XCTAssertEqual(record[0], labelled ? features.classNames[features.labels![r]] : "")
                XCTAssertEqual(record[1], features.names[r])
                let parsed = record.dropFirst(2).map { Float($0)?.bitPattern }
                let stored = (0..<5).map { features.values[r, $0].bitPattern }
                XCTAssertEqual(parsed, stored, "row \(r): \(record)")
            }
        }
    }

    func testWritesAreAtomicAndTheFormatComesFromTheName() throws {
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("f.CSV")
        try Data("old".utf8).write(to: url)
        try FeatureFile.write(awkwardFeatures(labelled: true), to: url)
        XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).hasPrefix("label,path,f0"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["f.CSV"],
                       "no temporary file is left behind")
        let text = directory.appendingPathComponent("f.txt")
        XCTAssertThrowsError(try FeatureFile.write(awkwardFeatures(labelled: true), to: text)) {
            XCTAssertTrue("\($0)".contains(".npy, .h5 or .csv"), "\($0)")
        }
        XCTAssertEqual(FeatureFile.Format(url: URL(fileURLWithPath: "x.HDF5")), .h5)
        XCTAssertNil(FeatureFile.Format(url: URL(fileURLWithPath: "x.npz")))
    }

    /// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks.
    func parseCSV(_ text: String) throws -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = "", quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(field); field = ""
            } else if c == "\n" {
                record.append(field); field = ""
                records.append(record); record = []
            } else {
                field.append(c)
            }
        }
        XCTAssertFalse(quoted, "unterminated quote")
        XCTAssertTrue(field.isEmpty && record.isEmpty, "the last line has no line break")
        return records
    }
}
