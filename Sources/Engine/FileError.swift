/// The one error type for a file that cannot be read or written as expected: weight files,
/// `.npy`/`.npz` arrays, checkpoints. Names the file, where inside it (an HDF5 path, `/` for the
/// file as a whole, or nil) and what was expected against what was found, e.g.
/// `vgg16.h5, at /fc1/fc1/kernel:0: expected float data, found int32`.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// The object concerned inside the file, if the error is about one.
    public let location: String?
    public let message: String

    /// `location` and `message` quote the file, so they are cut to a readable length.
    public init(file: String, location: String? = nil, _ message: String) {
        self.file = file
        self.location = location.map { excerpt($0, limit: 200) }
        self.message = excerpt(message, limit: 2000)
    }

    public var description: String { file + (location.map { ", at \($0)" } ?? "") + ": \(message)" }
}

extension NPY {
    /// A `.npy` or `.npz` file that cannot be read or written.
    public typealias FormatError = FileError
}

/// A checkpoint file or directory that cannot be written or read.
public typealias CheckpointError = FileError

extension FileError {
    /// An error about the `.npy`/`.npz` file `file`.
    public init(file: String, message: String) { self.init(file: file, location: nil, message) }

    /// An error about the checkpoint file or directory at `path`.
    public init(path: String, _ message: String) { self.init(file: path, location: nil, "checkpoint: " + message) }
}
