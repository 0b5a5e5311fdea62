/// Pickle bytes read from a byte range of a file through a small window, so neither a large
/// pickle nor a lying length field makes the reader hold more than the range really has.
struct FilePickleInput: PickleInput {
    private var window: ReadWindow
    let end: Int
    private(set) var position: Int

    init(file: ReadOnlyFile, range: Range<Int>, path: String) {
        window = ReadWindow(file: file, path: path, capacity: 1 << 16)
        end = range.upperBound
        position = range.lowerBound
    }

    func close() { window.deallocate() }

    /// Moves to byte `offset` of the range (past raw bytes between pickles).
    mutating func seek(_ offset: Int) throws {
        guard offset >= position, offset <= end else {
            throw PickleError(message: "byte \(offset) is outside the pickle's range ending at \(end) (truncated file?)")
        }
        position = offset
    }

    mutating func byte() throws -> UInt8 {
        guard position < end else { throw PickleError(message: "the pickle ends without STOP (truncated file?)") }
        let b = try window.bytes(at: position, count: 1).load(as: UInt8.self)
        position += 1
        return b
    }

    mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= end - position else {
            throw PickleError(message: "a length of \(count) bytes at byte \(position) runs past the pickle's end "
                              + "at \(end) (truncated or damaged file?)")
        }
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = min(count - done, window.capacity)
            let p = try window.bytes(at: position + done, count: n)
            result.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: done).copyMemory(from: p, byteCount: n) }
            done += n
        }
        position += count
        return result
    }
}
