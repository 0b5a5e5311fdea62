import Foundation

/// Writes a checkpoint at the end of every epoch to `<directory>/epoch-NNNN`, keeping the newest
/// `keep` of them. It runs after every other callback, so it records their decisions too.
///
/// An epoch that fails (the non-finite guard, an error) writes nothing, so the newest checkpoint
/// is always the last good one.
public final class Checkpointer: TrainingCallback {
    public let directory: URL
    public let keep: Int

    /// Checkpoints under `directory`, the newest `keep` (at least 1) kept.
    public init(directory: URL, keep: Int = 2) {
        self.directory = directory
        self.keep = max(1, keep)
    }

    /// The directory of epoch `epoch`'s checkpoint.
    public func url(epoch: Int) -> URL {
        directory.appendingPathComponent(String(format: "epoch-%04d", epoch))
    }

    /// The complete checkpoints in `directory`, oldest first.
    public static func checkpoints(in directory: URL) -> [(epoch: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("epoch-"), let epoch = Int(name.dropFirst(6)) else { return nil }
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("manifest.json").path) else { return nil }
            return (epoch, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest complete checkpoint in `directory`, if any.
    public static func latest(in directory: URL) -> URL? { checkpoints(in: directory).last?.url }

    public func epochEnded(_ trainer: Trainer, _ record: EpochRecord) throws {
        let url = self.url(epoch: trainer.epoch)
        try trainer.checkpoint().write(to: url)
        trainer.lastCheckpoint = url
        for old in Checkpointer.checkpoints(in: directory).dropLast(keep) {
            try? FileManager.default.removeItem(at: old.url)
        }
    }
}
