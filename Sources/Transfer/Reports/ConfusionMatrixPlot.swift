import Foundation

/// A confusion matrix drawn as a heat map PNG: one square cell per (true class, predicted class),
/// coloured by the cell's share of its true class's samples (the row-normalised value, so the
/// diagonal shows each class's recall), with class names on the axes and counts in cells that can
/// hold them.
public struct ConfusionMatrixPlot {
    public static let background = RGB(255, 255, 255)
    /// The colour of a cell holding all of its row's samples; an empty cell is background.
    public static let fullColour = RGB(8, 48, 107)
    static let gridColour = RGB(200, 200, 200)
    static let ink = RGB(0, 0, 0)
    /// No side of the image exceeds this many pixels, whatever the number of classes.
    public static let maximumSide = 4096
    /// The matrix aims at about this many pixels a side, cells growing no larger than `maximumCell`.
    static let targetGrid = 1024
    static let maximumCell = 60
    /// Beyond this many classes a cell (one pixel) shows a block of classes.
    static let maximumGrid = 4000
    static let labelCharacters = 10

    /// `confusion[true][predicted]` sample counts.
    public let confusion: [[Int]]
    public let classNames: [String]
    public let title: String
    /// Classes per cell along each axis: 1 unless there are more classes than `maximumGrid`, when a
    /// cell shows the largest share in its block.
    public let classesPerCell: Int
    /// The side of a cell in pixels, grid lines excluded.
    public let cellSize: Int
    /// Whether class names and counts are drawn: only when a cell is tall enough for a line of text.
    public let showsLabels: Bool
    public let width: Int
    public let height: Int

    private let gridLine: Int
    private let textScale: Int
    private let labels: [String]
    private let gridX: Int, gridY: Int, gridSide: Int
    private let predictedCaption: (x: Int, y: Int)
    private let trueCaption: (x: Int, bottom: Int)
    private let legendY: Int

    private static let margin = 10
    private static let predictedText = "predicted class"
    private static let trueText = "true class"
    private static let legendLeft = "0%", legendRight = "100% of the true class"
    private static let rampWidth = 100

    /// Lays out the plot of `confusion` (rows: true class, columns: predicted), a square matrix of
    /// non-negative counts with one name per class.
    public init(confusion: [[Int]], classNames: [String], title: String = "confusion matrix") throws {
        try self.init(confusion: confusion, classNames: classNames, title: title, maximumGrid: Self.maximumGrid)
    }

    /// The same with the block threshold as a parameter, so tests can reach blocks without
    /// building a matrix of more than 4,000 classes.
    init(confusion: [[Int]], classNames: [String], title: String, maximumGrid: Int) throws {
        let n = confusion.count
        guard n >= 1 else { throw TransferError("confusion matrix plot: no classes") }
        for (r, row) in confusion.enumerated() {
            guard row.count == n else {
                throw TransferError("confusion matrix plot: row \(r) has \(row.count) counts; expected \(n), one per predicted class")
            }
            if let bad = row.firstIndex(where: { $0 < 0 }) {
                throw TransferError("confusion matrix plot: negative count \(row[bad]) at row \(r), column \(bad)")
            }
        }
        guard classNames.count == n else {
            throw TransferError("confusion matrix plot: \(classNames.count) class names for \(n) classes")
        }
        self.confusion = confusion
        self.classNames = classNames
        self.title = title

        let k = (n + maximumGrid - 1) / maximumGrid
        let blocks = (n + k - 1) / k
        let cell = k > 1 ? 1 : min(Self.maximumCell, max(1, Self.targetGrid / n))
        let line = cell >= 6 ? 1 : 0
        let scale = cell >= 24 ? 2 : 1
        let lineHeight = BitmapFont.glyphHeight * scale, gap = 4 * scale, margin = Self.margin
        classesPerCell = k
        cellSize = cell
        gridLine = line
        textScale = scale
        showsLabels = k == 1 && cell >= lineHeight + 2
        labels = showsLabels ? classNames.map(Self.label) : []
        gridSide = blocks * cell + (blocks + 1) * line

        // Left to right: rotated "true class", row labels, matrix. Top to bottom: title,
        // "predicted class", rotated column labels, matrix, colour legend.
        let labelLength = labels.map { BitmapFont.width($0, scale: scale) }.max().map { $0 + gap } ?? 0
        gridX = margin + lineHeight + gap + labelLength
        let predictedY = margin + lineHeight + gap
        gridY = predictedY + lineHeight + gap + labelLength
        let predictedWidth = BitmapFont.width(Self.predictedText, scale: scale)
        predictedCaption = (max(margin, gridX + (gridSide - predictedWidth) / 2), predictedY)
        let trueLength = BitmapFont.width(Self.trueText, scale: scale)
        trueCaption = (margin, max(gridY + (gridSide + trueLength) / 2, predictedY + lineHeight + gap + trueLength))
        legendY = max(gridY + gridSide, trueCaption.bottom) + 2 * gap
        let legendWidth = BitmapFont.width(Self.legendLeft, scale: scale) + Self.rampWidth
            + BitmapFont.width(Self.legendRight, scale: scale) + 2 * gap
        width = max(gridX + gridSide, predictedCaption.x + predictedWidth,
                    margin + BitmapFont.width(title, scale: scale), margin + legendWidth) + margin
        height = legendY + lineHeight + margin
    }

