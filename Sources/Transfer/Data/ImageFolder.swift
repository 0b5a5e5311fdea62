import Foundation

/// Images in `root/<class>/...`, as torchvision's `ImageFolder` finds them.
///
/// Classes are the subdirectories of `root` sorted by name (code point order, so `Dog` before
/// `ant`); each class's files are found by walking its directory (following links, nested
/// folders included), folders in sorted path order and the files of each sorted by name, keeping
/// names that end in .jpg, .jpeg or .png in any case. Files are only listed here; they are read
/// batch by batch, and an unreadable one is skipped then (see `BatchStream`).
public struct ImageFolder: LabeledDataset {
    public let root: URL
    public let classNames: [String]
    /// The image files, class by class.
    public let files: [URL]
    public let fileLabels: [Int]
    public let pipeline: ImagePipeline

    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Lists the images under `root`; throws when it has no class folder or a class has no image.
    public init(root: URL, pipeline: ImagePipeline) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TransferError("\(root.path): no such directory; expected root/<class>/<image> folders")
        }
        let entries = try ImageFolder.contents(of: root)
        let classes = entries.filter { ImageFolder.isDirectory(root.appendingPathComponent($0)) }.sorted(by: ImageFolder.codePointOrder)
        guard !classes.isEmpty else {
            throw TransferError("\(root.path): no class folders; expected root/<class>/<image> (e.g. root/cat/1.jpg)")
        }
        var files: [URL] = [], labels: [Int] = [], empty: [String] = []
        for (label, name) in classes.enumerated() {
            let found = try ImageFolder.images(under: root.appendingPathComponent(name))
            if found.isEmpty { empty.append(name) }
            files += found
            labels += Array(repeating: label, count: found.count)
        }
        guard empty.isEmpty else {
            throw TransferError("\(root.path): no .jpg, .jpeg or .png files in class folder(s) "
                + empty.joined(separator: ", "))
        }
        self.root = root
        self.classNames = classes
        self.files = files
        self.fileLabels = labels
        self.pipeline = pipeline
    }

    public var count: Int { files.count }
    public var sampleShape: [Int] { pipeline.sampleShape }
    public func label(at index: Int) -> Int { fileLabels[index] }
    public func sampleName(at index: Int) -> String { files[index].path }

    public func load(at index: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try pipeline.load(files[index], into: destination)
    }

    /// Python's string order (by code point), which torchvision's `sorted` uses.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    static func contents(of directory: URL) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw TransferError("\(directory.path): cannot list the directory (\(error.localizedDescription))")
        }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.resolvingSymlinksInPath().path, isDirectory: &flag) && flag.boolValue
    }

    /// torchvision's `sorted(os.walk(dir, followlinks=True))` then `sorted(fnames)`, keeping names
    /// ending in an allowed extension (case-insensitive).
    static func images(under classDirectory: URL) throws -> [URL] {
        var directories: [String] = []
        // Each entry carries the real paths of its ancestors: a link back up the tree would make
        // os.walk loop forever, so such a link is not followed.
        var stack: [(path: String, ancestors: Set<String>)] = [(classDirectory.path, [])]
        while let (dir, ancestors) = stack.popLast() {
            let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
            guard !ancestors.contains(real) else { continue }
            directories.append(dir)
            for name in try contents(of: URL(fileURLWithPath: dir)) where isDirectory(URL(fileURLWithPath: dir + "/" + name)) {
                stack.append((dir + "/" + name, ancestors.union([real])))
            }
        }
        var files: [URL] = []
        for dir in directories.sorted(by: codePointOrder) {
            let names = try contents(of: URL(fileURLWithPath: dir)).filter { name in
                let lower = name.lowercased()
                return extensions.contains { lower.hasSuffix("." + $0) } && !isDirectory(URL(fileURLWithPath: dir + "/" + name))
            }
            files += names.sorted(by: codePointOrder).map { URL(fileURLWithPath: dir + "/" + $0) }
        }
        return files
    }
}
