/// A fixed per-channel affine map y = x * scale[c] + shift[c] on the last axis, with no weights.
///
/// torchvision's GoogLeNet `transform_input` is one: it turns ImageNet-normalized input back into
/// the (x - 0.5) / 0.5 scaling its original weights were trained with.
public final class ChannelAffine: Layer {
    public let name: String
    public let scale: [Float]
    public let shift: [Float]

    public init(name: String, scale: [Float], shift: [Float]) {
        precondition(scale.count == shift.count)
        self.name = name
        self.scale = scale
        self.shift = shift
    }

    /// torchvision GoogLeNet's `transform_input` for RGB input.
    public static func torchvisionGoogLeNetTransform() -> ChannelAffine {
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        return ChannelAffine(name: "transform_input", scale: std.map { $0 / 0.5 }, shift: mean.map { ($0 - 0.5) / 0.5 })
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, s.allSatisfy({ $0 > 0 }), s.last == scale.count else {
            throw LayerError(layer: name, "expected \(scale.count) channels on the last axis, got \(shapeString(s))")
        }
        return s
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        var y = Tensor(uninitialized: input.shape)
        let c = scale.count, x = input.data, out = y.mutableData()
        for i in 0..<(input.count / c) {
            for j in 0..<c { out[i * c + j] = x[i * c + j] * scale[j] + shift[j] }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        _ = try outputShape(for: outputGradient.shape)
        guard needsInputGradient else { return nil }
        var dx = outputGradient
        let c = scale.count, p = dx.mutableData()
        for i in 0..<(dx.count / c) { for j in 0..<c { p[i * c + j] *= scale[j] } }
        return dx
    }
}
