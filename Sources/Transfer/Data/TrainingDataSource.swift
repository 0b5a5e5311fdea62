import Engine
import Foundation
import Zoo

/// Opens what `--data` names as a dataset for a model: an image folder (root/<class>/<image>),
/// a directory with `images.npy` and `labels.npy` (optionally `classes.txt`, one name a line), or
/// an `.h5` file with datasets `x` and `y`.
///
/// Arrays hold pixel values 0...255 and get the model's preprocessing as they are loaded. The
/// bundled digits (8x8, values 0...16) are scaled to 0...255 and, for a 32x32 model, placed on
/// LeNet-5's canvas (28x28 in 32x32, as MNIST digits sit in LeNet-5's field).
public enum TrainingDataSource {
    /// The class names of the data at `path`, without reading any sample.
    public static func classNames(of path: String) throws -> [String] {
        switch try kind(of: path) {
        case .folder(let url):
            return try ImageFolder(root: url, pipeline: ImagePipeline(height: 1, width: 1, channels: 1,
                                                                        resize: .direct(.nearest),
                                                                        preprocessing: .none)).classNames
        case .arrays(let x, let y, let names):
            return try TensorDataset.npy(inputs: x, labels: y, classNames: names).classNames
        case .hdf5(let url):
            return try TensorDataset.hdf5(url).classNames
        }
    }

    /// The dataset at `path`, producing `model`'s inputs; images turned upright by their EXIF
    /// orientation when `applyEXIF`.
    public static func open(_ path: String, for model: Model, applyEXIF: Bool = false) throws -> LabeledDataset {
        let preprocessing = model.preprocessing
        let dataset: TensorDataset
        switch try kind(of: path) {
        case .folder(let url):
            return try ImageFolder(root: url, pipeline: ImagePipeline(model: model, applyEXIF: applyEXIF))
        case .arrays(let x, let y, let names):
            let raw = try TensorDataset.npy(inputs: x, labels: y, classNames: names)
            dataset = try TensorDataset(inputs: try digitsOnCanvas(raw.inputs, for: model) ?? raw.inputs,
                                        labels: raw.sampleLabels, classNames: raw.classNames,
                                        preprocessing: preprocessing, source: raw.source)
        case .hdf5(let url):
            let raw = try TensorDataset.hdf5(url)
            dataset = try TensorDataset(inputs: raw.inputs, labels: raw.sampleLabels, classNames: raw.classNames,
                                        preprocessing: preprocessing, source: raw.source)
        }
        guard dataset.sampleShape == model.inputShape else {
            throw TransferError("\(path): samples of shape \(dataset.sampleShape); \(model.architecture) takes "
                + "\(model.inputShape) (height, width, channels)")
        }
        return dataset
    }

    enum Kind {
        case folder(URL)
        case arrays(URL, URL, [String]?)
        case hdf5(URL)
    }

    static func kind(of path: String) throws -> Kind {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TransferError("\(path): no such file or directory")
        }
        if !isDirectory.boolValue {
            guard ["h5", "hdf5"].contains(url.pathExtension.lowercased()) else {
                throw TransferError("\(path): expected an image folder, a directory with images.npy and labels.npy, "
                    + "or an .h5 file with x and y")
            }
            return .hdf5(url)
        }
        let x = url.appendingPathComponent("images.npy"), y = url.appendingPathComponent("labels.npy")
        guard FileManager.default.fileExists(atPath: x.path) else { return .folder(url) }
        let namesURL = url.appendingPathComponent("classes.txt")
        let names = (try? String(contentsOf: namesURL, encoding: .utf8)).map {
            $0.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        }
        return .arrays(x, y, names)
    }

    /// The bundled digits (n, 8, 8, 1) with values 0...16 as pixel values 0...255, on LeNet-5's
    /// 32x32 canvas when the model takes 32x32x1; nil for other arrays.
    static func digitsOnCanvas(_ x: Tensor, for model: Model) throws -> Tensor? {
        guard x.rank == 4, Array(x.shape.dropFirst()) == [8, 8, 1], model.inputShape == [32, 32, 1] else { return nil }
        let top = (0..<x.count).reduce(Float(0)) { max($0, x[flat: $1]) }
        guard top <= Digits.maximumValue else { return nil }
        var unit = x
        let p = unit.mutableData()
        for i in 0..<unit.count { p[i] /= Digits.maximumValue }
        let canvas = try Digits.lenetCanvas(LabeledData(inputs: unit, labels: Array(repeating: 0, count: x.shape[0]),
                                                        classes: 1))
        var pixels = canvas.inputs
        let q = pixels.mutableData()
        for i in 0..<pixels.count { q[i] *= 255 }
        return pixels
    }
}
