import CHDF5
import Foundation

/// The value of an HDF5 attribute, as far as weight files use them.
public enum AttributeValue: Equatable, CustomStringConvertible {
    /// A scalar string, stored fixed- or variable-length, as bytes or UTF-8.
    case string(String)
    /// An array of strings (`layer_names`, `weight_names`, class names).
    case strings([String])
    case integers([Int])
    case numbers([Double])
    /// A type weight files do not use, described.
    case unsupported(String)

    public var description: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .strings(let a): return "[" + a.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .integers(let a): return "\(a)"
        case .numbers(let a): return "\(a)"
        case .unsupported(let what): return "<\(what)>"
        }
    }
}

/// Above this many bytes Keras splits an attribute into `name0`, `name1`, ... (HDF5's 64 KB
/// object-header limit, less headroom); readers join them back.
let kerasAttributeLimit = 64512

extension HDF5Object {
    /// The names of this object's attributes, sorted.
    public func attributeNames() throws -> [String] {
        final class Box { var names: [String] = [] }
        let box = Box()
        let visit: H5A_operator2_t = { _, name, _, context in
            guard let name, let context else { return 0 }
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
            return 0
        }
        try HDF5Library.serialized {
            guard H5Aiterate2(handle.id, H5_INDEX_NAME, H5_ITER_INC, nil, visit,
                              Unmanaged.passUnretained(box).toOpaque()) >= 0 else {
                throw error(HDF5Library.withDetail("cannot list attributes"))
            }
        }
        return box.names
    }

    public func hasAttribute(_ name: String) -> Bool {
        HDF5Library.serialized { H5Aexists(handle.id, name) > 0 }
    }

    /// The attribute `name`, or nil when there is none.
    public func attribute(_ name: String) throws -> AttributeValue? {
        try HDF5Library.serialized {
            guard H5Aexists(handle.id, name) > 0 else { return nil }
            guard let attr = HDF5Handle(H5Aopen(handle.id, name, convzoo_h5p_default()), close: H5Aclose),
                  let type = HDF5Handle(H5Aget_type(attr.id), close: H5Tclose),
                  let space = HDF5Handle(H5Aget_space(attr.id), close: H5Sclose) else {
                throw error(HDF5Library.withDetail("cannot open attribute '\(name)'"))
            }
            let count = Int(max(0, H5Sget_simple_extent_npoints(space.id)))
            let scalar = H5Sget_simple_extent_type(space.id) == H5S_SCALAR
            func fail(_ what: String) -> WeightFileError { error(HDF5Library.withDetail("cannot read attribute '\(name)' (\(what))")) }
            // The count comes from the file: it must match what the attribute stores before
            // anything is allocated for it (variable-length strings are checked on their own).
            if H5Tis_variable_str(type.id) <= 0 {
                let (bytes, overflow) = count.multipliedReportingOverflow(by: H5Tget_size(type.id))
                guard !overflow, H5Aget_storage_size(attr.id) == UInt64(bytes) else {
                    throw fail("\(count) values of \(H5Tget_size(type.id)) bytes do not match its stored "
                               + "size of \(H5Aget_storage_size(attr.id)) bytes; the file is damaged")
                }
            }
            switch H5Tget_class(type.id) {
            case H5T_STRING:
                let strings = H5Tis_variable_str(type.id) > 0
                    ? try readVariableStrings(attr, type, space, count, fail)
                    : try readFixedStrings(attr, type, count, fail)
                return scalar ? .string(strings.first ?? "") : .strings(strings)
            case H5T_INTEGER:
                var values = [Int64](repeating: 0, count: count)
                guard count == 0 || H5Aread(attr.id, convzoo_h5t_native_llong(), &values) >= 0 else { throw fail("integers") }
                return .integers(values.map { Int($0) })
            case H5T_FLOAT:
                var values = [Double](repeating: 0, count: count)
                guard count == 0 || H5Aread(attr.id, convzoo_h5t_native_double(), &values) >= 0 else { throw fail("numbers") }
                return .numbers(values)
            default:
                return .unsupported("HDF5 type class \(H5Tget_class(type.id).rawValue)")
            }
        }
    }

