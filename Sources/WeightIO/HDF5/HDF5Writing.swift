import CHDF5
import Engine
import Foundation

extension HDF5Group {
    /// Creates the group `relativePath`, and any missing groups above it.
    @discardableResult
    public func createGroup(_ relativePath: String) throws -> HDF5Group {
        try HDF5Library.serialized {
            try createMissingGroups(relativePath)
            guard let h = HDF5Handle(H5Gopen2(handle.id, relativePath, convzoo_h5p_default()), close: H5Gclose) else {
                throw WeightFileError(file: file.name, path: childPath(relativePath),
                                      HDF5Library.withDetail("cannot open the group just created"))
            }
            return HDF5Group(file: file, path: childPath(relativePath), handle: h)
        }
    }

    /// Creates each group along `relativePath` that does not exist yet, one at a time, so that
    /// every one of them gets the untimed creation list.
    private func createMissingGroups(_ relativePath: String) throws {
        let gcpl = try untimed(convzoo_h5p_group_create())
        var path = ""
        for part in relativePath.split(separator: "/") {
            path += (path.isEmpty ? "" : "/") + part
            if H5Lexists(handle.id, path, convzoo_h5p_default()) > 0 { continue }
            guard let g = HDF5Handle(H5Gcreate2(handle.id, path, convzoo_h5p_default(), gcpl.id, convzoo_h5p_default()),
                                     close: H5Gclose) else {
                throw WeightFileError(file: file.name, path: childPath(path), HDF5Library.withDetail("cannot create the group"))
            }
            _ = g
        }
    }

    /// An object-creation property list without modification times, so that the same weights
    /// always give the same bytes (HDF5 would stamp every group and dataset with the clock).
    private func untimed(_ propertyListClass: hid_t) throws -> HDF5Handle {
        guard let plist = HDF5Handle(H5Pcreate(propertyListClass), close: H5Pclose),
              H5Pset_obj_track_times(plist.id, false) >= 0 else {
            throw error(HDF5Library.withDetail("cannot make an object-creation property list"))
        }
        return plist
    }

    /// Creates a little-endian float32 dataset at `relativePath` (missing groups above it too)
    /// holding `tensor`, a scalar dataspace for shape `[]`.
    @discardableResult
    public func createDataset(_ relativePath: String, _ tensor: Tensor) throws -> HDF5Dataset {
        try createDataset(relativePath, shape: tensor.shape) { ds, space, target in
            if tensor.count > 0 { try write(tensor, to: ds, space: space, path: target) }
        }
    }

    /// Creates a float32 dataset of `shape` (rank 1 or more) at `relativePath` whose rows (the first
    /// axis) `fill` hands over in order, a slice at a time: each tensor it passes to the writer it
    /// is given holds the next rows (rows, ...shape[1...]). Throws unless exactly `shape[0]` rows
    /// came; memory holds one slice, not the dataset.
    @discardableResult
    public func createDataset(_ relativePath: String, shape: [Int],
                              rows fill: ((Tensor) throws -> Void) throws -> Void) throws -> HDF5Dataset {
        try createDataset(relativePath, shape: shape) { ds, space, target in
            var row = 0
            try fill { slice in
                let rowShape = Array(shape.dropFirst())
                guard slice.rank == shape.count, Array(slice.shape.dropFirst()) == rowShape, row + slice.shape[0] <= shape[0]
                else {
                    throw WeightFileError(file: file.name, path: target, "rows of shape \(slice.shape) after \(row) rows do not "
                        + "fit a dataset of shape \(shape)")
                }
                try write(slice, to: ds, space: space, path: target, at: row)
                row += slice.shape[0]
            }
            guard row == shape.first ?? 0 else {
                throw WeightFileError(file: file.name, path: target, "\(row) rows written to a dataset of shape \(shape)")
            }
        }
    }

