/// The regular-file members of a tar archive (ustar, with pax extended headers for long names
/// and large sizes, as Python's `tarfile` writes in PAX_FORMAT), as byte ranges of the file.
/// Every header's checksum is verified and every member's data must lie inside the file.
struct TarDirectory {
    struct Member {
        let name: String
        let data: Range<Int>
    }

    static let block = 512
    /// Bounds against hostile archives: members, and the size of one pax header.
    static let maxMembers = 100_000
    static let maxPaxBytes = 1 << 20

    let members: [Member]

    init(_ file: ReadOnlyFile) throws {
        var members: [Member] = []
        var offset = 0
        var pax: [String: String] = [:]
        var headers = 0
        while offset <= file.size - TarDirectory.block {
            let header = try file.bytes(at: offset, count: TarDirectory.block, path: "tar header at byte \(offset)")
            if header.allSatisfy({ $0 == 0 }) { break }
            func fail(_ m: String) -> WeightFileError { file.error("tar header at byte \(offset)", m) }
            headers += 1
            guard headers <= TarDirectory.maxMembers else { throw fail("is one of more than \(TarDirectory.maxMembers) members") }
            guard let recorded = TarDirectory.number(header[148..<156]),
                  recorded == header.enumerated().reduce(0, { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }) else {
                throw fail("has a wrong checksum; expected a tar header (damaged file?)")
            }
            guard var size = TarDirectory.number(header[124..<136]) else { throw fail("has an unreadable size field") }
            if let text = pax["size"] {
                guard let n = Int(text), n >= 0 else { throw fail("has a pax size '\(text)' that is not a size") }
                size = n
            }
            let start = offset + TarDirectory.block
            guard size <= file.size - start else {
                throw fail("says its member holds \(size) bytes, past the end of the file's \(file.size) bytes (truncated file?)")
            }
            let type = header[156]
            switch type {
            case UInt8(ascii: "x"):
                guard size <= TarDirectory.maxPaxBytes else { throw fail("has a pax header of \(size) bytes; expected at most \(TarDirectory.maxPaxBytes)") }
                pax = try TarDirectory.paxRecords(try file.bytes(at: start, count: size), fail: fail)
            case UInt8(ascii: "0"), 0:
                var name = TarDirectory.text(header[0..<100])
                let prefix = TarDirectory.text(header[345..<500])
                if header[257..<262].elementsEqual("ustar".utf8), !prefix.isEmpty { name = prefix + "/" + name }
                members.append(Member(name: pax["path"] ?? name, data: start..<(start + size)))
                pax = [:]
            default:
                pax = [:]  // directories, links, global pax headers: not a state_dict's members
            }
            let (padded, overflow) = size.addingReportingOverflow(TarDirectory.block - 1)
            guard !overflow else { throw fail("has an absurd size") }
            offset = start + padded / TarDirectory.block * TarDirectory.block
        }
        self.members = members
    }

    /// An octal field (NUL- or space-terminated), or a base-256 one (high bit set) as GNU tar writes.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {
            var value = Int(first & 0x7F)
            for b in field.dropFirst() {
                guard value < Int.max >> 9 else { return nil }
                value = value << 8 | Int(b)
            }
            return value
        }
        let digits = field.drop { $0 == 0x20 }.prefix { $0 != 0 && $0 != 0x20 }
        guard digits.count <= 21 else { return nil }
        return digits.isEmpty ? 0 : Int(String(decoding: digits, as: UTF8.self), radix: 8)
    }

    static func text(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A pax extended header's `LENGTH KEY=VALUE\n` records.
    static func paxRecords(_ bytes: [UInt8], fail: (String) -> WeightFileError) throws -> [String: String] {
        var records: [String: String] = [:]
        var i = 0
        while i < bytes.count {
            guard let space = bytes[i...].firstIndex(of: 0x20), let length = Int(String(decoding: bytes[i..<space], as: UTF8.self)),
                  length > space - i, length <= bytes.count - i, bytes[i + length - 1] == 0x0A,
                  let equals = bytes[(space + 1)..<(i + length)].firstIndex(of: UInt8(ascii: "=")) else {
                throw fail("has a damaged pax record at byte \(i) of its extended header")
            }
            records[String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)] =
                String(decoding: bytes[(equals + 1)..<(i + length - 1)], as: UTF8.self)
            i += length
        }
        return records
    }
}
