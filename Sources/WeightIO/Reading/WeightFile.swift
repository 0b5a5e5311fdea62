import Engine
import Foundation

/// What holds one weight's values in a file, whatever the format: an HDF5 dataset, or a
/// `StoredTensor` (a byte range of a PyTorch, safetensors or Caffe file with its layout conversion).
public protocol WeightSource {
    /// Where in the file, for errors and reports: an HDF5 path, a key.
    var path: String { get }
    /// The shape as delivered to readers (in ConvZoo's layout).
    var shape: [Int] { get }
    /// The stored element type in words (`float32`, `float16`, `bfloat16`, `float64`, `int64`).
    var dtypeDescription: String { get }
    /// Reads the values as float32 into `buffer`, which holds exactly the shape's element count.
    func read(into buffer: UnsafeMutableBufferPointer<Float>) throws
}

extension HDF5Dataset: WeightSource {}

/// A weight as a file stores it: where, what shape, what element type. The data is read on demand.
public struct StoredWeight {
    /// The file's name for it: `conv/kernel:0` (from `weight_names`), `0` (Keras 3 `vars/0`), `weight`.
    public let name: String
    public let source: any WeightSource

    public init(name: String, source: any WeightSource) {
        self.name = name
        self.source = source
    }

    /// Where the file keeps it (an HDF5 path, a key).
    public var path: String { source.path }
    public var shape: [Int] { source.shape }
    /// The stored element type in words (`float32`, `float16`, `bfloat16`, `float64`, `int64`).
    public var dtype: String { source.dtypeDescription }
    /// The element count (shapes are checked when the file is opened, so it does not overflow).
    public var elementCount: Int { shape.reduce(1, *) }
    /// The byte range and layout of a tensor in a non-HDF5 file; nil for HDF5 datasets.
    public var tensor: StoredTensor? { source as? StoredTensor }

    /// Reads the values as float32 straight into `buffer` (exactly `elementCount` elements).
    public func read(into buffer: UnsafeMutableBufferPointer<Float>) throws { try source.read(into: buffer) }

    /// The values as float32.
    public func read(_ limits: ReadLimits = ReadLimits()) throws -> Tensor {
        if let dataset = source as? HDF5Dataset { return try dataset.readTensor(limits) }
        var tensor = Tensor(uninitialized: shape)
        try tensor.withUnsafeMutableBufferPointer { try read(into: $0) }
        return tensor
    }
}

/// A layer of a weight file and its weights in the file's order.
public struct StoredLayer {
    public init(name: String, keras3Key: String? = nil, path: String, weights: [StoredWeight]) {
        self.name = name
        self.keras3Key = keras3Key
        self.path = path
        self.weights = weights
    }

    /// The layer's Keras name (`layer_names` entry, or a Keras 3 `vars` group's `name` attribute,
    /// or its key when that attribute is missing).
    public let name: String
    /// The Keras 3 key path below `layers/` (`conv2d_1`, `sequential/conv2d`); nil for legacy files.
    public let keras3Key: String?
    /// The group holding the layer's weights.
    public let path: String
    public let weights: [StoredWeight]
}

/// A weight file opened for reading: its detected format, attributes and layers, with every
/// dataset already checked (hard links only, no virtual datasets, sane dimensions, float data)
/// and nothing yet read. `read()` loads it all into memory; `WeightLoader` reads each dataset
/// straight into a model's parameters instead.
public final class WeightFile {
    /// How errors and reports name the file.
    public let name: String
    public let format: WeightFormat
    /// Attributes of the weights' group (and, for `model.save` files, of the root below them),
    /// split string attributes joined; `layer_names` is not repeated here.
    public let attributes: [String: AttributeValue]
    /// Layers in the file's order: `layer_names` order for legacy files; for Keras 3 files,
    /// which record no order across layer classes, sorted by key with numeric suffixes in order.
    public let layers: [StoredLayer]
    public let limits: ReadLimits
    /// Keeps the file open while its weights are in use (an `HDF5File`, a `ReadOnlyFile`).
    let owner: AnyObject?

    /// A file's weights as a reader found them; `owner` is kept alive with them.
    public init(name: String, format: WeightFormat, attributes: [String: AttributeValue] = [:], layers: [StoredLayer],
                limits: ReadLimits = ReadLimits(), owner: AnyObject? = nil) {
        self.name = name
        self.format = format
        self.attributes = attributes
        self.layers = layers
        self.limits = limits
        self.owner = owner
    }