    /// Creates the dataset of `shape` and fills it with `fill` (its handle, dataspace and path).
    private func createDataset(_ relativePath: String, shape: [Int],
                               fill: (HDF5Handle, HDF5Handle, String) throws -> Void) throws -> HDF5Dataset {
        let target = childPath(relativePath)
        return try HDF5Library.serialized {
            let parent = relativePath.split(separator: "/").dropLast().joined(separator: "/")
            if !parent.isEmpty { try createMissingGroups(parent) }
            let dcpl = try untimed(convzoo_h5p_dataset_create())
            let dims = shape.map { hsize_t($0) }
            guard let space = HDF5Handle(dims.isEmpty ? H5Screate(H5S_SCALAR)
                                                      : H5Screate_simple(Int32(dims.count), dims, nil), close: H5Sclose),
                  let ds = HDF5Handle(H5Dcreate2(handle.id, relativePath, convzoo_h5t_ieee_f32le(), space.id,
                                                 convzoo_h5p_default(), dcpl.id, convzoo_h5p_default()), close: H5Dclose) else {
                throw WeightFileError(file: file.name, path: target,
                                      HDF5Library.withDetail("cannot create a dataset of shape \(shape)"))
            }
            try fill(ds, space, target)
            return try HDF5Dataset(file: file, path: target, dataset: ds)
        }
    }


    /// Writes `tensor` into `dataset` from row `first` on (first axis), straight from its storage, in
    /// slices of whole rows of at most the file's `sliceBytes`, reporting each to its `afterSlice`.
    private func write(_ tensor: Tensor, to dataset: HDF5Handle, space: HDF5Handle, path: String, at first: Int = 0) throws {
        let rows = tensor.shape.first ?? 1
        let rowCount = tensor.count / max(rows, 1)
        let rowsPerSlice = max(1, min(rows, file.sliceBytes / max(1, rowCount * 4)))
        var dims = tensor.shape.map { hsize_t($0) }
        var row = 0
        while row < rows {
            let n = min(rowsPerSlice, rows - row)
            let ok: Bool
            if (n == rows && first == 0 && Int(H5Sget_simple_extent_npoints(space.id)) == tensor.count) || dims.isEmpty {
                ok = H5Dwrite(dataset.id, convzoo_h5t_native_float(), convzoo_h5s_all(), convzoo_h5s_all(),
                              convzoo_h5p_default(), tensor.data) >= 0
            } else {
                var start = [hsize_t](repeating: 0, count: dims.count), count = dims
                start[0] = hsize_t(first + row)
                count[0] = hsize_t(n)
                dims[0] = hsize_t(n)
                guard let memory = HDF5Handle(H5Screate_simple(Int32(dims.count), dims, nil), close: H5Sclose),
                      H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start, nil, count, nil) >= 0 else {
                    throw WeightFileError(file: file.name, path: path, HDF5Library.withDetail("cannot select rows \(row)..<\(row + n)"))
                }
                ok = H5Dwrite(dataset.id, convzoo_h5t_native_float(), memory.id, space.id, convzoo_h5p_default(),
                              tensor.data + row * rowCount) >= 0
            }
            guard ok else { throw WeightFileError(file: file.name, path: path, HDF5Library.withDetail("cannot write the data")) }
            row += n
            file.dataBytesWritten += n * rowCount * 4
            file.afterSlice?(file.dataBytesWritten)
        }
    }
}

extension HDF5Object {
    /// Sets attribute `name` (replacing one of that name). Strings are stored fixed-length and
    /// NUL-padded, as NumPy's `S` arrays that Keras writes, except a string too long for HDF5's
    /// 64 KB attribute message (a full model's `model_config`), stored as h5py stores a `str`:
    /// variable-length UTF-8 in the file's heap. An empty string array is stored as an empty
    /// float64 array, as Keras stores a layer's empty `weight_names`.
    public func setAttribute(_ name: String, _ value: AttributeValue) throws {
        try HDF5Library.serialized {
            if H5Aexists(handle.id, name) > 0 { H5Adelete(handle.id, name) }
            switch value {
            case .string(let s) where s.utf8.count > kerasAttributeLimit:
                try writeVariableString(name, s)
            case .string(let s):
                try writeStrings(name, [s], scalar: true)
            case .strings(let a) where a.isEmpty:
                try writeNumbers(name, [Double](), fileType: convzoo_h5t_ieee_f64le(), memoryType: convzoo_h5t_native_double())
            case .strings(let a):
                try writeStrings(name, a, scalar: false)
            case .integers(let a):
                try writeNumbers(name, a.map { Int64($0) }, fileType: convzoo_h5t_std_i64le(), memoryType: convzoo_h5t_native_llong())
            case .numbers(let a):
                try writeNumbers(name, a, fileType: convzoo_h5t_ieee_f64le(), memoryType: convzoo_h5t_native_double())
            case .unsupported(let what):
                throw error("cannot write attribute '\(name)' of unsupported type \(what)")
            }
        }
    }

