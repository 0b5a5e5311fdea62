import Engine

/// A weight file that cannot be read or written as expected.
///
/// Names the file, the object inside it (`/` for the file as a whole) and what was expected
/// against what was found, e.g. `vgg16.h5, at /fc1/fc1/kernel:0: expected float data, found int32`.
public struct WeightFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// The HDF5 path of the object concerned, or `/` for the file as a whole.
    public let path: String
    public let message: String

    /// `path` and `message` quote the file, so they are cut to a readable length.
    public init(file: String, path: String, _ message: String) {
        self.file = file
        self.path = excerpt(path, limit: 200)
        self.message = excerpt(message, limit: 2000)
    }

    public var description: String { "\(file), at \(path): \(message)" }
}
