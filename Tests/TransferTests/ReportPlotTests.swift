@testable import Engine
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Transfer
import XCTest

/// The plots ConvZoo writes: PNG encoding, the confusion-matrix heat map and the training-curves SVG.
final class ReportPlotTests: XCTestCase {
    // MARK: PNG

    func testPNGRoundTripThroughTheDecoderIsPixelExactForRGBAndGray() throws {
        var generator = SystemRandomNumberGenerator()
        for (height, width) in [(1, 1), (23, 37), (64, 5)] {
            for channels in [3, 1] {
                let pixels = (0..<height * width * channels).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let image = PixelImage(height: height, width: width, channels: channels, pixels: pixels)
                let data = try PNGWriter.encode(image, name: "roundtrip.png")
                XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                let decoded = try ImageDecoder.decode(data, name: "roundtrip.png", channels: channels)
                XCTAssertEqual(decoded, image, "\(height)x\(width)x\(channels)")
            }
        }
    }

    func testPNGWriteReplacesTheFileAndAnEmptyImageIsAnErrorNamingIt() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-png-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("old".utf8).write(to: url)
        let image = PixelImage(height: 2, width: 3, channels: 3, pixels: Array(0..<18))
        try PNGWriter.write(image, to: url)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: url), image)

        let empty = PixelImage(height: 0, width: 4, channels: 3, pixels: [])
        XCTAssertThrowsError(try PNGWriter.write(empty, to: url)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            XCTAssertTrue("\(error)".contains("4x0"), "\(error)")
        }
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: url), image, "a failed write leaves the old file")
    }

    // MARK: Confusion matrix

    /// The decoded plot, checked through the PNG encoder and decoder as a user would see it.
    func decodedPlot(_ plot: ConfusionMatrixPlot) throws -> PixelImage {
        let image = try ImageDecoder.decode(try plot.png(), name: "plot")
        XCTAssertEqual(image.width, plot.width)
        XCTAssertEqual(image.height, plot.height)
        return image
    }

    func colour(_ image: PixelImage, x: Int, y: Int) -> RGB { RGB(image[y, x, 0], image[y, x, 1], image[y, x, 2]) }

    /// The colours of every pixel of a cell.
    func cellColours(_ image: PixelImage, _ cell: (x: Int, y: Int, size: Int)) -> [RGB] {
        (cell.y..<cell.y + cell.size).flatMap { y in (cell.x..<cell.x + cell.size).map { colour(image, x: $0, y: y) } }
    }

    func testPerfectMatrixHasFullColourDiagonalWithCountsAndBackgroundElsewhere() throws {
        let counts = [3, 5, 2, 17, 1]
        let matrix = counts.indices.map { r in counts.indices.map { $0 == r ? counts[r] : 0 } }
        let plot = try ConfusionMatrixPlot(confusion: matrix, classNames: ["cat", "dog", "ant", "a_long_class_name", "e"])
        XCTAssertTrue(plot.showsLabels)
        XCTAssertEqual(plot.cellSize, ConfusionMatrixPlot.maximumCell)
        let image = try decodedPlot(plot)
        for r in counts.indices {
            for c in counts.indices {
                let cell = plot.cellFrame(trueClass: r, predicted: c)
                let colours = cellColours(image, cell)
                if r == c {
                    XCTAssertEqual(colour(image, x: cell.x + 1, y: cell.y + 1), ConfusionMatrixPlot.fullColour, "(\(r), \(c))")
                    // The count is written in white on the dark cell.
                    XCTAssertTrue(colours.contains(ConfusionMatrixPlot.background), "(\(r), \(c)) has no count")
                } else {
                    XCTAssertTrue(colours.allSatisfy { $0 == ConfusionMatrixPlot.background }, "(\(r), \(c))")
                }
            }
        }
        // Grid lines between cells, labels left of the matrix and above it.
        let first = plot.cellFrame(trueClass: 0, predicted: 0)
        XCTAssertEqual(colour(image, x: first.x - 1, y: first.y + 5), ConfusionMatrixPlot.gridColour)
        let black = RGB(0, 0, 0)
        let leftOfRow = (first.y..<first.y + first.size).flatMap { y in (first.x - 30..<first.x - 1).map { colour(image, x: $0, y: y) } }
        XCTAssertTrue(leftOfRow.contains(black), "no row label")
        let aboveColumn = (first.y - 30..<first.y - 1).flatMap { y in (first.x..<first.x + first.size).map { colour(image, x: $0, y: y) } }
        XCTAssertTrue(aboveColumn.contains(black), "no column label")
    }

    func testCellsAreColouredByTheShareOfTheirRow() throws {
        // Row 0: 1 of 4 and 3 of 4; row 1 has no samples at all and stays empty.
        let plot = try ConfusionMatrixPlot(confusion: [[1, 3], [0, 0]], classNames: ["a", "b"])
        let image = try decodedPlot(plot)
        let background = ConfusionMatrixPlot.background, full = ConfusionMatrixPlot.fullColour
        for (c, share) in [(0, 0.25), (1, 0.75)] {
            let cell = plot.cellFrame(trueClass: 0, predicted: c)
            XCTAssertEqual(colour(image, x: cell.x + 1, y: cell.y + 1), background.mixed(with: full, share))
        }
        // 255 + (8 - 255) * 0.75 = 69.75, 255 + (48 - 255) * 0.75 = 99.75, 255 + (107 - 255) * 0.75 = 144
        XCTAssertEqual(background.mixed(with: full, 0.75), RGB(70, 100, 144))
        for c in 0..<2 {
            XCTAssertTrue(cellColours(image, plot.cellFrame(trueClass: 1, predicted: c)).allSatisfy { $0 == background })
        }
    }

    func testThousandClassesStayBoundedWithOnePixelCellsAndNoLabels() throws {
        let n = 1000
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: n), count: n)
        for i in 0..<n { matrix[i][i] = 4; matrix[i][(i + 1) % n] = i % 2 == 0 ? 0 : 4 }
        let plot = try ConfusionMatrixPlot(confusion: matrix, classNames: (0..<n).map { "n\($0)" })
        XCTAssertFalse(plot.showsLabels)
        XCTAssertEqual(plot.classesPerCell, 1)
        XCTAssertEqual(plot.cellSize, 1)
        XCTAssertLessThanOrEqual(max(plot.width, plot.height), ConfusionMatrixPlot.maximumSide)
        XCTAssertGreaterThanOrEqual(plot.width, n)
        let image = try decodedPlot(plot)
        for i in [0, 1, 500, 999] {
            let diagonal = plot.cellFrame(trueClass: i, predicted: i)
            let expected = i % 2 == 0 ? ConfusionMatrixPlot.fullColour
                : ConfusionMatrixPlot.background.mixed(with: ConfusionMatrixPlot.fullColour, 0.5)
            XCTAssertTrue(cellColours(image, diagonal).allSatisfy { $0 == expected }, "class \(i)")
            let off = plot.cellFrame(trueClass: i, predicted: (i + 500) % n)
            XCTAssertTrue(cellColours(image, off).allSatisfy { $0 == ConfusionMatrixPlot.background }, "class \(i)")
        }
    }

    func testMoreClassesThanPixelsShowTheLargestShareOfEachBlock() throws {
        // 10 classes, at most 4 cells a side: blocks of 3 classes (3 + 3 + 3 + 1).
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for i in 0..<10 { matrix[i][i] = 1 }
        matrix[4] = [0, 0, 0, 0, 1, 0, 0, 0, 3, 0]  // block row 1: 3/4 of class 4 went to class 8 (block 2)
        let plot = try ConfusionMatrixPlot(confusion: matrix, classNames: (0..<10).map(String.init), title: "t",
                                           maximumGrid: 4)
        XCTAssertEqual(plot.classesPerCell, 3)
        XCTAssertFalse(plot.showsLabels)
        let image = try decodedPlot(plot)
        let mixed = ConfusionMatrixPlot.background.mixed(with: ConfusionMatrixPlot.fullColour, 0.75)
        let expected: [[RGB]] = (0..<4).map { r in
            (0..<4).map { c in r == c ? ConfusionMatrixPlot.fullColour : (r, c) == (1, 2) ? mixed : ConfusionMatrixPlot.background }
        }
        for r in 0..<4 {
            for c in 0..<4 {
                let cell = plot.cellFrame(trueClass: r * 3, predicted: c * 3)
                XCTAssertEqual(cellColours(image, cell), [expected[r][c]], "block (\(r), \(c))")
            }
        }
    }

    func testBadMatricesAreErrorsSayingWhatIsWrong() {
        func message(_ confusion: [[Int]], _ names: [String]) -> String {
            do { _ = try ConfusionMatrixPlot(confusion: confusion, classNames: names); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message([], []).contains("no classes"))
        XCTAssertTrue(message([[1, 2], [3]], ["a", "b"]).contains("row 1 has 1 counts; expected 2"))
        XCTAssertTrue(message([[1, -2], [3, 4]], ["a", "b"]).contains("negative count -2 at row 0, column 1"))
        XCTAssertTrue(message([[1, 2], [3, 4]], ["a"]).contains("1 class names for 2 classes"))
    }

    func testLabelsAreCutToTenCharactersAndUnknownCharactersDrawAsQuestionMarks() {
        XCTAssertEqual(ConfusionMatrixPlot.label("abcdefghij"), "abcdefghij")
        XCTAssertEqual(ConfusionMatrixPlot.label("abcdefghijk"), "abcdefghi.")
        XCTAssertEqual(BitmapFont.rows("é"), BitmapFont.rows("?"))
        XCTAssertNotEqual(BitmapFont.rows("a"), BitmapFont.rows("?"))
        let characters = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.")
        XCTAssertEqual(Set(characters.map { BitmapFont.rows($0) }).count, characters.count, "glyphs must differ")
        XCTAssertEqual(BitmapFont.width("ab", scale: 2), 22)
    }

    // MARK: Training curves

    func record(_ epoch: Int, loss: Double, top1: Double, validation: (Double, Double)?) -> EpochRecord {
        func report(_ loss: Double, _ top1: Double) -> ClassificationReport {
            ClassificationReport(loss: loss, samples: 10, top1: top1, top5: 1, confusion: [])
        }
        return EpochRecord(epoch: epoch, training: report(loss, top1), validation: validation.map { report($0.0, $0.1) },
                           learningRate: 1e-3, seconds: 1)
    }

    /// The polylines of an SVG by id, as point lists; fails when the document is not well-formed XML.
    func polylines(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> [String: [(Double, Double)]] {
        final class Collector: NSObject, XMLParserDelegate {
            var lines: [String: [(Double, Double)]] = [:]
            var texts: [String] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                guard name == "polyline", let id = attributes["id"], let points = attributes["points"] else { return }
                lines[id] = points.split(separator: " ").map { pair in
                    let xy = pair.split(separator: ",").map { Double($0) ?? .nan }
                    return (xy[0], xy.count > 1 ? xy[1] : .nan)
                }
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "not well-formed: \(String(describing: parser.parserError))", file: file, line: line)
        return collector.lines
    }

    func testCurvesHaveOneSeriesPerFigureWithAPointPerEpochInsideThePlot() {
        let history = (1...4).map { record($0, loss: 2 / Double($0), top1: 0.2 * Double($0), validation: (2.5 / Double($0), 0.15 * Double($0))) }
        let svg = TrainingCurvesPlot.svg(history, title: "lenet5 <digits> & more")
        XCTAssertTrue(svg.contains("lenet5 &lt;digits&gt; &amp; more"))
        let lines = polylines(svg)
        XCTAssertEqual(Set(lines.keys), ["loss-training", "loss-validation", "accuracy-training", "accuracy-validation"])
        for (id, points) in lines {
            XCTAssertEqual(points.count, 4, id)
            XCTAssertEqual(points.map(\.0), points.map(\.0).sorted(), "\(id): epochs left to right")
            XCTAssertTrue(points.allSatisfy { $0.0.isFinite && $0.1 >= TrainingCurvesPlot.plotTop
                && $0.1 <= TrainingCurvesPlot.plotTop + TrainingCurvesPlot.plotHeight }, "\(id): \(points)")
        }
        // Falling loss draws downwards (larger y), rising accuracy upwards.
        XCTAssertEqual(lines["loss-training"]!.map(\.1), lines["loss-training"]!.map(\.1).sorted())
        XCTAssertEqual(lines["accuracy-training"]!.map(\.1), lines["accuracy-training"]!.map(\.1).sorted(by: >))
        // Validation loss starts higher than training loss: it is drawn above it.
        XCTAssertLessThan(lines["loss-validation"]![0].1, lines["loss-training"]![0].1)
    }

    func testHistoryWithoutValidationHasOnlyTrainingCurvesAndLegend() {
        let history = (1...3).map { record($0, loss: 1 / Double($0), top1: 0.3, validation: nil) }
        let svg = TrainingCurvesPlot.svg(history, title: "head only")
        XCTAssertEqual(Set(polylines(svg).keys), ["loss-training", "accuracy-training"])
        XCTAssertFalse(svg.contains("validation<"), "no validation legend entry")
        XCTAssertTrue(svg.contains(">training<"))
    }

    func testOneEpochAndNonFiniteValues() {
        let one = polylines(TrainingCurvesPlot.svg([record(1, loss: 0.7, top1: 0.5, validation: (0.7, 0.5))], title: "one"))
        XCTAssertEqual(one.count, 4)
        XCTAssertTrue(one.values.allSatisfy { $0.count == 1 && $0[0].0.isFinite && $0[0].1.isFinite }, "\(one)")
        // A single epoch sits in the middle of the x axis.
        XCTAssertEqual(one["loss-training"]![0].0, TrainingCurvesPlot.panelLefts[0] + TrainingCurvesPlot.plotWidth / 2,
                       accuracy: 0.01)

        var history = (1...4).map { record($0, loss: 1, top1: 0.5, validation: (1.2, 0.4)) }
        history[1].training.loss = .nan
        history[2].validation!.loss = .infinity
        history[3].training.top1 = -.infinity
        let lines = polylines(TrainingCurvesPlot.svg(history, title: "nan"))
        XCTAssertEqual(lines["loss-training"]?.count, 3)
        XCTAssertEqual(lines["loss-validation"]?.count, 3)
        XCTAssertEqual(lines["accuracy-training"]?.count, 3)
        XCTAssertEqual(lines["accuracy-validation"]?.count, 4)
        XCTAssertTrue(lines.values.joined().allSatisfy { $0.0.isFinite && $0.1.isFinite })

        let allNaN = polylines(TrainingCurvesPlot.svg([record(1, loss: .nan, top1: .nan, validation: nil)], title: "x"))
        XCTAssertTrue(allNaN.isEmpty, "nothing finite to draw: \(allNaN)")
    }

    func testAxisTicksAreRoundNumbersCoveringTheData() {
        let axis = TrainingCurvesPlot.Axis(covering: [0.23, 1.87], integers: false)
        XCTAssertEqual(axis.step, 0.5)
        XCTAssertEqual(axis.ticks, [0, 0.5, 1, 1.5, 2])
        XCTAssertEqual(axis.ticks.map(axis.label), ["0.0", "0.5", "1.0", "1.5", "2.0"])
        let epochs = TrainingCurvesPlot.Axis(covering: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], integers: true)
        XCTAssertEqual([epochs.lower, epochs.upper, epochs.step], [1, 12, 2])
        XCTAssertEqual(epochs.ticks.map(epochs.label), ["2", "4", "6", "8", "10", "12"])
        let one = TrainingCurvesPlot.Axis(covering: [3], integers: true)
        XCTAssertEqual(one.ticks, [2, 3, 4])
    }
}
