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
        let file = try weights.map { try WeightFile.openMapped($0, architecture: architecture) }
        guard let name = architecture ?? file?.metadata.architecture else {
            throw TransferError("\(weights?.path ?? "the weight file") does not record its architecture; give it (see `zoo list`)")
        }
        var o = options
        o.includeTop = true
        o.classes = classes
        o.classifierActivation = .linear
        if o.inputSize == nil, let recorded = file?.metadata.inputSize, recorded.count == 3 {
            o.inputSize = (recorded[0], recorded[1])
        }
        if let weights { o = try o.adjusted(toWeights: weights, model: name) }
        let model = try Catalog.architecture(named: name).make(o)
        guard let weights, let file else { return (model, nil) }
        guard let head = model.classifierLayer else {
            throw TransferError("\(name) has no dense classifier to replace; fine-tuning needs one")
        }
        // A file whose layers are a named subset of the model's (a top left off) loads by name.
        let fileLayers = Set(file.layers.filter { !$0.weights.isEmpty }.map(\.name))
        let modelLayers = model.weightedLayers.map(\.name)
        let subset = fileLayers.isSubset(of: modelLayers) && modelLayers.contains { $0 != head && !fileLayers.contains($0) }
        let report = try model.loadWeights(from: weights, options: LoadOptions(mode: subset ? .byName : .strict,
                                                                              freshLayers: [head]))
        return (model, report)
    }

    /// The layers the load left as built: the new head and any the file did not hold.
    public static func newLayers(_ report: LoadReport?) -> Set<String> {
        Set((report?.fresh ?? []) + (report?.inModelNotInFile ?? []))
    }
}
