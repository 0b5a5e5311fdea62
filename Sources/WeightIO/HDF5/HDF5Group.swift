import CHDF5
import Foundation

/// A group or dataset inside an HDF5 file: what both share (the file, the path, attributes).
public class HDF5Object {
    public let file: HDF5File
    /// Absolute path inside the file, e.g. `/model_weights/conv/conv/kernel:0`.
    public let path: String
    let handle: HDF5Handle

    init(file: HDF5File, path: String, handle: HDF5Handle) {
        self.file = file
        self.path = path
        self.handle = handle
    }

    /// An error about this object.
    func error(_ message: String) -> WeightFileError {
        WeightFileError(file: file.name, path: path, message)
    }

    /// The path of a child named `name`.
    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }
}

/// How a name in a group leads to its object. Only hard links are followed: soft and external
/// links can point anywhere (another file, a file that changes), so a weight file using them is refused.
public enum HDF5LinkKind: String {
    case hard, soft, external, userDefined = "user-defined"
}

/// An HDF5 group: named links to groups and datasets, plus attributes.
public final class HDF5Group: HDF5Object {
    /// The kind of link `name` (one path component) is, or nil when the group has no such link.
    public func linkKind(_ name: String) throws -> HDF5LinkKind? { try link(name)?.kind }

    /// The kind of link `name` is and, for a hard link, the address of the object header it leads to.
    private func link(_ name: String) throws -> (kind: HDF5LinkKind, address: UInt64)? {
        try HDF5Library.serialized { () throws -> (kind: HDF5LinkKind, address: UInt64)? in
            guard isValidComponent(name) else { throw error("invalid object name '\(name)'") }
            let exists = H5Lexists(handle.id, name, convzoo_h5p_default())
            if exists == 0 { return nil }
            var info = H5L_info_t()
            guard exists > 0, H5Lget_info(handle.id, name, &info, convzoo_h5p_default()) >= 0 else {
                throw WeightFileError(file: file.name, path: childPath(name),
                                      HDF5Library.withDetail("cannot read the link"))
            }
            switch info.type {
            case H5L_TYPE_HARD: return (.hard, UInt64(info.u.address))
            case H5L_TYPE_SOFT: return (.soft, 0)
            case H5L_TYPE_EXTERNAL: return (.external, 0)
            default: return (.userDefined, 0)
            }
        }
    }

    /// True when `relativePath` leads through hard links to an object.
    public func contains(_ relativePath: String) -> Bool {
        (try? open(relativePath, expecting: nil)) != nil
    }

    /// True when `relativePath` leads through hard links to a group.
    public func containsGroup(_ relativePath: String) -> Bool {
        (try? group(relativePath)) != nil
    }

    /// The group at `relativePath` (components separated by `/`), reached through hard links only.
    public func group(_ relativePath: String) throws -> HDF5Group {
        let (h, p) = try open(relativePath, expecting: H5I_GROUP)
        return HDF5Group(file: file, path: p, handle: h)
    }

    /// The dataset at `relativePath`, reached through hard links only; virtual datasets and
    /// datasets whose data lives in external files are refused.
    public func dataset(_ relativePath: String) throws -> HDF5Dataset {
        let (h, p) = try open(relativePath, expecting: H5I_DATASET)
        return try HDF5Dataset(file: file, path: p, dataset: h)
    }

    /// The names of the group's links, sorted by name (HDF5 keeps no order unless asked to at creation).
    public func memberNames() throws -> [String] {
        final class Box { var names: [String] = [] }
        let box = Box()
        let visit: H5L_iterate_t = { _, name, _, context in
            guard let name, let context else { return 0 }
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
            return 0
        }
        try HDF5Library.serialized {
            guard H5Literate(handle.id, H5_INDEX_NAME, H5_ITER_INC, nil, visit,
                             Unmanaged.passUnretained(box).toOpaque()) >= 0 else {
                throw error(HDF5Library.withDetail("cannot list the group's members"))
            }
        }
        return box.names
    }

    private func isValidComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && !name.contains("/") && !name.utf8.contains(0)
    }

    /// Opens the object at `relativePath`, checking every step is a hard link to a group and the
    /// last one leads to an object of type `expected` (any type when nil).
    private func open(_ relativePath: String, expecting expected: H5I_type_t?) throws -> (HDF5Handle, String) {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let what = expected == H5I_GROUP ? "group" : expected == H5I_DATASET ? "dataset" : "object"
        guard parts.allSatisfy(isValidComponent) else {
            throw error("invalid object name '\(relativePath)': expected names separated by single '/'")
        }
        return try HDF5Library.serialized {
            var current: HDF5Group = self
            for (i, part) in parts.enumerated() {
                let isLast = i == parts.count - 1
                let wanted = isLast ? what : "group"
                let target = current.childPath(part)
                guard let (kind, address) = try current.link(part) else {
                    throw WeightFileError(file: file.name, path: target, "missing: expected a \(wanted) here")
                }
                guard kind == .hard else {
                    throw WeightFileError(file: file.name, path: target,
                                          "is \(kind == .external ? "an" : "a") \(kind.rawValue) link; expected a \(wanted) stored in this file "
                                          + "(soft and external links are refused)")
                }
                try file.raw?.checkObjectHeader(at: address, path: target)
                guard let h = HDF5Handle(H5Oopen(current.handle.id, part, convzoo_h5p_default()), close: H5Oclose) else {
                    throw WeightFileError(file: file.name, path: target, HDF5Library.withDetail("cannot open the \(wanted)"))
                }
                let type = H5Iget_type(h.id)
                if isLast {
                    if let expected, type != expected {
                        throw WeightFileError(file: file.name, path: target,
                                              "expected a \(what), found \(HDF5Group.describe(type))")
                    }
                    return (h, target)
                }
                guard type == H5I_GROUP else {
                    throw WeightFileError(file: file.name, path: target, "expected a group, found \(HDF5Group.describe(type))")
                }
                current = HDF5Group(file: file, path: target, handle: h)
            }
            return (current.handle, current.path)  // relativePath had no components: the group itself
        }
    }

    static func describe(_ type: H5I_type_t) -> String {
        switch type {
        case H5I_GROUP: return "a group"
        case H5I_DATASET: return "a dataset"
        case H5I_DATATYPE: return "a named datatype"
        default: return "an object of HDF5 type \(type.rawValue)"
        }
    }
}
