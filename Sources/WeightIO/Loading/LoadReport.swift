import Engine

/// How weights are matched to a model's layers.
public enum LoadMode: String, Sendable, CaseIterable, Codable {
    /// By name when the file's layer names are the model's, otherwise by order; any mismatch
    /// fails the load before a weight changes.
    case strict
    /// Each file layer goes to the model layer of that name; layers absent on either side are
    /// reported, mismatches fail the load.
    case byName = "by-name"
    /// Keras's topological loading: the model's layers with weights, in order, take the file's
    /// layers with weights, in order (for Keras 3 files: by key, which encodes that order).
    case byOrder = "by-order"
    /// By name, loading what fits and skipping (and reporting) weights whose shapes differ,
    /// e.g. a 1000-class head into a 10-class model.
    case skipMismatch = "skip-mismatch"
}

/// Options of a load.
public struct LoadOptions: Sendable {
    public var mode: LoadMode
    /// A by-name or skip-mismatch load fails when fewer than this share of the model's layers
    /// with weights get all their weights from the file, rather than leave them random silently.
    public var minimumMatchedShare: Double
    /// Maps a file's layer name to the model's before matching by name (e.g. the original
    /// Keras ResNet50 file's `res2a_branch2a` to `conv2_block1_1_conv`).
    public var renameFileLayer: (@Sendable (String) -> String)?
    /// Model layers that keep the weights they were built with, e.g. a new classifier head for
    /// another number of classes: the file's layer for each is matched as usual (so positions and
    /// keys stay aligned) but neither checked nor loaded, and a file without it is no mismatch.
    public var freshLayers: Set<String>
    /// A convolution (the first) whose kernel may be stored for 3 input channels while the layer
    /// takes another number: it is adapted as timm's `adapt_input_conv` does (`InputChannelAdaptation`).
    public var adaptInputChannels: String?

    public init(mode: LoadMode = .strict, minimumMatchedShare: Double = 0.5,
                renameFileLayer: (@Sendable (String) -> String)? = nil, freshLayers: Set<String> = [],
                adaptInputChannels: String? = nil) {
        self.mode = mode
        self.minimumMatchedShare = minimumMatchedShare
        self.renameFileLayer = renameFileLayer
        self.freshLayers = freshLayers
        self.adaptInputChannels = adaptInputChannels
    }
}

/// What a load did: which layers it loaded, which it could not match, which shapes differed,
/// and which loaded weights hold NaN or infinity.
public struct LoadReport: Equatable, Codable, CustomStringConvertible {
    /// How layers were actually matched.
    public enum Matching: String, Sendable, Codable {
        case name = "by name"
        case order = "by order"
        case keras3Key = "by order (Keras 3 keys)"
    }

    /// A model layer that received all its weights, and the file layer they came from.
    public struct LoadedLayer: Equatable, Codable {
        public let layer: String
        public let fileLayer: String
        public let weightCount: Int
    }

    /// A weight whose stored shape is not the model's.
    public struct ShapeMismatch: Equatable, Codable {
        public let layer: String
        public let fileLayer: String
        /// The model's weight name (`kernel`).
        public let weight: String
        /// Where the file keeps it.
        public let path: String
        public let expected: [Int]
        public let found: [Int]
    }

    /// A layer whose file entry holds a different number of weights than the model layer.
    public struct CountMismatch: Equatable, Codable {
        public let layer: String
        public let fileLayer: String
        public let path: String
        public let expected: [String]
        public let found: [String]
    }

    /// A kernel stored for RGB and adapted to the layer's input channels.
    public struct AdaptedInput: Equatable, Codable {
        public let layer: String
        public let stored: [Int]
        public let adapted: [Int]
    }

    /// A loaded weight holding NaN or infinite values (loaded as stored, but worth knowing).
    public struct NonFinite: Equatable, Codable {
        public let layer: String
        public let weight: String
        public let path: String
        public let nanCount: Int
        public let infinityCount: Int
    }

    public let file: String
    public let format: WeightFormat?
    /// The mode asked for; `matching` says how layers were paired in the end.
    public let requested: LoadMode
    public internal(set) var matching: Matching
    public internal(set) var loaded: [LoadedLayer] = []
    /// File layers with weights that no model layer took.
    public internal(set) var inFileNotInModel: [String] = []
    /// Model layers with weights that received none.
    public internal(set) var inModelNotInFile: [String] = []
    public internal(set) var shapeMismatches: [ShapeMismatch] = []
    public internal(set) var countMismatches: [CountMismatch] = []
    public internal(set) var nonFinite: [NonFinite] = []
    /// The first convolution's kernel when it was adapted to other input channels (`LoadOptions.adaptInputChannels`).
    public internal(set) var adaptedInput: AdaptedInput?
    /// Model layers left as built on request (`LoadOptions.freshLayers`), in model order.
    public internal(set) var fresh: [String] = []

    /// True when every model layer got its weights and nothing was skipped.
    public var isComplete: Bool {
        inModelNotInFile.isEmpty && shapeMismatches.isEmpty && countMismatches.isEmpty
    }

    public var description: String {
        // Names come from the file and may be of any length.
        func joined(_ names: [String]) -> String { names.map { excerpt($0) }.joined(separator: ", ") }
        var lines = ["Loaded \(file)" + (format.map { " (\($0))" } ?? "") + " \(matching.rawValue)"
                     + (requested == .strict ? " (strict)" : requested == .skipMismatch ? " (skipping mismatches)" : "")
                     + ": \(loaded.count) layer\(loaded.count == 1 ? "" : "s") loaded"]
        let renamed = loaded.filter { $0.layer != $0.fileLayer }
        if !renamed.isEmpty {
            lines.append("  matched across names: " + joined(renamed.map { "\($0.layer) <- \(excerpt($0.fileLayer))" }))
        }
        if !fresh.isEmpty { lines.append("  new, left as built: " + joined(fresh)) }
        if let a = adaptedInput {
            lines.append("  input channels adapted as timm's adapt_input_conv: \(a.layer).kernel \(shapeText(a.stored)) -> "
                         + "\(shapeText(a.adapted)), " + InputChannelAdaptation.method(to: a.adapted[2]))
        }
        if !inFileNotInModel.isEmpty { lines.append("  in the file, not in the model: " + joined(inFileNotInModel)) }
        if !inModelNotInFile.isEmpty { lines.append("  in the model, not in the file: " + joined(inModelNotInFile)) }
        for m in countMismatches {
            lines.append("  weight count mismatch: \(m.layer) has \(m.expected.count) (\(m.expected.joined(separator: ", "))), "
                         + "file layer \(excerpt(m.fileLayer)) at \(m.path) has \(m.found.count) (\(m.found.joined(separator: ", ")))")
        }
        for m in shapeMismatches {
            lines.append("  shape mismatch: \(m.layer).\(m.weight) expects \(shapeText(m.expected)), "
                         + "the file has \(shapeText(m.found)) at \(m.path)")
        }
        for n in nonFinite {
            lines.append("  non-finite values: \(n.layer).\(n.weight) (\(n.path)) has \(n.nanCount) NaN, "
                         + "\(n.infinityCount) infinite")
        }
        return lines.joined(separator: "\n")
    }
}

/// A load that could not go ahead; the model's weights are unchanged.
public struct WeightLoadError: Error, CustomStringConvertible {
    public let file: String
    public let message: String
    /// What matching found before giving up.
    public let report: LoadReport

    public var description: String { "\(file): \(message)" }
}

func shapeText(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }
