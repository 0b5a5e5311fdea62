import Engine

/// A weight file that cannot be read or written as expected: Engine's one `FileError`, located at
/// the HDF5 object concerned (`/` for the file as a whole).
public typealias WeightFileError = FileError

extension FileError {
    /// An error about the object at HDF5 path `path` of the weight file `file`.
    public init(file: String, path: String, _ message: String) { self.init(file: file, location: path, message) }

    /// The HDF5 path of the object concerned, or `/` for the file as a whole.
    public var path: String { location ?? "/" }
}
