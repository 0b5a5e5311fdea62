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
        do { _ = try archive.extract(entry, to: temporary) } catch {
            throw WeightFileError(file: name, path: "/", "cannot extract '\(weightsEntry)' (\(describe(error)))")
        }
        let hdf5 = try HDF5File.open(temporary, name: "\(name) (\(weightsEntry))")
        return try WeightFile.open(hdf5: hdf5, limits: limits, container: .kerasArchive)
    }
}
