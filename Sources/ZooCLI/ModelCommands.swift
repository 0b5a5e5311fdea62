import ArgumentParser
import Engine
import Foundation
import Zoo

/// Options that shape a model, shared by the commands that build one.
struct ModelShapeOptions: ParsableArguments {
    @Option(help: "Number of classes of the top (default: the architecture's own, 1000 or LeNet-5's 10).")
    var classes: Int?

    @Flag(help: "Leave the classifier top off.")
    var noTop = false

    @Option(help: "Global pooling without the top: avg or max.")
    var pooling: String?

    @Option(help: "Input size as HxW, e.g. 160x160 (default: the architecture's).")
    var inputSize: String?

    @Option(help: "Classifier output: softmax or none (default: the reference's own).")
    var classifierActivation: String?

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption
    @OptionGroup var twin: TwinOptions

    func validate() throws {
        try OptionCheck.inRange(classes, ModelOptions.classesRange, "--classes")
        _ = try modelOptions()
    }

    func modelOptions() throws -> ModelOptions {
        var o = channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions(includeTop: !noTop, classes: classes))))
        if let pooling {
            guard let p = GlobalPooling(rawValue: pooling) else {
                throw ValidationError("--pooling must be avg or max, got '\(pooling)'")
            }
            o.pooling = p
        }
        if let inputSize {
            let parts = inputSize.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            let sides = parts.compactMap { Int($0) }
            guard parts.count == 2, sides.count == 2 else {
                throw ValidationError("--input-size must look like 224x224, got '\(inputSize)'")
            }
            for side in sides { try OptionCheck.inRange(side, ModelOptions.inputSideRange, "--input-size's height and width") }
            o.inputSize = (sides[0], sides[1])
        }
        o.classifierActivation = try ModelShapeOptions.activation(classifierActivation)
        return o
    }

    /// `softmax` or `none`; nil keeps the reference's own.
    static func activation(_ text: String?) throws -> Activation? {
        switch text {
        case nil: return nil
        case "softmax": return .softmax
        case "none", "linear": return .linear
        case let other?: throw ValidationError("--classifier-activation must be softmax or none, got '\(other)'")
        }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "One line per architecture (read from the catalog; nothing is built).")

    func run() throws {
        print("name".padding(toLength: 17, withPad: " ", startingAt: 0) + "parameters".padding(toLength: 14, withPad: " ", startingAt: 0)
            + "input".padding(toLength: 13, withPad: " ", startingAt: 0) + "reference")
        for a in Catalog.all {
            print(a.name.padding(toLength: 17, withPad: " ", startingAt: 0)
                + grouped(a.referenceParameters).padding(toLength: 14, withPad: " ", startingAt: 0)
                + a.defaultInput.map(String.init).joined(separator: "x").padding(toLength: 13, withPad: " ", startingAt: 0)
                + a.reference)
        }
    }
}

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary", abstract: "Layer table, parameter counts and multiply-accumulates of an architecture.")

    @Argument(help: "Architecture name (see `zoo list`).")
    var name: String

    @OptionGroup var shape: ModelShapeOptions

    func run() throws {
        // From shapes alone: no weight is allocated, whatever the input size.
        let summary = try ModelSummary(Catalog.architecture(named: name), options: shape.modelOptions())
        print(summary.render(title: name), terminator: "")
    }
}

/// `--input-channels N`: a model for N-channel inputs (grayscale, multispectral); RGB weights load into
/// its first convolution as timm's `adapt_input_conv` adapts them, as the load report says.
struct InputChannelsOption: ParsableArguments {
    @Option(help: ArgumentHelp("Input channels (default: the architecture's own, or the weight file's). RGB weights are adapted "
        + "as timm's adapt_input_conv does: 1 sums the kernel over RGB; other counts repeat it and scale by 3/N. "
        + "Images load as grayscale for 1; other counts than 1 and 3 take arrays (--input, images.npy).", valueName: "N"))
    var inputChannels: Int?

    func validate() throws { try OptionCheck.inRange(inputChannels, ModelOptions.inputChannelsRange, "--input-channels") }

    /// `options` with the channels set.
    func applied(to options: ModelOptions) -> ModelOptions {
        var o = options
        if let inputChannels { o.inputChannels = inputChannels }
        return o
    }
}
