import Engine
import Foundation

/// The formats ConvZoo writes.
public enum SaveFormat: String, Sendable, CaseIterable {
    /// Keras legacy HDF5 at the root, as Keras 2's `save_weights('x.h5')`: loads with Keras's
    /// `load_weights` (by position, so the archive's layer order must be the Keras model's).
    case kerasH5 = "keras-h5"
    /// Keras 3 `.weights.h5` (`layers/<key>/vars/<i>`); Keras requires that file-name ending.
    case keras3 = "keras3"
    /// safetensors: torchvision's keys for torchvision-flavour models (`Model.saveWeights`),
    /// Keras's `<layer>/<weight>` for the others; ConvZoo's metadata in `__metadata__`.
    case safetensors = "safetensors"

    /// The format a file name asks for: Keras 3 for `.weights.h5` (the only name Keras 3 loads its
    /// layout from), safetensors for `.safetensors`, the legacy layout otherwise.
    public init(fileName: String) {
        if fileName.hasSuffix(".weights.h5") {
            self = .keras3
        } else {
            self = fileName.hasSuffix(".safetensors") ? .safetensors : .kerasH5
        }
    }
}

/// Writes weight archives as Keras files or safetensors, atomically.
public enum WeightWriter {
    /// What Keras 2's `save_weights` records as `keras_version`. Keras reads it only to convert
    /// Keras 1 files, and this is Keras 2's layout; ConvZoo's own version is in `convzoo_version`.
    static let kerasVersion = "2.15.0"
    static let backend = "tensorflow"

    /// Writes `archive` to `url` in `format`: the file appears whole or not at all, written
    /// straight from the archive's tensors (no image of the file in memory).
    public static func write(_ archive: WeightArchive, to url: URL, format: SaveFormat = .kerasH5,
                             hooks: SaveHooks = SaveHooks()) throws {
        if format == .keras3 && !url.lastPathComponent.hasSuffix(".weights.h5") {
            throw WeightFileError(file: url.path, path: "/", "a Keras 3 weight file's name must end in '.weights.h5' "
                                  + "(Keras refuses any other)")
        }
        if format == .safetensors {
            try checkLayerNames(archive, file: url.path)
            let entries = archive.layers.flatMap { layer in
                layer.weights.map { SafetensorsEntry(key: "\(layer.name)/\(kerasWeightName($0.name))", value: $0.value) }
            }
            return try SafetensorsWriter.write(entries, metadata: safetensorsMetadata(archive.attributes), to: url, hooks: hooks)
        }
        let build = format == .kerasH5 ? try kerasH5Layout(archive, name: url.path) : try keras3Layout(archive, name: url.path)
        do {
            try DurableFile.create(url, hooks: hooks) { temporary in
                try HDF5File.create(temporary, name: url.path, hooks: hooks, build)
            }
        } catch let error as DurableFileError {
            throw WeightFileError(file: url.path, path: "/", error.message)
        }
    }

    /// The bytes of a Keras legacy HDF5 file holding `archive` (`write` saves without them).
    public static func kerasH5Data(_ archive: WeightArchive, name: String = "<memory>") throws -> Data {
        try HDF5File.makeImage(name: name, sizeHint: sizeHint(archive), try kerasH5Layout(archive, name: name))
    }

    /// The bytes of a Keras 3 `.weights.h5` file holding `archive`.
    public static func keras3Data(_ archive: WeightArchive, name: String = "<memory>") throws -> Data {
        try HDF5File.makeImage(name: name, sizeHint: sizeHint(archive), try keras3Layout(archive, name: name))
    }

