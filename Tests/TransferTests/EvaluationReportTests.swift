import Engine
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Transfer
import XCTest

/// The report's parts that the CLI test on the digits does not reach: the bounded collection of
/// mistakes, the PNG heat map for many classes and text XML cannot hold.
final class EvaluationReportTests: XCTestCase {
    /// A batch of `rows` one-pixel samples whose value is their position, with these probabilities.
    func batch(_ probabilities: [[Float]], from first: Int) -> (Tensor, Tensor) {
        let n = probabilities.count
        return (Tensor(shape: [n, 1, 1, 1], scalars: (0..<n).map { Float(first + $0) }),
                Tensor(shape: [n, probabilities[0].count], scalars: probabilities.flatMap { $0 }))
    }

    func testOnlyTheMostConfidentMistakesAreKeptInOrderEarlierFirstOnTies() {
        var worst = WorstMistakes(capacity: 3)
        // Labels are all 0: rows predicting 1 or 2 are mistakes with that class's probability.
        let (x1, p1) = batch([[0.1, 0.9, 0], [0.9, 0.1, 0], [0.3, 0.7, 0], [0.2, 0, 0.8]], from: 0)
        worst.add(inputs: x1, probabilities: p1, labels: [0, 0, 0, 0]) { "a\($0)" }
        let (x2, p2) = batch([[0.05, 0.95, 0], [0.2, 0.8, 0], [0.1, 0, 0.9], [.nan, .nan, .nan]], from: 4)
        worst.add(inputs: x2, probabilities: p2, labels: [0, 0, 0, 1]) { "b\($0)" }
        XCTAssertEqual(worst.count, 7, "every wrong prediction is counted (the NaN row predicts class 0)")
        XCTAssertEqual(worst.worst.map(\.name), ["b0", "a0", "b2"])
        XCTAssertEqual(worst.worst.map(\.confidence), [0.95, 0.9, 0.9])
        XCTAssertEqual(worst.worst.map { $0.sample.scalars }, [[4], [0], [6]], "each keeps its own sample")
        XCTAssertEqual(worst.worst.map(\.predicted), [1, 1, 2])
        XCTAssertEqual(worst.worst.map { $0.sample.shape }, [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]])

        var none = WorstMistakes(capacity: 0)
        none.add(inputs: x1, probabilities: p1, labels: [0, 0, 0, 0]) { "\($0)" }
        XCTAssertEqual(none.count, 3)
        XCTAssertTrue(none.worst.isEmpty)
    }

    func report(classes: Int, names: [String]? = nil) -> EvaluationReport {
        var confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        for c in 0..<classes { confusion[c][c] = 2; confusion[c][(c + 1) % classes] = 1 }
        let metrics = ClassificationReport(loss: 0.5, samples: 3 * classes, top1: 2.0 / 3, top5: 1, confusion: confusion)
        return EvaluationReport(architecture: "test", weights: "w.h5", data: "d", classNames: names ?? (0..<classes).map { "c\($0)" },
                                metrics: metrics, skipped: 0, curvesPath: "w-curves.svg", curves: nil, mistakesAsked: 4,
                                mistakes: [], mistakeCount: classes, gradCAMLayer: nil)
    }

    func testManyClassesGetThePNGHeatMapAndFewGetTableCells() throws {
        let large = try XMLDocument(data: Data(try report(classes: EvaluationReport.largestTable + 1).html().utf8), options: [])
        XCTAssertEqual(try large.nodes(forXPath: "//table[@id='confusion-matrix']").count, 0)
        let img = try XCTUnwrap(try large.nodes(forXPath: "//img[@id='confusion-heat-map']").first as? XMLElement)
        let src = try XCTUnwrap(img.attribute(forName: "src")?.stringValue)
        let png = try XCTUnwrap(Data(base64Encoded: String(src.dropFirst("data:image/png;base64,".count))))
        let decoded = try ImageDecoder.decode(png, name: "heat map")
        XCTAssertEqual("\(decoded.width)", img.attribute(forName: "width")?.stringValue)
        XCTAssertEqual(try large.nodes(forXPath: "//table[@id='per-class-table']/tbody/tr").count, 51)

        let small = try XMLDocument(data: Data(try report(classes: EvaluationReport.largestTable).html().utf8), options: [])
        XCTAssertEqual(try small.nodes(forXPath: "//table[@id='confusion-matrix']/tbody/tr/td").count, 50 * 50)
        XCTAssertEqual(try small.nodes(forXPath: "//img").count, 0)
        XCTAssertEqual(try small.nodes(forXPath: "//section[@id='mistakes']/p").first?.stringValue,
                       "50 wrong predictions; none shown (asked for 4).")
        // A row's cells: the diagonal (2 of 3) dark with white text, the neighbour (1 of 3) lighter, the rest white.
        let row = try small.nodes(forXPath: "//table[@id='confusion-matrix']/tbody/tr[1]/td").map {
            ($0 as! XMLElement).attribute(forName: "style")!.stringValue!
        }
        XCTAssertTrue(row[0].hasSuffix(";color:#fff"), row[0])
        XCTAssertFalse(row[1].contains("color"), row[1])
        XCTAssertEqual(row[2], "background:#ffffff")
    }

    func testTextXMLCannotHoldIsReplacedAndMarkupIsEscaped() throws {
        let names = ["bell\u{07}", "tab\there", "<&>\"'", "ok"]
        let page = try report(classes: 4, names: names).html()
        let document = try XMLDocument(data: Data(page.utf8), options: [])
        XCTAssertEqual(try document.nodes(forXPath: "//table[@id='per-class-table']/tbody/tr/th").map { $0.stringValue ?? "" },
                       ["bell\u{FFFD}", "tab\there", "<&>\"'", "ok"])
        XCTAssertEqual(Markup.escaped("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;")
    }
}
