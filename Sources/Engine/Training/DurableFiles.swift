import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe writes: a directory is filled under a temporary name next to its destination,
/// every file and the directory are fsynced, and one rename puts it in place, so a reader sees
/// either the old complete directory or the new complete one, never a half-written one.
enum DurableFiles {
    static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0(data) }
    }

    /// Creates `url`, lets `fill` write it piece by piece, then fsyncs it.
    static func write(to url: URL, _ fill: ((Data) throws -> Void) throws -> Void) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError(path: url.path, "cannot create (\(errnoText()))") }
        defer { close(fd) }
        try fill { data in
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw CheckpointError(path: url.path, "write failed (\(errnoText()))") }
                    offset += n
                }
            }
        }
        guard fsync(fd) == 0 else { throw CheckpointError(path: url.path, "fsync failed (\(errnoText()))") }
    }

    static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw CheckpointError(path: url.path, "cannot open directory (\(errnoText()))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CheckpointError(path: url.path, "fsync failed (\(errnoText()))") }
    }

    /// Creates or replaces the directory `destination` with what `fill` writes into a temporary
    /// directory beside it.
    static func replaceDirectory(_ destination: URL, fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let name = destination.lastPathComponent
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let temporary = parent.appendingPathComponent(".\(name).partial-\(tag)")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw CheckpointError(path: temporary.path, "cannot create directory (\(error.localizedDescription))")
        }
        do {
            try fill(temporary)
            try syncDirectory(temporary)
            var old: URL?
            if fm.fileExists(atPath: destination.path) {
                old = parent.appendingPathComponent(".\(name).old-\(tag)")
                try renameOrThrow(destination, old!)
            }
            try renameOrThrow(temporary, destination)
            try syncDirectory(parent)
            if let old { try? fm.removeItem(at: old) }
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }

    private static func renameOrThrow(_ from: URL, _ to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw CheckpointError(path: to.path, "cannot rename \(from.lastPathComponent) into place (\(errnoText()))")
        }
    }

    private static func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(fd, p, count)
        #else
        Darwin.write(fd, p, count)
        #endif
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
