/// Keras legacy HDF5 (`save_weights('x.h5')` at the root, `model.save('x.h5')` under `model_weights/`).
///
/// Layer order comes from the `layer_names` attribute, never from iterating groups (HDF5 sorts
/// those by name); each layer's datasets are found only through its `weight_names` attribute,
/// relative to the layer's group: `l/l/kernel:0`, `l/l/kernel`, `bn/sequential/bn/gamma`,
/// Keras 1's flat `l/l_W_1:0` all resolve the same way. A missing `keras_version` or `backend`
/// is fine; an empty `weight_names` (stored by Keras as a 0-length float array) means no weights.
enum KerasLegacyReader {
    static func read(_ file: HDF5File, group: HDF5Group, root: HDF5Group, format: WeightFormat,
                     limits: ReadLimits) throws -> WeightFile {
        guard let layerNames = try group.stringArray("layer_names") else {
            throw group.error("expected the attribute 'layer_names' listing the layers")
        }
        var attributes = try WeightFile.attributes(of: group, excluding: ["layer_names"])
        if format == .kerasH5Model {
            let rootAttributes = try WeightFile.attributes(of: root)
            attributes.merge(rootAttributes) { inGroup, _ in inGroup }
        }
        var seen = Set<String>()
        let layers = try layerNames.map { name -> StoredLayer in
            guard seen.insert(name).inserted else {
                throw group.error("'layer_names' lists '\(name)' twice; expected unique layer names")
            }
            let layerGroup: HDF5Group
            do { layerGroup = try group.group(name) } catch let e as WeightFileError {
                throw WeightFileError(file: e.file, path: e.path, "\(e.message) (layer '\(name)' is listed in 'layer_names')")
            }
            guard let weightNames = try layerGroup.stringArray("weight_names") else {
                throw layerGroup.error("expected the attribute 'weight_names' listing the layer's weights")
            }
            let weights = try weightNames.map { weightName -> StoredWeight in
                let dataset: HDF5Dataset
                do { dataset = try layerGroup.dataset(weightName) } catch let e as WeightFileError {
                    throw WeightFileError(file: e.file, path: e.path,
                                          "\(e.message) ('\(weightName)' is listed in \(layerGroup.path) weight_names)")
                }
                try dataset.checkReadable(limits)
                return StoredWeight(name: weightName, source: dataset)
            }
            return StoredLayer(name: name, keras3Key: nil, path: layerGroup.path, weights: weights)
        }
        return WeightFile(name: file.name, format: format, attributes: attributes, layers: layers,
                          limits: limits, owner: file)
    }
}
