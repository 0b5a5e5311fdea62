import Foundation
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Test hooks of an atomic save.
public struct SaveHooks {
    /// Bytes per write call.
    public var chunkSize: Int = 1 << 20
    /// Stops the save once this many bytes are in the temporary file, as a crash there would:
    /// the temporary file stays, the target is untouched, and `SimulatedCrash` is thrown.
    public var crashAfterBytes: Int?
    /// Called after every chunk with the number of bytes written so far.
    public var afterChunk: ((Int) -> Void)?

    public init(chunkSize: Int = 1 << 20, crashAfterBytes: Int? = nil, afterChunk: ((Int) -> Void)? = nil) {
        self.chunkSize = chunkSize
        self.crashAfterBytes = crashAfterBytes
        self.afterChunk = afterChunk
    }
}

/// Thrown by a save stopped by `SaveHooks.crashAfterBytes`.
public struct SimulatedCrash: Error, CustomStringConvertible {
    /// The temporary file left behind, as a real crash would leave it.
    public let temporaryFile: URL
    public let bytesWritten: Int
    public var description: String { "simulated crash after \(bytesWritten) bytes of \(temporaryFile.path)" }
}

/// Replaces a file atomically: the bytes go to a temporary file in the same directory, which is
/// flushed and fsynced, then renamed over the target (and the directory fsynced), so a reader
/// or a crash at any moment sees either the whole old file or the whole new one.
public enum AtomicFile {
    /// Replaces (or creates) `url` with `data`; a symbolic link is followed and its target replaced.
    public static func write(_ data: Data, to url: URL, hooks: SaveHooks = SaveHooks()) throws {
        let target = url.resolvingSymlinksInPath()
        let name = url.path
        func fail(_ what: String, _ code: Int32 = errno) -> WeightFileError {
            WeightFileError(file: name, path: "/", "\(what): \(String(cString: strerror(code)))")
        }
        let directory = target.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(target.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create a temporary file in \(directory.path)") }
        var keepTemporary = false
        var closed = false
        defer {
            if !closed { close(fd) }
            if !keepTemporary { unlink(temporary.path) }
        }
        // Keep the permissions of the file being replaced.
        var old = stat()
        if stat(target.path, &old) == 0 { _ = fchmod(fd, old.st_mode & 0o7777) }

        let limit = hooks.crashAfterBytes.map { min($0, data.count) } ?? data.count
        var written = 0
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            guard let base = bytes.baseAddress else { return }
            while written < limit {
                let n = systemWrite(fd, base + written, min(max(1, hooks.chunkSize), limit - written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("cannot write \(temporary.path)")
                }
                written += n
                hooks.afterChunk?(written)
            }
        }
        if let crash = hooks.crashAfterBytes, crash < data.count {
            keepTemporary = true
            throw SimulatedCrash(temporaryFile: temporary, bytesWritten: written)
        }
        guard fsync(fd) == 0 else { throw fail("cannot fsync \(temporary.path)") }
        closed = true
        guard close(fd) == 0 else { throw fail("cannot close \(temporary.path)") }
        guard rename(temporary.path, target.path) == 0 else { throw fail("cannot rename \(temporary.path) over the target") }
        keepTemporary = true  // it is the target now
        // Make the rename itself durable.
        let dirFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}
