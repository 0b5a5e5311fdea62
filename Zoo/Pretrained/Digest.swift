import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MD5 (RFC 1321), SHA-1 and SHA-256 (FIPS 180-4), streaming, for checking downloaded weight files.
// Our own ~150 lines rather than swift-crypto: that package compiles BoringSSL, about 80 s of a
// release build on two cores, to hash one file per download. Checked against hashlib's digests
// in DigestTests (lengths around the 55/56/64-byte padding boundaries, split updates, 1 MB).

/// A message digest fed in pieces.
public protocol StreamingDigest {
    init()
    /// Adds bytes to the message.
    mutating func update(_ bytes: UnsafeRawBufferPointer)
    /// The digest of everything added; the value must not be updated afterwards.
    mutating func finalize() -> [UInt8]
}

extension StreamingDigest {
    /// The lower-case hex digest of `data`.
    public static func hex(of data: Data) -> String {
        var d = Self()
        data.withUnsafeBytes { d.update($0) }
        return hexString(d.finalize())
    }

    /// The lower-case hex digest of a file's content, read in 1 MiB pieces.
    public static func hex(ofFile url: URL) throws -> String {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw PretrainedError("cannot open \(url.path) to check its checksum: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var d = Self()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw PretrainedError("cannot read \(url.path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            d.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hexString(d.finalize())
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

/// The 64-byte block framing MD5, SHA-1 and SHA-256 share: buffering, then padding with 0x80,
/// zeros and the bit length (little-endian for MD5, big-endian for the SHAs).
struct BlockFeeder {
    var pending = [UInt8](repeating: 0, count: 64)
    var pendingCount = 0
    var length: UInt64 = 0

    /// Calls `compress` on each complete 64-byte block of the stream.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ compress: (UnsafeRawPointer) -> Void) {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        length &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(64 - pendingCount, remaining)
            pending.withUnsafeMutableBytes { ($0.baseAddress! + pendingCount).copyMemory(from: p, byteCount: take) }
            pendingCount += take; p += take; remaining -= take
            if pendingCount < 64 { return }
            pending.withUnsafeBytes { compress($0.baseAddress!) }
            pendingCount = 0
        }
        while remaining >= 64 { compress(p); p += 64; remaining -= 64 }
        if remaining > 0 {
            pending.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: p, byteCount: remaining) }
            pendingCount = remaining
        }
    }

    mutating func finish(bigEndianLength: Bool, _ compress: (UnsafeRawPointer) -> Void) {
        let bits = length &* 8
        var tail = [UInt8](pending[0..<pendingCount]) + [0x80]
        while tail.count % 64 != 56 { tail.append(0) }
        for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bits >> (bigEndianLength ? 56 - 8 * i : 8 * i))) }
        tail.withUnsafeBytes { t in
            for offset in stride(from: 0, to: t.count, by: 64) { compress(t.baseAddress! + offset) }
        }
    }
}

