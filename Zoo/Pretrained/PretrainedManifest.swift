import Foundation

/// The checksum a hosted weight file must have: what its host publishes, no more.
public enum WeightChecksum: Equatable, Sendable, CustomStringConvertible {
    /// Keras's `file_hash` (32 hex digits).
    case md5(String)
    /// The Caffe model zoo's `sha1` (40 hex digits).
    case sha1(String)
    /// A full sha256 (64 hex digits).
    case sha256(String)
    /// The leading sha256 digits torchvision puts in its file names (`resnet50-0676ba61.pth`), which
    /// torch.hub checks with `check_hash=True`.
    case sha256Prefix(String)

    /// `md5`, `sha1` or `sha256`: the digest to compute.
    public var algorithm: String {
        switch self {
        case .md5: return "md5"
        case .sha1: return "sha1"
        case .sha256, .sha256Prefix: return "sha256"
        }
    }

    /// The lower-case hex digest of a file's content under this checksum's algorithm.
    public func digest(ofFile url: URL) throws -> String {
        switch self {
        case .md5: return try MD5Digest.hex(ofFile: url)
        case .sha1: return try SHA1Digest.hex(ofFile: url)
        case .sha256, .sha256Prefix: return try SHA256Digest.hex(ofFile: url)
        }
    }

    /// The expected hex digits, lower case.
    public var expected: String {
        switch self {
        case .md5(let h), .sha1(let h), .sha256(let h), .sha256Prefix(let h): return h
        }
    }

    /// Whether a computed digest (full, lower-case hex) satisfies this checksum.
    public func matches(_ actualHex: String) -> Bool {
        if case .sha256Prefix(let prefix) = self { return actualHex.hasPrefix(prefix) }
        return actualHex == expected
    }

    public var description: String {
        if case .sha256Prefix(let p) = self { return "sha256 \(p)... (prefix)" }
        return "\(algorithm) \(expected)"
    }
}

/// One hosted ImageNet weight file of the manifest.
public struct PretrainedWeights: Sendable {
    /// The `zoo fetch` name: the architecture, `-notop` for Keras's file without the top,
    /// `-v2` for torchvision's IMAGENET1K_V2 recipe.
    public let name: String
    /// The `zoo` architecture the file is for.
    public let architecture: String
    /// `keras`, `torchvision` or `caffe`.
    public let source: String
    /// How the reference framework names these weights, e.g. `torchvision.models.ResNet50_Weights.IMAGENET1K_V2`.
    public let reference: String
    /// `keras-h5`, `torchvision-pth` or `caffemodel`; each loads as it is.
    public let format: String
    public let url: URL
    /// The host's own file name, kept in the cache.
    public let fileName: String
    public let checksum: WeightChecksum
    /// Keras `imagenet_utils` mode: `caffe` or `torch`.
    public let preprocessing: String
    /// `keras-direct`, `resize256-crop224` or `resize232-crop224`.
    public let resizeTransform: String
    public let inputSize: [Int]
    public let includeTop: Bool
    /// The class-list file (next to the manifest), nil without the top.
    public let classes: String?
    /// torchvision's ImageNet-1K top-1 accuracy as published, e.g. `80.858`.
    public let imagenetTop1: String?
    /// torchvision GoogLeNet's `transform_input`, which its builder turns on for these weights and
    /// a bare `.pth` file cannot record (`--transform-input`).
    public let transformInput: Bool
}

/// The manifest of hosted ImageNet weights (weights/manifest.json, written by tools/make_weights_manifest.py).
public struct PretrainedManifest: Sendable {
    public let entries: [PretrainedWeights]
    /// Class-list file name -> its names in index order.
    public let classLists: [String: [String]]

    /// The manifest the package ships (built into the binary, identical to weights/manifest.json).
    public static func shipped() throws -> PretrainedManifest {
        try PretrainedManifest(json: Data(embeddedJSON.utf8), source: "the built-in manifest",
                               classLists: ["imagenet_classes.txt": lines(embeddedImageNetClasses)])
    }

