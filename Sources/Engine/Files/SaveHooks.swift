import Foundation

/// Test hooks of a durable save.
public struct SaveHooks {
    /// Bytes per write call (per slice of a weight, for files libhdf5 writes).
    public var chunkSize: Int = 1 << 20
    /// Stops the save once this many bytes are in the temporary file, as a crash there would:
    /// the temporary file stays, the target is untouched, and `SimulatedCrash` is thrown. A file
    /// written by a library (libhdf5) is written whole and then cut to its first N bytes.
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
