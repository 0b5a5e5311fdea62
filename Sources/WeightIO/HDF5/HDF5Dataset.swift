import CHDF5
import Engine
import Foundation

/// Bounds that keep a hostile or broken file from making the reader allocate absurd amounts.
public struct ReadLimits: Sendable {
    /// Largest element count of one dataset (default 2^31: 8 GiB of float32; VGG16's fc1 has 1.03e8).
    public var maxElements: Int = 1 << 31
    public var maxRank: Int = 8
    /// A dataset declaring more than `bombFloorBytes` must store at least 1/`maxExpansion` of it
    /// (compression ratios beyond that are a decompression bomb, not weights).
    public var bombFloorBytes: Int = 1 << 26
    public var maxExpansion: Int = 1000

    public init() {}
}

/// An HDF5 dataset holding a weight.
public final class HDF5Dataset: HDF5Object {
    /// The dimensions, `[]` for a scalar.
    public let shape: [Int]
    /// The element type when it is one weights use, nil otherwise (see `dtypeDescription`).
    public let dtype: StoredDType?
    /// The element type in words: `float32`, `float16`, `bfloat16`, `int32`, `string`, ...
    public let dtypeDescription: String
    private let bigEndian: Bool
    private let layout: H5D_layout_t

    init(file: HDF5File, path: String, dataset handle: HDF5Handle) throws {
        var shape: [Int] = []
        var dtype: StoredDType?
        var described = "unknown"
        var bigEndian = false
        var layout = H5D_CONTIGUOUS
        let fail = { (m: String) in WeightFileError(file: file.name, path: path, m) }
        try HDF5Library.serialized {
            guard let plist = HDF5Handle(H5Dget_create_plist(handle.id), close: H5Pclose) else {
                throw fail(HDF5Library.withDetail("cannot read the dataset's creation properties"))
            }
            layout = H5Pget_layout(plist.id)
            if layout == H5D_VIRTUAL {
                throw fail("is a virtual dataset (its data lives in other datasets or files); "
                           + "expected data stored in this dataset (virtual datasets are refused)")
            }
            if H5Pget_external_count(plist.id) > 0 {
                throw fail("keeps its data in external raw files; expected data stored in this file "
                           + "(external storage is refused)")
            }
            guard let space = HDF5Handle(H5Dget_space(handle.id), close: H5Sclose) else {
                throw fail(HDF5Library.withDetail("cannot read the dataspace"))
            }
            switch H5Sget_simple_extent_type(space.id) {
            case H5S_SCALAR: shape = []
            case H5S_SIMPLE:
                let rank = Int(H5Sget_simple_extent_ndims(space.id))
                guard rank >= 0 else { throw fail(HDF5Library.withDetail("cannot read the rank")) }
                var dims = [hsize_t](repeating: 0, count: max(rank, 1))
                guard H5Sget_simple_extent_dims(space.id, &dims, nil) >= 0 else {
                    throw fail(HDF5Library.withDetail("cannot read the dimensions"))
                }
                let limit = hsize_t(Int.max)
                guard dims.prefix(rank).allSatisfy({ $0 <= limit }) else {
                    throw fail("absurd dimensions \(dims.prefix(rank).map { String($0) }.joined(separator: " x ")); "
                               + "expected a weight that fits in memory (refused before allocating)")
                }
                shape = dims.prefix(rank).map { Int($0) }
            default:
                throw fail("has a null dataspace (no elements, not even a scalar); expected a weight array")
            }
            guard let type = HDF5Handle(H5Dget_type(handle.id), close: H5Tclose) else {
                throw fail(HDF5Library.withDetail("cannot read the element type"))
            }
            (dtype, described, bigEndian) = HDF5Dataset.classify(type.id, tag: {
                try? HDF5Object(file: file, path: path, handle: handle).stringAttribute("dtype")
            })
        }
        self.shape = shape
        self.dtype = dtype
        self.dtypeDescription = described
        self.bigEndian = bigEndian
        self.layout = layout
        super.init(file: file, path: path, handle: handle)
    }

