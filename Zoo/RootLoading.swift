import Engine
import Foundation
import WeightIO

extension Model {
    /// Under mpirun, the model that `load` gives on rank 0, on every rank, with rank 0 the only one
    /// that runs `load` (so only rank 0 opens the weight file, which need exist only where it
    /// runs). The other ranks build the same architecture with the same options, then receive the
    /// class names, preprocessing, resize transform, load report and every weight by broadcast.
    /// With no cluster, or one rank, this is `load()`.
    ///
    /// If `load` fails on rank 0 it throws there while the others wait in the broadcast: the
    /// caller ends the job (`Cluster.abort`), as for any error on one rank.
    public static func loadedOnRoot(of cluster: Cluster?, _ load: () throws -> (Model, LoadReport?)) throws
        -> (model: Model, report: LoadReport?) {
        guard let cluster, cluster.size > 1 else { return try load() }
        let model: Model, report: LoadReport?
        if cluster.isRoot {
            (model, report) = try load()
            _ = try cluster.broadcast(JSONEncoder().encode(SharedModel(model, report)))
        } else {
            let shared = try JSONDecoder().decode(SharedModel.self, from: cluster.broadcast(Data()))
            (model, report) = (try shared.build(), shared.report)
        }
        for weight in model.network.allWeights { try cluster.broadcast(&weight.value) }
        return (model, report)
    }
}

/// What a rank without the weight file needs to build rank 0's model: everything but the weights.
private struct SharedModel: Codable {
    let architecture: String
    let includeTop: Bool
    let pooling: GlobalPooling?
    let classes: Int?
    let classifierActivation: Activation?
    let inputSize: [Int]?
    let channelDivisor: Int
    let hiddenUnits: Int?
    let transformInput: Bool
    let classNames: [String]?
    let preprocessing: String
    let resizeTransform: String
    let report: LoadReport?

    init(_ model: Model, _ report: LoadReport?) {
        let o = model.options
        architecture = model.architecture
        includeTop = o.includeTop
        pooling = o.pooling
        classes = o.requestedClasses
        classifierActivation = o.classifierActivation
        inputSize = o.inputSize.map { [$0.height, $0.width] }
        channelDivisor = o.channelDivisor
        hiddenUnits = o.hiddenUnits
        transformInput = o.transformInput
        classNames = model.classNames
        preprocessing = model.preprocessing.rawValue
        resizeTransform = model.resizeTransform.description
        self.report = report
    }

    /// The architecture built with rank 0's options and its recorded metadata (weights as initialized).
    func build() throws -> Model {
        var o = ModelOptions(includeTop: includeTop, pooling: pooling, classes: classes,
                             classifierActivation: classifierActivation,
                             inputSize: inputSize.flatMap { $0.count == 2 ? ($0[0], $0[1]) : nil })
        o.channelDivisor = channelDivisor
        o.hiddenUnits = hiddenUnits
        o.transformInput = transformInput
        let model = try Catalog.architecture(named: architecture).make(o)
        guard let preprocessing = Preprocessing(rawValue: preprocessing),
              let resize = ResizeTransform(resizeTransform) else {
            throw ModelError("rank 0 sent preprocessing '\(preprocessing)' and resize '\(resizeTransform)', "
                + "which this build does not know")
        }
        model.classNames = classNames
        model.preprocessing = preprocessing
        model.resizeTransform = resize
        return model
    }
}
