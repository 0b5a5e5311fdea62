import Foundation
import TestSupport
import XCTest
@testable import Zoo

/// The shipped manifest of hosted ImageNet weights, its loader's checks, and the fetcher's paths.
final class PretrainedManifestTests: XCTestCase {
    let repository = repositoryRoot

    /// The binary's built-in copy is weights/ byte for byte (tools/make_weights_manifest.py writes both).
    func testBuiltInCopyIsTheShippedFiles() throws {
        let json = try String(contentsOf: repository.appendingPathComponent("weights/manifest.json"), encoding: .utf8)
        let classes = try String(contentsOf: repository.appendingPathComponent("weights/imagenet_classes.txt"), encoding: .utf8)
        XCTAssertEqual(PretrainedManifest.embeddedJSON, json, "rerun tools/make_weights_manifest.py")
        XCTAssertEqual(PretrainedManifest.embeddedImageNetClasses, classes, "rerun tools/make_weights_manifest.py")
        let fromFile = try PretrainedManifest.load(from: repository.appendingPathComponent("weights/manifest.json"))
        XCTAssertEqual(fromFile.entries.map(\.name), try PretrainedManifest.shipped().entries.map(\.name))
        XCTAssertEqual(fromFile.classLists["imagenet_classes.txt"]?.count, 1000)
    }

    func testEveryHostedFileOfTheZoo() throws {
        let m = try PretrainedManifest.shipped()
        let keras = ["vgg16", "vgg19", "resnet50-keras", "resnet101-keras", "resnet152-keras"]
        let torchvision = ["alexnet", "vgg16-bn", "vgg19-bn", "googlenet", "resnet18", "resnet34", "resnet50", "resnet50-v2",
                           "resnet101", "resnet101-v2", "resnet152", "resnet152-v2"]
        let caffe = ["alexnet-caffe", "googlenet-caffe"]
        XCTAssertEqual(Set(m.entries.map(\.name)), Set(keras + keras.map { $0 + "-notop" } + torchvision + caffe))
        for e in m.entries {
            XCTAssertNoThrow(try Catalog.architecture(named: e.architecture), e.name)
            XCTAssertEqual(e.url.lastPathComponent, e.fileName, e.name)
            XCTAssertEqual(e.inputSize, e.name == "alexnet-caffe" ? [227, 227, 3] : [224, 224, 3], e.name)
            XCTAssertEqual(e.classes, e.includeTop ? "imagenet_classes.txt" : nil, e.name)
            // torchvision's googlenet builder turns transform_input on for its ImageNet weights.
            XCTAssertEqual(e.transformInput, e.name == "googlenet", e.name)
            if e.source == "keras" {
                XCTAssertEqual(e.format, "keras-h5", e.name)
                XCTAssertEqual(e.url.host, "storage.googleapis.com", e.name)
                guard case .md5(let h) = e.checksum else { return XCTFail("\(e.name): Keras publishes md5") }
                XCTAssertEqual(h.count, 32)
                XCTAssertEqual(e.preprocessing + " " + e.resizeTransform, "caffe keras-direct", e.name)
                XCTAssertEqual(e.includeTop, !e.name.hasSuffix("-notop"), e.name)
                XCTAssertEqual(e.fileName.contains("notop"), !e.includeTop, e.name)
            } else if e.source == "caffe" {
                XCTAssertEqual(e.format, "caffemodel", e.name)
                XCTAssertEqual(e.url.absoluteString, "http://dl.caffe.berkeleyvision.org/bvlc_\(e.name.dropLast(6)).caffemodel")
                guard case .sha1(let h) = e.checksum else { return XCTFail("\(e.name): the Caffe model zoo publishes sha1") }
                XCTAssertEqual(h.count, 40)
                let model = try Catalog.architecture(named: e.architecture).make(ModelOptions())
                XCTAssertEqual([e.preprocessing, e.resizeTransform], [model.preprocessing.rawValue, model.resizeTransform.description], e.name)
            } else {
                XCTAssertEqual(e.source, "torchvision", e.name)
                XCTAssertEqual(e.format, "torchvision-pth", e.name)
                guard case .sha256Prefix(let p) = e.checksum else { return XCTFail("\(e.name): torchvision names a prefix") }
                XCTAssertTrue(e.fileName.hasSuffix("-\(p).pth"), "\(e.name): \(e.fileName)")
                XCTAssertEqual(e.preprocessing, "torch", e.name)
                XCTAssertEqual(e.resizeTransform, e.name.hasSuffix("-v2") ? "resize232-crop224" : "resize256-crop224", e.name)
                XCTAssertTrue(e.includeTop)
            }
        }
        // Spot checks against the published values.
        XCTAssertEqual(try m.entry(named: "vgg16").checksum, .md5("64373286793e3c8b2b4e3219cbf3544b"))
        XCTAssertEqual(try m.entry(named: "resnet50-keras-notop").checksum, .md5("4d473c1dd8becc155b73f8504c6f6626"))
        XCTAssertEqual(try m.entry(named: "resnet50-v2").url.absoluteString, "https://download.pytorch.org/models/resnet50-11ad3fa6.pth")
        XCTAssertEqual(try m.entry(named: "resnet50-v2").imagenetTop1, "80.858")
        XCTAssertEqual(try m.entry(named: "alexnet").checksum, .sha256Prefix("7be5be79"))
        XCTAssertEqual(try m.entry(named: "resnet18").reference, "torchvision.models.ResNet18_Weights.IMAGENET1K_V1")
        XCTAssertEqual(try m.entry(named: "alexnet-caffe").checksum, .sha1("9116a64c0fbe4459d18f4bb6b56d647b63920377"))
        XCTAssertEqual(try m.entry(named: "googlenet-caffe").checksum, .sha1("405fc5acd08a3bb12de8ee5e23a96bec22f08204"))
        let names = try XCTUnwrap(m.classLists["imagenet_classes.txt"])
        XCTAssertEqual(names.count, 1000)
        XCTAssertEqual(names.first, "tench")
        XCTAssertEqual(names.last, "toilet tissue")
    }

