import Foundation

extension CaffeModel {
    /// File bytes decoded per piece: the only buffer a read allocates besides the destination.
    static let pieceBytes = 1 << 20

    /// Reads `blob`'s values as float32 into `buffer`, in `blob`'s row-major order seen as
    /// `sourceShape` and stored with its axes permuted: destination axis k is source axis
    /// `permutation[k]` (Caffe's (out, in, kh, kw) into (kh, kw, in, out) is [2, 3, 1, 0]).
    /// The file is read a megabyte at a time, straight into place; no whole-blob copy exists.
    public func read(_ blob: CaffeBlob, of layer: CaffeLayer, into buffer: UnsafeMutableBufferPointer<Float>,
                     sourceShape: [Int], permutation: [Int]) throws {
        let path = "layer '\(layer.name)', blob \(layer.blobs.firstIndex { $0.byteRange == blob.byteRange } ?? 0)"
        var writer = try PermutedWriter(shape: sourceShape, permutation: permutation)
        guard writer.count == blob.count, buffer.count == blob.count else {
            throw WeightFileError(file: name, path: path, "cannot read \(blob.count) values (shape \(shapeText(blob.shape))) "
                                  + "as \(shapeText(sourceShape)) into \(buffer.count) float32 elements")
        }
        guard let destination = buffer.baseAddress, blob.count > 0 else { return }
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: CaffeModel.pieceBytes, alignment: 16)
        defer { piece.deallocate() }
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: CaffeModel.pieceBytes / 4)
        defer { values.deallocate() }
        let width = blob.dtype == .float64 ? 8 : 4
        for run in blob.runs {
            let perPiece = CaffeModel.pieceBytes / run.stride
            var done = 0
            while done < run.count {
                let n = min(perPiece, run.count - done)
                let bytes = UnsafeMutableRawBufferPointer(rebasing: piece[0..<(n * run.stride)])
                try file.read(at: run.offset + done * run.stride, into: bytes, path: path)
                let packed = run.stride == width
                // Unpacked values each follow their one-byte key, which was checked when indexed; a
                // file changed since then is caught here rather than read as weights.
                let key: UInt8 = width == 4 ? 0x2D : 0x41
                for i in 0..<n {
                    let at = packed ? i * width : i * run.stride
                    if !packed && bytes[at] != key {
                        throw WeightFileError(file: name, path: path, "expected the key of value \(done + i) at byte "
                                              + "\(run.offset + at); the file changed or is damaged")
                    }
                    let start = packed ? at : at + 1
                    values[i] = width == 4
                        ? Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
                        : Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self))))
                }
                writer.write(UnsafeBufferPointer(rebasing: values[0..<n]), into: destination)
                done += n
            }
        }
    }
}

/// Writes values arriving in a source array's row-major order to their places in the permuted
/// array, piece by piece: an odometer over the source index keeps the destination offset.
struct PermutedWriter {
    let shape: [Int]
    /// Destination stride of each source axis.
    let strides: [Int]
    let count: Int
    private var index: [Int]
    private var offset = 0

    init(shape: [Int], permutation: [Int]) throws {
        guard permutation.sorted() == Array(0..<shape.count), shape.allSatisfy({ $0 >= 0 }) else {
            throw WeightFileError(file: "<layout>", path: "/", "permutation \(permutation) does not fit shape \(shape)")
        }
        var strides = [Int](repeating: 0, count: shape.count)
        var s = 1
        for k in permutation.indices.reversed() {
            strides[permutation[k]] = s
            s *= shape[permutation[k]]
        }
        self.shape = shape
        self.strides = strides
        self.count = shape.reduce(1, *)
        index = [Int](repeating: 0, count: shape.count)
    }

    mutating func write(_ values: UnsafeBufferPointer<Float>, into destination: UnsafeMutablePointer<Float>) {
        guard let last = shape.indices.last else {
            if let v = values.first { destination[0] = v }
            return
        }
        let innerStride = strides[last], innerCount = shape[last]
        var i = 0
        while i < values.count {
            // The innermost axis runs at a fixed destination stride.
            let n = min(innerCount - index[last], values.count - i)
            var at = offset
            for j in 0..<n {
                destination[at] = values[i + j]
                at += innerStride
            }
            i += n
            index[last] += n
            offset = at
            var axis = last
            while axis > 0 && index[axis] == shape[axis] {
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
                index[axis] += 1
                offset += strides[axis]
            }
        }
    }
}
