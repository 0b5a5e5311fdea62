import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file or directory that could not be written durably: its path and what failed.
public struct DurableFileError: Error, CustomStringConvertible {
    public let path: String
    public let message: String

    /// An error about the file or directory at `path`.
    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Crash-safe writes, the one writer behind weight files, features, checkpoints and downloads.
///
/// New content goes to a temporary name beside its destination (`.NAME.PID.RANDOM.tmp`), is
/// fsynced, and one rename puts it in place (the directory is fsynced after), so a reader or a
/// crash at any moment sees either the whole old file or the whole new one. An error removes the
/// temporary; one left by a process that died (`kill -9`, power loss) is removed by the next
/// write into that directory, once no live process has that PID.
public enum DurableFile {
    /// Replaces (or creates) `url` with `data`; a symbolic link is followed and its target replaced.
    public static func write(_ data: Data, to url: URL, hooks: SaveHooks = SaveHooks()) throws {
        try write(to: url, hooks: hooks) { write in try write(data) }
    }

    /// Replaces `url` with the bytes `fill` gives, piece by piece, to the writer it is handed.
    public static func write(to url: URL, hooks: SaveHooks = SaveHooks(),
                             _ fill: ((Data) throws -> Void) throws -> Void) throws {
        try replace(url) { temporary, fd in
            var written = 0
            try fill { data in
                try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                    var offset = 0
                    while offset < bytes.count {
                        if let limit = hooks.crashAfterBytes, written >= limit {
                            throw SimulatedCrash(temporaryFile: temporary, bytesWritten: written)
                        }
                        var count = min(max(1, hooks.chunkSize), bytes.count - offset)
                        if let limit = hooks.crashAfterBytes { count = min(count, limit - written) }
                        let n = systemWrite(fd, bytes.baseAddress! + offset, count)
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { throw DurableFileError(path: url.path, "cannot write \(temporary.path): \(errnoText())") }
                        offset += n
                        written += n
                        hooks.afterChunk?(written)
                    }
                }
            }
        }
    }

    /// Replaces `url` with the file `create` writes, whole, at the temporary path it is handed:
    /// for libraries such as libhdf5 that open files by name.
    public static func create(_ url: URL, hooks: SaveHooks = SaveHooks(), _ create: (URL) throws -> Void) throws {
        try replace(url) { temporary, fd in
            try create(temporary)
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw DurableFileError(path: url.path, "cannot stat \(temporary.path): \(errnoText())") }
            if let limit = hooks.crashAfterBytes, limit < Int(info.st_size) {
                _ = ftruncate(fd, off_t(limit))
                throw SimulatedCrash(temporaryFile: temporary, bytesWritten: limit)
            }
        }
    }

    /// Creates or replaces the directory `destination` with what `fill` writes into a temporary
    /// directory beside it.
    public static func replaceDirectory(_ destination: URL, fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw DurableFileError(path: parent.path, "cannot create the directory (\(error.localizedDescription))")
        }
        removeStaleTemporaries(in: parent)
        let temporary = parent.appendingPathComponent(temporaryName(for: destination.lastPathComponent))
        guard mkdir(temporary.path, 0o755) == 0 else {
            throw DurableFileError(path: temporary.path, "cannot create a temporary directory: \(errnoText())")
        }
        do {
            try fill(temporary)
            try syncDirectory(temporary)
            var old: URL?
            if fm.fileExists(atPath: destination.path) {
                old = parent.appendingPathComponent(temporaryName(for: destination.lastPathComponent))
                try rename(destination, to: old!)
            }
            try rename(temporary, to: destination)
            try syncDirectory(parent)
            if let old { try? fm.removeItem(at: old) }
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }

    /// Puts the finished file `temporary`, open as `fd`, in place as `destination`: fsync, rename,
    /// fsync of the directory. The caller closes `fd`.
    public static func commit(_ fd: Int32, _ temporary: URL, to destination: URL) throws {
        guard fsync(fd) == 0 else { throw DurableFileError(path: temporary.path, "cannot fsync: \(errnoText())") }
        try rename(temporary, to: destination)
        let directory = open(destination.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    /// Removes the temporaries (files or directories named `.NAME.PID.RANDOM.tmp`) in `directory`
    /// whose writing process is gone; those of live processes stay. Returns what it removed.
    @discardableResult
    public static func removeStaleTemporaries(in directory: URL) -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var removed: [URL] = []
        for name in names {
            guard let pid = writerPID(ofTemporary: name), !isAlive(pid) else { continue }
            let url = directory.appendingPathComponent(name)
            if (try? FileManager.default.removeItem(at: url)) != nil { removed.append(url) }
        }
        return removed
    }

    /// The PID in a temporary's name `.NAME.PID.RANDOM.tmp`, nil for any other name.
    static func writerPID(ofTemporary name: String) -> pid_t? {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return nil }
        let parts = name.dropFirst().dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, UInt32(parts[parts.count - 1]) != nil,
              let pid = pid_t(parts[parts.count - 2]), pid > 0, !parts[..<(parts.count - 2)].joined().isEmpty else { return nil }
        return pid
    }

    private static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    private static func temporaryName(for name: String) -> String {
        ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
    }

    /// Creates a temporary beside `url`, lets `body` fill it, and commits it over `url`. The
    /// temporary is removed on any error except a simulated crash, which leaves it as a crash would.
    private static func replace(_ url: URL, _ body: (URL, Int32) throws -> Void) throws {
        let target = url.resolvingSymlinksInPath()
        let directory = target.deletingLastPathComponent()
        removeStaleTemporaries(in: directory)
        let temporary = directory.appendingPathComponent(temporaryName(for: target.lastPathComponent))
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DurableFileError(path: url.path, "cannot create a temporary file in \(directory.path): \(errnoText())")
        }
        var keepTemporary = false
        defer {
            close(fd)
            if !keepTemporary { unlink(temporary.path) }
        }
        // Keep the permissions of the file being replaced.
        var old = stat()
        if stat(target.path, &old) == 0 { _ = fchmod(fd, old.st_mode & 0o7777) }
        do {
            try body(temporary, fd)
        } catch let crash as SimulatedCrash {
            keepTemporary = true
            throw crash
        }
        try commit(fd, temporary, to: target)
        keepTemporary = true  // it is the target now
    }

    private static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DurableFileError(path: url.path, "cannot open the directory: \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw DurableFileError(path: url.path, "cannot fsync the directory: \(errnoText())") }
    }

    private static func rename(_ from: URL, to: URL) throws {
        #if canImport(Glibc)
        let status = Glibc.rename(from.path, to.path)
        #else
        let status = Darwin.rename(from.path, to.path)
        #endif
        guard status == 0 else {
            throw DurableFileError(path: to.path, "cannot rename \(from.lastPathComponent) into place: \(errnoText())")
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
