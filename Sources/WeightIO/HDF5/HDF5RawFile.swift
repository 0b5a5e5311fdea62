import Foundation

/// An HDF5 file's own bytes, read without libhdf5, for the checks libhdf5 1.10 leaves out before
/// it allocates or loops on what a file says (see `checkObjectHeader` and `HDF5GlobalHeap`).
///
/// Addresses are relative to the superblock, as HDF5 counts them.
final class HDF5RawFile {
    let file: ReadOnlyFile
    /// Where address 0 is in the file: the superblock's offset (after a user block).
    let base: Int
    /// Bytes of an address and of a length (2, 4 or 8; 8 in every file h5py writes).
    let addressSize: Int
    let sizeSize: Int
    let rootHeader: UInt64
    /// The superblock extension's object header (superblock version 2 and 3), when there is one.
    let extensionHeader: UInt64?

    /// Chunks of one object header larger than this are refused (libhdf5 caps a message at 64 KB).
    static let maxChunkBytes = 1 << 26

    /// Reads the superblock of `url` (at 0, 512, 1024, ... bytes: the signature).
    init(_ url: URL, name: String) throws {
        let file = try ReadOnlyFile(url, name: name)
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var at = 0
        while at + 8 <= file.size, try file.bytes(at: at, count: 8) != signature {
            at = at == 0 ? 512 : at * 2
        }
        guard at + 8 <= file.size else { throw file.error("/", "has no HDF5 superblock") }
        let head = try file.bytes(at: at, count: min(96, file.size - at))
        func damaged(_ what: String) -> WeightFileError { file.error("/", "has a damaged superblock (\(what))") }
        guard head.count > 16 else { throw damaged("truncated") }
        let version = head[8]
        let (addressSize, sizeSize) = version <= 1 ? (Int(head[13]), Int(head[14])) : (Int(head[9]), Int(head[10]))
        guard version <= 3 else { throw damaged("version \(version); expected 0 to 3") }
        guard [2, 4, 8].contains(addressSize), [2, 4, 8].contains(sizeSize) else {
            throw damaged("\(addressSize)-byte addresses and \(sizeSize)-byte lengths")
        }
        // Versions 0 and 1: base, free space, end of file and driver addresses, then the root's
        // symbol table entry (link name offset, object header address). Versions 2 and 3: base,
        // superblock extension, end of file and root object header addresses.
        let fields = version == 0 ? 24 : version == 1 ? 28 : 12
        let addresses = version <= 1 ? 6 : 4
        guard fields + addresses * addressSize <= head.count else { throw damaged("truncated") }
        var reader = LittleEndian(head, at: fields)
        let values = (0..<addresses).map { _ in reader.read(addressSize) }
        self.file = file
        self.base = at
        self.addressSize = addressSize
        self.sizeSize = sizeSize
        rootHeader = values[addresses - 1]
        extensionHeader = version <= 1 || values[1] == HDF5RawFile.undefined(addressSize) ? nil : values[1]
    }

    /// The "undefined address" (all bits set) for `width`-byte addresses.
    static func undefined(_ width: Int) -> UInt64 { width == 8 ? .max : (1 << UInt64(8 * width)) - 1 }

    /// How many bytes lie at and after `address`, or nil when it is past the end of the file.
    func room(at address: UInt64) -> UInt64? {
        let end = UInt64(file.size - base)
        return address < end ? end - address : nil
    }

    /// `count` bytes at `address`, which the caller has checked lie in the file.
    func bytes(at address: UInt64, count: Int, path: String) throws -> [UInt8] {
        try file.bytes(at: base + Int(address), count: count, path: path)
    }

