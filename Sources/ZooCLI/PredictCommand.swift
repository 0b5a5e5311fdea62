import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo predict`: the top classes of each image, with names and probabilities.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Classify images with a weight file's model; print the top classes and probabilities.")

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: "Classes to print per image (default: min(5, classes)).")
    var top: Int?

    @Argument(help: "Image files (.jpg, .jpeg, .png).")
    var images: [String]

    @Flag(help: "Turn images upright by their EXIF orientation (Keras, PIL and torchvision ignore it).")
    var exif = false

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption
    @OptionGroup var twin: TwinOptions

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        let loaded = try weightFile.load(shape: channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions()))),
                                          applyEXIF: exif)
        var succeeded = 0
        for path in images {
            let x: Tensor
            do {
                x = try loaded.pipeline.load(URL(fileURLWithPath: path))
            } catch {
                let reason = "\(error)"
                // Image errors already name their file.
                StandardError.warn("skipped " + (reason.contains(path) ? reason : "\(path): \(reason)"))
                continue
            }
            let output = try loaded.model.predict(x.reshaped([1] + x.shape))
            let p = try loaded.model.probabilities(output)
            let classes = p.shape[1]
            let names = loaded.classNames(count: classes)
            let row = Array(p.scalars)
            // Highest first; ties by index, as argmax and topk order them.
            let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
            print(path)
            let width = order.prefix(top ?? 5).map { names[$0].count }.max() ?? 0
            for (rank, c) in order.prefix(min(top ?? 5, classes)).enumerated() {
                let name = names[c].padding(toLength: width, withPad: " ", startingAt: 0)
                print("  \(rank + 1). \(name)  " + String(format: "%.4f", row[c]))
            }
            succeeded += 1
        }
        if succeeded == 0 { throw CommandFailure("none of the \(images.count) image(s) could be read") }
    }
}
