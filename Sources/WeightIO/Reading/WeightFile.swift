import Engine
import Foundation

/// A weight as a file stores it: where, what shape, what element type. The data is read on demand.
public struct StoredWeight {
    /// The file's name for it: `conv/kernel:0` (from `weight_names`), or `0` (Keras 3 `vars/0`).
    public let name: String
    public let dataset: HDF5Dataset

    /// The HDF5 path of the dataset.
    public var path: String { dataset.path }
    public var shape: [Int] { dataset.shape }
    /// The stored element type in words (`float32`, `float16`, `bfloat16`, `float64`).
    public var dtype: String { dataset.dtypeDescription }

    /// The values as float32.
    public func read(_ limits: ReadLimits = ReadLimits()) throws -> Tensor { try dataset.readTensor(limits) }
}

/// A layer of a weight file and its weights in the file's order.
public struct StoredLayer {
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
    /// Keeps the HDF5 file open while datasets are in use.
    let hdf5: HDF5File

    init(name: String, format: WeightFormat, attributes: [String: AttributeValue], layers: [StoredLayer],
         limits: ReadLimits, hdf5: HDF5File) {
        self.name = name
        self.format = format
        self.attributes = attributes
        self.layers = layers
        self.limits = limits
        self.hdf5 = hdf5
    }

    /// Opens `url`, detecting the format from its content (HDF5 or zip signature), not its name.
    public static func open(_ url: URL, limits: ReadLimits = ReadLimits()) throws -> WeightFile {
        let name = url.path
        switch try FileSignature.sniff(url, name: name) {
        case .empty:
            throw WeightFileError(file: name, path: "/", "the file is empty (0 bytes); expected an HDF5 weight "
                                  + "file (.h5, .weights.h5) or a Keras .keras archive")
        case .unknown:
            throw WeightFileError(file: name, path: "/", "not an HDF5 file nor a Keras .keras archive "
                                  + "(neither signature found); expected a Keras weight file")
        case .zip:
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
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weights.reduce(0) { $0 + ($1.dataset.elementCount ?? 0) } } }

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
