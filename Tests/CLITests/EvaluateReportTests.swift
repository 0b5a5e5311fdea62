import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport
import Transfer
import XCTest

/// `zoo evaluate --report` as the built binary writes it, on the bundled digits: the page read back
/// with an XML parser (it is written as well-formed XML) and checked section by section against
/// the same run's CSV, stdout and files.
final class EvaluateReportTests: XCTestCase {
    static let repo = repositoryRoot
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-report-\(UUID().uuidString)")
    /// Class names that break a page unless escaped, written into the data's classes.txt and so
    /// into the fine-tuned file.
    static let hostileNames = ["zero <b>", "one & two", "\"two\"", "'three'", "four</td>", "five]]>",
                               "six<script>alert(1)</script>", "seven &amp;", "eight<img src=http://x/>", "nine"]
    /// Folders with markup characters in their names: they reach the page as the weights and data paths.
    static var data: URL { work.appendingPathComponent("digits <&\"'>") }
    static var tunedFolder: URL { work.appendingPathComponent("tuned <i>&") }
    static var tuned: URL { tunedFolder.appendingPathComponent("lenet5.h5") }

    /// A from-scratch LeNet-5 fine-tune of two epochs on the digits under the hostile class names,
    /// which leaves its curves beside the weights; run once, by the first test that needs it.
    static let fineTuned = Result<URL, Error> {
        let fm = FileManager.default
        try fm.createDirectory(at: data, withIntermediateDirectories: true)
        try fm.createDirectory(at: tunedFolder, withIntermediateDirectories: true)
        for file in ["images.npy", "labels.npy"] {
            try fm.copyItem(at: repo.appendingPathComponent("datasets/digits/\(file)"), to: data.appendingPathComponent(file))
        }
        try Data((hostileNames.joined(separator: "\n") + "\n").utf8).write(to: data.appendingPathComponent("classes.txt"))
        let r = try ZooBinary.run(["finetune", "--model", "lenet5", "--data", data.path, "--out", tuned.path,
                                   "--epochs", "2", "--preprocessing", "tf", "--seed", "3"])
        guard r.status == 0 else { throw FineTuneFailed(stderr: r.stderr) }
        return tuned
    }

