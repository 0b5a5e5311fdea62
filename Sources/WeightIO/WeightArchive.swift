import Engine

/// A weight as the format-neutral result holds it.
public struct NamedTensor: Equatable {
    /// The file's name for it: `kernel`, `conv/kernel:0`, `l_W_1:0`, or a Keras 3 index `0`.
    public var name: String
    public var value: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
    }
}

/// One layer's weights, in the layer's Keras order (trainable first, then non-trainable).
public struct LayerWeights: Equatable {
    public var name: String
    public var weights: [NamedTensor]
    /// The Keras 3 `.weights.h5` key (`conv2d_3`, `sequential/conv2d`), when known.
    public var keras3Key: String?

    public init(name: String, weights: [NamedTensor], keras3Key: String? = nil) {
        self.name = name
        self.weights = weights
        self.keras3Key = keras3Key
    }
}

/// Weights held in memory, independent of any file format: an ordered list of layers with
/// named tensors, plus file attributes (Keras's `keras_version`, `backend`, ConvZoo's metadata).
public struct WeightArchive: Equatable {
    public var layers: [LayerWeights]
    /// Attributes of the file (for `model.save` files, of `model_weights/` over the root's).
    public var attributes: [String: AttributeValue]
    /// The format it was read from; nil when built in memory.
    public var format: WeightFormat?

    public init(layers: [LayerWeights], attributes: [String: AttributeValue] = [:], format: WeightFormat? = nil) {
        self.layers = layers
        self.attributes = attributes
        self.format = format
    }

    /// The layer named `name`.
    public func layer(named name: String) -> LayerWeights? { layers.first { $0.name == name } }

    /// ConvZoo's own attributes (architecture, classes, preprocessing...), stored as `convzoo_*`.
    public var metadata: ConvZooMetadata {
        get { ConvZooMetadata(attributes: attributes) }
        set {
            attributes = attributes.filter { !$0.key.hasPrefix(ConvZooMetadata.prefix) }
            attributes.merge(newValue.attributes) { _, new in new }
        }
    }

    /// Number of elements over all weights.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weights.reduce(0) { $0 + $1.value.count } } }
}

/// Which kind of weight file.
public enum WeightFormat: String, Sendable, Codable, CustomStringConvertible {
    /// Keras legacy HDF5 at the root, as Keras 2's `save_weights('x.h5')` writes (and ConvZoo).
    case kerasH5 = "keras-h5"
    /// Keras legacy HDF5 under `model_weights/`, as `model.save('x.h5')` writes.
    case kerasH5Model = "keras-h5-model"
    /// Keras 3 `.weights.h5`: `layers/<key>/vars/<i>`.
    case keras3 = "keras3"
    /// A Keras 3 `.keras` zip archive; the weights are its `model.weights.h5`.
    case kerasArchive = "keras-archive"
    /// PyTorch's zip format (`torch.save` since 1.6): `<root>/data.pkl` and `<root>/data/<key>` storages.
    case pytorchZip = "pytorch-zip"
    /// PyTorch's legacy format: a sequence of pickles after a magic number (`torch.save` before 1.6).
    case pytorchLegacy = "pytorch-legacy"
    /// PyTorch's oldest format: a tar archive of `sys_info`, `pickle`, `tensors` and `storages`.
    case pytorchTar = "pytorch-tar"
    /// safetensors: a JSON header, then the tensors' bytes.
    case safetensors = "safetensors"
    /// A Caffe `.caffemodel` (a `NetParameter` protocol buffer).
    case caffe = "caffe"

    public var description: String {
        switch self {
        case .kerasH5: return "Keras legacy HDF5 (save_weights layout)"
        case .kerasH5Model: return "Keras legacy HDF5 (model.save layout, model_weights/)"
        case .keras3: return "Keras 3 .weights.h5"
        case .kerasArchive: return "Keras 3 .keras archive"
        case .pytorchZip: return "PyTorch zip archive (torch.save)"
        case .pytorchLegacy: return "PyTorch legacy pickle (torch.save before 1.6)"
        case .pytorchTar: return "PyTorch tar archive (torch.save, oldest format)"
        case .safetensors: return "safetensors"
        case .caffe: return "Caffe .caffemodel"
        }
    }

    /// True for the formats whose layers are keyed `layers/<key>/vars/<i>`.
    public var isKeras3: Bool { self == .keras3 || self == .kerasArchive }

    /// True for the formats that hold a flat list of named tensors in another framework's layout
    /// (their layers are grouped from the keys until a model's key table maps them).
    public var isForeign: Bool {
        switch self {
        case .kerasH5, .kerasH5Model, .keras3, .kerasArchive: return false
        case .pytorchZip, .pytorchLegacy, .pytorchTar, .safetensors, .caffe: return true
        }
    }
}