    /// Sets the string array `name` the way Keras does: one attribute while it fits in HDF5's
    /// object header, otherwise `name0`, `name1`, ... in as few equal chunks as fit.
    public func setStringArray(_ name: String, _ values: [String]) throws {
        let width = max(1, values.map { $0.utf8.count }.max() ?? 1)
        guard width <= kerasAttributeLimit else {
            throw error("attribute '\(name)': a string of \(width) bytes cannot be stored "
                        + "(expected at most \(kerasAttributeLimit) bytes)")
        }
        var chunks = 1
        while ((values.count + chunks - 1) / chunks) * width > kerasAttributeLimit { chunks += 1 }
        if chunks == 1 { return try setAttribute(name, .strings(values)) }
        // numpy.array_split: the first count % chunks pieces are one longer.
        var start = 0
        for i in 0..<chunks {
            let length = values.count / chunks + (i < values.count % chunks ? 1 : 0)
            try HDF5Library.serialized {
                if H5Aexists(handle.id, "\(name)\(i)") > 0 { H5Adelete(handle.id, "\(name)\(i)") }
                try writeStrings("\(name)\(i)", Array(values[start..<(start + length)]), scalar: false, width: width)
            }
            start += length
        }
    }

    private func writeStrings(_ name: String, _ values: [String], scalar: Bool, width: Int? = nil) throws {
        let utf8 = values.map { Array($0.utf8) }
        let size = width ?? max(1, utf8.map(\.count).max() ?? 1)
        var bytes = [UInt8](repeating: 0, count: size * values.count)
        for (i, s) in utf8.enumerated() { bytes.replaceSubrange((i * size)..<(i * size + s.count), with: s) }
        let ascii = utf8.allSatisfy { $0.allSatisfy { $0 < 0x80 } }
        var dims = [hsize_t(values.count)]
        guard let type = HDF5Handle(H5Tcopy(convzoo_h5t_c_s1()), close: H5Tclose),
              H5Tset_size(type.id, size) >= 0, H5Tset_strpad(type.id, H5T_STR_NULLPAD) >= 0,
              H5Tset_cset(type.id, ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8) >= 0,
              let space = HDF5Handle(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil), close: H5Sclose),
              let attr = HDF5Handle(H5Acreate2(handle.id, name, type.id, space.id, convzoo_h5p_default(),
                                               convzoo_h5p_default()), close: H5Aclose),
              H5Awrite(attr.id, type.id, bytes) >= 0 else {
            throw error(HDF5Library.withDetail("cannot write string attribute '\(name)'"))
        }
    }

    private func writeVariableString(_ name: String, _ value: String) throws {
        let written: Bool = value.withCString { chars in
            var pointer: UnsafePointer<CChar>? = chars
            guard let type = HDF5Handle(H5Tcopy(convzoo_h5t_c_s1()), close: H5Tclose),
                  H5Tset_size(type.id, convzoo_h5t_variable()) >= 0, H5Tset_cset(type.id, H5T_CSET_UTF8) >= 0,
                  let space = HDF5Handle(H5Screate(H5S_SCALAR), close: H5Sclose),
                  let attr = HDF5Handle(H5Acreate2(handle.id, name, type.id, space.id, convzoo_h5p_default(),
                                                   convzoo_h5p_default()), close: H5Aclose) else { return false }
            return H5Awrite(attr.id, type.id, &pointer) >= 0
        }
        guard written else { throw error(HDF5Library.withDetail("cannot write string attribute '\(name)'")) }
    }

    private func writeNumbers<T>(_ name: String, _ values: [T], fileType: hid_t, memoryType: hid_t) throws {
        var dims = [hsize_t(values.count)]
        guard let space = HDF5Handle(H5Screate_simple(1, &dims, nil), close: H5Sclose),
              let attr = HDF5Handle(H5Acreate2(handle.id, name, fileType, space.id, convzoo_h5p_default(),
                                               convzoo_h5p_default()), close: H5Aclose),
              values.isEmpty || values.withUnsafeBytes({ H5Awrite(attr.id, memoryType, $0.baseAddress) }) >= 0 else {
            throw error(HDF5Library.withDetail("cannot write attribute '\(name)'"))
        }
    }
}
