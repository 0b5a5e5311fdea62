import Foundation

/// The bundled handwritten digits: scikit-learn's copy of the UCI 8x8 digits (1,797 images, 10
/// classes, pixel values 0..16), stored as `images.npy` and `labels.npy` in `datasets/digits`
/// (see its README for source and licence).
public enum Digits {
    public static let classes = 10
    /// The largest pixel value of the raw images.
    public static let maximumValue: Float = 16

    /// The raw digits, (n, 8, 8, 1), scaled from 0..16 to [0, 1]; `directory` holds the two .npy files.
    public static func load(from directory: URL) throws -> LabeledData {
        let imagesURL = directory.appendingPathComponent("images.npy")
        let labelsURL = directory.appendingPathComponent("labels.npy")
        let images = try NPY.read(imagesURL), labelValues = try NPY.read(labelsURL)
        guard images.rank == 3, images.shape[1] == 8, images.shape[2] == 8, images.shape[0] > 0 else {
            throw NPY.FormatError(file: imagesURL.path, message: "expected digits of shape (n, 8, 8), got \(shapeString(images.shape))")
        }
        guard labelValues.shape == [images.shape[0]] else {
            throw NPY.FormatError(file: labelsURL.path, message: "expected \(images.shape[0]) labels, got shape "
                + shapeString(labelValues.shape))
        }
        let labels = labelValues.scalars.map { Int($0) }
        if let bad = labels.indices.first(where: { Float(labels[$0]) != labelValues[flat: $0] || !(0..<classes).contains(labels[$0]) }) {
            throw NPY.FormatError(file: labelsURL.path, message: "label \(labelValues[flat: bad]) of sample \(bad) is not a digit 0-9")
        }
        var inputs = images.reshaped([images.shape[0], 8, 8, 1])
        let p = inputs.mutableData()
        for i in 0..<inputs.count { p[i] /= maximumValue }
        return try LabeledData(inputs: inputs, labels: labels, classes: classes)
    }

    /// LeNet-5's input form: each digit upsampled to 28x28 (bilinear, PyTorch's `align_corners=False`)
    /// and centred in a 32x32 canvas of zeros, as MNIST digits sit in LeNet-5's 32x32 field. (n, 32, 32, 1).
    public static func loadLeNet(from directory: URL) throws -> LabeledData {
        try lenetCanvas(try load(from: directory))
    }

    /// `lenetCanvas` of already loaded raw digits (n, 8, 8, 1).
    public static func lenetCanvas(_ digits: LabeledData) throws -> LabeledData {
        guard digits.sampleShape == [8, 8, 1] else {
            throw TrainingError("the LeNet canvas takes digits of shape (n, 8, 8, 1), got \(shapeString(digits.inputs.shape))")
        }
        let n = digits.count, inner = 28, canvas = 32, margin = (canvas - inner) / 2
        var out = Tensor(zeros: [n, canvas, canvas, 1])
        var resized = Tensor(uninitialized: [inner, inner, 1])
        let src = digits.inputs.data, dst = out.mutableData(), tmp = resized.mutableData()
        for i in 0..<n {
            Bilinear.resize(src + i * 64, width: 8, channels: 1, box: PixelBox(top: 0, left: 0, height: 8, width: 8),
                            to: (inner, inner), into: tmp)
            for y in 0..<inner {
                (dst + (i * canvas + y + margin) * canvas + margin).update(from: tmp + y * inner, count: inner)
            }
        }
        var result = digits
        result.inputs = out
        return result
    }
}
