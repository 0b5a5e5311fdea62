/// Element types a stored weight may hold; all are read as float32.
public enum StoredDType: String, Sendable {
    case float16, bfloat16, float32, float64
    /// Integer tensors (PyTorch's and safetensors' I64), read as float32 where a weight allows it.
    case int64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float16, .bfloat16: return 2
        case .float32: return 4
        case .float64, .int64: return 8
        }
    }
}
