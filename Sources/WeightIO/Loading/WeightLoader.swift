import Engine
import Foundation

/// A weight as loading sees it, whatever holds it (a file's dataset, or a tensor in memory).
struct SourceWeight {
    let name: String
    let path: String
    let shape: [Int]
    /// Puts the value into the parameter (whose shape is already checked to be `shape`).
    let assign: (Parameter) throws -> Void
}

struct SourceLayer {
    let name: String
    let keras3Key: String?
    let path: String
    let weights: [SourceWeight]
}

/// Loads weights into an engine model and reports what it did.
///
/// Everything is matched and checked first (names, counts, shapes); only then are weights
/// written, so a load that fails leaves the model as it was. From a `WeightFile` each dataset
/// is read straight into the parameter's own storage: no second copy of the weights exists.
/// (A read error in that second phase, i.e. a file damaged inside a dataset that passed every
/// check, does leave earlier layers loaded; the error says so.)
public enum WeightLoader {
    /// Loads from an opened file.
    public static func load(_ file: WeightFile, into model: Layer, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        let layers = file.layers.map { layer in
            SourceLayer(name: layer.name, keras3Key: layer.keras3Key, path: layer.path, weights: layer.weights.map { w in
                SourceWeight(name: w.name, path: w.path, shape: w.shape) { parameter in
                    try parameter.value.withUnsafeMutableBufferPointer { try w.read(into: $0) }
                }
            })
        }
        return try load(layers, file: file.name, format: file.format, into: model, options: options)
    }

    /// Loads from weights in memory; the model's parameters share the archive's tensors.
    public static func load(_ archive: WeightArchive, named name: String = "<memory>", into model: Layer,
                            options: LoadOptions = LoadOptions()) throws -> LoadReport {
        let layers = archive.layers.map { layer in
            SourceLayer(name: layer.name, keras3Key: layer.keras3Key, path: layer.name, weights: layer.weights.map { w in
                SourceWeight(name: w.name, path: "\(layer.name)/\(w.name)", shape: w.value.shape) { $0.value = w.value }
            })
        }
        return try load(layers, file: name, format: archive.format, into: model, options: options)
    }

    static func load(_ source: [SourceLayer], file: String, format: WeightFormat?, into model: Layer,
                     options: LoadOptions) throws -> LoadReport {
        var plan = Plan(file: file, format: format, model: model, source: source, options: options)
        try plan.make()
        var done = 0
        do {
            for a in plan.assignments {
                try a.weight.assign(a.parameter)
                done += 1
            }
        } catch {
            throw WeightLoadError(file: file, message: "reading failed after \(done) of \(plan.assignments.count) weights "
                                  + "were loaded, so the model is partly loaded: \(describe(error))", report: plan.report)
        }
        for a in plan.assignments {
            let (nan, infinite) = a.parameter.value.nonFiniteCounts
            if nan + infinite > 0 {
                plan.report.nonFinite.append(.init(layer: a.layer, weight: a.parameter.name, path: a.weight.path,
                                                   nanCount: nan, infinityCount: infinite))
            }
        }
        return plan.report
    }
}

extension Layer {
    /// Loads weights from `url` (any format ConvZoo reads, detected from the content).
    public func loadWeights(from url: URL, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        try WeightLoader.load(WeightFile.open(url), into: self, options: options)
    }
}

/// Matching and checking, before anything changes.
private struct Plan {
    struct Assignment {
        let layer: String
        let parameter: Parameter
        let weight: SourceWeight
    }

    /// A model layer that takes one file layer's weights.
    struct Unit {
        let layer: Layer
        let parameters: [Parameter]
        /// The weighted layers it covers (itself, or those below a composite).
        let covers: [ObjectIdentifier]
    }

    let file: String
    let model: Layer
    let source: [SourceLayer]
    let options: LoadOptions
    let weightedLayers: [Layer]
    var report: LoadReport
    var assignments: [Assignment] = []

    init(file: String, format: WeightFormat?, model: Layer, source: [SourceLayer], options: LoadOptions) {
        self.file = file
        self.model = model
        self.source = source.filter { !$0.weights.isEmpty }
        self.options = options
        self.weightedLayers = ModelWeights.weightedLayers(model)
        let isKeras3 = format?.isKeras3 ?? false
        report = LoadReport(file: file, format: format, requested: options.mode,
                            matching: options.mode == .byOrder ? (isKeras3 ? .keras3Key : .order) : .name)
    }

    func unit(_ layer: Layer) -> Unit {
        Unit(layer: layer, parameters: ModelWeights.legacyWeights(of: layer),
             covers: layer.allLayers.filter { !$0.weights.isEmpty }.map(ObjectIdentifier.init))
    }

