import Foundation

extension HDF5File {
    /// The bytes of a new HDF5 file that `build` fills through its root group, for `AtomicFile` to
    /// write; `name` is what errors call it, `sizeHint` the expected size in bytes.
    public static func image(name: String, sizeHint: Int, _ build: (HDF5Group) throws -> Void) throws -> Data {
        try makeImage(name: name, sizeHint: sizeHint, build)
    }
}
