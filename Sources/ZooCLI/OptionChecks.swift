import ArgumentParser
import Engine
import Foundation

/// Range checks of options: every error names the option, the range it takes and what was given.
enum OptionCheck {
    /// Images or samples per batch; memory is estimated separately, per model.
    static let batchRange = 1...65_536

    static func inRange<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ option: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
    }

    static func inRange<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ option: String) throws {
        if let value { try inRange(value, range, option) }
    }

    /// A finite number above zero (a learning rate, a duration).
    static func positive(_ value: Double?, _ option: String) throws {
        guard let value else { return }
        guard value.isFinite, value > 0 else {
            throw ValidationError("\(option) must be a finite number above 0, got \(value)")
        }
    }

    /// Throws unless `path` can become a file: not a folder, in a folder that can be written.
    static func outputFile(_ path: String, option: String) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CommandFailure("\(option) \(path) is a folder; give a file name")
        }
        try writableFolder(url.deletingLastPathComponent(), option: option)
    }

    /// Throws unless `directory` (or, when it does not exist yet, its nearest existing parent) is a
    /// writable folder: checked before work whose result could not be saved.
    static func writableFolder(_ directory: URL, option: String) throws {
        var folder = directory.standardizedFileURL
        let files = FileManager.default
        while !files.fileExists(atPath: folder.path), folder.path != "/" { folder = folder.deletingLastPathComponent() }
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(option): \(folder.path) is not a folder")
        }
        // A real write, not access(2)'s permission bits: root passes those on a folder that a
        // read-only mount, a full disk or a quota would still refuse.
        let probe = folder.appendingPathComponent(".zoo-write-check-\(getpid())").path
        unlink(probe)  // left by a killed process of the same id
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno)).lowercased()
            throw CommandFailure("\(option): cannot write in \(folder.path) (\(reason)); choose another folder")
        }
        close(fd)
        unlink(probe)
    }
}

extension StandardError {
    /// Warns when `x` holds NaN or infinity, which every output row it reaches would carry.
    static func warnNonFinite(_ x: Tensor, source: String) {
        let (nan, infinite) = x.nonFiniteCounts
        guard nan + infinite > 0 else { return }
        warn("\(source) holds \(nan) NaN and \(infinite) infinite value(s); the outputs of the rows holding them "
            + "will be NaN or infinite")
    }
}
