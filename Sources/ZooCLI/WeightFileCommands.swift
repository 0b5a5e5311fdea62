import ArgumentParser
import Engine
import Foundation
import WeightIO
import Zoo

/// `zoo inspect FILE`: format, layers, weights, shapes, dtypes and the parameter count.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a weight file's format, layers, weights, shapes and dtypes.")

    @Argument(help: "Weight file (.h5, .weights.h5, .keras, .pth/.pt/.bin, .safetensors, .caffemodel; the format is detected from the content).")
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

/// `zoo convert IN OUT [--format keras-h5|keras3|safetensors]`.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert any weight file ConvZoo reads to Keras legacy .h5, Keras 3 .weights.h5 or .safetensors.",
        discussion: """
            A .safetensors file of a torchvision-flavour model (resnet18-152, vgg16-bn, vgg19-bn, alexnet, \
            googlenet) has torchvision's keys and layouts, so PyTorch loads it into torchvision's model; any \
            other has Keras's <layer>/<weight> names. Every format keeps ConvZoo's metadata (architecture, \
            classes, preprocessing, transform); safetensors keeps it in __metadata__.
            """)

    @Argument(help: "Input weight file (.h5, .weights.h5, .keras, .pth/.pt/.bin, .safetensors, .caffemodel).")
    var input: String

    @Argument(help: "Output file (Keras 3 needs a name ending in .weights.h5).")
    var output: String

    @Option(help: "Output format: keras-h5, keras3 or safetensors (default: keras3 for a name ending in .weights.h5, safetensors for .safetensors, else keras-h5).")
    var format: String?

    @Option(help: "Architecture, when the file does not record it (needed to name Keras 3 and torchvision keys).")
    var model: String?

    @OptionGroup var transform: TransformInputOption
    @OptionGroup var twin: TwinOptions

    /// The format asked for, else the one the output's name implies.
    var target: SaveFormat? { format.map { SaveFormat(rawValue: $0) } ?? SaveFormat(fileName: output) }

    func validate() throws {
        guard let target else {
            throw ValidationError("--format must be one of " + SaveFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if target == .keras3, !output.hasSuffix(".weights.h5") {
            throw ValidationError("\(output): a Keras 3 weight file's name must end in .weights.h5 (Keras refuses any other)")
        }
        if URL(fileURLWithPath: input).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL {
            throw ValidationError("the output is the input (\(input)); give another output file")
        }
    }

    func run() throws {
        let target = self.target!
        try OptionCheck.outputFile(output, option: "output")
        let inURL = URL(fileURLWithPath: input), outURL = URL(fileURLWithPath: output)
        let file = try withFlagHints { try WeightFile.openMapped(inURL, architecture: model) }
        if model != nil || file.metadata.architecture != nil {
            // Through the model: layer order and Keras 3 keys come from the architecture.
            let (m, report) = try withFlagHints {
                try Model.load(from: file, architecture: model, options: transform.applied(to: twin.applied(to: ModelOptions())))
            }
            try m.saveWeights(to: outURL, format: target, hooks: .killedForTests)
            print(report)
        } else {
            do { try WeightWriter.write(file.read(), to: outURL, format: target, hooks: .killedForTests) } catch {
                // Without the architecture, layer order and Keras 3 keys come from the file alone.
                throw CommandFailure("\(error)\n\(input) does not record its architecture; give it with --model "
                    + "(see `zoo list`) so the layers are named and ordered by the architecture")
            }
        }
        print("wrote \(output) (\(target.rawValue))")
    }
}

extension SaveHooks {
    /// Kills the process abruptly (SIGKILL) once the save has written `ZOO_TEST_KILL_DURING_SAVE`
    /// bytes of weights, in 16 KB slices: tests use it to stop `convert` mid-save, as `kill -9` would.
    static var killedForTests: SaveHooks {
        guard let bytes = ProcessInfo.processInfo.environment["ZOO_TEST_KILL_DURING_SAVE"].flatMap(Int.init) else {
            return SaveHooks()
        }
        return SaveHooks(chunkSize: 16 * 1024) { written in if written >= bytes { kill(getpid(), SIGKILL) } }
    }
}
