import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened for positioned reads (`pread`): readers take the bytes they need where they
/// need them, never the whole file, and every read is checked against the file's size.
public final class ReadOnlyFile {
    /// How errors name the file.
    public let name: String
    /// The size in bytes when opened.
    public let size: Int
    private let descriptor: Int32

    /// Opens `url` for reading.
    public init(_ url: URL, name: String? = nil) throws {
        let shown = name ?? url.path
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw WeightFileError(file: shown, path: "/", "cannot open the file for reading (\(String(cString: strerror(errno))))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw WeightFileError(file: shown, path: "/", "not a regular file; expected a weight file")
        }
        self.name = shown
        self.size = Int(info.st_size)
        self.descriptor = fd
    }

    deinit { close(descriptor) }

    /// An error about the object at `path` inside this file.
    public func error(_ path: String, _ message: String) -> WeightFileError {
        WeightFileError(file: name, path: path, message)
    }

    /// Reads exactly `count` bytes at `offset` into `destination`; `path` names what is read in errors.
    public func read(into destination: UnsafeMutableRawPointer, count: Int, at offset: Int, path: String = "/") throws {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw error(path, "needs bytes \(offset)..<\(offset &+ count) but the file has \(size) bytes (truncated file?)")
        }
        var done = 0
        while done < count {
            let n = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let why = n < 0 ? String(cString: strerror(errno)) : "end of file"
                throw error(path, "cannot read bytes \(offset + done)..<\(offset + count) (\(why))")
            }
            done += n
        }
    }

    /// `count` bytes at `offset` as an array (for headers and small records only).
    public func bytes(at offset: Int, count: Int, path: String = "/") throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { try read(into: base, count: count, at: offset, path: path) }
        }
        return result
    }
}
