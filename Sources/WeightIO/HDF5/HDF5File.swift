import CHDF5
import Engine
import Foundation

/// An HDF5 file open for reading, or one being written.
public final class HDF5File {
    /// How errors name the file: its path, or e.g. `model.keras (model.weights.h5)`.
    public let name: String
    let handle: HDF5Handle
    /// The file's bytes for the checks made before libhdf5 reads (nil while writing).
    let raw: HDF5RawFile?

    private init(name: String, handle: HDF5Handle, raw: HDF5RawFile? = nil) {
        self.name = name
        self.handle = handle
        self.raw = raw
    }

    /// Opens `url` read-only after checking it carries the HDF5 signature.
    public static func open(_ url: URL, name: String? = nil) throws -> HDF5File {
        let shown = name ?? url.path
        switch try FileSignature.sniff(url, name: shown) {
        case .hdf5: break
        case .empty: throw WeightFileError(file: shown, path: "/", "the file is empty (0 bytes); expected an HDF5 file")
        case .zip, .unknown:
            throw WeightFileError(file: shown, path: "/", "not an HDF5 file (no HDF5 signature)")
        }
        // libhdf5 loads the root group's object header (and the superblock extension's) on opening.
        let raw = try HDF5RawFile(url, name: shown)
        try raw.checkObjectHeader(at: raw.rootHeader, path: "/")
        if let header = raw.extensionHeader { try raw.checkObjectHeader(at: header, path: "/ (superblock extension)") }
        return try HDF5Library.serialized {
            guard let h = HDF5Handle(H5Fopen(url.path, convzoo_h5f_acc_rdonly(), convzoo_h5p_default()),
                                     close: H5Fclose) else {
                throw WeightFileError(file: shown, path: "/", HDF5Library.withDetail(
                    "cannot open the HDF5 file: it is damaged or truncated"))
            }
            return HDF5File(name: shown, handle: h, raw: raw)
        }
    }

    /// The root group `/`.
    public func root() throws -> HDF5Group {
        try HDF5Library.serialized {
            guard let h = HDF5Handle(H5Gopen2(handle.id, "/", convzoo_h5p_default()), close: H5Gclose) else {
                throw WeightFileError(file: name, path: "/", HDF5Library.withDetail("cannot open the root group"))
            }
            return HDF5Group(file: self, path: "/", handle: h)
        }
    }

    /// Set while a file is being written: weights are written in slices of at most this many
    /// bytes, and `afterSlice` hears the running total (the test hooks of a save).
    var sliceBytes = Int.max
    var afterSlice: ((Int) -> Void)?
    var dataBytesWritten = 0

    /// Creates (or truncates) the HDF5 file at `url`, fills it with `build` through its root group
    /// and closes it; `name` is what errors call it.
    ///
    /// Weights go from their tensors straight to the file (no sieve buffer, no in-memory image),
    /// so writing holds no copy of them; `DurableFile` decides when the file becomes visible.
    public static func create(_ url: URL, name: String, hooks: SaveHooks = SaveHooks(),
                              _ build: (HDF5Group) throws -> Void) throws {
        try HDF5Library.serialized {
            let fapl = try fileAccess(name: name) { H5Pset_fapl_sec2($0) >= 0 && H5Pset_sieve_buf_size($0, 0) >= 0 }
            try fill(path: url.path, name: name, fapl: fapl, hooks: hooks, finish: { _ in }, build: build)
        }
    }

    private static let imageCounter = Counter()