    /// Element count, or nil when the dimensions' product overflows.
    public var elementCount: Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// Throws unless the dataset can be read as float32 within `limits`: supported element type,
    /// sane dimensions, and stored bytes consistent with the declared shape. Allocates nothing.
    public func checkReadable(_ limits: ReadLimits = ReadLimits()) throws {
        let dims = shape.map(String.init).joined(separator: " x ")
        guard shape.count <= limits.maxRank else {
            throw error("has \(shape.count) dimensions (\(dims)); expected at most \(limits.maxRank)")
        }
        guard let count = elementCount, count <= limits.maxElements else {
            throw error("absurd dimensions \(dims); expected at most \(limits.maxElements) elements "
                        + "(refused before allocating)")
        }
        guard let dtype else {
            throw error("holds \(dtypeDescription) elements; expected float data "
                        + "(float16, bfloat16, float32 or float64)")
        }
        guard count > 0 else { return }
        try checkStoredSize(declared: count * dtype.byteCount, limits)
    }

    /// Throws unless the bytes the dataset stores can hold the `declared` bytes its shape and type need.
    /// Uncompressed (contiguous or compact) data must hold all of them: libhdf5 1.10 copies a compact
    /// dataset's values from its header at the declared size, past what the file stores (found by
    /// `tools/fuzz.sh keras-h5`: a heap-buffer-overflow in `H5Dread`).
    private func checkStoredSize(declared: Int, _ limits: ReadLimits) throws {
        let dims = shape.map(String.init).joined(separator: " x ")
        let stored = HDF5Library.serialized { Int(clamping: H5Dget_storage_size(handle.id)) }
        if stored == 0 {
            throw error("declares shape (\(dims)) but stores no data; expected \(declared) bytes of \(dtypeDescription)")
        }
        if (layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) && stored < declared {
            throw error("stores \(stored) bytes; shape (\(dims)) of \(dtypeDescription) needs \(declared)")
        }
        if declared > limits.bombFloorBytes && declared / limits.maxExpansion > stored {
            throw error("declares \(declared) bytes but stores only \(stored); refused as a decompression bomb")
        }
    }

    /// Reads the dataset into a new float32 tensor (no intermediate copy for any element type).
    public func readTensor(_ limits: ReadLimits = ReadLimits()) throws -> Tensor {
        try checkReadable(limits)
        var tensor = Tensor(uninitialized: shape)
        try tensor.withUnsafeMutableBufferPointer { try read(into: $0) }
        return tensor
    }

    /// Reads an integer dataset (class labels) as float32 through HDF5's own conversion; values up
    /// to 2^24 convert exactly. Float datasets read as `readTensor` reads them.
    public func readIntegersAsFloat(_ limits: ReadLimits = ReadLimits()) throws -> Tensor {
        guard dtype == nil, dtypeDescription.hasPrefix("int") || dtypeDescription.hasPrefix("uint") else {
            return try readTensor(limits)
        }
        guard shape.count <= limits.maxRank, let count = elementCount, count <= limits.maxElements else {
            throw error("absurd dimensions \(shape); expected at most \(limits.maxElements) integers")
        }
        guard count > 0 else { return Tensor(uninitialized: shape) }
        let width = HDF5Library.serialized { () -> Int in
            guard let type = HDF5Handle(H5Dget_type(handle.id), close: H5Tclose) else { return 0 }
            return H5Tget_size(type.id)
        }
        guard (1...8).contains(width) else { throw error("holds integers of \(width) bytes; expected 1 to 8") }
        try checkStoredSize(declared: count * width, limits)
        var tensor = Tensor(uninitialized: shape)
        let base = tensor.mutableData()
        try HDF5Library.serialized {
            guard H5Dread(handle.id, convzoo_h5t_native_float(), convzoo_h5s_all(), convzoo_h5s_all(),
                          convzoo_h5p_default(), base) >= 0 else {
                throw error(HDF5Library.withDetail("cannot read the integers (damaged file?)"))
            }
        }
        return tensor
    }

