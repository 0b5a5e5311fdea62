import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo evaluate`: accuracy, loss, per-class precision and recall, and the confusion matrix (CSV and PNG
/// heat map) on an image folder or arrays (what `zoo finetune --data` takes); with `--report`, all of it
/// and the worst mistakes with their Grad-CAM overlays as one HTML page.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Top-1/top-5 accuracy, per-class precision and recall on root/<class>/<image>; writes the confusion matrix as CSV and as a PNG heat map.",
        discussion: """
            --report writes one self-contained HTML page (pictures inline, nothing fetched): the summary, the \
            per-class table, the confusion heat map, the training curves when `zoo finetune` left them beside the \
            weights (<stem>-curves.svg), and the --mistakes most confident wrong predictions with their Grad-CAM \
            overlays for the predicted class.
            """)

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: "Image folder root/<class>/<image> (folders named after the model's classes are matched by name), a directory with images.npy and labels.npy, or an .h5 with x and y.")
    var data: String

    @Option(help: "Confusion matrix CSV (rows: true class, columns: predicted).")
    var out = "confusion.csv"

    @Option(help: "Confusion matrix heat map PNG, cells coloured by their share of the true class (default: --out with .png).")
    var png: String?

    @Flag(help: "Turn images upright by their EXIF orientation (Keras, PIL and torchvision ignore it).")
    var exif = false

    @Option(help: "Images per batch.")
    var batch = 32

    @Option(help: "Also write an HTML report here: summary, per-class table, confusion heat map, training curves, worst mistakes.")
    var report: String?

    @Option(help: "How many of the most confident wrong predictions the report shows, with Grad-CAM overlays (0 to 100).")
    var mistakes = 12

    @OptionGroup var transform: TransformInputOption

    func validate() throws {
        try OptionCheck.inRange(batch, OptionCheck.batchRange, "--batch")
        guard pngPath != out else { throw ValidationError("--png and --out are both \(out); the PNG would replace the CSV") }
        try OptionCheck.inRange(mistakes, 0...100, "--mistakes")
        if let report, report == out || report == pngPath {
            throw ValidationError("--report \(report) is also the \(report == out ? "CSV (--out)" : "PNG (--png)"); give it a name of its own")
        }
    }

    func run() throws {
        try OptionCheck.outputFile(out, option: "--out")
        try OptionCheck.outputFile(pngPath, option: "--png")
        if let report { try OptionCheck.outputFile(report, option: "--report") }
        let loaded = try weightFile.load(shape: transform.applied(to: ModelOptions()))
        try loaded.model.checkMemory(batch: batch, training: false, option: "--batch")
        let dataset = try TrainingDataSource.open(data, for: loaded.model, applyEXIF: exif)
        let outputShape = try loaded.model.outputShape()
        guard outputShape.count == 2 else {
            throw CommandFailure("\(loaded.model.architecture): output \(outputShape) has no classes to evaluate")
        }
        let classes = outputShape[1]
        let names = loaded.classNames(count: classes)
        let toModel = try EvaluateCommand.labelMap(folder: dataset.classNames, model: names, data: data)
        var metrics = MetricAccumulator(classes: classes)
        var worst = WorstMistakes(capacity: report == nil ? 0 : mistakes)
        let stream = try BatchStream(dataset, batchSize: batch)
        let line = ProgressLine()
        var nonFinite = false
        for (i, b) in stream.enumerated() {
            if !nonFinite, b.inputs.nonFiniteCounts != (0, 0) {
                line.end()
                StandardError.warnNonFinite(b.inputs, source: "batch \(i + 1) of \(data)")
                nonFinite = true
            }
            let p = try loaded.model.probabilities(try loaded.model.predict(b.inputs))
            let labels = b.labels.map { toModel[$0] }
            try metrics.add(logits: p, labels: labels, meanLoss: Self.crossEntropy(p, labels))
            worst.add(inputs: b.inputs, probabilities: p, labels: labels) { dataset.sampleName(at: b.indices[$0]) }
            line.show("evaluate: batch \(i + 1)/\(stream.batchCount)")
        }
        line.end()
        let results = metrics.report
        guard results.samples > 0 else { throw CommandFailure("no image of \(data) could be read; \(stream.summary)") }
        print(String(format: "top-1 accuracy: %.2f%% (%d images)", results.top1 * 100, results.samples))
        // With 5 classes or fewer, top-5 accuracy is 100% by construction.
        if classes > 5 { print(String(format: "top-5 accuracy: %.2f%%", results.top5 * 100)) }
        print(String(format: "mean cross-entropy: %.4f", results.loss))
        let width = max(5, names.map(\.count).max() ?? 0)
        print("class".padding(toLength: width, withPad: " ", startingAt: 0) + "  precision  recall  images")
        let precision = results.precision, recall = results.recall
        for c in 0..<classes {
            let images = results.confusion[c].reduce(0, +)
            print(names[c].padding(toLength: width, withPad: " ", startingAt: 0)
                + String(format: "  %9.4f  %6.4f  %6d", precision[c], recall[c], images))
        }
        var csv = "true\\predicted" + names.map { "," + FeatureFile.csvField($0) }.joined() + "\n"
        for c in 0..<classes {
            csv += FeatureFile.csvField(names[c]) + results.confusion[c].map { ",\($0)" }.joined() + "\n"
        }
        try DurableFile.write(Data(csv.utf8), to: URL(fileURLWithPath: out))
        print("wrote \(out): \(classes)x\(classes) confusion matrix; \(stream.summary)")
        let plot = try ConfusionMatrixPlot(confusion: results.confusion, classNames: names,
                                           title: "confusion matrix: \(loaded.model.architecture), \(results.samples) images")
        try DurableFile.write(try plot.png(name: pngPath), to: URL(fileURLWithPath: pngPath))
        print("wrote \(pngPath): \(plot.width)x\(plot.height) heat map, cells coloured by their share of the true class")
        if let report {
            try writeReport(report, model: loaded.model, names: names, results: results, skipped: stream.summary.skipped.count,
                            worst: worst)
        }
    }

    /// The HTML page of `--report`; a part that cannot be drawn (curves, Grad-CAM) is left out with a warning.
    func writeReport(_ path: String, model: Model, names: [String], results: ClassificationReport, skipped: Int,
                     worst: WorstMistakes) throws {
        var notes: [String] = []
        func leaveOut(_ what: String, _ error: Error) {
            let reason = "\(error)"
            StandardError.warn("report: \(what) left out: \(reason)")
            notes.append("\(what) left out: \(reason)")
        }
        // Seeded weights (no file) were never fine-tuned: no curves to look for.
        let curvesPath = weightFile.weights.map { FineTuneOutputs(weights: $0).curves }
        var curves: Data?
        if let curvesPath {
            do { curves = try EvaluationReport.readCurves(curvesPath) } catch { leaveOut("training curves", error) }
        }
        var cam: GradCAM?
        if !worst.worst.isEmpty {
            do { cam = try GradCAM(model: model) } catch { leaveOut("Grad-CAM overlays", error) }
        }
        var pictures: [MistakePicture] = []
        do {
            pictures = try MistakePicture.pictures(of: worst.worst, preprocessing: model.preprocessing, gradCAM: cam)
        } catch {
            leaveOut("pictures of the mistakes", error)
            cam = nil
        }
        var page = EvaluationReport(architecture: model.architecture, weights: weightFile.weights ?? "none (seeded initial weights)", data: data, classNames: names,
                                    metrics: results, skipped: skipped, curvesPath: curvesPath, curves: curves,
                                    mistakesAsked: mistakes, mistakes: pictures, mistakeCount: worst.count,
                                    gradCAMLayer: cam?.layer)
        page.notes = notes
        try DurableFile.write(Data(try page.html().utf8), to: URL(fileURLWithPath: path))
        print("wrote \(path): HTML report with \(pictures.count) of \(worst.count) mistakes"
            + (cam.map { ", Grad-CAM at \($0.layer)" } ?? "") + (curves == nil ? ", no training curves" : ", training curves"))
    }

    /// Mean cross-entropy of a batch from its probabilities: -log p(true class), p clipped to
    /// [1e-7, 1 - 1e-7] as Keras clips a softmax output before its log.
    static func crossEntropy(_ probabilities: Tensor, _ labels: [Int]) -> Float {
        let classes = probabilities.shape[1], epsilon = 1e-7
        let sum = labels.enumerated().reduce(0.0) { total, row in
            let p = Double(probabilities[flat: row.offset * classes + row.element])
            return total - log(min(max(p.isNaN ? 0 : p, epsilon), 1 - epsilon))
        }
        return Float(sum / Double(max(1, labels.count)))
    }

    /// Where the heat map goes: `--png`, else the CSV's path with its extension replaced by .png.
    var pngPath: String {
        if let png { return png }
        let stem = (out as NSString).deletingPathExtension
        return stem + ".png" == out ? out + ".png" : stem + ".png"
    }

    /// Folder label -> model output index: by class name when every folder is one of the model's
    /// classes, else by position when the counts agree.
    static func labelMap(folder: [String], model: [String], data: String) throws -> [Int] {
        let index = Dictionary(model.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let byName = folder.compactMap { index[$0] }
        if byName.count == folder.count { return byName }
        guard folder.count == model.count else {
            let shown = folder.prefix(10).map { excerpt($0) }.joined(separator: ", ") + (folder.count > 10 ? ", ..." : "")
            throw CommandFailure("\(data) has \(folder.count) class folders (\(shown)) "
                + "that are not among the model's \(model.count) classes")
        }
        return Array(0..<folder.count)
    }
}
