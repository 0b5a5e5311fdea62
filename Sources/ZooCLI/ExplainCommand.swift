import ArgumentParser
import Engine
import Foundation
import Transfer
import WeightIO
import Zoo

/// `zoo explain`: Grad-CAM heat maps of images, as PNG overlays and as raw maps.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Grad-CAM: where in each image the model found its class; writes heat-map overlays (PNG) and raw maps (.npy).",
        discussion: """
            Grad-CAM (Selvaraju et al. 2017): ReLU(sum over channels k of a_k A^k), A the layer's output and a_k \
            the spatial mean of the class score's gradient over A^k. The score is taken before softmax; for \
            lenet5-paper, whose RBF head outputs penalties (lower is better), it is the negated penalty.
            """)

    @OptionGroup var weightFile: WeightFileOptions

    @Option(help: "Layer whose output is explained (default: the architecture's last convolutional feature map).")
    var layer: String?

    @Option(name: .customLong("class"), help: "Class to explain, by index or name (default: each image's top class).")
    var classChoice: String?

    @Option(help: "Folder for the overlays, <image>-gradcam.png.")
    var out = "."

    @Option(help: "Also write the raw maps here: float32 .npy, (images, h, w) at the layer's resolution, not normalized.")
    var maps: String?

    @Option(help: "A preprocessed float32 NHWC .npy batch instead of image files (as `zoo run` takes); overlays show it de-preprocessed.")
    var input: String?

    @Argument(help: "Image files (.jpg, .jpeg, .png).")
    var images: [String] = []

    @Flag(help: "Turn images upright by their EXIF orientation.")
    var exif = false

    @OptionGroup var channels: InputChannelsOption

    @OptionGroup var transform: TransformInputOption
    @OptionGroup var twin: TwinOptions

    func validate() throws {
        if (input == nil) == images.isEmpty { throw ValidationError("give image files or --input x.npy (one of the two)") }
    }

    func run() throws {
        try OptionCheck.writableFolder(URL(fileURLWithPath: out), option: "--out")
        if let maps { try OptionCheck.outputFile(maps, option: "--maps") }
        let shape = channels.applied(to: transform.applied(to: twin.applied(to: ModelOptions())))
        let batch = try input.map(readBatch)
        // A preprocessed batch needs no image pipeline (whose resize may not fit its size).
        let built: Model, pipeline: ImagePipeline?
        if let x = batch {
            built = try weightFile.build(shape: shape, inputSize: (x.shape[1], x.shape[2]))
            pipeline = nil
        } else {
            let loaded = try weightFile.load(shape: shape, applyEXIF: exif)
            (built, pipeline) = (loaded.model, loaded.pipeline)
        }
        let cam = try GradCAM(model: built, layer: layer)
        let names = LoadedModel.classNames(of: built, count: try built.outputShape()[1])
        let chosen = try classChoice.map { try classIndex($0, names: names) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        var written: [Tensor] = []
        var usedNames: Set<String> = []
        func explainOne(_ x: Tensor, picture: () throws -> PixelImage, source: String, stem: String) throws {
            let result = try cam.explain(x, classes: chosen.map { [$0] })
            let map = result.maps.reshaped(Array(result.maps.shape.dropFirst()))
            let c = result.classes[0]
            let caption = "\(names[c]) " + String(format: "%.1f%%", 100 * result.probabilities[0, c])
            var file = stem + "-gradcam.png"
            var n = 2
            while usedNames.contains(file) { file = "\(stem)-\(n)-gradcam.png"; n += 1 }
            usedNames.insert(file)
            let url = URL(fileURLWithPath: out).appendingPathComponent(file)
            try PNGWriter.write(try HeatMapOverlay.render(image: try picture(), map: map, caption: caption), to: url)
            written.append(result.maps)
            print("\(source): \(names[c]) (\(String(format: "%.4f", result.probabilities[0, c]))) at \(cam.layer) -> \(url.path)")
        }

        if let batch {
            let stem = URL(fileURLWithPath: input!).deletingPathExtension().lastPathComponent
            let sampleShape = Array(batch.shape.dropFirst()), size = sampleShape.reduce(1, *)
            for i in 0..<batch.shape[0] {
                let x = Tensor(shape: [1] + sampleShape, scalars: Array(UnsafeBufferPointer(start: batch.data + i * size, count: size)))
                try explainOne(x, picture: { try built.preprocessing.restore(x.reshaped(sampleShape)) },
                               source: "\(input!)[\(i)]", stem: "\(stem)-\(i)")
            }
        } else {
            for path in images {
                let url = URL(fileURLWithPath: path)
                let picture: PixelImage
                do {
                    picture = try pipeline!.pixels(of: url)
                } catch {
                    let reason = "\(error)"
                    StandardError.warn("skipped " + (reason.contains(path) ? reason : "\(path): \(reason)"))
                    continue
                }
                let x = pipeline!.preprocessing.apply(picture)
                try explainOne(x.reshaped([1] + x.shape), picture: { picture }, source: path,
                               stem: url.deletingPathExtension().lastPathComponent)
            }
            if written.isEmpty { throw CommandFailure("none of the \(images.count) image(s) could be read") }
        }
        if let maps {
            let (h, w) = (written[0].shape[1], written[0].shape[2])
            var all = Tensor(uninitialized: [written.count, h, w])
            for (i, m) in written.enumerated() { all.mutableData().advanced(by: i * h * w).update(from: m.data, count: h * w) }
            try DurableFile.write(NPY.encode(all), to: URL(fileURLWithPath: maps))
            print("wrote \(maps): maps of shape \(all.shape) at \(cam.layer)")
        }
    }

    func readBatch(_ path: String) throws -> Tensor {
        let x = try NPY.read(URL(fileURLWithPath: path))
        guard x.rank == 4, x.shape[0] > 0 else {
            throw CommandFailure("\(path): expected a (batch, height, width, channels) array of at least one sample, got shape \(x.shape)")
        }
        StandardError.warnNonFinite(x, source: path)
        return x
    }

    /// `choice` as a class index: a number in range, else one of the class names.
    func classIndex(_ choice: String, names: [String]) throws -> Int {
        if let i = Int(choice) {
            guard names.indices.contains(i) else {
                throw ValidationError("--class must be from 0 to \(names.count - 1), got \(i)")
            }
            return i
        }
        guard let i = names.firstIndex(of: choice) else {
            let shown = names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", ..." : "")
            throw ValidationError("--class '\(choice)' is neither a class index nor a class name; classes: \(shown)")
        }
        return i
    }
}