    struct FineTuneFailed: Error, CustomStringConvertible {
        let stderr: String
        var description: String { "zoo finetune failed: \(stderr)" }
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: work)
        super.tearDown()
    }

    /// Runs `zoo evaluate --report` and parses the page; fails unless the run succeeds and the page is well-formed.
    func evaluate(weights: URL, data: URL, mistakes: Int, in dir: URL) throws -> (page: XMLDocument, text: String, run: ZooBinary.Result) {
        let report = dir.appendingPathComponent("report.html")
        let r = try ZooBinary.run(["evaluate", "--weights", weights.path, "--data", data.path,
                                   "--out", dir.appendingPathComponent("confusion.csv").path,
                                   "--report", report.path, "--mistakes", "\(mistakes)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bytes = try Data(contentsOf: report)
        return (try XMLDocument(data: bytes, options: []), String(decoding: bytes, as: UTF8.self), r)
    }

    func nodes(_ page: XMLDocument, _ path: String) throws -> [XMLNode] { try page.nodes(forXPath: path) }

    func texts(_ page: XMLDocument, _ path: String) throws -> [String] { try nodes(page, path).map { $0.stringValue ?? "" } }

    func attribute(_ node: XMLNode, _ name: String) -> String? { (node as? XMLElement)?.attribute(forName: name)?.stringValue }

    /// The bytes of a data: URI of `mediaType`.
    func decodedDataURI(_ uri: String?, mediaType: String, file: StaticString = #filePath, line: UInt = #line) throws -> Data {
        let prefix = "data:\(mediaType);base64,"
        let uri = try XCTUnwrap(uri, file: file, line: line)
        XCTAssertTrue(uri.hasPrefix(prefix), String(uri.prefix(40)), file: file, line: line)
        return try XCTUnwrap(Data(base64Encoded: String(uri.dropFirst(prefix.count))), "not base64", file: file, line: line)
    }

    /// Nothing on the page is fetched from anywhere: no script, link, frame or object, no href, every
    /// src a data: URI, and no address in the text.
    func assertSelfContained(_ page: XMLDocument, _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for element in ["script", "link", "iframe", "object", "embed", "base"] {
            XCTAssertEqual(try nodes(page, "//\(element)").count, 0, "<\(element)> on the page", file: file, line: line)
        }
        XCTAssertEqual(try nodes(page, "//@href").count, 0, "an href on the page", file: file, line: line)
        let sources = try nodes(page, "//@src").map { $0.stringValue ?? "" }
        XCTAssertFalse(sources.isEmpty, file: file, line: line)
        for src in sources { XCTAssertTrue(src.hasPrefix("data:"), "src=\(src.prefix(60))", file: file, line: line) }
        for address in ["http:", "https:", "file:", "url("] {
            // The hostile class name holds "http://x/"; escaped, it is text, never an attribute.
            let outsideText = text.replacingOccurrences(of: "&lt;img src=http://x/&gt;", with: "")
            XCTAssertFalse(outsideText.contains(address), "'\(address)' on the page", file: file, line: line)
        }
    }

    func testReportOfAFineTunedModelHasEverySectionWithTheRunsFigures() throws {
        let dir = try temporaryDirectory(self)
        let (page, text, run) = try evaluate(weights: try Self.fineTuned.get(), data: Self.data, mistakes: 5, in: dir)
        try assertSelfContained(page, text)
        XCTAssertEqual(try texts(page, "//section/@id"), ["summary", "per-class", "confusion", "curves", "mistakes"])

        // Summary: the paths as given (markup characters and all) and the figures stdout printed.
        let summary = Dictionary(uniqueKeysWithValues: zip(try texts(page, "//section[@id='summary']//tr/th"),
                                                           try texts(page, "//section[@id='summary']//tr/td")))
        XCTAssertEqual(summary["weights"], Self.tuned.path)
        XCTAssertEqual(summary["data"], Self.data.path)
        XCTAssertEqual(summary["model"], "lenet5")
        XCTAssertEqual(summary["images"], "1797")
        let top1 = try XCTUnwrap(summary["top-1 accuracy"])
        XCTAssertTrue(run.stdout.contains("top-1 accuracy: \(top1) (1797 images)"), "\(top1) vs \(run.stdout)")
        let loss = try XCTUnwrap(summary["mean cross-entropy"])
        XCTAssertTrue(run.stdout.contains("mean cross-entropy: \(loss)"), run.stdout)
        XCTAssertGreaterThan(try XCTUnwrap(Double(loss)), 0)

        // Per class: one row per class, named as the file names them; precision and recall as stdout prints them.
        let rows = try nodes(page, "//table[@id='per-class-table']/tbody/tr")
        XCTAssertEqual(rows.count, 10)
        XCTAssertEqual(try texts(page, "//table[@id='per-class-table']/tbody/tr/th"), Self.hostileNames)
        let cells = try texts(page, "//table[@id='per-class-table']/tbody/tr[1]/td")
        XCTAssertEqual(cells.count, 4)
        let printed = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("zero <b> ") })
        XCTAssertEqual(printed.split(separator: " ").suffix(3).map(String.init), [cells[0], cells[1], cells[3]], "\(cells)")

        // Confusion: 10 x 10 cells holding the CSV's counts, coloured darker for a larger share.
        let csv = try String(contentsOf: dir.appendingPathComponent("confusion.csv"), encoding: .utf8)
        let csvCounts = csv.split(separator: "\n").dropFirst().map { line in line.split(separator: ",").suffix(10).map { Int($0)! } }
        let matrix = try nodes(page, "//table[@id='confusion-matrix']/tbody/tr").map { row in
            try row.nodes(forXPath: "td").map { Int($0.stringValue ?? "")! }
        }
        XCTAssertEqual(matrix, csvCounts)
        XCTAssertEqual(matrix.joined().reduce(0, +), 1797)
        XCTAssertEqual(try texts(page, "//table[@id='confusion-matrix']/tbody/tr/th"), Self.hostileNames)
        let diagonal = try XCTUnwrap(try nodes(page, "//table[@id='confusion-matrix']/tbody/tr[1]/td[1]").first)
        XCTAssertTrue(attribute(diagonal, "style")?.hasPrefix("background:#") == true)
        XCTAssertNotEqual(attribute(diagonal, "style"), "background:#ffffff")

        // Curves: the SVG the fine-tune left beside the weights, byte for byte.
        let curves = try XCTUnwrap(try nodes(page, "//section[@id='curves']//img").first)
        XCTAssertEqual(try decodedDataURI(attribute(curves, "src"), mediaType: "image/svg+xml"),
                       try Data(contentsOf: Self.tunedFolder.appendingPathComponent("lenet5-curves.svg")))

        // Mistakes: 5 figures, most confident first, each with the sample as a 32x32 PNG and its Grad-CAM overlay.
        let figures = try nodes(page, "//section[@id='mistakes']//figure")
        XCTAssertEqual(figures.count, 5)
        var confidences: [Double] = []
        for figure in figures {
            let images = try figure.nodes(forXPath: "img")
            XCTAssertEqual(images.map { attribute($0, "class") }, ["thumbnail", "gradcam"])
            for image in images {
                let png = try decodedDataURI(attribute(image, "src"), mediaType: "image/png")
                XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                let decoded = try ImageDecoder.decode(png, name: "mistake", channels: 3)
                XCTAssertEqual([decoded.height, decoded.width], [32, 32])
            }
            let caption = try XCTUnwrap(try figure.nodes(forXPath: "figcaption").first?.stringValue)
            XCTAssertTrue(caption.hasPrefix(Self.data.appendingPathComponent("images.npy").path + "["), caption)
            let names = try figure.nodes(forXPath: "figcaption/b").map { $0.stringValue ?? "" }
            XCTAssertEqual(names.count, 2)
            XCTAssertNotEqual(names[0], names[1], "a mistake predicts another class")
            XCTAssertTrue(names.allSatisfy(Self.hostileNames.contains), "\(names)")
            let percent = try XCTUnwrap(caption.split(separator: "(").last?.dropLast(2))
            confidences.append(try XCTUnwrap(Double(percent), caption))
        }
        XCTAssertEqual(confidences, confidences.sorted(by: >), "most confident first")
        let wrong = 1797 - matrix.indices.reduce(0) { $0 + matrix[$1][$1] }
        XCTAssertTrue(try texts(page, "//section[@id='mistakes']/p")[0].contains("of the \(wrong) wrong predictions"))
        XCTAssertTrue(text.contains("at layer <code>c3</code>"), "LeNet-5's default Grad-CAM layer")
    }

    func testWithoutCurvesBesideTheWeightsThePageHasNoCurvesSection() throws {
        let dir = try temporaryDirectory(self)
        let weights = dir.appendingPathComponent("lenet5-digits.h5")
        try FileManager.default.copyItem(at: Self.repo.appendingPathComponent("weights/lenet5-digits.h5"), to: weights)
        let (page, text, run) = try evaluate(weights: weights, data: Self.repo.appendingPathComponent("datasets/digits"),
                                             mistakes: 3, in: dir)
        try assertSelfContained(page, text)
        XCTAssertEqual(try texts(page, "//section/@id"), ["summary", "per-class", "confusion", "mistakes"])
        XCTAssertEqual(try nodes(page, "//img[@id='training-curves']").count, 0)
        XCTAssertTrue(try texts(page, "//section[@id='summary']//td").contains("none (no \(dir.path)/lenet5-digits-curves.svg)"))
        XCTAssertTrue(run.stdout.contains("no training curves"), run.stdout)
        XCTAssertEqual(try nodes(page, "//table[@id='per-class-table']/tbody/tr").count, 10)
        XCTAssertEqual(try nodes(page, "//table[@id='confusion-matrix']/tbody/tr/td").count, 100)
        XCTAssertEqual(try nodes(page, "//section[@id='mistakes']//img[@class='gradcam']").count, 3)

        // The shipped weights have their curves beside them: the same evaluation then shows them.
        let shipped = try evaluate(weights: Self.repo.appendingPathComponent("weights/lenet5-digits.h5"),
                                   data: Self.repo.appendingPathComponent("datasets/digits"), mistakes: 0, in: dir)
        XCTAssertEqual(try texts(shipped.page, "//section/@id"), ["summary", "per-class", "confusion", "curves", "mistakes"])
        XCTAssertEqual(try nodes(shipped.page, "//section[@id='mistakes']//figure").count, 0)
        XCTAssertTrue(try texts(shipped.page, "//section[@id='mistakes']/p")[0].contains("none shown"))
    }

    func testABadCurvesFileIsLeftOutWithAWarningAndBadOptionsAreRefused() throws {
        let dir = try temporaryDirectory(self)
        let weights = dir.appendingPathComponent("m.h5")
        try FileManager.default.copyItem(at: Self.repo.appendingPathComponent("weights/lenet5-digits.h5"), to: weights)
        try Data("<html><script>alert(1)</script></html>".utf8).write(to: dir.appendingPathComponent("m-curves.svg"))
        let digits = Self.repo.appendingPathComponent("datasets/digits")
        let (page, _, run) = try evaluate(weights: weights, data: digits, mistakes: 1, in: dir)
        XCTAssertEqual(try texts(page, "//section/@id"), ["summary", "per-class", "confusion", "mistakes"])
        XCTAssertTrue(run.stderr.contains("training curves left out"), run.stderr)
        XCTAssertTrue(run.stderr.contains("m-curves.svg: not an SVG document"), run.stderr)
        XCTAssertTrue(try texts(page, "//p[@class='note']").contains { $0.contains("not an SVG document") })
        XCTAssertEqual(try nodes(page, "//script").count, 0)

        let csv = dir.appendingPathComponent("c.csv").path
        for (arguments, message) in [(["--mistakes", "101", "--report", "r.html"], "--mistakes"),
                                     (["--mistakes", "-1", "--report", "r.html"], "--mistakes"),
                                     (["--report", csv], "--report"),
                                     (["--report", dir.path], "is a folder")] {
            let r = try ZooBinary.run(["evaluate", "--weights", weights.path, "--data", digits.path, "--out", csv] + arguments,
                                      directory: dir)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(message), "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("r.html").path))
    }
}
