/// PyTorch's oldest `torch.save` format, as torch/serialization.py's `_legacy_load` reads it
/// (`legacy_load`'s tar branch): a tar archive of four members.
///   - `sys_info`: a pickled dict (`little_endian`, ...).
///   - `storages`: a pickled count, then per storage a pickled `(key, location, storage type)`
///     followed by an 8-byte element count and the elements; then a pickled list of views
///     `(key, root key, element offset, element count)`.
///   - `tensors`: a pickled count, then per tensor a pickled `(key, storage key, tensor type)`
///     followed by `ndim` (4 bytes, then 4 unused), the sizes and strides (8 bytes each) and
///     the storage offset (8 bytes).
///   - `pickle`: the object, whose persistent ids are tensor keys (as text).
/// Every count, view and tensor is checked against the member that holds it before anything is read.
extension PyTorchReader {
    /// What the tar form pickles beside storage types: the tensor types, which it only names.
    static let tensorTypes: Set<String> = [
        "torch.FloatTensor", "torch.DoubleTensor", "torch.HalfTensor", "torch.BFloat16Tensor", "torch.LongTensor",
        "torch.IntTensor", "torch.ShortTensor", "torch.CharTensor", "torch.ByteTensor", "torch.BoolTensor",
    ]

    static func openTar(_ file: ReadOnlyFile, limits: ReadLimits) throws -> WeightFile {
        let tar = try TarDirectory(file)
        func member(_ name: String) throws -> Range<Int> {
            guard let m = tar.members.first(where: { $0.name == name }) else {
                throw file.error("/", "is a tar archive without a '\(name)' member; expected PyTorch's tar format "
                                 + "(sys_info, pickle, storages, tensors)")
            }
            return m.data
        }
        let plain = Unpickler(allowing: tensorTypes) { _ in throw PickleError(message: "a persistent id outside the object's pickle") }
        func key(_ v: PickleValue) -> Int? {
            switch v {
            case .int(let i): return i
            case .string(let s): return Int(s)
            default: return nil
            }
        }
        func load(_ input: inout FilePickleInput, _ path: String, using unpickler: Unpickler? = nil) throws -> PickleValue {
            do { return try (unpickler ?? plain).load(&input) } catch let e as PickleError { throw file.error(path, e.message) }
        }
        func int64s(_ count: Int, at offset: Int, _ path: String) throws -> [Int] {
            let bytes = try file.bytes(at: offset, count: 8 * count, path: path)
            return (0..<count).map { i in (0..<8).reduce(0) { $0 | Int(bytes[8 * i + $1]) << (8 * $1) } }
        }

        let info = try member("sys_info")
        var input = FilePickleInput(file: file, range: info, path: "sys_info")
        defer { input.close() }
        if case let .dict(d) = try load(&input, "sys_info"),
           d.pairs.contains(where: { if case .string("little_endian") = $0.0, case .bool(false) = $0.1 { return true } else { return false } }) {
            throw file.error("sys_info", "says the file was written on a big-endian machine; expected little-endian data")
        }

        // Storages: their types, element counts and byte ranges, then the views into them.
        let storagesRange = try member("storages")
        var storages = FilePickleInput(file: file, range: storagesRange, path: "storages")
        defer { storages.close() }
        var references: [Int: (reference: StorageReference, region: Range<Int>)] = [:]
        guard case let .int(storageCount) = try load(&storages, "storages"), storageCount >= 0,
              storageCount <= storagesRange.count / 8 else {
            throw file.error("storages", "does not start with a storage count that fits its \(storagesRange.count) bytes")
        }
        for _ in 0..<storageCount {
            guard case let .tuple(items) = try load(&storages, "storages"), items.count == 3, let k = key(items[0]),
                  case let .global(typeName) = items[2], let size = Unpickler.elementSize(typeName) else {
                throw file.error("storages", "has a storage record that is not (key, location, storage type)")
            }
            let path = "storage \(k)"
            let at = storages.position
            guard at <= storagesRange.upperBound - 8 else { throw file.error(path, "has no element count (truncated file?)") }
            let count = try int64s(1, at: at, path)[0]
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard count >= 0, !overflow, bytes <= storagesRange.upperBound - at - 8 else {
                throw file.error(path, "claims \(count) elements of \(size) bytes at byte \(at + 8), past the end of the "
                                 + "'storages' member (bytes \(storagesRange)); truncated file?")
            }
            guard references[k] == nil else { throw file.error(path, "appears twice; expected unique storage keys") }
            references[k] = (StorageReference(key: String(k), dtype: Unpickler.storageTypes[typeName] ?? nil, typeName: typeName,
                                              elementCount: count), (at + 8)..<(at + 8 + bytes))
            try storages.seek(at + 8 + bytes)
        }
        guard case let .list(views) = try load(&storages, "storages") else {
            throw file.error("storages", "has no list of storage views after the storages")
        }
        for view in views.items {
            guard case let .tuple(items) = view, items.count == 4, let target = key(items[0]), let root = key(items[1]),
                  case let .int(offset) = items[2], case let .int(count) = items[3] else {
                throw file.error("storages", "has a storage view that is not (key, root key, offset, size)")
            }
            guard let base = references[root], references[target] == nil else {
                throw file.error("storage \(target)", "is a view of storage \(root), which is missing, or is defined twice")
            }
            let size = Unpickler.elementSize(base.reference.typeName) ?? 1
            guard offset >= 0, count >= 0, offset <= base.reference.elementCount - count else {
                throw file.error("storage \(target)", "views elements \(offset)..<\(offset &+ count) of storage \(root), which "
                                 + "has \(base.reference.elementCount)")
            }
            let start = base.region.lowerBound + offset * size
            references[target] = (StorageReference(key: String(target), dtype: base.reference.dtype, typeName: base.reference.typeName,
                                                   elementCount: count), start..<(start + count * size))
        }

        // Tensors: each a view of a storage, with its sizes, strides and offset.
        let tensorsRange = try member("tensors")
        var tensorInput = FilePickleInput(file: file, range: tensorsRange, path: "tensors")
        defer { tensorInput.close() }
        var tensors: [Int: TensorRecord] = [:]
        guard case let .int(tensorCount) = try load(&tensorInput, "tensors"), tensorCount >= 0,
              tensorCount <= tensorsRange.count / 16 else {
            throw file.error("tensors", "does not start with a tensor count that fits its \(tensorsRange.count) bytes")
        }
        for _ in 0..<tensorCount {
            guard case let .tuple(items) = try load(&tensorInput, "tensors"), items.count == 3, let k = key(items[0]),
                  let s = key(items[1]) else {
                throw file.error("tensors", "has a tensor record that is not (key, storage key, tensor type)")
            }
            let path = "tensor \(k)"
            guard let storage = references[s] else { throw file.error(path, "uses storage \(s), which the file does not hold") }
            let at = tensorInput.position
            guard at <= tensorsRange.upperBound - 8 else { throw file.error(path, "has no dimensions (truncated file?)") }
            let head = try file.bytes(at: at, count: 4, path: path)
            let rank = Int(Int32(bitPattern: head.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }))
            guard rank >= 0, rank <= limits.maxRank else {
                throw file.error(path, "has \(rank) dimensions; expected 0 to \(limits.maxRank)")
            }
            let end = at + 8 + 16 * rank + 8
            guard end <= tensorsRange.upperBound else { throw file.error(path, "has its sizes past the 'tensors' member (truncated file?)") }
            let numbers = try int64s(2 * rank + 1, at: at + 8, path)
            guard tensors[k] == nil else { throw file.error(path, "appears twice; expected unique tensor keys") }
            tensors[k] = TensorRecord(storage: storage.reference, offset: numbers[2 * rank], shape: Array(numbers[0..<rank]),
                                      strides: Array(numbers[rank..<(2 * rank)]))
            try tensorInput.seek(end)
        }

        // The object: a state_dict whose values are tensor keys.
        var objectInput = FilePickleInput(file: file, range: try member("pickle"), path: "pickle")
        defer { objectInput.close() }
        let unpickler = Unpickler { pid in
            guard let k = key(pid), let tensor = tensors[k] else {
                throw PickleError(message: "a persistent id (\(pid.kind)) that is none of the file's tensors; expected a "
                                  + "state_dict of tensors")
            }
            return .tensor(tensor)
        }
        let object = try load(&objectInput, "pickle", using: unpickler)
        return try weightFile(file, object, format: .pytorchTar, bigEndian: false, limits: limits) { reference in
            guard let k = Int(reference.key), let region = references[k]?.region else {
                throw file.error("/", "lost storage '\(reference.key)'")
            }
            return region
        }
    }
}
