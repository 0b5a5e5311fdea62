/// PyTorch files as `torch.save` writes them, read without Python: the zip format
/// (`<root>/data.pkl` with `<root>/data/<key>` storages, any root name, ZIP64, torch 2.1's
/// `byteorder`; a missing one means little-endian) and the legacy format (pickles of the magic
/// number, protocol version and system info, then the object, then the storage keys, then each
/// storage as an 8-byte element count and its bytes); the oldest, tar, format is in PyTorchTarReader.
///
/// The object must be a state_dict (or a checkpoint holding one under `state_dict` or `model`);
/// `module.` prefixes (DataParallel) are dropped. Every tensor's offset, size and strides are
/// checked against its storage, and every storage against its record, before anything is read.
enum PyTorchReader {
    /// `torch.serialization.MAGIC_NUMBER`, as a pickled LONG1's little-endian bytes.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// True when the file starts with the legacy format's first pickle, the magic number.
    static func isLegacy(_ file: ReadOnlyFile) throws -> Bool {
        guard file.size >= 14 else { return false }
        return try file.bytes(at: 0, count: 14) == [0x80, 0x02, 0x8A, 0x0A] + legacyMagic
    }

    /// True for a tar archive (`ustar` at byte 257), PyTorch's oldest format.
    static func isTar(_ file: ReadOnlyFile) throws -> Bool {
        guard file.size >= 262 else { return false }
        return try file.bytes(at: 257, count: 5) == Array("ustar".utf8)
    }

