import ArgumentParser
import Engine
import Foundation
import Transfer
import Zoo

/// `zoo filters`: a convolution's kernels as a PNG grid.
struct FiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "Draw a convolution's kernels as a PNG grid (RGB tiles for a 3-channel layer, gray per input channel otherwise).")

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: "Convolution to draw (default: the first).")
    var layer: String?

    @Option(help: "Output PNG file.")
    var out: String

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption
    @OptionGroup var twin: TwinOptions

    func run() throws {
        try OptionCheck.outputFile(out, option: "--out")
        let built = try weightFile.build(shape: channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions()))))
        let convolutions = built.network.allLayers.compactMap { $0 as? Conv2D }
        guard let conv = layer.map({ name in convolutions.first { $0.name == name } }) ?? convolutions.first else {
            let known = convolutions.prefix(12).map(\.name).joined(separator: ", ")
            throw CommandFailure("\(built.architecture) has no convolution '\(layer ?? "")'; convolutions: \(known)"
                + (convolutions.count > 12 ? ", ..." : ""))
        }
        let grid = TileGrid.filters(of: conv)
        try PNGWriter.write(grid.image, to: URL(fileURLWithPath: out))
        print("wrote \(out): \(grid.image.width)x\(grid.image.height), \(grid.shown) of \(grid.total) kernels of \(conv.name) "
            + "(\(conv.kernelSize.height)x\(conv.kernelSize.width))")
    }
}

/// `zoo activations`: a layer's feature maps for one image as a PNG grid.
struct ActivationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations", abstract: "Draw a layer's feature maps for one image as a PNG grid, a gray tile per channel.")

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: "Layer whose output is drawn (a tap, an alias or any layer reachable by name, e.g. block3_conv1).")
    var layer: String

    @Argument(help: "Image file (.jpg, .jpeg, .png).")
    var image: String

    @Option(help: "Output PNG file.")
    var out: String

    @Flag(help: "Turn the image upright by its EXIF orientation.")
    var exif = false

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption
    @OptionGroup var twin: TwinOptions

    func run() throws {
        try OptionCheck.outputFile(out, option: "--out")
        let loaded = try weightFile.load(shape: channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions()))),
                                          applyEXIF: exif)
        let x = try loaded.pipeline.load(URL(fileURLWithPath: image))
        let grid = try TileGrid.activations(try loaded.model.output(at: layer, for: x.reshaped([1] + x.shape)))
        try PNGWriter.write(grid.image, to: URL(fileURLWithPath: out))
        print("wrote \(out): \(grid.image.width)x\(grid.image.height), \(grid.shown) of \(grid.total) feature maps of \(layer)")
    }
}
