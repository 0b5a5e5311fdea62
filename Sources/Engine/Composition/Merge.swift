/// The joins of parallel paths: elementwise sum (ResNet's add) and channel concatenation
/// (Inception's concat), with the channel split that undoes the concatenation in backward.
public enum Merge {
    /// Adds `other` into `sum` elementwise; throws naming `layer` when the shapes differ.
    public static func add(into sum: inout Tensor, _ other: Tensor, layer: String) throws {
        guard sum.shape == other.shape else {
            throw LayerError(layer: layer, "cannot add tensors of shapes \(shapeString(sum.shape)) "
                + "and \(shapeString(other.shape))")
        }
        let s = sum.mutableData(), o = other.data
        Parallel.forRanges(sum.count, minimumChunk: 1 << 15) { r in
            for i in r { s[i] += o[i] }
        }
    }

    /// The shape of `shapes` joined along the last axis; every other dimension must agree.
    /// `labels` name the inputs in the error (e.g. branch names).
    public static func concatenatedShape(_ shapes: [[Int]], labels: [String], layer: String) throws -> [Int] {
        guard let first = shapes.first else { throw LayerError(layer: layer, "nothing to concatenate") }
        var channels = 0
        for (shape, label) in zip(shapes, labels) {
            guard shape.count == first.count, shape.count >= 1, shape.dropLast() == first.dropLast() else {
                throw LayerError(layer: layer, "'\(label)' gives shape \(shapeString(shape)), which cannot be "
                    + "concatenated along channels with '\(labels[0])' shape \(shapeString(first)): "
                    + "all dimensions but the last must match")
            }
            channels += shape.last!
        }
        return first.dropLast() + [channels]
    }

    /// `parts` joined along the last axis; throws naming `layer` when other dimensions differ.
    public static func concatenateChannels(_ parts: [Tensor], layer: String) throws -> Tensor {
        let shape = try concatenatedShape(parts.map(\.shape), labels: parts.indices.map { "input \($0)" }, layer: layer)
        let total = shape.last!, rows = Tensor.elementCount(shape) / max(total, 1)
        var out = Tensor(uninitialized: shape)
        let y = out.mutableData()
        var offset = 0
        for part in parts {
            let width = part.shape.last!, x = part.data, start = offset
            Parallel.forRanges(rows, minimumChunk: max(1, 8192 / max(width, 1))) { r in
                for row in r { (y + row * total + start).update(from: x + row * width, count: width) }
            }
            offset += width
        }
        return out
    }

    /// Channels `offset..<offset + width` of `t` (the last axis), as a tensor of their own.
    public static func channelSlice(_ t: Tensor, offset: Int, width: Int) -> Tensor {
        let total = t.shape.last!, rows = t.count / max(total, 1)
        precondition(offset >= 0 && width >= 0 && offset + width <= total, "channel slice out of range")
        var out = Tensor(uninitialized: t.shape.dropLast() + [width])
        let y = out.mutableData(), x = t.data
        Parallel.forRanges(rows, minimumChunk: max(1, 8192 / max(width, 1))) { r in
            for row in r { (y + row * width).update(from: x + row * total + offset, count: width) }
        }
        return out
    }
}
