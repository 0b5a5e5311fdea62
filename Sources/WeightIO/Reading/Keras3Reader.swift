import Engine

/// Keras 3 `.weights.h5`: `layers/<key>/vars/<i>`.
///
/// `<key>` is the snake_case class name plus a per-class counter in `model.layers` order
/// (`conv2d`, `conv2d_1`, ...); Keras writes the layer's name as the `vars` group's `name`
/// attribute (older Keras 3 versions did not). Nested models appear as
/// `layers/<key>/layers/<key>/vars/<i>` and are flattened here to keys `outer/inner`.
/// Files from Keras 2.13-2.15 call the top group `_layer_checkpoint_dependencies`.
enum Keras3Reader {
    static let layersGroupNames = ["layers", "_layer_checkpoint_dependencies"]

    static func read(_ file: HDF5File, layers: HDF5Group, format: WeightFormat, limits: ReadLimits) throws -> WeightFile {
        var found: [StoredLayer] = []
        try collect(layers, prefix: "", into: &found, limits: limits)
        let root = try file.root()
        return WeightFile(name: file.name, format: format, attributes: try WeightFile.attributes(of: root),
                          layers: found, limits: limits, owner: file)
    }

    private static func collect(_ group: HDF5Group, prefix: String, into found: inout [StoredLayer],
                                limits: ReadLimits) throws {
        for key in try group.memberNames().sorted(by: keyOrder) {
            let layerGroup: HDF5Group
            do { layerGroup = try group.group(key) } catch let e as WeightFileError {
                throw WeightFileError(file: e.file, path: e.path, "damaged layer group: \(e.message)")
            }
            let fullKey = prefix.isEmpty ? key : prefix + "/" + key
            // Listed, not probed: a member that fails to open is damage to report, not a layer to skip.
            let members = try layerGroup.memberNames()
            let nestedGroups = layersGroupNames.filter(members.contains)
            guard members.contains("vars") || !nestedGroups.isEmpty else {
                throw layerGroup.error("damaged layer group: expected a 'vars' group (Keras 3 writes one for every "
                                       + "layer), found " + (members.isEmpty ? "no members" : "members " + members.map { "'\(excerpt($0))'" }.prefix(5).joined(separator: ", ")))
            }
            if members.contains("vars") {
                let vars: HDF5Group
                do { vars = try layerGroup.group("vars") } catch let e as WeightFileError {
                    throw WeightFileError(file: e.file, path: e.path, "damaged layer group: \(e.message)")
                }
                let indices = try vars.memberNames()
                let numbers = indices.compactMap { Int($0) }.sorted()
                guard numbers.count == indices.count, numbers == Array(0..<numbers.count) else {
                    throw vars.error("expected datasets named 0, 1, 2, ... found \(indices.sorted(by: keyOrder))")
                }
                let weights = try numbers.map { i -> StoredWeight in
                    let dataset = try vars.dataset(String(i))
                    try dataset.checkReadable(limits)
                    return StoredWeight(name: String(i), source: dataset)
                }
                let name = try vars.stringAttribute("name") ?? fullKey
                // A nested model's own `vars` is usually empty; its layers carry the weights.
                if !weights.isEmpty || nestedGroups.isEmpty {
                    found.append(StoredLayer(name: name, keras3Key: fullKey, path: vars.path, weights: weights))
                }
            }
            for nested in nestedGroups {
                try collect(layerGroup.group(nested), prefix: fullKey, into: &found, limits: limits)
            }
        }
    }

    /// `conv2d` < `conv2d_1` < `conv2d_2` < `conv2d_10`: by class, then numeric counter.
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        let (baseA, nA) = split(a), (baseB, nB) = split(b)
        return baseA != baseB ? baseA < baseB : nA < nB
    }

    private static func split(_ key: String) -> (String, Int) {
        if let underscore = key.lastIndex(of: "_"), let n = Int(key[key.index(after: underscore)...]) {
            return (String(key[..<underscore]), n)
        }
        return (key, -1)
    }
}