    /// The string array `name`, joined from `name0`, `name1`, ... when Keras split it.
    ///
    /// An empty numeric array counts as an empty list (Keras writes `np.asarray([])` for a layer
    /// without weights); nil when neither `name` nor `name0` exists.
    public func stringArray(_ name: String) throws -> [String]? {
        if hasAttribute(name) { return try strings(from: name) }
        guard hasAttribute(name + "0") else { return nil }
        var all: [String] = []
        var i = 0
        while hasAttribute("\(name)\(i)") {
            all += try strings(from: "\(name)\(i)")
            i += 1
        }
        return all
    }

    /// The scalar string `name` (a one-element array is accepted too), or nil when absent.
    public func stringAttribute(_ name: String) throws -> String? {
        switch try attribute(name) {
        case nil: return nil
        case .string(let s): return s
        case .strings(let a) where a.count == 1: return a[0]
        case let other?: throw error("attribute '\(name)': expected a string, found \(other.kind)")
        }
    }

    private func strings(from name: String) throws -> [String] {
        switch try attribute(name) {
        case .strings(let a): return a
        case .string(let s): return [s]
        case .numbers(let a) where a.isEmpty: return []
        case .integers(let a) where a.isEmpty: return []
        case let other: throw error("attribute '\(name)': expected an array of strings, found \(other?.kind ?? "nothing")")
        }
    }

    private func readVariableStrings(_ attr: HDF5Handle, _ type: HDF5Handle, _ space: HDF5Handle, _ count: Int,
                                     _ fail: (String) -> WeightFileError) throws -> [String] {
        guard let memory = HDF5Handle(H5Tcopy(convzoo_h5t_c_s1()), close: H5Tclose),
              H5Tset_size(memory.id, convzoo_h5t_variable()) >= 0,
              H5Tset_cset(memory.id, H5Tget_cset(type.id)) >= 0 else { throw fail("string type") }
        try HDF5GlobalHeap.checkReferences(of: attr, count: count, in: file) { fail($0) }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        guard count == 0 || H5Aread(attr.id, memory.id, &pointers) >= 0 else { throw fail("variable-length strings") }
        let strings = pointers.map { $0.map { decodeUTF8(UnsafeRawPointer($0), strlen($0)) } ?? "" }
        if count > 0 { H5Dvlen_reclaim(memory.id, space.id, convzoo_h5p_default(), &pointers) }
        return strings
    }

    private func readFixedStrings(_ attr: HDF5Handle, _ type: HDF5Handle, _ count: Int,
                                  _ fail: (String) -> WeightFileError) throws -> [String] {
        let size = H5Tget_size(type.id)
        guard size > 0 else { throw fail("zero-size string type") }
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard count == 0 || H5Aread(attr.id, type.id, &bytes) >= 0 else { throw fail("fixed-length strings") }
        let spacePadded = H5Tget_strpad(type.id) == H5T_STR_SPACEPAD
        return (0..<count).map { i in
            var element = bytes[(i * size)..<((i + 1) * size)]
            if let nul = element.firstIndex(of: 0) { element = element[..<nul] }
            if spacePadded { while element.last == 0x20 { element = element.dropLast() } }
            return String(decoding: element, as: UTF8.self)
        }
    }
}

private func decodeUTF8(_ p: UnsafeRawPointer, _ count: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(start: p, count: count), as: UTF8.self)
}

extension AttributeValue {
    /// What kind of value this is, for error messages.
    var kind: String {
        switch self {
        case .string: return "a string"
        case .strings: return "an array of strings"
        case .integers: return "integers"
        case .numbers: return "numbers"
        case .unsupported(let what): return what
        }
    }
}