    func testUnknownNameListsTheKnownOnes() throws {
        XCTAssertThrowsError(try PretrainedManifest.shipped().entry(named: "resnet51")) {
            let message = "\($0)"
            XCTAssertTrue(message.contains("resnet51"), message)
            XCTAssertTrue(message.contains("vgg16-notop") && message.contains("resnet152-v2"), message)
        }
    }

    func entryJSON(_ fields: String, fileName: String = "x.h5", count: Int = 1) -> String {
        let entry = """
            {"name": "x", "architecture": "vgg16", "source": "keras", "reference": "r",
             "format": "keras-h5", "file_name": "\(fileName)", "preprocessing": "caffe", "resize_transform": "keras-direct",
             "input_size": [224, 224, 3], "include_top": true, \(fields)}
            """
        return #"{"manifest_version": 1, "weights": ["# + Array(repeating: entry, count: count).joined(separator: ", ") + "]}"
    }

    func loadError(_ json: String) -> String {
        do {
            _ = try PretrainedManifest(json: Data(json.utf8), source: "test.json", classLists: [:])
            return "no error"
        } catch { return "\(error)" }
    }

    func testBadEntriesAreClearErrors() throws {
        let url = #""url": "https://h.example/x.h5""#
        let good = entryJSON(url + #", "md5": "0123456789abcdef0123456789ABCDEF""#)
        XCTAssertEqual(try PretrainedManifest(json: Data(good.utf8), source: "t", classLists: [:]).entries.first?.checksum,
                       .md5("0123456789abcdef0123456789abcdef"))
        let cases: [(String, String)] = [
            (entryJSON(url), "exactly one checksum"),
            (entryJSON(url + #", "md5": "0123456789abcdef0123456789abcdef", "sha256_prefix": "01234567""#), "exactly one checksum"),
            (entryJSON(url + #", "md5": "0123456789abcdef""#), "not 32 hex digits"),
            (entryJSON(url + #", "sha1": "0123456789abcdef""#), "not 40 hex digits"),
            (entryJSON(url + #", "sha1": "\#(String(repeating: "a", count: 40))", "md5": "0123456789abcdef0123456789abcdef""#),
             "exactly one checksum"),
            (entryJSON(url + #", "sha256_prefix": "0123zz67""#), "not 8 to 63 hex digits"),
            (entryJSON(url + #", "sha256": "\#(String(repeating: "a", count: 64))", "sha256_prefix": "bb""#), "does not start with"),
            (entryJSON(#""url": "ftp://h.example/x.h5", "md5": "0123456789abcdef0123456789abcdef""#), "not an http(s) URL"),
            (entryJSON(url + #", "md5": "0123456789abcdef0123456789abcdef""#, fileName: "../x.h5"), "plain file name"),
            (entryJSON(#""md5": "0123456789abcdef0123456789abcdef""#), "missing 'url'"),
            ("{\"manifest_version\": 2, \"weights\": []}", "version 2"),
            ("not json", "not valid JSON"),
        ]
        for (json, expected) in cases {
            let message = loadError(json)
            XCTAssertTrue(message.contains(expected), "expected '\(expected)' in: \(message)")
            XCTAssertTrue(message.contains("test.json"), message)
        }
        let twice = loadError(entryJSON(url + #", "md5": "0123456789abcdef0123456789abcdef""#, count: 2))
        XCTAssertTrue(twice.contains("entry 'x': the name appears twice"), twice)
    }

    func testChecksumMatching() {
        XCTAssertTrue(WeightChecksum.sha256Prefix("0676ba61").matches("0676ba61" + String(repeating: "0", count: 56)))
        XCTAssertFalse(WeightChecksum.sha256Prefix("0676ba61").matches("0676ba62" + String(repeating: "0", count: 56)))
        XCTAssertTrue(WeightChecksum.md5("ab").matches("ab"))
        XCTAssertFalse(WeightChecksum.md5("ab").matches("abc"))
    }

    func testCacheDirectoryAndMirrorURLs() throws {
        XCTAssertEqual(WeightFetcher.defaultCacheDirectory(environment: ["ZOO_CACHE": "/c", "HOME": "/h"]).path, "/c")
        XCTAssertEqual(WeightFetcher.defaultCacheDirectory(environment: ["HOME": "/h"]).path, "/h/.cache/convzoo/weights")
        XCTAssertEqual(WeightFetcher.defaultCacheDirectory(environment: ["HOME": "/h", "XDG_CACHE_HOME": "/x"]).path,
                       "/x/convzoo/weights")
        let entry = try PretrainedManifest.shipped().entry(named: "vgg16")
        var fetcher = WeightFetcher(cacheDirectory: URL(fileURLWithPath: "/c"))
        XCTAssertEqual(fetcher.sourceURL(for: entry), entry.url)
        fetcher.urlBase = URL(string: "http://127.0.0.1:8123/")
        XCTAssertEqual(fetcher.sourceURL(for: entry).absoluteString,
                       "http://127.0.0.1:8123/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5")
        fetcher.urlBase = URL(string: "https://mirror.example/zoo")
        XCTAssertEqual(fetcher.sourceURL(for: entry).absoluteString,
                       "https://mirror.example/zoo/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5")
        XCTAssertEqual(fetcher.destination(for: entry).path, "/c/vgg16_weights_tf_dim_ordering_tf_kernels.h5")
    }
}