    static func openZip(_ file: ReadOnlyFile, _ zip: ZipDirectory, limits: ReadLimits) throws -> WeightFile {
        let pickles = zip.entries.filter { entry in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl"
        }
        guard let pickle = pickles.first, pickles.count == 1 else {
            throw file.error("/", pickles.isEmpty ? "a zip archive without '<root>/data.pkl'" : "a zip archive with several '<root>/data.pkl'")
        }
        let root = String(pickle.name.dropLast("data.pkl".count))
        let byName = Dictionary(zip.entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var bigEndian = false
        if let order = byName[root + "byteorder"] {
            let range = try zip.storedData(order)
            let text = String(decoding: try file.bytes(at: range.lowerBound, count: min(range.count, 16), path: order.name), as: UTF8.self)
            guard text == "little" || text == "big" else {
                throw file.error(order.name, "says '\(text)'; expected 'little' or 'big'")
            }
            bigEndian = text == "big"
        }
        var regions: [String: Range<Int>] = [:]
        let object = try unpickle(file, try zip.storedData(pickle), path: pickle.name) { reference in
            if regions[reference.key] == nil {
                guard let entry = byName[root + "data/" + reference.key] else {
                    throw file.error(pickle.name, "refers to storage '\(reference.key)' but the archive has no '\(root)data/\(reference.key)'")
                }
                regions[reference.key] = try zip.storedData(entry)
            }
            return regions[reference.key] ?? 0..<0
        }
        return try weightFile(file, object, format: .pytorchZip, bigEndian: bigEndian, limits: limits) { reference in
            guard let region = regions[reference.key] else { throw file.error("/", "lost storage '\(reference.key)'") }
            return region
        }
    }

    static func openLegacy(_ file: ReadOnlyFile, limits: ReadLimits) throws -> WeightFile {
        var input = FilePickleInput(file: file, range: 0..<file.size, path: "/")
        defer { input.close() }
        var references: [String: StorageReference] = [:]
        let plain = Unpickler { _ in throw PickleError(message: "a persistent id before the state_dict") }
        let magic = try load(plain, &input, file)
        guard case let .bigInt(bytes) = magic, bytes == legacyMagic else {
            throw file.error("/", "does not start with PyTorch's magic number; expected a torch.save file")
        }
        guard case let .int(protocolVersion) = try load(plain, &input, file), protocolVersion == 1001 else {
            throw file.error("/", "has an unknown legacy protocol version; expected 1001")
        }
        guard case let .dict(info) = try load(plain, &input, file) else { throw file.error("/", "has no system info") }
        for (k, v) in info.pairs {
            if case .string("little_endian") = k, case .bool(false) = v {
                throw file.error("/", "was written on a big-endian machine; expected little-endian data")
            }
        }
        let loader = Unpickler { pid in
            let reference = try storageReference(pid)
            references[reference.key] = reference
            return .storage(reference)
        }
        let object = try load(loader, &input, file)
        guard case let .list(keyList) = try load(plain, &input, file) else {
            throw file.error("/", "has no list of storage keys after the object")
        }
        // The storages follow in the keys' order, each an 8-byte element count, then the bytes.
        var regions: [String: Range<Int>] = [:]
        var offset = input.position
        for item in keyList.items {
            guard case let .string(key) = item, let reference = references[key] else {
                throw file.error("/", "lists a storage key (\(item.kind)) that no tensor uses")
            }
            let header = try file.bytes(at: offset, count: 8, path: "storage \(key)")
            let count = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let size = Unpickler.elementSize(reference.typeName) ?? 1
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard count >= 0, !overflow, bytes <= file.size - offset - 8 else {
                throw file.error("storage \(key)", "claims \(count) elements of \(size) bytes at byte \(offset + 8), past the "
                                 + "end of the file's \(file.size) bytes (truncated file?)")
            }
            guard count >= reference.elementCount else {
                throw file.error("storage \(key)", "holds \(count) elements; the pickle says \(reference.elementCount)")
            }
            regions[key] = (offset + 8)..<(offset + 8 + bytes)
            offset += 8 + bytes
        }
        return try weightFile(file, object, format: .pytorchLegacy, bigEndian: false, limits: limits) { reference in
            guard let region = regions[reference.key] else {
                throw file.error("/", "uses storage '\(reference.key)' that is not among the file's storages")
            }
            return region
        }
    }

    private static func load(_ unpickler: Unpickler, _ input: inout FilePickleInput, _ file: ReadOnlyFile) throws -> PickleValue {
        do { return try unpickler.load(&input) } catch let e as PickleError {
            throw file.error("/", e.message)
        }
    }

    /// Unpickles a zip's `data.pkl`; `region` gives (and checks) each storage's record.
    private static func unpickle(_ file: ReadOnlyFile, _ range: Range<Int>, path: String,
                                 region: @escaping (StorageReference) throws -> Range<Int>) throws -> PickleValue {
        var input = FilePickleInput(file: file, range: range, path: path)
        defer { input.close() }
        let unpickler = Unpickler { pid in
            let reference = try storageReference(pid)
            let record = try region(reference)
            let size = reference.dtype?.byteCount ?? 1
            let (bytes, overflow) = reference.elementCount.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= record.count else {
                throw PickleError(message: "storage '\(reference.key)' claims \(reference.elementCount) elements of "
                                  + "\(size) bytes, past its record of \(record.count) bytes")
            }
            return .storage(reference)
        }
        do { return try unpickler.load(&input) } catch let e as PickleError {
            throw file.error(path, e.message)
        }
    }

    /// `('storage', <type>, key, location, numel[, view metadata])`.
    static func storageReference(_ pid: PickleValue) throws -> StorageReference {
        guard case let .tuple(items) = pid, items.count >= 5, case .string("storage") = items[0],
              case let .global(typeName) = items[1], case let .string(key) = items[2], case let .int(count) = items[4],
              count >= 0, let dtype = Unpickler.storageTypes[typeName] else {
            throw PickleError(message: "a persistent id (\(pid.kind)) that is not a storage; expected "
                              + "('storage', type, key, location, size)")
        }
        return StorageReference(key: key, dtype: dtype, typeName: typeName, elementCount: count)
    }

    /// The state_dict's tensors as a flat WeightFile (layers grouped from the keys).
    static func weightFile(_ file: ReadOnlyFile, _ object: PickleValue, format: WeightFormat, bigEndian: Bool,
                           limits: ReadLimits, region: (StorageReference) throws -> Range<Int>) throws -> WeightFile {
        var tensors: [(String, StoredTensor)] = []
        for (key, record) in try stateDict(object, file: file) {
            guard let dtype = record.storage.dtype else {
                throw file.error(key, "holds \(record.storage.typeName) elements; expected float32, float16, bfloat16, "
                                 + "float64 or int64")
            }
            let storage = try region(record.storage)
            let elementBytes = dtype.byteCount
            var steps: [Int] = []
            for stride in record.strides {
                let (s, overflow) = stride.multipliedReportingOverflow(by: elementBytes)
                guard stride >= 0, !overflow else { throw file.error(key, "has stride \(stride); expected a non-negative stride") }
                steps.append(s)
            }
            let used = storage.lowerBound..<(storage.lowerBound + min(storage.count, record.storage.elementCount * elementBytes))
            let (start, o1) = record.offset.multipliedReportingOverflow(by: elementBytes)
            guard record.offset >= 0, !o1, start <= used.count else {
                throw file.error(key, "starts at element \(record.offset) of a storage of \(record.storage.elementCount) elements")
            }
            tensors.append((key, try StoredTensor(file: file, path: key, dtype: dtype, bigEndian: bigEndian, shape: record.shape,
                                                  offset: used.lowerBound + start, byteSteps: steps, region: used, limits: limits)))
        }
        return WeightFile(flat: tensors, name: file.name, format: format, owner: file, limits: limits)
    }

    /// The (key, tensor) pairs of a state_dict, unwrapped from a checkpoint's `state_dict` or
    /// `model` entry, without DataParallel's `module.` prefix.
    static func stateDict(_ object: PickleValue, file: ReadOnlyFile) throws -> [(String, TensorRecord)] {
        guard case var .dict(dict) = object else {
            throw file.error("/", "holds a pickled \(object.kind); expected a state_dict (a dict of tensors, as "
                             + "torch.save(model.state_dict(), path) writes)")
        }
        for wrapper in ["state_dict", "model"] {
            if let inner = dict.pairs.first(where: { if case .string(wrapper) = $0.0 { return true } else { return false } }),
               case let .dict(d) = inner.1 {
                dict = d
                break
            }
        }
        var result: [(String, TensorRecord)] = []
        for (k, v) in dict.pairs {
            guard case let .string(key) = k, case let .tensor(t) = v else { continue }
            result.append((key, t))
        }
        guard !result.isEmpty else {
            throw file.error("/", "holds a dict without tensors; expected a state_dict (or a checkpoint with one under "
                             + "'state_dict' or 'model')")
        }
        if result.allSatisfy({ $0.0.hasPrefix("module.") }) {
            result = result.map { (String($0.0.dropFirst("module.".count)), $0.1) }
        }
        return result
    }
}