    mutating func make() throws {
        try match()
        // Report in the model's order, whatever order the file keeps.
        var position: [String: Int] = [:]
        for (i, layer) in model.allLayers.enumerated() where position[layer.name] == nil { position[layer.name] = i }
        report.loaded.sort { position[$0.layer, default: .max] < position[$1.layer, default: .max] }
        var seen = Set<String>()
        report.fresh = model.allLayers.map(\.name).filter { options.freshLayers.contains($0) && seen.insert($0).inserted }
    }

    private mutating func match() throws {
        switch options.mode {
        case .byName, .skipMismatch:
            try pair(matchByName().pairs, skipping: options.mode == .skipMismatch)
            try checkShare()
        case .byOrder:
            try pairInOrder()
        case .strict:
            let byName = matchByName()
            if byName.isComplete {
                report.matching = .name
                try pair(byName.pairs, skipping: false)
            } else {
                try pairInOrder()
            }
        }
    }

    struct Matches {
        var pairs: [(Unit, SourceLayer)] = []
        var isComplete = false
    }

    /// File layers matched to model layers of the same name (the model itself excluded).
    mutating func matchByName() -> Matches {
        var index: [String: Layer] = [:]
        for layer in model.allLayers.dropFirst() where index[layer.name] == nil { index[layer.name] = layer }
        var m = Matches()
        var unmatched: [String] = []
        var covered: [ObjectIdentifier: Int] = [:]
        for fileLayer in source {
            let name = options.renameFileLayer?(fileLayer.name) ?? fileLayer.name
            guard let layer = index[name] else { unmatched.append(fileLayer.name); continue }
            let u = unit(layer)
            m.pairs.append((u, fileLayer))
            for id in u.covers { covered[id, default: 0] += 1 }
        }
        let missing = weightedLayers.filter { covered[ObjectIdentifier($0)] == nil && !options.freshLayers.contains($0.name) }
            .map(\.name)
        m.isComplete = unmatched.isEmpty && missing.isEmpty && covered.values.allSatisfy { $0 == 1 }
            && m.pairs.allSatisfy { !$0.0.parameters.isEmpty }
        report.inFileNotInModel = unmatched
        report.inModelNotInFile = missing
        return m
    }

    /// Keras's topological loading: i-th weighted model layer <- i-th weighted file layer; Keras 3
    /// files record that order in their keys, so they pair by key.
    mutating func pairInOrder() throws {
        report.matching = report.format?.isKeras3 == true ? .keras3Key : .order
        let units = weightedLayers.map(unit)
        report.inFileNotInModel = []
        report.inModelNotInFile = []
        if report.matching == .keras3Key {
            let keys = KerasNaming.keras3Keys(of: model)
            var byKey: [String: SourceLayer] = [:]
            for layer in source { if let key = layer.keras3Key { byKey[key] = layer } }
            let keyed = units.map { u in (u, keys[ObjectIdentifier(u.layer)].flatMap { byKey[$0] }) }
            let taken = Set(keyed.compactMap { $0.1?.keras3Key })
            report.inModelNotInFile = keyed.filter { $0.1 == nil && !options.freshLayers.contains($0.0.layer.name) }
                .map { $0.0.layer.name }
            report.inFileNotInModel = source.filter { !taken.contains($0.keras3Key ?? "") }.map(\.name)
            guard report.inModelNotInFile.isEmpty && report.inFileNotInModel.isEmpty else {
                throw failure("the model's layers with weights and the file's Keras 3 keys do not match: "
                              + "model layers without a file key: \(list(report.inModelNotInFile)); "
                              + "file layers without a model layer: \(list(report.inFileNotInModel)) "
                              + "(the model has \(units.count) layers with weights, the file \(source.count))")
            }
            try pair(keyed.compactMap { u, l in l.map { (u, $0) } }, skipping: false)
            return
        }
        guard units.count == source.count else {
            throw failure("layer count mismatch loading by order: the model has \(units.count) layers with weights "
                          + "(\(list(units.map { $0.layer.name }))), the file has \(source.count) "
                          + "(\(list(source.map(\.name))))")
        }
        try pair(Array(zip(units, source)), skipping: false)
    }

