import Engine

/// One weight's elements inside a file of any format: the byte offset of its first element, its
/// element type and byte order, its shape and the byte step along each axis, and the layout
/// conversion that turns it into ConvZoo's layout.
///
/// Construction checks, with overflow-checked arithmetic and nothing allocated, that every
/// element lies inside `region` (the tensor's storage record) and inside the file. `read(into:)`
/// reads the file in chunks of at most `chunkBytes` with `pread` and converts each element to
/// float32 as it scatters it to its converted position: memory holds the destination and one
/// chunk, never a copy of the tensor.
public struct StoredTensor: WeightSource {
    /// Bytes read at a time.
    static let chunkBytes = 1 << 20

    public let file: ReadOnlyFile
    /// What errors call this tensor: a key (`layer1.0.conv1.weight`), a blob path, ...
    public let path: String
    public let dtype: StoredDType
    public let bigEndian: Bool
    /// The shape as the file stores it.
    public let storedShape: [Int]
    /// Byte offset in the file of the element at index (0, 0, ...).
    public let offset: Int
    /// Bytes between neighbours along each stored axis (row-major packed elements: `dtype.byteCount`
    /// times the row-major element strides; Caffe's unpacked floats step 5 bytes).
    public let byteSteps: [Int]
    public let conversion: LayoutConversion
    /// The shape delivered to readers, after `conversion`.
    public let shape: [Int]
    private let plan: LayoutConversion.Plan

    /// A tensor of `shape` at `offset`, packed row-major unless `byteSteps` says otherwise, that
    /// must lie inside `region` (byte offsets in the file; the whole file when nil).
    public init(file: ReadOnlyFile, path: String, dtype: StoredDType, bigEndian: Bool = false, shape: [Int],
                offset: Int, byteSteps: [Int]? = nil, region: Range<Int>? = nil,
                conversion: LayoutConversion = .asStored, limits: ReadLimits = ReadLimits()) throws {
        func fail(_ m: String) -> WeightFileError { file.error(path, m) }
        let dims = shapeText(shape)
        guard shape.count <= limits.maxRank else {
            throw fail("has \(shape.count) dimensions \(dims); expected at most \(limits.maxRank)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("has a negative dimension in \(dims)") }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= limits.maxElements else {
                throw fail("absurd dimensions \(dims); expected at most \(limits.maxElements) elements (refused before allocating)")
            }
            count = p
        }
        let steps: [Int]
        if let byteSteps {
            guard byteSteps.count == shape.count, byteSteps.allSatisfy({ $0 >= 0 }) else {
                throw fail("has strides \(byteSteps) for shape \(dims); expected one non-negative stride per dimension")
            }
            steps = byteSteps
        } else {
            var s = [Int](repeating: 0, count: shape.count)
            var step = dtype.byteCount
            for axis in shape.indices.reversed() {
                s[axis] = step
                step = step &* max(shape[axis], 1)  // bounded: count * 8 fits, count <= maxElements
            }
            steps = s
        }
        let area = region ?? 0..<file.size
        guard area.lowerBound >= 0, area.upperBound <= file.size else {
            throw fail("has its data at bytes \(area) but the file has \(file.size) bytes (truncated file?)")
        }
        if count > 0 {
            var last = offset
            for (d, step) in zip(shape, steps) {
                let (span, o1) = (d - 1).multipliedReportingOverflow(by: step)
                let (sum, o2) = last.addingReportingOverflow(span)
                guard !o1, !o2 else { throw fail("has strides \(steps) that overflow for shape \(dims)") }
                last = sum
            }
            let (end, o3) = last.addingReportingOverflow(dtype.byteCount)
            guard offset >= area.lowerBound, !o3, end <= area.upperBound else {
                throw fail("needs bytes \(offset)..<\(o3 ? Int.max : end) of the file for shape \(dims) of \(dtype.rawValue), "
                           + "but its storage is bytes \(area.lowerBound)..<\(area.upperBound)")
            }
        }
        let plan: LayoutConversion.Plan
        switch conversion.plan(stored: shape) {
        case let .success(p): plan = p
        case let .failure(e): throw fail(e.message)
        }
        if plan.view != shape && !StoredTensor.isPacked(shape: shape, steps: steps, elementBytes: dtype.byteCount) {
            throw fail("is a non-contiguous tensor (byte strides \(steps)) whose conversion \(conversion) reshapes it; "
                       + "expected a contiguous tensor (save it after .contiguous())")
        }
        self.file = file
        self.path = path
        self.dtype = dtype
        self.bigEndian = bigEndian
        self.storedShape = shape
        self.offset = offset
        self.byteSteps = steps
        self.conversion = conversion
        self.shape = plan.delivered
        self.plan = plan
    }

    /// The same elements under another layout conversion.
    public func converted(_ conversion: LayoutConversion, path: String? = nil) throws -> StoredTensor {
        try StoredTensor(file: file, path: path ?? self.path, dtype: dtype, bigEndian: bigEndian, shape: storedShape,
                         offset: offset, byteSteps: byteSteps, conversion: conversion)
    }

    public var dtypeDescription: String { dtype.rawValue }

