import Foundation

/// NumPy `.npz` archives: a zip of `.npy` members, stored uncompressed, as `np.savez` writes them.
/// Member names carry the `.npy` suffix inside the zip and drop it here, as `np.load(f)[name]` does.
///
/// Checkpoints keep their tensors in a few of these rather than one file per tensor: each file
/// written durably costs an fsync (about 10 ms here), and a model has hundreds of weights.
/// Writes float32; reads what `NPY.decode` reads. Compressed (`savez_compressed`) and zip64
/// archives are refused with a message.
public enum NPZ {
    /// Writes `entries` in order, streaming one member at a time through `write`.
    public static func encode(_ entries: [(name: String, tensor: Tensor)], file: String = "<memory>",
                              write: (Data) throws -> Void) throws {
        var central = Data()
        var offset = 0
        for (name, tensor) in entries {
            let member = NPY.encode(tensor)
            let path = Array((name + ".npy").utf8)
            guard member.count < 0xFFFF_FFFF, offset < 0xFFFF_FFFF, path.count <= 0xFFFF else {
                throw NPY.FormatError(file: file, message: "member '\(name)' does not fit a zip32 archive (4 GiB)")
            }
            let crc = CRC32.checksum(member)
            var local = Data()
            local.appendLittleEndian(UInt32(0x0403_4B50))
            local.appendLittleEndian(UInt16(20))                 // version needed: 2.0
            local.appendLittleEndian(UInt16(0))                  // flags
            local.appendLittleEndian(UInt16(0))                  // stored
            local.appendLittleEndian(UInt16(0))                  // time 00:00
            local.appendLittleEndian(UInt16(0x21))               // date 1980-01-01
            local.appendLittleEndian(crc)
            local.appendLittleEndian(UInt32(member.count))
            local.appendLittleEndian(UInt32(member.count))
            local.appendLittleEndian(UInt16(path.count))
            local.appendLittleEndian(UInt16(0))                  // extra length
            local.append(contentsOf: path)

            central.appendLittleEndian(UInt32(0x0201_4B50))
            central.appendLittleEndian(UInt16(20))               // made by 2.0
            central.append(local[4..<26])                        // needed .. sizes, as in the local header
            central.appendLittleEndian(UInt16(path.count))
            central.append(contentsOf: [UInt8](repeating: 0, count: 12))  // extra, comment, disk, attributes
            central.appendLittleEndian(UInt32(offset))
            central.append(contentsOf: path)

            try write(local)
            try write(member)
            offset += local.count + member.count
        }
        guard entries.count < 0xFFFF, offset < 0xFFFF_FFFF else {
            throw NPY.FormatError(file: file, message: "\(entries.count) members do not fit a zip32 archive")
        }
        var end = Data()
        end.appendLittleEndian(UInt32(0x0605_4B50))
        end.appendLittleEndian(UInt32(0))                        // disk numbers
        end.appendLittleEndian(UInt16(entries.count))
        end.appendLittleEndian(UInt16(entries.count))
        end.appendLittleEndian(UInt32(central.count))
        end.appendLittleEndian(UInt32(offset))
        end.appendLittleEndian(UInt16(0))                        // comment length
        try write(central)
        try write(end)
    }

    /// The whole archive in memory.
    public static func encode(_ entries: [(name: String, tensor: Tensor)]) throws -> Data {
        var data = Data()
        try encode(entries) { data.append($0) }
        return data
    }

    /// The members of the archive at `url`, in archive order.
    public static func read(_ url: URL) throws -> [(name: String, tensor: Tensor)] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw NPY.FormatError(file: url.path, message: "cannot read file (\(unreadableReason(url, error)))")
        }
        return try decode(data, file: url.path)
    }

    public static func decode(_ data: Data, file: String = "<memory>") throws -> [(name: String, tensor: Tensor)] {
        func fail(_ m: String) -> NPY.FormatError { NPY.FormatError(file: file, message: m) }
        let bytes = [UInt8](data)
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        guard bytes.count >= 22,
              let end = stride(from: bytes.count - 22, through: max(0, bytes.count - 22 - 0xFFFF), by: -1)
                .first(where: { u32($0) == 0x0605_4B50 })
        else { throw fail("not a zip archive (no end-of-central-directory record)") }
        let count = u16(end + 10), directorySize = u32(end + 12), directoryStart = u32(end + 16)
        guard count != 0xFFFF, directoryStart != 0xFFFF_FFFF else { throw fail("zip64 archives are not supported") }
        guard directoryStart + directorySize <= end else { throw fail("truncated central directory") }
        var entries: [(name: String, tensor: Tensor)] = []
        var p = directoryStart
        for _ in 0..<count {
            guard p + 46 <= end, u32(p) == 0x0201_4B50 else { throw fail("corrupt central directory entry") }
            let method = u16(p + 10), crc = UInt32(u32(p + 16)), size = u32(p + 20)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            let localStart = u32(p + 42)
            guard p + 46 + nameLength <= end else { throw fail("corrupt central directory entry") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            p += 46 + nameLength + extraLength + commentLength
            guard method == 0 else {
                throw fail("member '\(name)' is compressed (method \(method)); save with np.savez, not savez_compressed")
            }
            guard size != 0xFFFF_FFFF, localStart + 30 <= bytes.count, u32(localStart) == 0x0403_4B50 else {
                throw fail("member '\(name)': zip64 or corrupt local header")
            }
            let dataStart = localStart + 30 + u16(localStart + 26) + u16(localStart + 28)
            guard dataStart + size <= bytes.count else { throw fail("member '\(name)' is truncated") }
            let member = data.subdata(in: (data.startIndex + dataStart)..<(data.startIndex + dataStart + size))
            guard CRC32.checksum(member) == crc else { throw fail("member '\(name)' fails its CRC-32 check (corrupt file)") }
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            entries.append((key, try NPY.decode(member, file: "\(file)[\(key)]")))
        }
        return entries
    }
}

/// The zip CRC-32 (polynomial 0xEDB88320), byte by byte through a table.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                for b in raw { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
            }
        }
        return c ^ 0xFFFF_FFFF
    }
}

extension Data {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