    /// Builds an HDF5 file in memory with `build` and returns the file's bytes (for tests and
    /// small files; `create` writes large ones).
    static func makeImage(name: String, sizeHint: Int, _ build: (HDF5Group) throws -> Void) throws -> Data {
        try HDF5Library.serialized {
            // Grow by the expected size at once: one allocation instead of thousands of reallocs.
            let increment = max(1 << 20, min(sizeHint + (1 << 20), 1 << 30))
            let fapl = try fileAccess(name: name) { H5Pset_fapl_core($0, increment, false) >= 0 }
            // The core driver without a backing store never touches the disk; the name only has to be unique.
            let memoryName = "convzoo-image-\(getpid())-\(imageCounter.next())"
            return try fill(path: memoryName, name: name, fapl: fapl, finish: { file in
                let size = H5Fget_file_image(file, nil, 0)
                guard size > 0 else {
                    throw WeightFileError(file: name, path: "/", HDF5Library.withDetail("cannot size the HDF5 image"))
                }
                var image = Data(count: size)
                let copied = image.withUnsafeMutableBytes { H5Fget_file_image(file, $0.baseAddress, size) }
                guard copied == size else {
                    throw WeightFileError(file: name, path: "/", HDF5Library.withDetail("cannot copy the HDF5 image"))
                }
                return image
            }, build: build)
        }
    }

    /// A file-access property list set up by `driver`.
    private static func fileAccess(name: String, _ driver: (hid_t) -> Bool) throws -> HDF5Handle {
        guard let fapl = HDF5Handle(H5Pcreate(convzoo_h5p_file_access()), close: H5Pclose), driver(fapl.id) else {
            throw WeightFileError(file: name, path: "/", HDF5Library.withDetail("cannot set up the HDF5 file driver"))
        }
        return fapl
    }

    /// Creates the file `path` with `fapl`, runs `build`, flushes, hands the open file to
    /// `finish`, and closes it (the groups and datasets `build` opened are gone by then).
    private static func fill<R>(path: String, name: String, fapl: HDF5Handle, hooks: SaveHooks = SaveHooks(),
                                finish: (hid_t) throws -> R, build: (HDF5Group) throws -> Void) throws -> R {
        guard let h = HDF5Handle(H5Fcreate(path, convzoo_h5f_acc_trunc(), convzoo_h5p_default(), fapl.id),
                                 close: H5Fclose) else {
            throw WeightFileError(file: name, path: "/", HDF5Library.withDetail("cannot create the HDF5 file"))
        }
        do {
            let file = HDF5File(name: name, handle: h)
            file.sliceBytes = max(1, hooks.chunkSize)
            file.afterSlice = hooks.afterChunk
            try build(try file.root())
        }
        guard H5Fflush(h.id, H5F_SCOPE_GLOBAL) >= 0 else {
            throw WeightFileError(file: name, path: "/", HDF5Library.withDetail("cannot flush the HDF5 file"))
        }
        return try finish(h.id)
    }
}

/// A thread-safe increasing counter.
final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}

/// What a file's first bytes say it is.
enum FileSignature: Equatable {
    case hdf5, zip, empty, unknown

    private static let hdf5Magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    static func sniff(_ url: URL, name: String) throws -> FileSignature {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw WeightFileError(file: name, path: "/", "cannot open the file for reading (\(unreadableReason(url, error)))")
        }
        defer { try? handle.close() }
        let size: UInt64
        do { size = try handle.seekToEnd() } catch {
            throw WeightFileError(file: name, path: "/", "cannot read the file (\(describe(error)))")
        }
        if size == 0 { return .empty }
        func bytes(at offset: UInt64, _ count: Int) -> [UInt8] {
            guard (try? handle.seek(toOffset: offset)) != nil,
                  let data = try? handle.read(upToCount: count) else { return [] }
            return [UInt8](data)
        }
        if bytes(at: 0, 4) == [0x50, 0x4B, 0x03, 0x04] { return .zip }
        // The superblock sits at 0 or, after a user block, at 512, 1024, 2048, ... bytes.
        var offset: UInt64 = 0
        while offset + 8 <= size {
            if bytes(at: offset, 8) == hdf5Magic { return .hdf5 }
            offset = offset == 0 ? 512 : offset * 2
        }
        return .unknown
    }
}

/// An error in words: ours say what they mean, Foundation's through `localizedDescription`.
func describe(_ error: Error) -> String {
    if let ours = error as? WeightFileError { return ours.description }
    return error.localizedDescription
}