    /// Checks the object header at `address` (of the object at `path`) before libhdf5 loads it:
    /// every chunk it continues into must lie inside the file, be of a sane size and come once.
    /// libhdf5 1.10 allocates a continuation chunk at the length the file gives, unchecked (a
    /// length of 5e18 bytes is a malloc of 5e18 bytes).
    func checkObjectHeader(at address: UInt64, path: String) throws {
        func damaged(_ what: String) -> WeightFileError {
            file.error(path, "has a damaged object header at byte \(address): \(what); the file is damaged")
        }
        guard let room = room(at: address), room >= 16 else { throw damaged("it lies past the end of the file") }
        let prefix = try bytes(at: address, count: Int(min(room, 40)), path: path)
        let isVersion2 = prefix.starts(with: Array("OHDR".utf8))
        // Each chunk's messages: (start, length); the first chunk's come after the prefix.
        var chunks: [(start: UInt64, length: UInt64)] = []
        var messageCreationOrder = false
        if isVersion2 {
            guard prefix[4] == 2 else { throw damaged("version \(prefix[4]) after OHDR; expected 2") }
            let flags = prefix[5]
            messageCreationOrder = flags & 0x04 != 0
            var at = 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
            let width = 1 << Int(flags & 0x03)
            guard prefix.count >= at + width else { throw damaged("it lies past the end of the file") }
            var reader = LittleEndian(prefix, at: at)
            let length = reader.read(width)
            at += width
            chunks.append((address + UInt64(at), length))
        } else {
            guard prefix[0] == 1 else { throw damaged("no known version (\(prefix[0]))") }
            var reader = LittleEndian(prefix, at: 8)
            chunks.append((address + 16, reader.read(4)))
        }
        var seen: Set<UInt64> = [address]
        var index = 0
        while index < chunks.count {
            let (start, length) = chunks[index]
            index += 1
            // Version 2 chunks end in a 4-byte checksum; continuation chunks start with OCHK.
            let checksum: UInt64 = isVersion2 ? 4 : 0
            guard let room = self.room(at: start), length <= room, room - length >= checksum,
                  length <= UInt64(HDF5RawFile.maxChunkBytes) else {
                throw damaged("a chunk of \(length) bytes at byte \(start) runs past the end of the file "
                              + "(\(file.size - base) bytes) or past \(HDF5RawFile.maxChunkBytes) bytes")
            }
            let bytes = try self.bytes(at: start, count: Int(length), path: path)
            var p = index == 1 || !isVersion2 ? 0 : 4
            if index > 1 && isVersion2 {
                guard bytes.starts(with: Array("OCHK".utf8)) else { throw damaged("a continuation chunk without OCHK") }
            }
            let end = bytes.count - (index > 1 ? Int(checksum) : 0)
            let header = isVersion2 ? 4 + (messageCreationOrder ? 2 : 0) : 8
            while end - p >= header {
                var reader = LittleEndian(bytes, at: p)
                let type = isVersion2 ? reader.read(1) : reader.read(2)
                let size = Int(reader.read(2))
                guard size <= end - p - header else {
                    throw damaged("a message of \(size) bytes at byte \(start + UInt64(p)) runs past its chunk")
                }
                if type == 0x10 {  // continuation: the next chunk's address and length
                    guard size >= addressSize + sizeSize else { throw damaged("a continuation message too short") }
                    var data = LittleEndian(bytes, at: p + header)
                    let next = data.read(addressSize), nextLength = data.read(sizeSize)
                    guard seen.insert(next).inserted, chunks.count < 100_000 else {
                        throw damaged("its chunks continue in a loop (byte \(next) again)")
                    }
                    chunks.append((next, nextLength))
                } else if type == 0x0C {  // an attribute stored in the header
                    if let problem = attributeProblem(Array(bytes[(p + header)..<(p + header + size)])) {
                        throw damaged("an attribute message at byte \(start + UInt64(p)) \(problem)")
                    }
                } else if type == 0x15 {  // attribute info: where dense attribute storage is, if any
                    guard size >= 2 else { throw damaged("an attribute info message too short") }
                    let heapAt = p + header + 2 + (bytes[p + header + 1] & 0x01 != 0 ? 2 : 0)
                    guard heapAt + addressSize <= p + header + size else { throw damaged("an attribute info message too short") }
                    var data = LittleEndian(bytes, at: heapAt)
                    // libhdf5 would walk a fractal heap and B-trees unchecked; h5py and Keras never write them.
                    guard data.read(addressSize) == HDF5RawFile.undefined(addressSize) else {
                        throw damaged("its attributes are in dense storage (a fractal heap), which h5py and Keras "
                                      + "do not write and ConvZoo does not read")
                    }
                } else if type == 0x11 {  // symbol table: the group's B-tree and local heap
                    guard size >= 2 * addressSize else { throw damaged("a symbol table message too short") }
                    var data = LittleEndian(bytes, at: p + header + addressSize)
                    try checkLocalHeap(at: data.read(addressSize), path: path)
                }
                p += header + size
            }
        }
    }

