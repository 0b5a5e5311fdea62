import Engine
import Foundation
import WeightIO
import Zoo

/// A zoo model with a new classifier for a dataset's classes, the rest loaded from pre-trained weights.
public enum NewHeadModel {
    /// Builds `architecture` (the file's recorded one when nil) with `classes` logits out and loads
    /// `weights` around its classifier, which keeps the architecture's own initialization whatever
    /// the file holds for it. A file without some top layers (Keras's `include_top=False` files)
    /// loads by name and those layers stay new as well; the report lists them.
    ///
    /// `options` carries the shape options (input size, twins' divisors); classes and the
    /// classifier activation are set here. Without `weights` the model is returned as built.
    public static func build(architecture: String?, weights: URL?, classes: Int,
                             options: ModelOptions = ModelOptions()) throws -> (Model, LoadReport?) {
        var o = options
        o.includeTop = true
        o.classes = classes
        o.classifierActivation = .linear
        guard let weights else {
            guard let architecture else {
                throw ModelError("no weight file and no architecture; name one (see `zoo list`)", remedy: .nameArchitecture)
            }
            return (try Catalog.architecture(named: architecture).make(o), nil)
        }
        let (model, report) = try Model.load(from: weights, architecture: architecture, options: o) { model, file in
            guard let head = model.classifierLayer else {
                throw TransferError("\(model.architecture) has no dense classifier to replace; fine-tuning needs one")
            }
            // A file whose layers are a named subset of the model's (a top left off) loads by name.
            let fileLayers = Set(file.layers.filter { !$0.weights.isEmpty }.map(\.name))
            let modelLayers = model.weightedLayers.map(\.name)
            let subset = fileLayers.isSubset(of: modelLayers) && modelLayers.contains { $0 != head && !fileLayers.contains($0) }
            return LoadOptions(mode: subset ? .byName : .strict, freshLayers: [head])
        }
        return (model, report)
    }

    /// The layers the load left as built: the new head and any the file did not hold.
    public static func newLayers(_ report: LoadReport?) -> Set<String> {
        Set((report?.fresh ?? []) + (report?.inModelNotInFile ?? []))
    }
}