    /// Checks every pair; collects assignments, or throws on the first kind of mismatch when not skipping.
    mutating func pair(_ pairs: [(Unit, SourceLayer)], skipping: Bool) throws {
        for (u, fileLayer) in pairs {
            let name = u.layer.name
            if options.freshLayers.contains(name) {
                report.fresh.append(name)
                continue
            }
            guard u.parameters.count == fileLayer.weights.count else {
                report.countMismatches.append(.init(layer: name, fileLayer: fileLayer.name, path: fileLayer.path,
                                                    expected: u.parameters.map(\.name), found: fileLayer.weights.map(\.name)))
                continue
            }
            var fits: [Assignment] = []
            for (parameter, weight) in zip(u.parameters, fileLayer.weights) {
                if parameter.shape == weight.shape {
                    fits.append(Assignment(layer: name, parameter: parameter, weight: weight))
                } else if let adapted = adaptedInput(name, parameter, weight) {
                    fits.append(Assignment(layer: name, parameter: parameter, weight: adapted))
                    report.adaptedInput = .init(layer: name, stored: weight.shape, adapted: parameter.shape)
                } else {
                    report.shapeMismatches.append(.init(layer: name, fileLayer: fileLayer.name, weight: parameter.name,
                                                        path: weight.path, expected: parameter.shape, found: weight.shape))
                }
            }
            assignments += fits
            if fits.count == u.parameters.count {
                report.loaded.append(.init(layer: name, fileLayer: fileLayer.name, weightCount: fits.count))
            }
        }
        if !skipping, let m = report.countMismatches.first {
            throw failure("weight count mismatch loading \(report.matching.rawValue): layer '\(m.layer)' has "
                          + "\(m.expected.count) weights (\(list(m.expected))), the file's layer '\(m.fileLayer)' at "
                          + "\(m.path) has \(m.found.count) (\(list(m.found)))")
        }
        if !skipping, !report.shapeMismatches.isEmpty {
            let shown = report.shapeMismatches.prefix(3).map {
                "layer '\($0.layer)' weight '\($0.weight)' expects \(shapeText($0.expected)), the file has "
                    + "\(shapeText($0.found)) at \($0.path)"
            }
            let more = report.shapeMismatches.count > 3 ? "; and \(report.shapeMismatches.count - 3) more" : ""
            throw failure("shape mismatch loading \(report.matching.rawValue): " + shown.joined(separator: "; ") + more)
        }
        if skipping {
            // Layers that lost any weight to a mismatch count as not loaded.
            let loadedNames = Set(report.loaded.map(\.layer))
            for (u, _) in pairs where !loadedNames.contains(u.layer.name) && !report.inModelNotInFile.contains(u.layer.name)
                && !options.freshLayers.contains(u.layer.name) {
                report.inModelNotInFile.append(u.layer.name)
            }
        }
    }

    /// `weight` read and adapted to `parameter`'s input channels, when it is the RGB kernel of the
    /// convolution `LoadOptions.adaptInputChannels` names and differs from it in input channels only.
    func adaptedInput(_ layer: String, _ parameter: Parameter, _ weight: SourceWeight) -> SourceWeight? {
        let (want, stored) = (parameter.shape, weight.shape)
        guard layer == options.adaptInputChannels, parameter.name == "kernel", want.count == 4, stored.count == 4,
              stored[2] == 3, want[2] != 3, want[0] == stored[0], want[1] == stored[1], want[3] == stored[3]
        else { return nil }
        return SourceWeight(name: weight.name, path: weight.path, shape: want) { target in
            let rgb = Parameter(name: parameter.name, value: Tensor(zeros: stored))
            try weight.assign(rgb)
            target.value = InputChannelAdaptation.adapt(rgb.value, to: want[2])
        }
    }

    /// A by-name load must fill at least the set share of the model's weighted layers.
    func checkShare() throws {
        guard !weightedLayers.isEmpty else { return }
        let loadedNames = Set(report.loaded.map(\.layer))
        var full = Set<ObjectIdentifier>()
        for layer in model.allLayers where loadedNames.contains(layer.name) {
            for sub in layer.allLayers where !sub.weights.isEmpty { full.insert(ObjectIdentifier(sub)) }
        }
        let share = Double(full.count) / Double(weightedLayers.count)
        guard share >= options.minimumMatchedShare else {
            throw failure("only \(full.count) of the model's \(weightedLayers.count) layers with weights were loaded "
                          + "\(report.matching.rawValue) (\(Int((share * 100).rounded()))%, at least "
                          + "\(Int((options.minimumMatchedShare * 100).rounded()))% required); the file's layers are "
                          + "\(list(source.map(\.name))). Is this the right file, or should it load by order?")
        }
    }

    /// The error for a load that stops here; its report lists nothing as loaded, since nothing was.
    func failure(_ message: String) -> WeightLoadError {
        var unchanged = report
        unchanged.loaded = []
        return WeightLoadError(file: file, message: message, report: unchanged)
    }

    func list(_ names: [String]) -> String {
        let shown = names.prefix(8).map { excerpt($0) }.joined(separator: ", ")
        return names.count <= 8 ? shown : shown + ", ... (\(names.count))"
    }
}