    /// Fills a Keras legacy HDF5 file with `archive`, once its names are checked.
    ///
    /// Root attributes `layer_names` (split like Keras past 64 KB), `backend`, `keras_version` and
    /// the archive's other attributes (ConvZoo metadata among them); one group per layer with
    /// `weight_names` such as `conv/kernel:0` and the datasets at `conv/conv/kernel:0`.
    private static func kerasH5Layout(_ archive: WeightArchive, name: String) throws -> (HDF5Group) throws -> Void {
        try checkLayerNames(archive, file: name)
        return { root in
            try root.setStringArray("layer_names", archive.layers.map(\.name))
            var attributes = archive.attributes
            attributes["backend"] = attributes["backend"] ?? .string(backend)
            attributes["keras_version"] = attributes["keras_version"] ?? .string(kerasVersion)
            try writeAttributes(attributes, to: root)
            for layer in archive.layers {
                let group = try root.createGroup(layer.name)
                // Names read from Keras files (`conv/kernel:0`, `conv_W_1:0`) stay as they were.
                let names = layer.weights.map { w in
                    w.name.contains("/") || w.name.contains(":") ? w.name : "\(layer.name)/\(w.name):0"
                }
                try group.setStringArray("weight_names", names)
                for (weightName, weight) in zip(names, layer.weights) {
                    try group.createDataset(weightName, weight.value)
                }
            }
        }
    }

    /// Fills a Keras 3 `.weights.h5` file with `archive`, every layer at its Keras 3 key.
    private static func keras3Layout(_ archive: WeightArchive, name: String) throws -> (HDF5Group) throws -> Void {
        try checkLayerNames(archive, file: name)
        if let unkeyed = archive.layers.first(where: { $0.keras3Key == nil }) {
            throw WeightFileError(file: name, path: "/", "layer '\(unkeyed.name)' has no Keras 3 key; expected keys "
                                  + "such as 'conv2d_1' (an archive built from a model has them)")
        }
        let keys = archive.layers.compactMap(\.keras3Key)
        if let duplicate = Dictionary(grouping: keys, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw WeightFileError(file: name, path: "/", "two layers share the Keras 3 key '\(duplicate)'; expected unique keys")
        }
        return { root in
            try writeAttributes(archive.metadata.attributes, to: root)
            for layer in archive.layers {
                let path = "layers/" + layer.keras3Key!.split(separator: "/").joined(separator: "/layers/") + "/vars"
                let vars = try root.createGroup(path)
                try vars.setAttribute("name", .string(layer.name))
                for (i, weight) in layer.weights.enumerated() {
                    try vars.createDataset(String(i), weight.value)
                }
            }
        }
    }

    /// `kernel` for a weight a Keras legacy file names `conv/kernel:0`.
    static func kerasWeightName(_ name: String) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        return last.hasSuffix(":0") ? String(last.dropLast(2)) : last
    }

    /// The attributes a safetensors file keeps in `__metadata__` (every one with a text form).
    public static func safetensorsMetadata(_ attributes: [String: AttributeValue]) -> [String: String] {
        attributes.compactMapValues { SafetensorsWriter.metadataText($0) }
    }

    private static func writeAttributes(_ attributes: [String: AttributeValue], to group: HDF5Group) throws {
        for (key, value) in attributes.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("layer_names") {
            if case .strings(let list) = value { try group.setStringArray(key, list) } else { try group.setAttribute(key, value) }
        }
    }

    private static func checkLayerNames(_ archive: WeightArchive, file: String) throws {
        var seen = Set<String>()
        for layer in archive.layers {
            guard !layer.name.isEmpty, !layer.name.contains("/"), layer.name != "." else {
                throw WeightFileError(file: file, path: "/", "invalid layer name '\(layer.name)'; expected a non-empty "
                                      + "name without '/'")
            }
            guard seen.insert(layer.name).inserted else {
                throw WeightFileError(file: file, path: "/", "two layers are named '\(layer.name)'; expected unique names")
            }
        }
    }

    private static func sizeHint(_ archive: WeightArchive) -> Int {
        archive.parameterCount * 4 + archive.layers.count * 4096 + 65536
    }
}

extension Layer {
    /// Saves this model's weights to `url` atomically, with ConvZoo's metadata (its version filled in).
    public func saveWeights(to url: URL, format: SaveFormat = .kerasH5, metadata: ConvZooMetadata = ConvZooMetadata(),
                            hooks: SaveHooks = SaveHooks()) throws {
        var m = metadata
        m.version = m.version ?? ConvZooMetadata.currentVersion
        try WeightWriter.write(WeightArchive(model: self, metadata: m), to: url, format: format, hooks: hooks)
    }
}
