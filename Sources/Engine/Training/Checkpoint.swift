import Foundation

/// A training run as it stood at the end of an epoch: everything a resumed run needs to continue
/// bit for bit.
///
/// On disk it is a directory of four files, written atomically (see `DurableFile`):
/// `manifest.json` (names, shapes, scalars, random states, history) and three NumPy archives,
/// `weights.npz` (members `layer/weight`), `optimizer.npz` (PyTorch-style keys `0.exp_avg`, ...)
/// and `callbacks.npz` (members `key/name`), readable with `np.load`. Every value round-trips
/// exactly: tensors as float32, numbers in JSON's shortest round-trip form, generator states as
/// hex words.
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
        // Layer names may repeat (nested blocks); members get a "#n" suffix to stay unique.
        var used = Set<String>()
        let weightEntries = weights.map { w -> Manifest.WeightEntry in
            var member = "\(w.layer)/\(w.name)"
            var n = 1
            while used.contains(member) { n += 1; member = "\(w.layer)/\(w.name)#\(n)" }
            used.insert(member)
            return .init(layer: w.layer, name: w.name, shape: w.value.shape, member: member)
        }
        let manifest = Manifest(format: Checkpoint.format, version: Checkpoint.version, epoch: epoch, weights: weightEntries,
                                optimizer: .init(kind: optimizer.kind, scalars: optimizer.scalars),
                                schedule: .init(steps: scheduleSteps, plateauMetrics: plateauMetrics),
                                random: generators.map { .init(name: $0.name, state: hexWords($0.state)) },
                                history: history, callbacks: callbacks.mapValues { .init(scalars: $0.scalars) })
        let archives: [(String, [(name: String, tensor: Tensor)])] = [
            ("weights.npz", zip(weightEntries, weights).map { ($0.member, $1.value) }),
            ("optimizer.npz", optimizer.tensors.keys.sorted().map { ($0, optimizer.tensors[$0]!) }),
            ("callbacks.npz", callbacks.keys.sorted().flatMap { key in
                callbacks[key]!.tensors.keys.sorted().map { ("\(key)/\($0)", callbacks[key]!.tensors[$0]!) }
            }),
        ]
        try DurableFile.replaceDirectory(directory) { root in
            for (file, entries) in archives {
                let url = root.appendingPathComponent(file)
                try DurableFile.write(to: url) { write in try NPZ.encode(entries, file: url.path, write: write) }
            }
            try DurableFile.write(try Manifest.encoder.encode(manifest), to: root.appendingPathComponent("manifest.json"))
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
        func archive(_ file: String) throws -> [String: Tensor] {
            Dictionary(try NPZ.read(directory.appendingPathComponent(file)).map { ($0.name, $0.tensor) },
                       uniquingKeysWith: { a, _ in a })
        }
        let weightTensors = try archive("weights.npz")
        weights = try manifest.weights.map { entry in
            guard let t = weightTensors[entry.member], t.shape == entry.shape else {
                throw CheckpointError(path: directory.appendingPathComponent("weights.npz").path,
                                      "member '\(entry.member)' is missing or not of shape \(shapeString(entry.shape))")
            }
            return Weight(layer: entry.layer, name: entry.name, value: t)
        }
        epoch = manifest.epoch
        optimizer = OptimizerState(kind: manifest.optimizer.kind, tensors: try archive("optimizer.npz"),
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
        let callbackTensors = try archive("callbacks.npz")
        callbacks = manifest.callbacks.reduce(into: [:]) { states, item in
            var state = CallbackState(scalars: item.value.scalars)
            for (member, t) in callbackTensors where member.hasPrefix(item.key + "/") {
                state.tensors[String(member.dropFirst(item.key.count + 1))] = t
            }
            states[item.key] = state
        }
    }
}

private func hexWords(_ s: (UInt64, UInt64, UInt64, UInt64)) -> [String] {
    [s.0, s.1, s.2, s.3].map { String($0, radix: 16) }
}

/// The JSON side of a checkpoint directory.
struct Manifest: Codable {
    struct WeightEntry: Codable { var layer, name: String; var shape: [Int]; var member: String }
    struct OptimizerEntry: Codable { var kind: String; var scalars: [String: Double] }
    struct ScheduleEntry: Codable { var steps: Int; var plateauMetrics: [Double] }
    struct GeneratorEntry: Codable { var name: String; var state: [String] }
    struct CallbackEntry: Codable { var scalars: [String: Double] }

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