    /// What is wrong with an attribute message, or nil. libhdf5 1.10 decodes every attribute of an
    /// object to list or find one, and when one fails to decode it frees a half-built table and
    /// crashes (found by `tools/fuzz.sh keras-h5`: segmentation faults in `H5Aiterate2` after a
    /// damaged dataspace, then after a datatype of an unknown version). So only what weight files
    /// hold passes: its name, datatype, dataspace and values fit in the message; the datatype is an
    /// integer, an IEEE float, or a fixed- or variable-length string (`datatypeProblem`); nothing shared.
    func attributeProblem(_ message: [UInt8]) -> String? {
        guard message.count >= 8 else { return "is too short" }
        var reader = LittleEndian(message, at: 0)
        let version = Int(reader.read(1)), flags = reader.read(1)
        let nameSize = Int(reader.read(2)), typeSize = Int(reader.read(2)), spaceSize = Int(reader.read(2))
        guard (1...3).contains(version) else { return "has no known version (\(version))" }
        // Version 1 has a reserved byte there; later ones flag a shared datatype or dataspace, which
        // weight files do not use.
        guard version == 1 || flags == 0 else { return "has flags \(flags); expected 0 (nothing shared)" }
        if version == 3 { _ = reader.read(1) }  // the name's character set
        // Version 1 pads each part to 8 bytes.
        func padded(_ n: Int) -> Int { version == 1 ? (n + 7) / 8 * 8 : n }
        let nameAt = reader.position, typeAt = nameAt + padded(nameSize), spaceAt = typeAt + padded(typeSize)
        let dataAt = spaceAt + padded(spaceSize)
        guard nameSize >= 1, dataAt <= message.count else {
            return "holds parts of \(nameSize), \(typeSize) and \(spaceSize) bytes in \(message.count)"
        }
        guard message[nameAt + nameSize - 1] == 0 else { return "has a name that does not end" }
        let type = Array(message[typeAt..<(typeAt + typeSize)])
        if let problem = HDF5RawFile.datatypeProblem(type) { return "has \(problem)" }
        // A variable-length value is stored as its length and its global heap reference.
        var typeReader = LittleEndian(type, at: 4)
        let elementSize = type[0] & 0x0F == 9 ? UInt64(8 + addressSize) : typeReader.read(4)
        guard let elements = dataspaceElements(Array(message[spaceAt..<(spaceAt + spaceSize)])) else {
            return "has a damaged dataspace"
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes <= UInt64(message.count - dataAt) else {
            return "claims \(elements) values of \(elementSize) bytes in \(message.count - dataAt)"
        }
        return nil
    }

    /// What is wrong with a datatype message for an attribute's values, or nil for the kinds weight files
    /// hold (h5py writes them all in datatype version 1): integers of 1, 2, 4 or 8 whole bytes; IEEE
    /// half, single and double floats; fixed-length strings; variable-length strings of 1-byte characters.
    static func datatypeProblem(_ type: [UInt8], variableLengthBase: Bool = false) -> String? {
        guard type.count >= 8 else { return "a datatype too short" }
        let typeClass = type[0] & 0x0F, version = type[0] >> 4
        guard (1...3).contains(version) else { return "a datatype of no known version (\(version))" }
        var reader = LittleEndian(type, at: 1)
        let bits = reader.read(3), size = reader.read(4)
        switch typeClass {
        case 0:  // fixed-point: bit offset and precision
            guard type.count >= 12, [1, 2, 4, 8].contains(size) else { return "an integer type of \(size) bytes" }
            let offset = reader.read(2), precision = reader.read(2)
            guard offset == 0, precision == 8 * size else { return "an integer type of \(precision) bits at bit \(offset)" }
        case 1:  // floating-point: sign location in the class bits, then the IEEE layout
            guard !variableLengthBase, type.count >= 20 else { return "a floating-point type too short" }
            let layout = (0..<6).map { reader.read($0 < 2 ? 2 : 1) }, bias = reader.read(4)
            let sign = (bits >> 8) & 0xFF, vax = bits & 0x41 == 0x41
            let ieee: [UInt64: ([UInt64], UInt64, UInt64)] = [
                2: ([0, 16, 10, 5, 0, 10], 15, 15), 4: ([0, 32, 23, 8, 0, 23], 127, 31), 8: ([0, 64, 52, 11, 0, 52], 1023, 63),
            ]
            guard !vax, (bits >> 4) & 0x03 == 2, let expected = ieee[size], layout == expected.0, bias == expected.1,
                  sign == expected.2 else { return "a floating-point type of \(size) bytes that is not IEEE 754" }
        case 3:  // string: padding and character set
            guard size >= 1, bits & 0x0F <= 2, (bits >> 4) & 0x0F <= 1 else { return "a damaged string type" }
        case 9 where !variableLengthBase:  // variable-length string, then its base type (1-byte characters)
            guard bits & 0x0F == 1, (bits >> 4) & 0x0F <= 2, (bits >> 8) & 0x0F <= 1 else {
                return "a variable-length type that is not a string"
            }
            let base = Array(type[8...])
            if let problem = datatypeProblem(base, variableLengthBase: true) { return problem }
            // libhdf5 converts a variable-length value through a buffer of its length times its
            // base type's size, as the file gives it (found by the fuzzer: a 5 GB buffer).
            var baseReader = LittleEndian(base, at: 4)
            guard base[0] & 0x0F == 0 || base[0] & 0x0F == 3, baseReader.read(4) == 1 else {
                return "a variable-length string whose characters are not single bytes"
            }
        default:
            return "a datatype of class \(typeClass), which weight files do not use"
        }
        return nil
    }

    /// How many elements a dataspace message holds, or nil when it is damaged: versions 1 and 2,
    /// at most 32 dimensions, current (and maximum) sizes inside the message, a product that fits.
    func dataspaceElements(_ space: [UInt8]) -> UInt64? {
        guard space.count >= 4 else { return nil }
        let version = space[0], rank = Int(space[1]), flags = space[2]
        // Version 2 says scalar (0, no dimensions), simple (1) or null (2, no values).
        let kind = version == 2 ? space[3] : rank == 0 ? 0 : 1
        guard (1...2).contains(version), rank <= 32, flags & ~1 == 0, kind <= 2, (kind == 1) == (rank > 0) else {
            return nil
        }
        let dimsAt = version == 1 ? 8 : 4
        guard dimsAt + rank * sizeSize * (flags & 1 == 0 ? 1 : 2) <= space.count else { return nil }
        var elements: UInt64 = kind == 2 ? 0 : 1
        var dims = LittleEndian(space, at: dimsAt)
        for _ in 0..<rank {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dims.read(sizeSize))
            guard !overflow else { return nil }
            elements = product
        }
        return elements
    }

