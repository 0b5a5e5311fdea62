import Foundation
import ZIPFoundation

/// Keras 3 `.keras` archives: a zip holding `config.json`, `metadata.json` and `model.weights.h5`.
///
/// The weights entry is extracted to a temporary file that is unlinked as soon as HDF5 has it
/// open, so nothing is left behind and memory holds no second copy of the file.
enum KerasArchiveReader {
    static let weightsEntry = "model.weights.h5"

    static func open(_ url: URL, limits: ReadLimits) throws -> WeightFile {
        let name = url.path
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw WeightFileError(file: name, path: "/", "not a readable zip archive (\(describe(error))); "
                                  + "expected a Keras .keras file")
        }
        guard let entry = archive[weightsEntry] else {
            throw WeightFileError(file: name, path: "/", "a zip archive without '\(weightsEntry)'; "
                                  + "expected a Keras 3 .keras file")
        }
        let temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("convzoo-\(getpid())-\(UUID().uuidString).weights.h5")
        defer { try? FileManager.default.removeItem(at: temporary) }
        // ZIPFoundation computes each entry's CRC-32 but leaves the comparison to its caller.
        for other in archive where other.type == .file && other.path != weightsEntry {
            try check(other, name: name, limits: limits) { try archive.extract(other, consumer: { _ in }) }
        }
        try check(entry, name: name, limits: limits) { try archive.extract(entry, to: temporary) }
        let extracted = (try? FileManager.default.attributesOfItem(atPath: temporary.path)[.size] as? Int) ?? -1
        guard extracted == Int(entry.uncompressedSize) else {
            throw WeightFileError(file: name, path: weightsEntry, "the entry holds \(extracted) bytes, its header says "
                                  + "\(entry.uncompressedSize) (corrupt archive)")
        }
        let hdf5 = try HDF5File.open(temporary, name: "\(name) (\(weightsEntry))")
        return try WeightFile.open(hdf5: hdf5, limits: limits, container: .kerasArchive)
    }

    /// Reads `entry` with `read` and refuses it as Python's `zipfile` would: a CRC-32 that does not
    /// match, or sizes no weight file has (a compression ratio beyond `limits.maxExpansion` is a bomb).
    private static func check(_ entry: Entry, name: String, limits: ReadLimits, read: () throws -> CRC32) throws {
        let size = entry.uncompressedSize, stored = entry.compressedSize
        guard size <= UInt64(limits.maxElements) * 8,
              size <= UInt64(limits.bombFloorBytes) || stored * UInt64(limits.maxExpansion) >= size else {
            throw WeightFileError(file: name, path: entry.path, "the entry claims \(size) bytes from \(stored) stored; "
                                  + "expected the sizes of a weight file (corrupt archive or a zip bomb)")
        }
        let crc: CRC32
        do { crc = try read() } catch Archive.ArchiveError.invalidCompressionMethod {
            throw WeightFileError(file: name, path: entry.path, "compressed with a method other than stored or deflate "
                                  + "(Keras writes stored entries); re-save the archive with Keras or zip -0")
        } catch {
            throw WeightFileError(file: name, path: entry.path, "cannot extract the entry (\(describe(error)))")
        }
        guard crc == entry.checksum else {
            throw WeightFileError(file: name, path: entry.path, String(format: "CRC-32 is %08x, the archive records %08x: "
                                  + "the entry is damaged", crc, entry.checksum))
        }
    }
}
