import Engine
import Foundation

/// One self-contained HTML page about an evaluation: the summary, the per-class table, the
/// confusion matrix as a heat map, the training curves a fine-tune left beside the weights, and the
/// most confident mistakes with their Grad-CAM overlays. Pictures are data: URIs; the page has no
/// script, no link and no address outside itself. Every text from a file or the command line
/// (paths, class names, sample names) is escaped.
///
/// The page is also well-formed XML (every element closed, attributes quoted), so tests and tools
/// can read it with an XML parser. Sections have stable ids: `summary`, `per-class`, `confusion`,
/// `curves` (only with curves), `mistakes`.
public struct EvaluationReport {
    /// Up to this many classes the confusion matrix is an HTML table of coloured cells; beyond
    /// it, the PNG heat map (`ConfusionMatrixPlot`), which stays readable for 1000 classes.
    public static let largestTable = 50
    /// Pictures smaller than this many pixels a side are shown enlarged by a whole factor.
    static let smallestShown = 128
    /// Curves files above this size are left out of the page.
    public static let largestCurves = 16 << 20

    public var architecture: String
    public var weights: String
    public var data: String
    public var classNames: [String]
    public var metrics: ClassificationReport
    /// Samples that could not be read.
    public var skipped: Int
    /// The curves file looked for (none for seeded weights), and its SVG when it was there.
    public var curvesPath: String?
    public var curves: Data?
    /// The mistakes asked for (the page says when there were fewer), those shown, and how many there were.
    public var mistakesAsked: Int
    public var mistakes: [MistakePicture]
    public var mistakeCount: Int
    /// The Grad-CAM layer of the overlays; nil when Grad-CAM could not run (`notes` says why).
    public var gradCAMLayer: String?
    /// Sentences the page shows under the summary (what was left out, and why).
    public var notes: [String] = []

    public init(architecture: String, weights: String, data: String, classNames: [String], metrics: ClassificationReport,
                skipped: Int, curvesPath: String?, curves: Data?, mistakesAsked: Int, mistakes: [MistakePicture],
                mistakeCount: Int, gradCAMLayer: String?) {
        self.architecture = architecture
        self.weights = weights
        self.data = data
        self.classNames = classNames
        self.metrics = metrics
        self.skipped = skipped
        self.curvesPath = curvesPath
        self.curves = curves
        self.mistakesAsked = mistakesAsked
        self.mistakes = mistakes
        self.mistakeCount = mistakeCount
        self.gradCAMLayer = gradCAMLayer
    }

