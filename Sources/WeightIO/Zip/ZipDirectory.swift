import Foundation
import ZIPFoundation

/// The entries of a zip file, from its central directory (ZIP64 included), each with the byte
/// range of its data found through its local header. Stored entries can then be read straight
/// from the file at their offset; nothing is extracted.
struct ZipDirectory {
    struct Entry {
        let name: String
        /// 0 = stored, 8 = deflated.
        let method: Int
        let crc32: UInt32
        /// Where the entry's (stored) bytes are in the file.
        let data: Range<Int>
        let uncompressedSize: Int
    }

    let file: ReadOnlyFile
    let entries: [Entry]

    init(_ file: ReadOnlyFile) throws {
        self.file = file
        func fail(_ m: String) -> WeightFileError { file.error("/", "zip archive: " + m) }
        // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB, at the end.
        let tailLength = min(file.size, 22 + 65535)
        let tail = try file.bytes(at: file.size - tailLength, count: tailLength)
        guard let eocd = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
            tail[$0] == 0x50 && tail[$0 + 1] == 0x4B && tail[$0 + 2] == 0x05 && tail[$0 + 3] == 0x06
        }) else { throw fail("no end-of-central-directory record (truncated archive?)") }
        func le(_ b: [UInt8], _ at: Int, _ n: Int) -> Int {
            (0..<n).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) }
        }
        var count = le(tail, eocd + 10, 2)
        var directorySize = le(tail, eocd + 12, 4)
        var directoryOffset = le(tail, eocd + 16, 4)
        let eocdOffset = file.size - tailLength + eocd
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the record points at the ZIP64 end record.
            guard eocdOffset >= 20 else { throw fail("ZIP64 sizes without a ZIP64 locator") }
            let locator = try file.bytes(at: eocdOffset - 20, count: 20)
            guard locator[0..<4] == [0x50, 0x4B, 0x06, 0x07] else { throw fail("ZIP64 sizes without a ZIP64 locator") }
            let recordOffset = le(locator, 8, 8)
            guard recordOffset >= 0, recordOffset <= file.size - 56 else { throw fail("ZIP64 end record outside the file") }
            let record = try file.bytes(at: recordOffset, count: 56)
            guard record[0..<4] == [0x50, 0x4B, 0x06, 0x06] else { throw fail("no ZIP64 end record where the locator points") }
            count = le(record, 32, 8)
            directorySize = le(record, 40, 8)
            directoryOffset = le(record, 48, 8)
        }
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset <= file.size, directorySize <= file.size - directoryOffset,
              count >= 0, count <= directorySize / 46 else {
            throw fail("central directory of \(count) entries at bytes \(directoryOffset)+\(directorySize) does not fit "
                       + "the file's \(file.size) bytes (truncated archive?)")
        }
        let directory = try file.bytes(at: directoryOffset, count: directorySize)
        var entries: [Entry] = []
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, le(directory, at, 4) == 0x0201_4B50 else {
                throw fail("damaged central directory at byte \(directoryOffset + at)")
            }
            let method = le(directory, at + 10, 2)
            let crc = UInt32(le(directory, at + 16, 4))
            var compressed = le(directory, at + 20, 4), uncompressed = le(directory, at + 24, 4)
            let nameLength = le(directory, at + 28, 2), extraLength = le(directory, at + 30, 2)
            let commentLength = le(directory, at + 32, 2)
            var localOffset = le(directory, at + 42, 4)
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= directory.count else { throw fail("damaged central directory at byte \(directoryOffset + at)") }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            // ZIP64 extra field: 8-byte values for the fields saturated at 0xFFFFFFFF, in this order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = le(directory, extra, 2), size = le(directory, extra + 2, 2)
                var field = extra + 4
                guard field + size <= extraEnd else { break }
                if id == 0x0001 {
                    func wide(_ value: inout Int) {
                        if value == 0xFFFF_FFFF, field + 8 <= extra + 4 + size { value = le(directory, field, 8); field += 8 }
                    }
                    wide(&uncompressed)
                    wide(&compressed)
                    wide(&localOffset)
                }
                extra += 4 + size
            }
            guard localOffset >= 0, compressed >= 0, uncompressed >= 0, localOffset <= file.size - 30 else {
                throw fail("entry '\(name)' has its header outside the file (truncated archive?)")
            }
            let local = try file.bytes(at: localOffset, count: 30)
            guard le(local, 0, 4) == 0x0403_4B50 else { throw fail("entry '\(name)' has no local header at byte \(localOffset)") }
            let start = localOffset + 30 + le(local, 26, 2) + le(local, 28, 2)
            guard start <= file.size, compressed <= file.size - start else {
                throw fail("entry '\(name)' needs bytes \(start)..<\(start + compressed) but the file has \(file.size) "
                           + "bytes (truncated archive?)")
            }
            entries.append(Entry(name: name, method: method, crc32: crc, data: start..<(start + compressed),
                                 uncompressedSize: uncompressed))
            at = next
        }
        self.entries = entries
    }

    /// The stored entry's byte range, after checking its size and CRC-32 (read in 1 MiB chunks).
    func storedData(_ entry: Entry) throws -> Range<Int> {
        guard entry.method == 0 else {
            throw file.error(entry.name, "is compressed (zip method \(entry.method)); expected a stored entry, as torch.save writes")
        }
        guard entry.data.count == entry.uncompressedSize else {
            throw file.error(entry.name, "stored entry of \(entry.data.count) bytes claims \(entry.uncompressedSize) uncompressed")
        }
        var crc: CRC32 = 0
        var offset = entry.data.lowerBound
        while offset < entry.data.upperBound {
            let n = min(1 << 20, entry.data.upperBound - offset)
            let chunk = try file.bytes(at: offset, count: n, path: entry.name)
            crc = Data(chunk).crc32(checksum: crc)
            offset += n
        }
        guard crc == entry.crc32 else {
            throw file.error(entry.name, "CRC-32 mismatch (the file says \(String(entry.crc32, radix: 16)), the data gives "
                             + "\(String(crc, radix: 16))); the archive is damaged")
        }
        return entry.data
    }
}
