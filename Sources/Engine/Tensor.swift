/// A float32 tensor: contiguous, row-major, batch first.
///
/// Activations use one layout everywhere in the engine: NHWC `(batch, height, width, channels)`.
/// It keeps Keras kernels (HWIO) usable as they are, makes a 1x1 convolution a plain GEMM and
/// makes Flatten produce Keras's (H, W, C) order with no permutation (see README, "Layout").
///
/// `Tensor` has value semantics: copies share storage until one of them is written to.
public struct Tensor {
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: Tensor.elementCount(shape), zeroed: true)
    }

    /// A tensor whose every element is `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(zeros: shape)
        if value != 0 { storage.pointer.update(repeating: value, count: storage.count) }
    }

    /// A tensor holding `scalars` in row-major order; their count must equal the shape's product.
    public init(shape: [Int], scalars: [Float]) {
        precondition(scalars.count == Tensor.elementCount(shape),
                     "Tensor: \(scalars.count) scalars for shape \(shape)")
        self.shape = shape
        self.storage = TensorStorage(count: scalars.count, zeroed: false)
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: $0.count) }
    }

    /// A tensor whose contents the caller overwrites in full before reading.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: Tensor.elementCount(shape), zeroed: false)
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    /// The leading (batch) dimension.
    public var batch: Int { shape.first ?? 1 }

    /// The elements, copied into an array.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Read-only access to the elements for hot loops.
    @inlinable public var data: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Write access to the elements; copies them first if another tensor shares them.
    @inlinable public mutating func mutableData() -> UnsafeMutablePointer<Float> {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage.pointer
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        let p = mutableData()
        return try body(UnsafeMutableBufferPointer(start: p, count: count))
    }

    /// The same elements under another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "reshape \(shape) -> \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    /// Element at a flat (row-major) index.
    public subscript(flat index: Int) -> Float {
        get { storage.pointer[index] }
        set { mutableData()[index] = newValue }
    }

    /// Element at a multi-dimensional index.
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[flatIndex(index)] }
        set { mutableData()[flatIndex(index)] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) { flat = flat * d + i }
        return flat
    }

    /// How many elements are NaN and how many infinite.
    public var nonFiniteCounts: (nan: Int, infinite: Int) {
        var nan = 0, infinite = 0
        let p = data
        for i in 0..<count where !p[i].isFinite {
            if p[i].isNaN { nan += 1 } else { infinite += 1 }
        }
        return (nan, infinite)
    }

    /// Product of the dimensions (1 for a scalar shape `[]`).
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
}

extension Tensor: Equatable {
    /// Equal shapes and bit-equal elements.
    public static func == (a: Tensor, b: Tensor) -> Bool {
        a.shape == b.shape && (a.storage === b.storage || memcmp(a.data, b.data, a.count * 4) == 0)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}

/// The memory behind a tensor: 64-byte aligned, freed with the last tensor that uses it.
public final class TensorStorage {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    init(count: Int, zeroed: Bool) {
        self.count = count
        let raw = BufferCache.take(floats: count)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    @usableFromInline func copy() -> TensorStorage {
        let s = TensorStorage(count: count, zeroed: false)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit { BufferCache.give(UnsafeMutableRawPointer(pointer), floats: count) }
}

/// Keeps recently freed large buffers for reuse.
///
/// Forward and backward passes allocate the same activation sizes again and again. Large blocks
/// come from fresh mmaps, so without reuse each pass pays page faults and kernel zeroing on
/// every activation (measured: the ResNet stem at batch 16 ran at about half speed, and a GoogLeNet
/// training step at batch 16 spent 13% of its time in the kernel clearing pages). Only exact
/// sizes are reused, and the cache holds at most `limitBytes`, so memory stays bounded.
enum BufferCache {
    static let minimumBytes = 1 << 16
    /// Enough for a training step's activations of the zoo's networks at batch 16.
    static let limitBytes = 2 << 30
    private static let lock = NSLock()
    private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private static var order: [(bytes: Int, pointer: UnsafeMutableRawPointer)] = []
    private static var cachedBytes = 0

    static func take(floats: Int) -> UnsafeMutableRawPointer {
        let bytes = max(floats, 1) * 4
        if bytes >= minimumBytes {
            lock.lock()
            if let p = free[bytes]?.popLast() {
                cachedBytes -= bytes
                order.removeAll { $0.pointer == p }
                lock.unlock()
                return p
            }
            lock.unlock()
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    static func give(_ p: UnsafeMutableRawPointer, floats: Int) {
        let bytes = max(floats, 1) * 4
        guard bytes >= minimumBytes, bytes <= limitBytes else { p.deallocate(); return }
        lock.lock()
        free[bytes, default: []].append(p)
        order.append((bytes, p))
        cachedBytes += bytes
        while cachedBytes > limitBytes, !order.isEmpty {
            let oldest = order.removeFirst()
            if let i = free[oldest.bytes]?.firstIndex(of: oldest.pointer) {
                free[oldest.bytes]!.remove(at: i)
                cachedBytes -= oldest.bytes
                oldest.pointer.deallocate()
            }
        }
        lock.unlock()
    }
}

import Foundation
