/// Input preprocessing as Keras's `imagenet_utils.preprocess_input(mode=...)` and torchvision's
/// `ToTensor` + `Normalize` name it; Transfer computes it (`Preprocessing.apply`).
public enum Preprocessing: String, Sendable, CaseIterable {
    /// RGB -> BGR, then subtract the ImageNet mean pixel [103.939, 116.779, 123.68] (BGR order); no scaling.
    case caffe
    /// x / 255, then (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225] per RGB channel.
    case torch
    /// x / 127.5 - 1, to [-1, 1].
    case tf
    /// The pixel values as they are.
    case none
}

/// Resampling filters, computed exactly as Pillow's `Image.resize` computes them.
public enum Interpolation: String, Sendable {
    /// Pillow's NEAREST: source pixel floor((x + 0.5) * in / out), positions accumulated in doubles.
    case nearest
    /// Pillow's BILINEAR: a triangle filter whose support grows with the downscale factor (so
    /// downscaling averages, i.e. is antialiased), separable with an 8-bit intermediate (pass order
    /// as Pillow 13 picks it), 22-bit fixed-point coefficients.
    case bilinear
}

/// How an image becomes a model input of a given size, named as ConvZoo weight files record it
/// (`convzoo_resize_transform`); Transfer computes it (`ResizeTransform.apply`).
public enum ResizeTransform: Equatable, Sendable, LosslessStringConvertible {
    /// Keras `load_img(path, target_size=(h, w))`: straight to the input size, aspect ratio ignored.
    /// `keras-direct` (nearest, Keras's default) or `keras-direct-bilinear`.
    case direct(Interpolation)
    /// torchvision's evaluation transform: `Resize(resize)` (shorter side to `resize`, the longer
    /// side scaled and truncated, Pillow bilinear) then `CenterCrop(crop)`. `resize<R>-crop<C>`.
    case resizeThenCenterCrop(resize: Int, crop: Int)

    /// Keras's `load_img` default.
    public static let kerasDirect = ResizeTransform.direct(.nearest)
    /// torchvision's classic ImageNet evaluation transform.
    public static let resize256Crop224 = ResizeTransform.resizeThenCenterCrop(resize: 256, crop: 224)
    /// The evaluation transform of torchvision's newer (IMAGENET1K_V2) ResNet weights.
    public static let resize232Crop224 = ResizeTransform.resizeThenCenterCrop(resize: 232, crop: 224)

    public init?(_ description: String) {
        switch description {
        case "keras-direct", "keras-direct-nearest": self = .direct(.nearest)
        case "keras-direct-bilinear": self = .direct(.bilinear)
        default:
            let parts = description.split(separator: "-")
            guard parts.count == 2, parts[0].hasPrefix("resize"), parts[1].hasPrefix("crop"),
                  let r = Int(parts[0].dropFirst(6)), let c = Int(parts[1].dropFirst(4)),
                  ModelOptions.inputSideRange.contains(r), ModelOptions.inputSideRange.contains(c)
            else { return nil }
            self = .resizeThenCenterCrop(resize: r, crop: c)
        }
    }

    public var description: String {
        switch self {
        case .direct(.nearest): return "keras-direct"
        case .direct(.bilinear): return "keras-direct-bilinear"
        case .resizeThenCenterCrop(let r, let c): return "resize\(r)-crop\(c)"
        }
    }

    /// Why this transform cannot feed a model input of `height` x `width`, or nil when it can.
    public func incompatibility(height: Int, width: Int) -> String? {
        guard case .resizeThenCenterCrop(_, let c) = self, height != c || width != c else { return nil }
        return "\(self) gives \(c)x\(c) images but the model takes \(height)x\(width)"
    }
}
