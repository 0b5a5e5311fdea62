import Foundation

/// Where the data pipeline's warnings go: standard error unless the caller gives another.
public struct DataLogger: Sendable {
    public let warn: @Sendable (String) -> Void

    public init(warn: @escaping @Sendable (String) -> Void) { self.warn = warn }

    /// `warning: <message>` lines on standard error.
    public static let standardError = DataLogger { message in
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    /// Drops every warning (the summary still counts them).
    public static let silent = DataLogger { _ in }
}

/// What a pass over a dataset loaded and skipped.
public struct LoadSummary: CustomStringConvertible, Sendable {
    public struct Skipped: Sendable, Equatable, Codable {
        /// The sample's file path (or array position).
        public let name: String
        /// Why it could not be read.
        public let reason: String
    }

    public internal(set) var loaded = 0
    public internal(set) var skipped: [Skipped] = []

    public var description: String {
        var text = "loaded \(loaded) sample\(loaded == 1 ? "" : "s")"
        if !skipped.isEmpty {
            text += ", skipped \(skipped.count) unreadable: " + skipped.map(\.name).joined(separator: ", ")
        }
        return text
    }
}