/// MD5, as Keras's `file_hash` values are.
public struct MD5Digest: StreamingDigest {
    var state: (UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476)
    var feeder = BlockFeeder()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var s = state
        feeder.feed(bytes) { MD5Digest.compress(&s, $0) }
        state = s
    }

    public mutating func finalize() -> [UInt8] {
        var s = state
        feeder.finish(bigEndianLength: false) { MD5Digest.compress(&s, $0) }
        state = s
        return [s.0, s.1, s.2, s.3].flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }

    static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
    // RFC 1321's table T[i] = floor(abs(sin(i)) * 2^32), i = 1...64, as its section 3.4 defines it
    // (doubles carry every bit of it; DigestTests checks the digests against hashlib's).
    static let k: [UInt32] = (1...64).map { UInt32(abs(sin(Double($0))) * 4_294_967_296) }

    static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32), _ block: UnsafeRawPointer) {
        var (a, b, c, d) = state
        @inline(__always) func step(_ f: UInt32, _ i: Int, _ g: Int, _ k: UnsafeBufferPointer<UInt32>,
                                    _ shifts: UnsafeBufferPointer<UInt32>) {
            let word = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4 * g, as: UInt32.self))
            let sum = f &+ a &+ k[i] &+ word
            let s = shifts[(i >> 4) << 2 | (i & 3)]
            a = d; d = c; c = b
            b = b &+ (sum << s | sum >> (32 - s))
        }
        k.withUnsafeBufferPointer { k in
            shifts.withUnsafeBufferPointer { shifts in
                // The four rounds, each with its own mixing function and word order (RFC 1321, 3.4).
                for i in 0..<16 { step((b & c) | (~b & d), i, i, k, shifts) }
                for i in 16..<32 { step((d & b) | (~d & c), i, (5 * i + 1) & 15, k, shifts) }
                for i in 32..<48 { step(b ^ c ^ d, i, (3 * i + 5) & 15, k, shifts) }
                for i in 48..<64 { step(c ^ (b | ~d), i, (7 * i) & 15, k, shifts) }
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}

/// SHA-1 and SHA-256 alike: big-endian words of state, a message schedule, the shared framing.
protocol SHADigest: StreamingDigest {
    var state: [UInt32] { get set }
    var schedule: [UInt32] { get set }
    var feeder: BlockFeeder { get set }
    static func compress(_ state: inout [UInt32], _ schedule: inout [UInt32], _ block: UnsafeRawPointer)
}

extension SHADigest {
    mutating func updateBlocks(_ bytes: UnsafeRawBufferPointer) {
        var s = state, w = schedule
        feeder.feed(bytes) { Self.compress(&s, &w, $0) }
        state = s; schedule = w
    }

    mutating func finalizeBlocks() -> [UInt8] {
        var s = state, w = schedule
        feeder.finish(bigEndianLength: true) { Self.compress(&s, &w, $0) }
        state = s
        return s.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }
}

/// SHA-1, the checksum the Caffe model zoo publishes (`sha1:` in each model's readme.md).
public struct SHA1Digest: SHADigest {
    var state: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    var feeder = BlockFeeder()
    var schedule = [UInt32](repeating: 0, count: 80)

    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { updateBlocks(bytes) }
    public mutating func finalize() -> [UInt8] { finalizeBlocks() }

    @inline(__always) static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }

    static func compress(_ state: inout [UInt32], _ schedule: inout [UInt32], _ block: UnsafeRawPointer) {
        schedule.withUnsafeMutableBufferPointer { w in
            state.withUnsafeMutableBufferPointer { h in
                for t in 0..<16 { w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self)) }
                for t in 16..<80 { w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
                var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
                for t in 0..<80 {
                    // The four 20-round stages, each with its own function and constant (FIPS 180-4, 4.1.1, 4.2.1).
                    let (f, k): (UInt32, UInt32)
                    switch t {
                    case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A827999)
                    case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9EBA1)
                    case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1BBCDC)
                    default: (f, k) = (b ^ c ^ d, 0xCA62C1D6)
                    }
                    let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
                    e = d; d = c; c = rotl(b, 30); b = a; a = temp
                }
                h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
            }
        }
    }
}

/// SHA-256, whose leading digits torchvision puts in its file names.
public struct SHA256Digest: SHADigest {
    var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var feeder = BlockFeeder()
    var schedule = [UInt32](repeating: 0, count: 64)

    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { updateBlocks(bytes) }
    public mutating func finalize() -> [UInt8] { finalizeBlocks() }

    // The first 32 bits of the fractional parts of the cube roots of the first 64 primes (FIPS 180-4,
    // 4.2.2), computed as the standard defines them.
    static let k: [UInt32] = Array((2...).lazy.filter { n in !(2..<n).contains { n % $0 == 0 } }.prefix(64)).map { p in
        let root = cbrt(Double(p))
        return UInt32((root - root.rounded(.down)) * 4_294_967_296)
    }

    @inline(__always) static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }

    static func compress(_ state: inout [UInt32], _ schedule: inout [UInt32], _ block: UnsafeRawPointer) {
        k.withUnsafeBufferPointer { k in
            schedule.withUnsafeMutableBufferPointer { w in
                state.withUnsafeMutableBufferPointer { h in
                    for t in 0..<16 { w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self)) }
                    for t in 16..<64 {
                        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
                    for t in 0..<64 {
                        let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[t] &+ w[t]
                        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                        hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                    }
                    h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
                }
            }
        }
    }
}
