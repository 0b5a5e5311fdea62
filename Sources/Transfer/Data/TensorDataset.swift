import Engine
import Zoo
import Foundation
import WeightIO

/// Samples already in arrays: inputs (N, H, W, C) (or (N, H, W), read as one channel) and integer
/// labels (N,), from `.npy` files or an `.h5` file, or built in memory.
public struct TensorDataset: LabeledDataset {
    /// All inputs, (N, H, W, C), as stored.
    public let inputs: Tensor
    public let sampleLabels: [Int]
    public let classNames: [String]
    /// Applied to each sample as it is loaded (the stored values stay as they are).
    public let preprocessing: Preprocessing
    /// What messages call the data, e.g. the inputs file.
    public let source: String

    /// A dataset over `inputs` and `labels`; class names default to "0", "1", ... up to the largest label.
    public init(inputs: Tensor, labels: [Int], classNames: [String]? = nil, preprocessing: Preprocessing = .none,
                source: String = "tensor dataset") throws {
        var x = inputs
        if x.rank == 3 { x = x.reshaped(x.shape + [1]) }
        guard x.rank == 4 else {
            throw TransferError("\(source): inputs of shape \(inputs.shape); expected (N, H, W, C) or (N, H, W)")
        }
        guard labels.count == x.shape[0] else {
            throw TransferError("\(source): \(x.shape[0]) inputs but \(labels.count) labels; expected one label per input")
        }
        if let bad = labels.first(where: { $0 < 0 }) { throw TransferError("\(source): negative label \(bad)") }
        let names = classNames ?? (0..<((labels.max() ?? -1) + 1)).map(String.init)
        if let top = labels.max(), top >= names.count {
            throw TransferError("\(source): label \(top) but only \(names.count) class names")
        }
        self.inputs = x
        self.sampleLabels = labels
        self.classNames = names
        self.preprocessing = preprocessing
        self.source = source
    }

    /// Inputs from `x` and labels from `y`, both `.npy`.
    public static func npy(inputs x: URL, labels y: URL, classNames: [String]? = nil,
                           preprocessing: Preprocessing = .none) throws -> TensorDataset {
        let labels = try integerLabels(try NPY.read(y), file: y.path)
        return try TensorDataset(inputs: try NPY.read(x), labels: labels, classNames: classNames,
                                 preprocessing: preprocessing, source: x.path)
    }

    /// Inputs and labels from the datasets `inputs` and `labels` of an HDF5 file; class names from
    /// its root attribute `class_names` when present.
    public static func hdf5(_ url: URL, inputs: String = "x", labels: String = "y", classNames: [String]? = nil,
                            preprocessing: Preprocessing = .none) throws -> TensorDataset {
        let root = try HDF5File.open(url).root()
        for name in [inputs, labels] where !root.contains(name) {
            let present = (try? root.memberNames().joined(separator: ", ")) ?? "?"
            throw TransferError("\(url.path): no dataset '\(name)' (present: \(present))")
        }
        let x = try root.dataset(inputs).readIntegersAsFloat()
        let y = try integerLabels(try root.dataset(labels).readIntegersAsFloat(), file: "\(url.path):\(labels)")
        let names = try classNames ?? root.stringArray("class_names")
        return try TensorDataset(inputs: x, labels: y, classNames: names, preprocessing: preprocessing,
                                 source: "\(url.path):\(inputs)")
    }

    /// Most classes an array dataset may have: every epoch records a classes x classes confusion
    /// matrix (in checkpoints too), so a stray label of 99999 would make each one 10^10 cells.
    static let maxClasses = 10_000

    /// Labels from a (N,) or (N, 1) array of whole numbers.
    static func integerLabels(_ t: Tensor, file: String) throws -> [Int] {
        guard t.rank == 1 || (t.rank == 2 && t.shape[1] == 1) else {
            throw TransferError("\(file): labels of shape \(t.shape); expected (N,) class indices")
        }
        return try t.scalars.enumerated().map { i, v in
            guard v >= 0, v == v.rounded(), v < Float(maxClasses) else {
                throw TransferError("\(file): label \(i) is \(v); expected a class index 0, 1, 2, ... below \(maxClasses)")
            }
            return Int(v)
        }
    }

    public var count: Int { inputs.shape[0] }
    public var sampleShape: [Int] { Array(inputs.shape.dropFirst()) }
    public func label(at index: Int) -> Int { sampleLabels[index] }
    public func sampleName(at index: Int) -> String { "\(source)[\(index)]" }

    public func load(at index: Int, into destination: UnsafeMutablePointer<Float>) throws {
        let n = sampleSize
        preprocessing.apply(inputs.data + index * n, count: n, channels: inputs.shape[3], into: destination)
    }
}