    /// The top-left corner and side of the cell showing (`trueClass`, `predicted`).
    public func cellFrame(trueClass: Int, predicted: Int) -> (x: Int, y: Int, size: Int) {
        let pitch = cellSize + gridLine
        return (gridX + gridLine + predicted / classesPerCell * pitch, gridY + gridLine + trueClass / classesPerCell * pitch,
                cellSize)
    }

    /// The plot as an RGB image.
    public func render() -> PixelImage {
        var canvas = Canvas(width: width, height: height, background: Self.background)
        let scale = textScale, gap = 4 * scale
        let capHeight = (BitmapFont.glyphHeight - 1) * scale
        canvas.text(title, x: Self.margin, y: Self.margin, scale: scale, Self.ink)
        canvas.text(Self.predictedText, x: predictedCaption.x, y: predictedCaption.y, scale: scale, Self.ink)
        canvas.text(Self.trueText, x: trueCaption.x, y: trueCaption.bottom, scale: scale, Self.ink, rotated: true)
        if gridLine > 0 { canvas.fill(x: gridX, y: gridY, width: gridSide, height: gridSide, Self.gridColour) }
        drawCells(&canvas)
        for (i, label) in labels.enumerated() {
            let cell = cellFrame(trueClass: i, predicted: i)
            let offset = (cell.size - capHeight) / 2
            canvas.text(label, x: gridX - gap - BitmapFont.width(label, scale: scale), y: cell.y + offset,
                        scale: scale, Self.ink)
            canvas.text(label, x: cell.x + offset, y: gridY - gap, scale: scale, Self.ink, rotated: true)
        }
        // Legend: the colour ramp from an empty cell to a full one.
        var x = Self.margin
        canvas.text(Self.legendLeft, x: x, y: legendY, scale: scale, Self.ink)
        x += BitmapFont.width(Self.legendLeft, scale: scale) + gap
        for i in 0..<Self.rampWidth {
            let colour = Self.background.mixed(with: Self.fullColour, Double(i) / Double(Self.rampWidth - 1))
            canvas.fill(x: x + i, y: legendY, width: 1, height: capHeight, colour)
        }
        x += Self.rampWidth + gap
        canvas.text(Self.legendRight, x: x, y: legendY, scale: scale, Self.ink)
        return canvas.image
    }

    /// The plot as PNG bytes; `name` is what an error calls it.
    public func png(name: String = "confusion matrix") throws -> Data { try PNGWriter.encode(render(), name: name) }

    /// Fills every cell by its row-normalised share and writes the counts that fit.
    private func drawCells(_ canvas: inout Canvas) {
        let n = confusion.count, k = classesPerCell, blocks = (n + k - 1) / k
        // With k > 1, a block row's cells take the largest share among its k x k classes.
        var blockShare = [Double](repeating: 0, count: blocks)
        for r in 0..<n {
            let row = confusion[r]
            let total = row.reduce(0, +)
            let inverse = total > 0 ? 1 / Double(total) : 0
            if k == 1 {
                for c in 0..<n {
                    let share = Double(row[c]) * inverse
                    let cell = cellFrame(trueClass: r, predicted: c)
                    canvas.fill(x: cell.x, y: cell.y, width: cell.size, height: cell.size,
                                Self.background.mixed(with: Self.fullColour, share))
                    if showsLabels, row[c] > 0 { drawCount(row[c], share: share, in: cell, &canvas) }
                }
                continue
            }
            for c in 0..<n { blockShare[c / k] = max(blockShare[c / k], Double(row[c]) * inverse) }
            guard r % k == k - 1 || r == n - 1 else { continue }
            for b in 0..<blocks {
                let cell = cellFrame(trueClass: r, predicted: b * k)
                canvas.fill(x: cell.x, y: cell.y, width: cell.size, height: cell.size,
                            Self.background.mixed(with: Self.fullColour, blockShare[b]))
                blockShare[b] = 0
            }
        }
    }

    /// `count` centred in `cell`, at the labels' scale or smaller, if it fits; light on dark cells.
    private func drawCount(_ count: Int, share: Double, in cell: (x: Int, y: Int, size: Int), _ canvas: inout Canvas) {
        let text = String(count)
        for scale in textScale > 1 ? [textScale, 1] : [1] {
            let w = BitmapFont.width(text, scale: scale), h = (BitmapFont.glyphHeight - 1) * scale
            guard w <= cell.size - 2, h <= cell.size - 2 else { continue }
            canvas.text(text, x: cell.x + (cell.size - w) / 2, y: cell.y + (cell.size - h) / 2, scale: scale,
                        share > 0.5 ? Self.background : Self.ink)
            return
        }
    }

    /// A class name as the axes show it: at most `labelCharacters` characters, a cut one ending in '.'.
    static func label(_ name: String) -> String {
        name.count <= labelCharacters ? name : String(name.prefix(labelCharacters - 1)) + "."
    }
}
