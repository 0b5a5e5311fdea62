import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One layer's feature rows kept on disk as they are computed, so that a pass over any number of
/// samples holds one batch in memory; read back in slices when the output file is written.
///
/// The file is a temporary one unlinked as soon as it is open: it takes disk space (the size of
/// the output) while the spool lives, and nothing is left behind, whatever ends the process.
final class RowSpool {
    /// Floats per row.
    let width: Int
    private(set) var rows = 0
    private let fd: Int32

    init(width: Int, layer: String) throws {
        self.width = width
        var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("convzoo-features-XXXXXX")
            .path.utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw TransferError("\(layer): cannot create a temporary file in \(FileManager.default.temporaryDirectory.path) "
                + "for the features: \(String(cString: strerror(errno)))")
        }
        unlink(String(cString: template))
    }

    deinit { close(fd) }

    /// Appends rows: `count` floats, whole rows.
    func append(_ values: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < values.count {
            let n = write(fd, values.baseAddress! + offset, values.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TransferError("cannot spool features to a temporary file: \(String(cString: strerror(errno)))") }
            offset += n
        }
        rows += values.count / (width * MemoryLayout<Float>.size)
    }

    /// Appends a (rows, width) matrix.
    func append(_ matrix: Tensor) throws {
        try matrix.withUnsafeBufferPointer { try append(UnsafeRawBufferPointer($0)) }
    }

    /// Rows `range` as they were appended.
    func read(_ range: Range<Int>) throws -> Tensor {
        var out = Tensor(uninitialized: [range.count, width])
        let bytes = range.count * width * MemoryLayout<Float>.size
        let base = UnsafeMutableRawPointer(out.mutableData())
        var offset = 0
        while offset < bytes {
            let n = pread(fd, base + offset, bytes - offset, off_t(range.lowerBound * width * MemoryLayout<Float>.size + offset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TransferError("cannot read spooled features back: \(n == 0 ? "file ended" : String(cString: strerror(errno)))") }
            offset += n
        }
        return out
    }

    /// Rows per slice when copying rows out: about 8 MB, at least one row.
    var sliceRows: Int { max(1, (8 << 20) / max(1, width * MemoryLayout<Float>.size)) }
}