    static func isPacked(shape: [Int], steps: [Int], elementBytes: Int) -> Bool {
        var expected = elementBytes
        for axis in shape.indices.reversed() {
            if shape[axis] != 1 && steps[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Reads the elements as float32 into `buffer` (exactly the delivered element count) in ConvZoo's layout.
    public func read(into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try read(into: buffer, chunkBytes: StoredTensor.chunkBytes)
    }

    /// `read(into:)` with a chosen window size (tests use small ones to cross many refills).
    func read(into buffer: UnsafeMutableBufferPointer<Float>, chunkBytes: Int) throws {
        let count = shape.reduce(1, *)
        guard buffer.count == count else {
            throw file.error(path, "cannot read \(shapeText(shape)) into \(buffer.count) float32 elements")
        }
        guard count > 0, let destination = buffer.baseAddress else { return }
        let viewSteps: [Int]
        if plan.view == storedShape {
            viewSteps = byteSteps
        } else {
            // A packed tensor viewed under another shape: row-major steps of that shape.
            var s = [Int](repeating: 0, count: plan.view.count), step = dtype.byteCount
            for axis in plan.view.indices.reversed() { s[axis] = step; step *= plan.view[axis] }
            viewSteps = s
        }
        let view = plan.view.isEmpty ? [1] : plan.view
        let sourceSteps = plan.view.isEmpty ? [dtype.byteCount] : viewSteps
        let destinationSteps = plan.view.isEmpty ? [1] : LayoutConversion.deliveredSteps(plan)
        let run = view[view.count - 1], sourceStep = sourceSteps[view.count - 1]
        let destinationStep = destinationSteps[view.count - 1]
        var window = ReadWindow(file: file, path: path, capacity: max(chunkBytes, dtype.byteCount))
        defer { window.deallocate() }
        try forEachRun(view, sourceSteps: sourceSteps, destinationSteps: destinationSteps) { source, target in
            // A run is split into pieces whose bytes fit the window.
            let perPiece = sourceStep == 0 ? run : max(1, (window.capacity - dtype.byteCount) / sourceStep + 1)
            var done = 0
            while done < run {
                let n = min(perPiece, run - done)
                let start = offset + source + done * sourceStep
                let bytes = try window.bytes(at: start, count: (n - 1) * sourceStep + dtype.byteCount)
                StoredTensor.convert(bytes, step: sourceStep, count: n, dtype: dtype, bigEndian: bigEndian,
                                     into: destination + target + done * destinationStep, step: destinationStep)
                done += n
            }
        }
    }

    /// Converts `count` elements `step` bytes apart to float32, `destinationStep` floats apart.
    static func convert(_ source: UnsafeRawPointer, step: Int, count: Int, dtype: StoredDType, bigEndian: Bool,
                        into destination: UnsafeMutablePointer<Float>, step destinationStep: Int) {
        var s = source, d = destination
        switch dtype {
        case .float32:
            for _ in 0..<count {
                let bits = s.loadUnaligned(as: UInt32.self)
                d.pointee = Float(bitPattern: bigEndian ? bits.byteSwapped : bits.littleEndian)
                s += step; d += destinationStep
            }
        case .float16, .bfloat16:
            for _ in 0..<count {
                var bits = s.loadUnaligned(as: UInt16.self)
                bits = bigEndian ? bits.byteSwapped : bits.littleEndian
                d.pointee = dtype == .bfloat16 ? Float(bitPattern: UInt32(bits) << 16) : Float(Float16(bitPattern: bits))
                s += step; d += destinationStep
            }
        case .float64:
            for _ in 0..<count {
                let bits = s.loadUnaligned(as: UInt64.self)
                d.pointee = Float(Double(bitPattern: bigEndian ? bits.byteSwapped : bits.littleEndian))
                s += step; d += destinationStep
            }
        case .int64:
            for _ in 0..<count {
                let bits = s.loadUnaligned(as: UInt64.self)
                d.pointee = Float(Int64(bitPattern: bigEndian ? bits.byteSwapped : bits.littleEndian))
                s += step; d += destinationStep
            }
        }
    }
}

/// A window of at most `capacity` bytes of a file, refilled with `pread` when a request falls outside it.
struct ReadWindow {
    let file: ReadOnlyFile
    let path: String
    let capacity: Int
    private let buffer: UnsafeMutableRawPointer
    private var start = 0, filled = 0

    init(file: ReadOnlyFile, path: String, capacity: Int) {
        self.file = file
        self.path = path
        self.capacity = capacity
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    func deallocate() { buffer.deallocate() }

    /// `count` (at most `capacity`) bytes at `offset`, valid until the next call.
    mutating func bytes(at offset: Int, count: Int) throws -> UnsafeRawPointer {
        if offset < start || offset + count > start + filled {
            start = offset
            filled = min(capacity, file.size - offset)
            guard filled >= count else {
                throw file.error(path, "needs bytes \(offset)..<\(offset + count) but the file has \(file.size) bytes (truncated file?)")
            }
            try file.read(into: buffer, count: filled, at: offset, path: path)
        }
        return UnsafeRawPointer(buffer + (offset - start))
    }
}