    /// Checks a group's local heap (its member names) before libhdf5 loads it: libhdf5 1.10
    /// allocates the heap's data segment at the size the file gives, unchecked (found by
    /// `tools/fuzz.sh keras3`: a size of 2^64 - 168 bytes, a malloc of about 2^64 bytes).
    func checkLocalHeap(at address: UInt64, path: String) throws {
        func damaged(_ what: String) -> WeightFileError {
            file.error(path, "has a damaged local heap (its member names) at byte \(address): \(what); the file is damaged")
        }
        let length = 8 + 2 * sizeSize + addressSize
        guard let room = room(at: address), room >= UInt64(length) else { throw damaged("it lies past the end of the file") }
        let prefix = try bytes(at: address, count: length, path: path)
        guard prefix.starts(with: Array("HEAP".utf8)), prefix[4] == 0 else {
            throw damaged("no HEAP signature of version 0")
        }
        var reader = LittleEndian(prefix, at: 8)
        let size = reader.read(sizeSize), freeList = reader.read(sizeSize), data = reader.read(addressSize)
        guard size <= UInt64(HDF5RawFile.maxChunkBytes), let dataRoom = self.room(at: data), size <= dataRoom else {
            throw damaged("a data segment of \(size) bytes at byte \(data) runs past the end of the file "
                          + "(\(file.size - base) bytes) or past \(HDF5RawFile.maxChunkBytes) bytes")
        }
        // libhdf5 1.10 walks the free list unchecked for loops, allocating a record per block (found
        // by `tools/fuzz.sh keras3`: a block that names itself as the next, and 1 GB of records), and
        // reads each block's two fields without checking they lie in the heap.
        // The list ends at offset 1 (libhdf5's H5HL_FREE_NULL; the format's text says the undefined address).
        var block = freeList, visited: Set<UInt64> = []
        while block != 1 && block != HDF5RawFile.undefined(sizeSize) {
            guard block <= size, size - block >= UInt64(2 * sizeSize) else {
                throw damaged("a free block at \(block) lies outside its \(size) bytes")
            }
            guard visited.insert(block).inserted, visited.count <= 100_000 else {
                throw damaged("its free list runs in a loop (block \(block) again)")
            }
            var fields = LittleEndian(try bytes(at: data + block, count: 2 * sizeSize, path: path), at: 0)
            let next = fields.read(sizeSize), length = fields.read(sizeSize)
            guard next != 0, length <= size - block else {
                throw damaged("a free block at \(block) of \(length) bytes is damaged")
            }
            block = next
        }
    }
}

/// Little-endian unsigned fields of 1, 2, 4 or 8 bytes from a byte array.
struct LittleEndian {
    let bytes: [UInt8]
    var position: Int

    init(_ bytes: [UInt8], at position: Int) {
        self.bytes = bytes
        self.position = position
    }

    mutating func read(_ width: Int) -> UInt64 {
        var value: UInt64 = 0
        for k in 0..<width { value |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
        position += width
        return value
    }
}
