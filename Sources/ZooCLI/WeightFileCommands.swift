import ArgumentParser
import Engine
import Foundation
import WeightIO
import Zoo

/// `zoo inspect FILE`: format, layers, weights, shapes, dtypes and the parameter count.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a weight file's format, layers, weights, shapes and dtypes.")

    @Argument(help: "Weight file (.h5, .weights.h5, .keras; the format is detected from the content).")
    var file: String

    func run() throws {
        let f = try WeightFile.open(URL(fileURLWithPath: file))
        print("\(file): \(f.format)")
        let m = f.metadata
        if !m.isEmpty {
            let input: String = m.inputSize?.map(String.init).joined(separator: "x") ?? "?"
            let classes: String = m.classNames.map { ", \($0.count) class names" } ?? ""
            let architecture: String = m.architecture ?? "?", variant: String = m.variant ?? "?"
            let preprocessing: String = m.preprocessing ?? "?", transform: String = m.resizeTransform ?? "?"
            print("ConvZoo: architecture \(architecture), variant \(variant), preprocessing \(preprocessing), "
                + "transform \(transform), input \(input)\(classes)")
        }
        var total = 0
        for layer in f.layers where !layer.weights.isEmpty {
            print(layer.name + (layer.keras3Key.map { $0 != layer.name ? " (\($0))" : "" } ?? ""))
            for w in layer.weights {
                let count = w.shape.reduce(1, *)
                total += count
                print("    " + w.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                    + ("(" + w.shape.map(String.init).joined(separator: ", ") + ")").padding(toLength: 24, withPad: " ", startingAt: 0)
                    + w.dtype.padding(toLength: 10, withPad: " ", startingAt: 0) + grouped(count))
            }
        }
        print("Total params: \(grouped(total)) in \(f.layers.filter { !$0.weights.isEmpty }.count) layers with weights")
    }
}

/// `zoo convert IN OUT --format keras-h5|keras3`.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Convert a weight file between Keras legacy .h5 and Keras 3 .weights.h5.")

    @Argument(help: "Input weight file.")
    var input: String

    @Argument(help: "Output file (Keras 3 needs a name ending in .weights.h5).")
    var output: String

    @Option(help: "Output format: keras-h5 or keras3.")
    var format: String = "keras-h5"

    @Option(help: "Architecture, when the file does not record it (needed to name Keras 3 keys).")
    var model: String?

    func validate() throws {
        guard SaveFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be one of " + SaveFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    func run() throws {
        let target = SaveFormat(rawValue: format)!
        let inURL = URL(fileURLWithPath: input), outURL = URL(fileURLWithPath: output)
        let file = try WeightFile.openMapped(inURL, architecture: model)
        if model != nil || file.metadata.architecture != nil {
            // Through the model: layer order and Keras 3 keys come from the architecture.
            let (m, report) = try withFlagHints { try Model.load(from: file, architecture: model) }
            try m.saveWeights(to: outURL, format: target)
            print(report)
        } else {
            do { try WeightWriter.write(file.read(), to: outURL, format: target) } catch {
                // Without the architecture, layer order and Keras 3 keys come from the file alone.
                throw CommandFailure("\(error)\n\(input) does not record its architecture; give it with --model "
                    + "(see `zoo list`) so the layers are named and ordered by the architecture")
            }
        }
        print("wrote \(output) (\(target.rawValue))")
    }
}
