import Foundation

/// A training run as it stood at the end of an epoch: everything a resumed run needs to continue
/// bit for bit.
///
/// On disk it is a directory: `manifest.json` (names, shapes, scalars, random states, history)
/// and float32 `.npy` files under `weights/`, `optimizer/` and `callbacks/<key>/`, written
/// atomically (see `DurableFiles`). Every value round-trips exactly: tensors as float32, numbers
/// in JSON's shortest round-trip form, generator states as hex words.
public struct Checkpoint {
    public static let format = "convzoo-checkpoint"
    public static let version = 1

    /// A weight of the model, named `layer`/`name` (Keras's names).
    public struct Weight {
        public var layer: String
        public var name: String
        public var value: Tensor
    }

    /// A `RandomGenerator`'s state under the name the trainer gives it.
    public struct GeneratorState: Equatable {
        public var name: String
        public var state: (UInt64, UInt64, UInt64, UInt64)

        public static func == (a: GeneratorState, b: GeneratorState) -> Bool {
            a.name == b.name && a.state == b.state
        }
    }

    /// Epochs completed.
    public var epoch: Int
    /// Every layer's `weights` (parameters, then state such as BatchNorm's moving statistics) in `allLayers` order.
    public var weights: [Weight]
    public var optimizer: OptimizerState
    /// Scheduler steps taken, and the metrics given to a plateau schedule, replayed on resume.
    public var scheduleSteps: Int
    public var plateauMetrics: [Double]
    public var generators: [GeneratorState]
    public var history: [EpochRecord]
    /// States of checkpointable callbacks by `checkpointKey`.
    public var callbacks: [String: CallbackState]

    /// A checkpoint from its parts; `Trainer.checkpoint()` builds one from a run.
    public init(epoch: Int, weights: [Weight], optimizer: OptimizerState, scheduleSteps: Int, plateauMetrics: [Double],
                generators: [GeneratorState], history: [EpochRecord], callbacks: [String: CallbackState]) {
        self.epoch = epoch
        self.weights = weights
        self.optimizer = optimizer
        self.scheduleSteps = scheduleSteps
        self.plateauMetrics = plateauMetrics
        self.generators = generators
        self.history = history
        self.callbacks = callbacks
    }

    /// Writes the checkpoint as the directory `directory`, replacing it atomically if it exists.
    public func write(to directory: URL) throws {
        try DurableFiles.replaceDirectory(directory) { root in
            var manifest = Manifest(format: Checkpoint.format, version: Checkpoint.version, epoch: epoch, weights: [],
                                    optimizer: .init(kind: optimizer.kind, scalars: optimizer.scalars, tensors: [:]),
                                    schedule: .init(steps: scheduleSteps, plateauMetrics: plateauMetrics),
                                    random: generators.map { .init(name: $0.name, state: hexWords($0.state)) },
                                    history: history, callbacks: [:])
            let fm = FileManager.default
            func save(_ t: Tensor, _ folder: String, _ index: Int) throws -> String {
                let relative = folder + String(format: "/%04d.npy", index)
                try fm.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
                try DurableFiles.write(NPY.encode(t), to: root.appendingPathComponent(relative))
                return relative
            }
            for (i, w) in weights.enumerated() {
                manifest.weights.append(.init(layer: w.layer, name: w.name, shape: w.value.shape,
                                              file: try save(w.value, "weights", i)))
            }
            for (i, key) in optimizer.tensors.keys.sorted().enumerated() {
                manifest.optimizer.tensors[key] = try save(optimizer.tensors[key]!, "optimizer", i)
            }
            for (key, state) in callbacks {
                var entry = Manifest.CallbackEntry(scalars: state.scalars, tensors: [:])
                for (i, name) in state.tensors.keys.sorted().enumerated() {
                    entry.tensors[name] = try save(state.tensors[name]!, "callbacks/\(key)", i)
                }
                manifest.callbacks[key] = entry
            }
            for folder in ["weights", "optimizer", "callbacks"] + callbacks.keys.map({ "callbacks/\($0)" })
            where fm.fileExists(atPath: root.appendingPathComponent(folder).path) {
                try DurableFiles.syncDirectory(root.appendingPathComponent(folder))
            }
            try DurableFiles.write(try Manifest.encoder.encode(manifest), to: root.appendingPathComponent("manifest.json"))
        }
    }

    /// Reads a checkpoint directory written by `write(to:)`.
    public init(contentsOf directory: URL) throws {
        let manifestURL = directory.appendingPathComponent("manifest.json")
        let manifest: Manifest
        do {
            manifest = try Manifest.decoder.decode(Manifest.self, from: Data(contentsOf: manifestURL))
        } catch {
            throw CheckpointError(path: manifestURL.path, "cannot read the manifest (\(error))")
        }
        guard manifest.format == Checkpoint.format, manifest.version == Checkpoint.version else {
            throw CheckpointError(path: manifestURL.path, "format \(manifest.format) version \(manifest.version), "
                + "expected \(Checkpoint.format) version \(Checkpoint.version)")
        }
        func load(_ relative: String, shape: [Int]? = nil) throws -> Tensor {
            let t = try NPY.read(directory.appendingPathComponent(relative))
            if let shape, t.shape != shape {
                throw CheckpointError(path: directory.appendingPathComponent(relative).path,
                                      "holds shape \(shapeString(t.shape)), the manifest says \(shapeString(shape))")
            }
            return t
        }
        epoch = manifest.epoch
        weights = try manifest.weights.map { Weight(layer: $0.layer, name: $0.name, value: try load($0.file, shape: $0.shape)) }
        optimizer = OptimizerState(kind: manifest.optimizer.kind, tensors: try manifest.optimizer.tensors.mapValues { try load($0) },
                                   scalars: manifest.optimizer.scalars)
        scheduleSteps = manifest.schedule.steps
        plateauMetrics = manifest.schedule.plateauMetrics
        generators = try manifest.random.map { entry in
            let words = entry.state.compactMap { UInt64($0, radix: 16) }
            guard words.count == 4 else {
                throw CheckpointError(path: manifestURL.path, "random state '\(entry.name)' is not four hex words")
            }
            return GeneratorState(name: entry.name, state: (words[0], words[1], words[2], words[3]))
        }
        history = manifest.history
        callbacks = try manifest.callbacks.mapValues { entry in
            CallbackState(scalars: entry.scalars, tensors: try entry.tensors.mapValues { try load($0) })
        }
    }
}

private func hexWords(_ s: (UInt64, UInt64, UInt64, UInt64)) -> [String] {
    [s.0, s.1, s.2, s.3].map { String($0, radix: 16) }
}

/// The JSON side of a checkpoint directory.
struct Manifest: Codable {
    struct WeightEntry: Codable { var layer, name: String; var shape: [Int]; var file: String }
    struct OptimizerEntry: Codable { var kind: String; var scalars: [String: Double]; var tensors: [String: String] }
    struct ScheduleEntry: Codable { var steps: Int; var plateauMetrics: [Double] }
    struct GeneratorEntry: Codable { var name: String; var state: [String] }
    struct CallbackEntry: Codable { var scalars: [String: Double]; var tensors: [String: String] }

    var format: String
    var version: Int
    var epoch: Int
    var weights: [WeightEntry]
    var optimizer: OptimizerEntry
    var schedule: ScheduleEntry
    var random: [GeneratorEntry]
    var history: [EpochRecord]
    var callbacks: [String: CallbackEntry]

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