    /// Opens `url`, detecting the format from its content, not its name: HDF5 (Keras), a zip
    /// (Keras 3 `.keras` or PyTorch), a PyTorch legacy pickle, safetensors, or a Caffe NetParameter.
    public static func open(_ url: URL, limits: ReadLimits = ReadLimits()) throws -> WeightFile {
        let name = url.path
        switch try FileSignature.sniff(url, name: name) {
        case .empty:
            throw WeightFileError(file: name, path: "/", "the file is empty (0 bytes); expected an HDF5 weight "
                                  + "file (.h5, .weights.h5), a Keras .keras archive, a PyTorch file or a .safetensors file")
        case .unknown:
            let file = try ReadOnlyFile(url)
            if try PyTorchReader.isLegacy(file) { return try PyTorchReader.openLegacy(file, limits: limits) }
            if SafetensorsReader.sniff(file) { return try SafetensorsReader.open(file, limits: limits) }
            if try PyTorchReader.isTar(file) { return try PyTorchReader.openTar(file, limits: limits) }
            // A protocol buffer has no signature: a caffemodel is known by its first field.
            if CaffeModel.looksLikeCaffeModel(url) { return try CaffeReader.open(url, limits: limits) }
            throw WeightFileError(file: name, path: "/", "not an HDF5 file, zip archive, PyTorch pickle, safetensors file "
                                  + "nor Caffe .caffemodel (no signature or NetParameter found); expected a weight file: "
                                  + "Keras (.h5, .weights.h5, .keras), PyTorch (.pth, .pt, .bin), .safetensors or .caffemodel")
        case .zip:
            let file = try ReadOnlyFile(url)
            let zip: ZipDirectory
            do { zip = try ZipDirectory(file) } catch let e as WeightFileError {
                throw WeightFileError(file: e.file, path: e.path, e.message + "; expected a Keras .keras or PyTorch (torch.save) zip archive")
            }
            if zip.entries.contains(where: { $0.name.hasSuffix("/data.pkl") }) {
                return try PyTorchReader.openZip(file, zip, limits: limits)
            }
            return try KerasArchiveReader.open(url, limits: limits)
        case .hdf5:
            return try open(hdf5: HDF5File.open(url, name: name), limits: limits, container: nil)
        }
    }

    /// Reads a file's structure; `container` is set when the HDF5 file came out of a .keras archive.
    static func open(hdf5: HDF5File, limits: ReadLimits, container: WeightFormat?) throws -> WeightFile {
        let root = try hdf5.root()
        if root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") {
            return try KerasLegacyReader.read(hdf5, group: root, root: root, format: .kerasH5, limits: limits)
        }
        if root.containsGroup("model_weights") {
            return try KerasLegacyReader.read(hdf5, group: root.group("model_weights"), root: root,
                                              format: .kerasH5Model, limits: limits)
        }
        for layersGroup in Keras3Reader.layersGroupNames where root.containsGroup(layersGroup) {
            return try Keras3Reader.read(hdf5, layers: root.group(layersGroup), format: container ?? .keras3, limits: limits)
        }
        throw WeightFileError(file: hdf5.name, path: "/", "not a Keras weight file: expected the attribute "
                              + "'layer_names' at the root, or a group 'model_weights' or 'layers'")
    }

    /// Every weight read into memory.
    public func read() throws -> WeightArchive {
        let loaded = try layers.map { layer in
            LayerWeights(name: layer.name,
                         weights: try layer.weights.map { NamedTensor(name: $0.name, value: try $0.read(limits)) },
                         keras3Key: layer.keras3Key)
        }
        return WeightArchive(layers: loaded, attributes: attributes, format: format)
    }

    /// Reads `url` into memory in one step.
    public static func read(_ url: URL, limits: ReadLimits = ReadLimits()) throws -> WeightArchive {
        try open(url, limits: limits).read()
    }

    /// Number of elements over all weights.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weights.reduce(0) { $0 + ($1.elementCount) } } }

    /// An object's attributes, with `name0`, `name1`, ... joined into `name` as Keras splits them.
    static func attributes(of object: HDF5Object, excluding excluded: Set<String> = []) throws -> [String: AttributeValue] {
        let names = try object.attributeNames()
        let present = Set(names)
        var result: [String: AttributeValue] = [:]
        for name in names {
            if let base = splitBase(name, present) {
                if !excluded.contains(base), result[base] == nil, let joined = try object.stringArray(base) {
                    result[base] = .strings(joined)
                }
                continue
            }
            guard !excluded.contains(name), let value = try object.attribute(name) else { continue }
            result[name] = value
        }
        return result
    }

    /// `base` when `name` is `base` + digits, a split part of an attribute `base` that is absent.
    private static func splitBase(_ name: String, _ present: Set<String>) -> String? {
        let base = String(name.reversed().drop { $0.isASCII && $0.isNumber }.reversed())
        guard base.count < name.count, !base.isEmpty, !present.contains(base), present.contains(base + "0") else {
            return nil
        }
        return base
    }
}

extension WeightFile {
    /// ConvZoo's metadata stored in the file (empty for a plain Keras file).
    public var metadata: ConvZooMetadata { ConvZooMetadata(attributes: attributes) }
}