    /// Reads a manifest file; its class lists are read from the same directory when present.
    public static func load(from url: URL) throws -> PretrainedManifest {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PretrainedError("cannot read the weights manifest \(url.path): \(error.localizedDescription)")
        }
        let raw = try decode(data, source: url.path)
        var lists: [String: [String]] = [:]
        for name in Set(raw.weights.compactMap(\.classes)) {
            let file = url.deletingLastPathComponent().appendingPathComponent(name)
            if let text = try? String(contentsOf: file, encoding: .utf8) { lists[name] = lines(text) }
        }
        return try PretrainedManifest(raw, source: url.path, classLists: lists)
    }

    init(json: Data, source: String, classLists: [String: [String]]) throws {
        try self.init(Self.decode(json, source: source), source: source, classLists: classLists)
    }

    /// The entry named `name`, or an error listing every name.
    public func entry(named name: String) throws -> PretrainedWeights {
        guard let e = entries.first(where: { $0.name == name }) else {
            throw PretrainedError("no pretrained weights named '\(name)'; known: " + entries.map(\.name).joined(separator: ", "))
        }
        return e
    }

    // The file's shape. Everything precise is a string or an integer: no floating-point JSON numbers.
    struct Raw: Decodable {
        let manifest_version: Int
        let weights: [Entry]
        struct Entry: Decodable {
            let name, architecture, source, reference, format, url, file_name, preprocessing, resize_transform: String
            let md5, sha1, sha256, sha256_prefix, classes, imagenet_top1: String?
            let input_size: [Int]
            let include_top: Bool
            let transform_input: Bool?
        }
    }

    static func decode(_ data: Data, source: String) throws -> Raw {
        do { return try JSONDecoder().decode(Raw.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
            throw PretrainedError("weights manifest \(source): missing '\(key.stringValue)' at \(pathString(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw PretrainedError("weights manifest \(source): \(context.debugDescription) at \(pathString(context.codingPath))")
        } catch {
            throw PretrainedError("weights manifest \(source) is not valid JSON: \(error)")
        }
    }

    static func pathString(_ path: [CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    init(_ raw: Raw, source: String, classLists: [String: [String]]) throws {
        guard raw.manifest_version == 1 else {
            throw PretrainedError("weights manifest \(source): version \(raw.manifest_version), this zoo reads version 1")
        }
        var seen = Set<String>()
        entries = try raw.weights.map { e in
            func bad(_ message: String) -> PretrainedError { PretrainedError("weights manifest \(source), entry '\(e.name)': \(message)") }
            guard seen.insert(e.name).inserted else { throw bad("the name appears twice") }
            guard let url = URL(string: e.url), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  url.host != nil else { throw bad("url '\(e.url)' is not an http(s) URL") }
            guard !e.file_name.isEmpty, !e.file_name.contains("/"), !e.file_name.hasPrefix(".") else {
                throw bad("file_name '\(e.file_name)' must be a plain file name")
            }
            let checksum: WeightChecksum
            switch (e.md5, e.sha1, e.sha256, e.sha256_prefix) {
            case (let md5?, nil, nil, nil):
                guard Self.isHex(md5, count: 32...32) else { throw bad("md5 '\(md5)' is not 32 hex digits") }
                checksum = .md5(md5.lowercased())
            case (nil, let sha1?, nil, nil):
                guard Self.isHex(sha1, count: 40...40) else { throw bad("sha1 '\(sha1)' is not 40 hex digits") }
                checksum = .sha1(sha1.lowercased())
            case (nil, nil, let full?, _):
                guard Self.isHex(full, count: 64...64) else { throw bad("sha256 '\(full)' is not 64 hex digits") }
                if let p = e.sha256_prefix, !full.lowercased().hasPrefix(p.lowercased()) {
                    throw bad("sha256 \(full) does not start with sha256_prefix \(p)")
                }
                checksum = .sha256(full.lowercased())
            case (nil, nil, nil, let prefix?):
                guard Self.isHex(prefix, count: 8...63) else { throw bad("sha256_prefix '\(prefix)' is not 8 to 63 hex digits") }
                checksum = .sha256Prefix(prefix.lowercased())
            default:
                throw bad("needs exactly one checksum: md5, sha1, sha256 or sha256_prefix")
            }
            return PretrainedWeights(
                name: e.name, architecture: e.architecture, source: e.source, reference: e.reference, format: e.format,
                url: url, fileName: e.file_name, checksum: checksum, preprocessing: e.preprocessing,
                resizeTransform: e.resize_transform, inputSize: e.input_size, includeTop: e.include_top,
                classes: e.classes, imagenetTop1: e.imagenet_top1, transformInput: e.transform_input ?? false)
        }
        self.classLists = classLists
    }

    static func isHex(_ s: String, count: ClosedRange<Int>) -> Bool {
        count.contains(s.utf8.count) && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0 | 0x20) }
    }

    static func lines(_ text: String) -> [String] {
        Array(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast(text.hasSuffix("\n") ? 1 : 0))
    }
}

/// A manifest that cannot be used, or a fetch that failed; the message names the file or URL.
public struct PretrainedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
