import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo evaluate`: accuracy, per-class precision and recall, and the confusion matrix (CSV and PNG heat
/// map) on an image folder or arrays (what `zoo finetune --data` takes).
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Top-1/top-5 accuracy, per-class precision and recall on root/<class>/<image>; writes the confusion matrix as CSV and as a PNG heat map.")

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

    func validate() throws {
        try OptionCheck.inRange(batch, OptionCheck.batchRange, "--batch")
        guard pngPath != out else { throw ValidationError("--png and --out are both \(out); the PNG would replace the CSV") }
    }

    func run() throws {
        try OptionCheck.outputFile(out, option: "--out")
        try OptionCheck.outputFile(pngPath, option: "--png")
        let loaded = try weightFile.load()
        try loaded.model.checkMemory(batch: batch, training: false)
        let dataset = try TrainingDataSource.open(data, for: loaded.model, applyEXIF: exif)
        let outputShape = try loaded.model.outputShape()
        guard outputShape.count == 2 else {
            throw CommandFailure("\(loaded.model.architecture): output \(outputShape) has no classes to evaluate")
        }
        let classes = outputShape[1]
        let names = loaded.classNames(count: classes)
        let toModel = try EvaluateCommand.labelMap(folder: dataset.classNames, model: names, data: data)
        var metrics = MetricAccumulator(classes: classes)
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
            try metrics.add(logits: p, labels: b.labels.map { toModel[$0] }, meanLoss: 0)
            line.show("evaluate: batch \(i + 1)/\(stream.batchCount)")
        }
        line.end()
        let report = metrics.report
        guard report.samples > 0 else { throw CommandFailure("no image of \(data) could be read; \(stream.summary)") }
        print(String(format: "top-1 accuracy: %.2f%% (%d images)", report.top1 * 100, report.samples))
        // With 5 classes or fewer, top-5 accuracy is 100% by construction.
        if classes > 5 { print(String(format: "top-5 accuracy: %.2f%%", report.top5 * 100)) }
        let width = max(5, names.map(\.count).max() ?? 0)
        print("class".padding(toLength: width, withPad: " ", startingAt: 0) + "  precision  recall  images")
        let precision = report.precision, recall = report.recall
        for c in 0..<classes {
            let images = report.confusion[c].reduce(0, +)
            print(names[c].padding(toLength: width, withPad: " ", startingAt: 0)
                + String(format: "  %9.4f  %6.4f  %6d", precision[c], recall[c], images))
        }
        var csv = "true\\predicted" + names.map { "," + FeatureFile.csvField($0) }.joined() + "\n"
        for c in 0..<classes {
            csv += FeatureFile.csvField(names[c]) + report.confusion[c].map { ",\($0)" }.joined() + "\n"
        }
        try DurableFile.write(Data(csv.utf8), to: URL(fileURLWithPath: out))
        print("wrote \(out): \(classes)x\(classes) confusion matrix; \(stream.summary)")
        let plot = try ConfusionMatrixPlot(confusion: report.confusion, classNames: names,
                                           title: "confusion matrix: \(loaded.model.architecture), \(report.samples) images")
        try DurableFile.write(try plot.png(name: pngPath), to: URL(fileURLWithPath: pngPath))
        print("wrote \(pngPath): \(plot.width)x\(plot.height) heat map, cells coloured by their share of the true class")
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