    /// Reads the dataset as float32 into `buffer`, which must hold exactly its element count.
    ///
    /// float32 and float64 go through HDF5's own conversion (which also handles big-endian files,
    /// a megabyte at a time); 2-byte types are read raw into the front of the buffer and widened in
    /// place from the back, so no second buffer is ever allocated.
    public func read(into buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let count = elementCount, buffer.count == count, let dtype else {
            throw error("cannot read \(shape) of \(dtypeDescription) into \(buffer.count) float32 elements")
        }
        guard count > 0, let base = buffer.baseAddress else { return }
        try HDF5Library.serialized {
            switch dtype {
            case .float32, .float64:
                guard H5Dread(handle.id, convzoo_h5t_native_float(), convzoo_h5s_all(), convzoo_h5s_all(),
                              convzoo_h5p_default(), base) >= 0 else {
                    throw error(HDF5Library.withDetail("cannot read the data (damaged file?)"))
                }
            case .int64:
                throw error("holds int64 elements; expected float data")
            case .float16, .bfloat16:
                guard let type = HDF5Handle(H5Dget_type(handle.id), close: H5Tclose),
                      H5Dread(handle.id, type.id, convzoo_h5s_all(), convzoo_h5s_all(), convzoo_h5p_default(), base) >= 0
                else { throw error(HDF5Library.withDetail("cannot read the data (damaged file?)")) }
                HDF5Dataset.widen(base, count: count, dtype: dtype, bigEndian: bigEndian)
            }
        }
    }

    /// Turns `count` 2-byte values at the start of `p` into float32 in place, last first, so no
    /// value is overwritten before it is read.
    static func widen(_ p: UnsafeMutablePointer<Float>, count: Int, dtype: StoredDType, bigEndian: Bool) {
        let raw = UnsafeMutableRawPointer(p)
        var i = count - 1
        while i >= 0 {
            var bits = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            if bigEndian { bits = bits.byteSwapped }
            p[i] = dtype == .bfloat16 ? Float(bitPattern: UInt32(bits) << 16) : Float(Float16(bitPattern: bits))
            i -= 1
        }
    }

    /// The weight dtype of an HDF5 type, its description, and whether it is big-endian.
    /// `tag` reads the dataset's string attribute `dtype` (nil when absent or unreadable).
    private static func classify(_ type: hid_t, tag dtypeTag: () -> String?) -> (StoredDType?, String, Bool) {
        let size = H5Tget_size(type)
        let bigEndian = H5Tget_order(type) == H5T_ORDER_BE
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            if size == 4 { return (.float32, "float32", bigEndian) }
            if size == 8 { return (.float64, "float64", bigEndian) }
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            if size == 2, H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0, spos == 15, mpos == 0 {
                if esize == 5 && msize == 10 && H5Tget_ebias(type) == 15 { return (.float16, "float16", bigEndian) }
                if esize == 8 && msize == 7 && H5Tget_ebias(type) == 127 { return (.bfloat16, "bfloat16", bigEndian) }
            }
            return (nil, "float with a \(size)-byte layout ConvZoo does not know", bigEndian)
        case H5T_OPAQUE:
            // Keras 3 stores bfloat16 as 2 opaque bytes tagged with the attribute dtype="bfloat16".
            let tag = dtypeTag()
            if size == 2 && tag == "bfloat16" { return (.bfloat16, "bfloat16", false) }
            return (nil, "opaque \(size)-byte" + (tag.map { " (dtype=\"\($0)\")" } ?? " (no dtype attribute)"), false)
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) != H5T_SGN_NONE
            return (nil, (signed ? "int" : "uint") + "\(size * 8)", bigEndian)
        case H5T_STRING: return (nil, "string", false)
        case H5T_COMPOUND: return (nil, "compound", false)
        case H5T_ENUM: return (nil, "enum", false)
        case H5T_REFERENCE: return (nil, "reference", false)
        case H5T_ARRAY: return (nil, "array-typed", false)
        case H5T_VLEN: return (nil, "variable-length", false)
        case H5T_BITFIELD: return (nil, "bitfield", false)
        default: return (nil, "unknown-type", false)
        }
    }
}
