/// What ConvZoo records in its own weight files beside the weights, all optional.
///
/// Stored as root attributes named `convzoo_*`, which Keras ignores, so the files stay plain
/// Keras files.
public struct ConvZooMetadata: Equatable {
    /// The zoo architecture, e.g. `resnet50` or `resnet50-keras` (`zoo list`).
    public var architecture: String?
    /// The reference flavour the weights follow: `keras`, `torchvision` or `caffe`.
    public var variant: String?
    /// Class names in output order.
    public var classNames: [String]?
    /// Input preprocessing, e.g. Keras's `caffe`, `torch` or `tf` mode.
    public var preprocessing: String?
    /// The evaluation resize transform: `keras-direct`, `keras-direct-bilinear` or `resize<R>-crop<C>` (e.g. `resize256-crop224`).
    public var resizeTransform: String?
    /// Model input size (height, width, channels).
    public var inputSize: [Int]?
    /// The ConvZoo version that wrote the file.
    public var version: String?
    /// Further facts a converter records (epsilon, transform_input, ...), as `convzoo_x_<key>`.
    public var extra: [String: String] = [:]

    /// The version written into files.
    public static let currentVersion = "0.1.0"
    static let prefix = "convzoo_"

    public init(architecture: String? = nil, variant: String? = nil, classNames: [String]? = nil,
                preprocessing: String? = nil, resizeTransform: String? = nil, inputSize: [Int]? = nil,
                version: String? = nil, extra: [String: String] = [:]) {
        self.architecture = architecture
        self.variant = variant
        self.classNames = classNames
        self.preprocessing = preprocessing
        self.resizeTransform = resizeTransform
        self.inputSize = inputSize
        self.version = version
        self.extra = extra
    }

    /// True when nothing is set.
    public var isEmpty: Bool { self == ConvZooMetadata() }

    init(attributes: [String: AttributeValue]) {
        func string(_ key: String) -> String? {
            switch attributes[ConvZooMetadata.prefix + key] {
            case .string(let s)?: return s
            case .strings(let a)? where a.count == 1: return a[0]
            default: return nil
            }
        }
        architecture = string("architecture")
        variant = string("variant")
        preprocessing = string("preprocessing")
        resizeTransform = string("resize_transform")
        version = string("version")
        switch attributes[ConvZooMetadata.prefix + "class_names"] {
        case .strings(let a)?: classNames = a
        case .string(let s)?: classNames = [s]
        default: classNames = nil
        }
        if case .integers(let a)? = attributes[ConvZooMetadata.prefix + "input_size"] { inputSize = a }
        let extraPrefix = ConvZooMetadata.prefix + "x_"
        for (key, value) in attributes where key.hasPrefix(extraPrefix) {
            if case .string(let s) = value { extra[String(key.dropFirst(extraPrefix.count))] = s }
        }
    }

    /// The attributes that store this metadata.
    public var attributes: [String: AttributeValue] {
        var a: [String: AttributeValue] = [:]
        let p = ConvZooMetadata.prefix
        if let architecture { a[p + "architecture"] = .string(architecture) }
        if let variant { a[p + "variant"] = .string(variant) }
        if let classNames { a[p + "class_names"] = .strings(classNames) }
        if let preprocessing { a[p + "preprocessing"] = .string(preprocessing) }
        if let resizeTransform { a[p + "resize_transform"] = .string(resizeTransform) }
        if let inputSize { a[p + "input_size"] = .integers(inputSize) }
        if let version { a[p + "version"] = .string(version) }
        for (key, value) in extra { a[p + "x_" + key] = .string(value) }
        return a
    }
}
