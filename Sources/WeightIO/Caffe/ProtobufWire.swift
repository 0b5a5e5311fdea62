import Foundation

// Protocol Buffers' wire format (protobuf.dev/programming-guides/encoding), only as far as a
// .caffemodel needs it, read from the file through a small window rather than loaded whole:
// a 240 MB bvlc_alexnet must not cost 240 MB more than its weights. Every length is checked
// against the end of the message that holds it before anything is skipped or allocated.

/// Protobuf wire types (the low 3 bits of a field's tag).
enum WireType: UInt64 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// A field's key and where its payload lies.
struct WireField {
    let number: Int
    let type: WireType
    /// Offset of the key's first byte.
    let start: Int
    /// The varint's value (for `.varint`), or the payload's length (`.lengthDelimited`).
    let value: UInt64
    /// Offset of the payload (for varints: the byte after it).
    let payload: Int
}

/// Reads a file's bytes front to back through a 64 KiB window; `path` names what is being read
/// for errors (`layer 'conv1'`).
final class WireCursor {
    let file: ReadOnlyFile
    private(set) var position: Int
    private let window: UnsafeMutableRawBufferPointer
    private var windowStart = 0
    private var windowCount = 0
    var path = "/"

    init(_ file: ReadOnlyFile, at position: Int = 0, windowBytes: Int = 1 << 16) {
        self.file = file
        self.position = position
        window = .allocate(byteCount: windowBytes, alignment: 16)
    }

    deinit { window.deallocate() }

    func fail(_ message: String) -> WeightFileError { WeightFileError(file: file.name, path: path, message) }

    func byte() throws -> UInt8 {
        if position < windowStart || position >= windowStart + windowCount {
            guard position < file.size else {
                throw fail("the file ends at byte \(file.size) in the middle of a field (truncated file?)")
            }
            windowStart = position
            windowCount = min(window.count, file.size - position)
            try file.read(into: window.baseAddress!, count: windowCount, at: windowStart, path: path)
        }
        let b = window[position - windowStart]
        position += 1
        return b
    }

    /// A base-128 varint of at most 10 bytes whose value fits 64 bits.
    func varint() throws -> UInt64 {
        let start = position
        var value: UInt64 = 0
        for i in 0..<10 {
            let b = try byte()
            if i == 9 && b > 1 { throw fail("the varint at byte \(start) overflows 64 bits; expected a protobuf varint") }
            value |= UInt64(b & 0x7F) << (7 * UInt64(i))
            if b & 0x80 == 0 { return value }
        }
        throw fail("the varint at byte \(start) runs past 10 bytes; expected a protobuf varint")
    }

    /// Little-endian fixed-width value (`fixed32` of 4 bytes or `fixed64` of 8).
    func fixed(_ width: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(try byte()) << (8 * UInt64(i)) }
        return v
    }

    func seek(_ offset: Int) { position = offset }

    /// The next field of a message ending at `end`, or nil at its end; a length-delimited payload
    /// is not read, only checked to end within the message (unless `checkingLength` is false: the
    /// caller then checks `f.payload + f.value` itself, to say more about what is cut off).
    func field(before end: Int, checkingLength: Bool = true) throws -> WireField? {
        guard position < end else { return nil }
        let start = position
        let key = try varint()
        guard let type = WireType(rawValue: key & 7), key >> 3 >= 1, key >> 3 <= 536_870_911 else {
            throw fail("invalid protobuf field key \(key) at byte \(start); expected a field number and a wire type 0-5")
        }
        let number = Int(key >> 3)
        switch type {
        case .varint:
            let v = try varint()
            return WireField(number: number, type: type, start: start, value: v, payload: position)
        case .lengthDelimited:
            let length = try varint()
            let payload = position
            // The length's own varint may already run past the message (payload > end).
            guard !checkingLength || (payload <= end && length <= UInt64(end - payload)) else {
                throw fail("field \(number) at byte \(start) claims \(length) bytes, but its message ends at byte \(end)"
                           + (end == file.size ? " (the end of the file: truncated?)" : ""))
            }
            return WireField(number: number, type: type, start: start, value: length, payload: payload)
        case .fixed32, .fixed64:
            let width = type == .fixed32 ? 4 : 8
            guard width <= end - position else {
                throw fail("field \(number) at byte \(start) needs \(width) bytes, but its message ends at byte \(end)")
            }
            return WireField(number: number, type: type, start: start, value: 0, payload: position)
        case .startGroup, .endGroup:
            throw fail("field \(number) at byte \(start) is a protobuf group; caffe.proto uses none, so this is not a "
                       + "Caffe file (or it is damaged)")
        }
    }

    /// Moves past the field's payload.
    func skip(_ f: WireField) {
        switch f.type {
        case .lengthDelimited: position = f.payload + Int(f.value)
        case .fixed32: position = f.payload + 4
        case .fixed64: position = f.payload + 8
        case .varint, .startGroup, .endGroup: position = f.payload
        }
    }

    /// A length-delimited payload as text, at most `limit` bytes.
    func string(_ f: WireField, limit: Int = 4096) throws -> String {
        guard f.type == .lengthDelimited else { throw fail("field \(f.number) at byte \(f.start) should hold text") }
        guard f.value <= UInt64(limit) else {
            throw fail("field \(f.number) at byte \(f.start) holds \(f.value) bytes of text; expected at most \(limit)")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(f.value))
        for _ in 0..<Int(f.value) { bytes.append(try byte()) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
