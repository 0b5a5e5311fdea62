import Engine
import Foundation
import Zoo

/// Image file -> model input: decode (gray or RGB as the model takes), resize transform, preprocessing.
public struct ImagePipeline: Sendable {
    public let height: Int
    public let width: Int
    /// 1 (grayscale) or 3 (RGB).
    public let channels: Int
    public let resize: ResizeTransform
    public let preprocessing: Preprocessing
    /// Turn images upright by their EXIF orientation (`--exif`); off by default, as in Keras and torchvision.
    public let applyEXIF: Bool

    /// A pipeline for inputs of `height` x `width` x `channels`; throws when `resize` cannot produce that size.
    public init(height: Int, width: Int, channels: Int, resize: ResizeTransform, preprocessing: Preprocessing,
                applyEXIF: Bool = false) throws {
        guard height > 0, width > 0 else { throw TransferError("image input \(height)x\(width): expected a positive size") }
        guard channels == 1 || channels == 3 else {
            throw TransferError("image files give 1 (grayscale) or 3 (RGB) channels; a model of \(channels) input "
                + "channels takes arrays (an .npy batch, or images.npy and labels.npy)")
        }
        if let problem = resize.incompatibility(height: height, width: width) { throw TransferError(problem) }
        self.height = height
        self.width = width
        self.channels = channels
        self.resize = resize
        self.preprocessing = preprocessing
        self.applyEXIF = applyEXIF
    }

    /// The pipeline `model` records (its input size, resize transform and preprocessing), each
    /// replaceable.
    public init(model: Model, resize: ResizeTransform? = nil, preprocessing: Preprocessing? = nil,
                applyEXIF: Bool = false) throws {
        try self.init(height: model.inputShape[0], width: model.inputShape[1], channels: model.inputShape[2],
                      resize: resize ?? model.resizeTransform, preprocessing: preprocessing ?? model.preprocessing, applyEXIF: applyEXIF)
    }

    /// (height, width, channels) of one input.
    public var sampleShape: [Int] { [height, width, channels] }

    /// The decoded, resized 8-bit pixels of the image at `url`, before preprocessing.
    public func pixels(of url: URL) throws -> PixelImage {
        let image = try ImageDecoder.decode(contentsOf: url, channels: channels, applyEXIF: applyEXIF)
        return resize.apply(image, height: height, width: width)
    }

    /// The model input for the image at `url`, (height, width, channels) float32.
    public func load(_ url: URL) throws -> Tensor {
        var out = Tensor(uninitialized: sampleShape)
        try load(url, into: out.mutableData())
        return out
    }

    /// Writes the model input for the image at `url` (height * width * channels floats) to `destination`.
    public func load(_ url: URL, into destination: UnsafeMutablePointer<Float>) throws {
        preprocessing.apply(try pixels(of: url), into: destination)
    }

    /// A batch (n, height, width, channels) of the images at `urls`; the first unreadable one throws.
    public func batch(_ urls: [URL]) throws -> Tensor {
        var out = Tensor(uninitialized: [urls.count] + sampleShape)
        let base = out.mutableData(), stride = height * width * channels
        for (i, url) in urls.enumerated() { try load(url, into: base + i * stride) }
        return out
    }
}
