import Foundation

/// NumPy `.npy` files (format versions 1-3), the interchange format of `zoo run` and of the test
/// fixtures. Reads little-endian float32, float64, float16 and integer arrays in C order into a
/// float32 `Tensor`; writes float32.
public enum NPY {
    public static func read(_ url: URL) throws -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(file: url.path, message: "cannot read file (\(unreadableReason(url, error)))")
        }
        return try decode(data, file: url.path)
    }

    /// Largest element count of one array (2^31: 8 GiB of float32), as `ReadLimits` for HDF5.
    public static let maxElements = 1 << 31
    /// Longest header NumPy reads without `allow_pickle` (`numpy.lib.format._MAX_HEADER_SIZE`).
    static let maxHeaderLength = 10_000

    public static func decode(_ data: Data, file: String = "<memory>") throws -> Tensor {
        func fail(_ m: String) -> FormatError { FormatError(file: file, message: m) }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw fail("not a .npy file (missing the \\x93NUMPY magic)")
        }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int, headerStart: Int
        if major == 1, minor == 0 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        } else if major == 2 || major == 3, minor == 0 {
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        } else { throw fail("unsupported .npy version \(major).\(minor) (expected 1.0, 2.0 or 3.0)") }
        guard headerLength <= maxHeaderLength else {
            throw fail("header of \(headerLength) bytes; NumPy refuses headers over \(maxHeaderLength)")
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        // Versions 1 and 2 are latin-1, version 3 UTF-8, as NumPy decodes them.
        guard let text = major == 3 ? String(bytes: headerBytes, encoding: .utf8)
                : String(headerBytes.map { Character(Unicode.Scalar($0)) }) else {
            throw fail("header is not valid UTF-8")
        }
        let header = try Header(parsing: text, fail: fail)
        if header.fortranOrder {
            throw fail("Fortran-order arrays are not supported; save with np.ascontiguousarray")
        }
        let shape = header.shape, dtype = header.descr
        let width: Int
        switch dtype {
        case "<f4", "|f4", "<i4", "<u4": width = 4
        case "<f8", "<i8", "<u8": width = 8
        case "<f2", "<i2", "<u2": width = 2
        case "|u1", "|i1", "|b1": width = 1
        default: throw fail("unsupported dtype '\(excerpt(dtype))' (expected little-endian float or integer)")
        }
        guard let count = MemoryBudget.product(shape), count <= maxElements else {
            throw fail("shape \(shapeString(shape)) holds more than \(maxElements) elements (8 GiB of float32)")
        }
        let body = headerStart + headerLength
        guard bytes.count - body >= count * width else {
            throw fail("truncated: shape \(shapeString(shape)) needs \(count * width) bytes of \(dtype), "
                + "file has \(bytes.count - body)")
        }
        var t = Tensor(uninitialized: shape)
        let out = t.mutableData()
        bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + body
            for i in 0..<count {
                let q = p + i * width
                switch dtype {
                case "<f4", "|f4": out[i] = q.loadUnaligned(as: Float.self)
                case "<f8": out[i] = Float(q.loadUnaligned(as: Double.self))
                case "<f2": out[i] = Float(Float16(bitPattern: q.loadUnaligned(as: UInt16.self)))
                case "<i4": out[i] = Float(q.loadUnaligned(as: Int32.self))
                case "<u4": out[i] = Float(q.loadUnaligned(as: UInt32.self))
                case "<i8": out[i] = Float(q.loadUnaligned(as: Int64.self))
                case "<u8": out[i] = Float(q.loadUnaligned(as: UInt64.self))
                case "<i2": out[i] = Float(q.loadUnaligned(as: Int16.self))
                case "<u2": out[i] = Float(q.loadUnaligned(as: UInt16.self))
                case "|i1": out[i] = Float(q.load(as: Int8.self))
                default: out[i] = Float(q.load(as: UInt8.self))
                }
            }
        }
        return t
    }

    /// The float32 `.npy` encoding of `tensor` (format 1.0).
    public static func encode(_ tensor: Tensor) -> Data {
        var data = header(shape: tensor.shape)
        tensor.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!)
            .assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        return data
    }

    /// The `.npy` header (format 1.0) of a C-order float32 array of `shape`: what `encode` writes
    /// before the values, for writers that stream the values after it.
    public static func header(shape: [Int]) -> Data {
        let dims = shape.map(String.init)
        let shapeText = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data
    }
}
