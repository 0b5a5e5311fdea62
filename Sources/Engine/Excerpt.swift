import Foundation

/// What a file says, cut to a length an error message can show: names and headers come from
/// untrusted files and may be megabytes long.
public func excerpt(_ text: String, limit: Int = 80) -> String {
    guard text.count > limit else { return text }
    return String(text.prefix(limit)) + "... (\(text.count) characters)"
}

/// Why the file at `url` could not be read, in words: Foundation's own message on Linux is often
/// only "NSCocoaErrorDomain error 256".
public func unreadableReason(_ url: URL, _ error: Error) -> String {
    var isDirectory: ObjCBool = false
    let files = FileManager.default
    if !files.fileExists(atPath: url.path, isDirectory: &isDirectory) { return "no such file" }
    if isDirectory.boolValue { return "a folder, not a file" }
    if !files.isReadableFile(atPath: url.path) { return "permission denied" }
    return error.localizedDescription
}
