import Foundation

extension Cluster {
    /// Pieces a shared file travels in: a bounded buffer whatever the file's size.
    static let filePieceBytes = 32 << 20

    /// Runs `body` on rank `root`'s folder `url` on every rank: `root` reads its own, the others a
    /// private temporary copy of its regular files (sent in pieces of at most 32 MB), removed when
    /// `body` returns. Only rank 0 writes checkpoints, so a resumed run needs no shared file system.
    /// `url` is read on `root` alone; what the others pass is ignored.
    public func withFolder<T>(_ url: URL?, from root: Int = 0, _ body: (URL) throws -> T) throws -> T {
        if rank == root {
            guard let url else { throw FileError(file: "(no folder)", "rank \(root) has no folder to share") }
            let files = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted().filter { name in
                var isFolder: ObjCBool = false
                return FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isFolder)
                    && !isFolder.boolValue
            }
            guard size > 1 else { return try body(url) }
            _ = try broadcast(JSONEncoder().encode(files))
            for name in files { try sendFile(url.appendingPathComponent(name), from: root) }
            return try body(url)
        }
        let names = try JSONDecoder().decode([String].self, from: broadcast(Data(), from: root))
        let copy = FileManager.default.temporaryDirectory
            .appendingPathComponent("convzoo-shared-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: copy) }
        for name in names {
            // Names come from rank 0's listing of one folder: plain file names, nothing above it.
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw FileError(file: name, "rank \(root) sent a file name that is not a plain name")
            }
            try receiveFile(copy.appendingPathComponent(name), from: root)
        }
        return try body(copy)
    }

    private func sendFile(_ url: URL, from root: Int) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        while true {
            let piece = try handle.read(upToCount: Cluster.filePieceBytes) ?? Data()
            _ = try broadcast(piece, from: root)
            if piece.isEmpty { return }
        }
    }

    private func receiveFile(_ url: URL, from root: Int) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw FileError(file: url.path, "cannot create the local copy of rank \(root)'s file")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        while true {
            let piece = try broadcast(Data(), from: root)
            if piece.isEmpty { return }
            try handle.write(contentsOf: piece)
        }
    }
}
