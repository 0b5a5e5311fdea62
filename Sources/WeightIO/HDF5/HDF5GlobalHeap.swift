import CHDF5
import Foundation

/// The checks libhdf5 1.10 leaves out before it reads a variable-length string.
///
/// A variable-length string attribute stores, per string, its length and a reference (collection
/// address, object index) into a global heap collection elsewhere in the file. libhdf5 trusts the
/// collection it finds there: a free-space object of size 0 makes its parser loop forever (h5py's
/// libhdf5 2.0 too), a collection claiming 5e18 bytes makes it ask malloc for that much, and an
/// object running past its collection or longer than its string makes it copy past its buffers.
///
/// So before libhdf5 reads such an attribute, its references are taken from the attribute's own
/// bytes (an identity conversion to a tagged opaque type, which keeps libhdf5 out of the heap),
/// and every collection they point at is walked here exactly as libhdf5 1.10 walks it
/// (`H5HG__cache_heap_deserialize`): anything it could not walk safely is refused.
enum HDF5GlobalHeap {
    /// Collections larger than this are refused (h5py writes 4 KB ones, or one just big enough for
    /// a longer string; a 153 KB `model_config` is the largest a weight file holds).
    static let maxCollectionBytes = 1 << 28

    /// Checks what the variable-length string attribute `attr` (`count` strings) points at.
    static func checkReferences(of attr: HDF5Handle, count: Int, in file: HDF5File,
                                fail: (String) -> WeightFileError) throws {
        guard count > 0, let layout = file.raw else { return }
        // On disk each string is its length (4 bytes), the collection's address and the index (4 bytes).
        let elementSize = 8 + layout.addressSize
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, H5Aget_storage_size(attr.id) == UInt64(bytes) else {
            throw fail("its \(count) string references do not fit its stored size; the file is damaged")
        }
        guard registered, let opaque = HDF5Handle(H5Tcreate(H5T_OPAQUE, elementSize), close: H5Tclose),
              H5Tset_tag(opaque.id, referenceTag) >= 0 else { throw fail("cannot set up reading string references") }
        var raw = [UInt8](repeating: 0, count: bytes)
        guard H5Aread(attr.id, opaque.id, &raw) >= 0 else { throw fail("cannot read its string references") }

        var collections: [UInt64: [UInt32: UInt64]] = [:]
        for i in 0..<count {
            var reader = LittleEndian(raw, at: i * elementSize)
            let length = reader.read(4)
            let address = reader.read(layout.addressSize)
            let index = UInt32(reader.read(4))
            if address == 0 { continue }  // a null string: libhdf5 reads nothing
            if collections[address] == nil {
                collections[address] = try objects(at: address, layout, fail: fail)
            }
            guard let size = collections[address]?[index] else {
                throw fail("string \(i) refers to object \(index) of the global heap collection at byte "
                           + "\(address), which has no such object; the file is damaged")
            }
            guard size == length else {
                throw fail("string \(i) is \(length) bytes long but its global heap object at byte \(address) "
                           + "holds \(size); the file is damaged")
            }
        }
    }

    /// The objects (index: size) of the collection at `address`, walked as libhdf5 walks it.
    private static func objects(at address: UInt64, _ layout: HDF5RawFile,
                                fail: (String) -> WeightFileError) throws -> [UInt32: UInt64] {
        func damaged(_ what: String) -> WeightFileError {
            fail("the global heap collection at byte \(address) holding its strings \(what); the file is damaged")
        }
        let headerSize = align(8 + layout.sizeSize)  // "GCOL", version, 3 reserved bytes, size
        let objectHeaderSize = 8 + layout.sizeSize  // index, reference count, 4 reserved bytes, size
        guard let room = layout.room(at: address), room >= UInt64(headerSize) else {
            throw damaged("lies past the end of the file (\(layout.file.size) bytes)")
        }
        let header = try layout.bytes(at: address, count: headerSize, path: "/")
        guard header.starts(with: Array("GCOL".utf8)), header[4] == 1 else {
            throw damaged("has no collection signature")
        }
        var headerReader = LittleEndian(header, at: 8)
        let size = headerReader.read(layout.sizeSize)
        guard size >= UInt64(headerSize), size <= room else {
            throw damaged("says it is \(size) bytes long, past the end of the file (\(layout.file.size) bytes)")
        }
        guard size <= UInt64(maxCollectionBytes) else {
            throw damaged("says it is \(size) bytes long; at most \(maxCollectionBytes) bytes are read")
        }
        let chunk = try layout.bytes(at: address, count: Int(size), path: "/")
        var objects: [UInt32: UInt64] = [:]
        var p = headerSize
        while p < chunk.count {
            // libhdf5 takes a tail too short for an object header as free space.
            if chunk.count - p < objectHeaderSize { break }
            var reader = LittleEndian(chunk, at: p)
            let index = UInt32(reader.read(2))
            _ = reader.read(6)  // reference count, reserved
            let objectSize = reader.read(layout.sizeSize)
            let room = UInt64(chunk.count - p)
            // An object's storage is its header and its data padded to 8 bytes; free space (index 0)
            // counts its own header. One that needs no room would make libhdf5 loop forever.
            guard objectSize <= room else {
                throw damaged("has an object of \(objectSize) bytes at byte \(p), past its end (\(size) bytes)")
            }
            let need = index == 0 ? objectSize : UInt64(objectHeaderSize) + UInt64(align(Int(objectSize)))
            guard need >= UInt64(objectHeaderSize), need <= room else {
                throw damaged("has an object at byte \(p) whose size (\(objectSize) bytes) "
                              + (need > room ? "runs past its end (\(size) bytes)" : "is smaller than its own header"))
            }
            if index > 0 { objects[index] = objectSize }
            p += Int(need)
        }
        return objects
    }

    private static func align(_ n: Int) -> Int { (n + 7) & ~7 }

    // MARK: the identity conversion that yields the references

    static let referenceTag = "convzoo: variable-length string references"

    /// libhdf5 converts an attribute read into another type with a registered function; this one
    /// only accepts variable-length strings into the tagged opaque type, and leaves the bytes as stored.
    private static let registered: Bool = {
        guard let string = HDF5Handle(H5Tcopy(convzoo_h5t_c_s1()), close: H5Tclose),
              H5Tset_size(string.id, convzoo_h5t_variable()) >= 0,
              let opaque = HDF5Handle(H5Tcreate(H5T_OPAQUE, 1), close: H5Tclose) else { return false }
        return H5Tregister(H5T_PERS_SOFT, "convzoo string references", string.id, opaque.id, keepStoredBytes) >= 0
    }()

    private static let keepStoredBytes: H5T_conv_t = { source, destination, cdata, _, stride, _, _, _, _ in
        guard let cdata else { return -1 }
        switch cdata.pointee.command {
        case H5T_CONV_INIT:
            guard H5Tis_variable_str(source) > 0, H5Tget_class(destination) == H5T_OPAQUE,
                  let tag = H5Tget_tag(destination) else { return -1 }
            defer { H5free_memory(tag) }
            guard String(cString: tag) == referenceTag else { return -1 }
            cdata.pointee.need_bkg = H5T_BKG_NO
            return 0
        case H5T_CONV_CONV:
            // In place and packed: the stored bytes are the answer when the sizes agree.
            return stride == 0 && H5Tget_size(source) == H5Tget_size(destination) ? 0 : -1
        default:
            return 0
        }
    }
}