    /// The training curves SVG at `path`: nil when there is no file; throws when it is too large,
    /// unreadable or not an SVG document (the caller says so and leaves the curves out).
    public static func readCurves(_ path: String) throws -> Data? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= largestCurves else {
            throw TransferError("\(path): \(size) bytes; training curves above \(largestCurves) bytes are left out")
        }
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TransferError("\(path): cannot read the training curves (\(error.localizedDescription))")
        }
        let head = String(decoding: bytes.prefix(512), as: UTF8.self).drop { $0.isWhitespace || $0 == "\u{FEFF}" }
        guard head.hasPrefix("<svg") || (head.hasPrefix("<?xml") && head.contains("<svg")) else {
            throw TransferError("\(path): not an SVG document; expected the training curves `zoo finetune` writes")
        }
        return bytes
    }

    /// The page.
    public func html() throws -> String {
        let title = "zoo evaluate: \(architecture) on \(data)"
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>\(Markup.escaped(title))</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            <h1>\(Markup.escaped(title))</h1>

            """
        page += summarySection() + perClassSection() + (try confusionSection())
        if let curves, let curvesPath {
            page += "<section id=\"curves\">\n<h2>Training curves</h2>\n<p>Written by <code>zoo finetune</code> beside the weights: "
                + "<code>\(Markup.escaped(curvesPath))</code></p>\n"
                + "<img id=\"training-curves\" src=\"\(Markup.dataURI(curves, mediaType: "image/svg+xml"))\" alt=\"training curves\"/>\n"
                + "</section>\n"
        }
        page += try mistakesSection()
        return page + "</body>\n</html>\n"
    }

    func summarySection() -> String {
        var rows: [(String, String)] = [
            ("model", architecture), ("weights", weights), ("data", data),
            ("images", "\(metrics.samples)" + (skipped > 0 ? " (\(skipped) unreadable, skipped)" : "")),
            ("classes", "\(classNames.count)"),
            ("top-1 accuracy", Self.percent(metrics.top1)),
        ]
        // With 5 classes or fewer, top-5 accuracy is 100% by construction.
        if classNames.count > 5 { rows.append(("top-5 accuracy", Self.percent(metrics.top5))) }
        rows.append(("mean cross-entropy", String(format: "%.4f", metrics.loss)))
        let f1 = Self.f1(metrics)
        rows.append(("macro-average F1", String(format: "%.4f", f1.reduce(0, +) / Double(max(1, f1.count)))))
        let noCurves = curvesPath.map { "none (no \($0))" } ?? "none (seeded weights, not fine-tuned)"
        rows.append(("training curves", curves == nil ? noCurves : curvesPath ?? ""))
        var s = "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n<tbody>\n"
        for (name, value) in rows {
            s += "<tr><th>\(Markup.escaped(name))</th><td>\(Markup.escaped(value))</td></tr>\n"
        }
        s += "</tbody>\n</table>\n"
        s += "<p class=\"note\">Cross-entropy: minus the log of the true class's probability, clipped below at 1e-7 "
            + "(as Keras computes it from probabilities).</p>\n"
        for note in notes { s += "<p class=\"note\">\(Markup.escaped(note))</p>\n" }
        return s + "</section>\n"
    }

    func perClassSection() -> String {
        let precision = metrics.precision, recall = metrics.recall, f1 = Self.f1(metrics)
        var s = "<section id=\"per-class\">\n<h2>Per class</h2>\n<table id=\"per-class-table\">\n"
            + "<thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>images</th></tr></thead>\n<tbody>\n"
        for (c, name) in classNames.enumerated() {
            s += "<tr class=\"class-row\"><th>\(Markup.escaped(name))</th>"
                + String(format: "<td>%.4f</td><td>%.4f</td><td>%.4f</td>", precision[c], recall[c], f1[c])
                + "<td>\(metrics.confusion[c].reduce(0, +))</td></tr>\n"
        }
        return s + "</tbody>\n</table>\n</section>\n"
    }

    func confusionSection() throws -> String {
        let n = classNames.count
        var s = "<section id=\"confusion\">\n<h2>Confusion matrix</h2>\n"
            + "<p>Rows: true class; columns: predicted class. Cells are coloured by their share of the true class "
            + "(white 0%, dark blue 100%), so the diagonal shows each class's recall.</p>\n"
        guard n <= Self.largestTable else {
            let plot = try ConfusionMatrixPlot(confusion: metrics.confusion, classNames: classNames,
                                               title: "confusion matrix: \(architecture), \(metrics.samples) images")
            return s + "<img id=\"confusion-heat-map\" src=\"\(Markup.dataURI(try plot.png(), mediaType: "image/png"))\" "
                + "width=\"\(plot.width)\" height=\"\(plot.height)\" alt=\"confusion matrix heat map\"/>\n</section>\n"
        }
        s += "<table id=\"confusion-matrix\">\n<thead><tr><th>true \\ predicted</th>"
        for name in classNames { s += "<th class=\"predicted\">\(Markup.escaped(name))</th>" }
        s += "</tr></thead>\n<tbody>\n"
        for (r, row) in metrics.confusion.enumerated() {
            let total = row.reduce(0, +)
            s += "<tr><th>\(Markup.escaped(classNames[r]))</th>"
            for count in row {
                let share = total > 0 ? Double(count) / Double(total) : 0
                let colour = ConfusionMatrixPlot.background.mixed(with: ConfusionMatrixPlot.fullColour, share)
                s += "<td class=\"cell\" style=\"background:\(Self.hex(colour))"
                    + (share > 0.5 ? ";color:#fff" : "") + "\">\(count)</td>"
            }
            s += "</tr>\n"
        }
        return s + "</tbody>\n</table>\n</section>\n"
    }

    func mistakesSection() throws -> String {
        var s = "<section id=\"mistakes\">\n<h2>Worst mistakes</h2>\n"
        guard mistakeCount > 0 else {
            return s + "<p>None: every image was classified correctly.</p>\n</section>\n"
        }
        guard !mistakes.isEmpty else {
            return s + "<p>\(mistakeCount) wrong predictions; none shown (asked for \(mistakesAsked)).</p>\n</section>\n"
        }
        s += "<p>The \(mistakes.count) most confident of the \(mistakeCount) wrong predictions, as the model saw each image"
        s += gradCAMLayer.map { ", and beside it Grad-CAM for the wrongly predicted class at layer <code>\(Markup.escaped($0))</code>" } ?? ""
        s += ".</p>\n<div class=\"mistakes\">\n"
        for picture in mistakes {
            let m = picture.mistake
            let label = "true \(classNames[m.trueClass]), predicted \(classNames[m.predicted])"
            s += "<figure class=\"mistake\">\n" + (try Self.image(picture.image, class: "thumbnail", alt: label))
            if let overlay = picture.overlay {
                s += try Self.image(overlay, class: "gradcam", alt: "Grad-CAM of " + label)
            }
            s += "<figcaption><span class=\"sample\">\(Markup.escaped(m.name))</span><br/>"
                + "true <b>\(Markup.escaped(classNames[m.trueClass]))</b>, predicted "
                + "<b>\(Markup.escaped(classNames[m.predicted]))</b> "
                + String(format: "(%.1f%%)", 100 * Double(m.confidence)) + "</figcaption>\n</figure>\n"
        }
        return s + "</div>\n</section>\n"
    }

    /// An <img> holding `picture` as a PNG data: URI, shown enlarged when it is small.
    static func image(_ picture: PixelImage, class name: String, alt: String) throws -> String {
        let factor = max(1, smallestShown / max(1, max(picture.width, picture.height)))
        let png = try PNGWriter.encode(picture, name: alt)
        return "<img class=\"\(name)\" src=\"\(Markup.dataURI(png, mediaType: "image/png"))\" "
            + "width=\"\(picture.width * factor)\" height=\"\(picture.height * factor)\" alt=\"\(Markup.escaped(alt))\"/>\n"
    }

    /// Per class: the harmonic mean of precision and recall (0 when both are 0).
    static func f1(_ metrics: ClassificationReport) -> [Double] {
        zip(metrics.precision, metrics.recall).map { p, r in p + r > 0 ? 2 * p * r / (p + r) : 0 }
    }

    static func percent(_ share: Double) -> String { String(format: "%.2f%%", 100 * share) }

    static func hex(_ colour: RGB) -> String { String(format: "#%02x%02x%02x", colour.red, colour.green, colour.blue) }

    /// The page's only style sheet; it holds no '<' or '&', so it stays well-formed XML.
    static let style = """
        body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}\
        h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}\
        table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px}\
        td{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left;background:#f4f4f4}\
        .summary td{text-align:left}#confusion-matrix td{text-align:center;min-width:28px}\
        .note{color:#555;font-size:13px}\
        img{image-rendering:pixelated}\
        .mistakes{display:flex;flex-wrap:wrap;gap:16px}\
        figure.mistake{margin:0;padding:8px;border:1px solid #ddd;max-width:520px}\
        figure.mistake img{margin-right:6px;vertical-align:top}\
        figcaption{font-size:13px;margin-top:4px;overflow-wrap:anywhere}
        """
}
