import ArgumentParser
import Engine
import Foundation
import WeightIO
import Zoo

/// `zoo fetch NAME`: one of the hosted ImageNet weight files, into the cache, verified.
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a pretrained ImageNet weight file (Keras, torchvision or Caffe hosted) into the cache.",
        discussion: """
            The file is checked against the manifest's checksum (md5 for Keras files, the sha256 in \
            torchvision's file names, the sha1 the Caffe model zoo publishes) before it appears under its \
            final name; until then it is NAME.part, and an interrupted download resumes from there on the \
            next run. Every file loads as it is: Keras .h5, torchvision .pth (torchvision's GoogLeNet \
            weights with --transform-input, as the manifest records) and Caffe .caffemodel.
            """)

    @Argument(help: "Manifest entry, e.g. vgg16, vgg16-notop, resnet50-keras, resnet50, resnet50-v2 (see --list).")
    var name: String?

    @Flag(help: "List the manifest's entries.")
    var list = false

    @Option(help: "Cache directory (default: $ZOO_CACHE, else ~/.cache/convzoo/weights).")
    var cache: String?

    @Option(help: "Replace the URLs' scheme, host and port, e.g. http://mirror.local:8000 (default: $ZOO_WEIGHTS_URL_BASE).")
    var urlBase: String?

    @Option(help: "Manifest file (default: the built-in copy of weights/manifest.json).")
    var manifest: String?

    @Option(help: "Resuming attempts after a broken connection, within this run.")
    var retries = 2

    func validate() throws {
        try OptionCheck.inRange(retries, 0...100, "--retries")
        if let urlBase { _ = try parseBase(urlBase) }
    }

    func run() throws {
        let m = try manifest.map { try PretrainedManifest.load(from: URL(fileURLWithPath: $0)) } ?? PretrainedManifest.shipped()
        if list { return printList(m) }
        guard let name else {
            throw CommandFailure("name the weights to fetch; known: " + m.entries.map(\.name).joined(separator: ", "))
        }
        let entry = try m.entry(named: name)
        let environment = ProcessInfo.processInfo.environment
        var fetcher = WeightFetcher(
            cacheDirectory: cache.map { URL(fileURLWithPath: $0, isDirectory: true) }
                ?? WeightFetcher.defaultCacheDirectory(environment: environment),
            urlBase: try (urlBase ?? environment["ZOO_WEIGHTS_URL_BASE"].flatMap { $0.isEmpty ? nil : $0 }).map(parseBase),
            log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        fetcher.retries = retries
        let source = fetcher.sourceURL(for: entry)
        FileHandle.standardError.write(Data("fetching \(entry.name) (\(entry.reference)) from \(source)\n".utf8))

        let result = try fetcher.fetch(entry)
        let how = result.alreadyCached ? "already in the cache" :
            "\(byteString(result.bytesDownloaded)) in \(String(format: "%.1f", result.seconds)) s"
        print("\(result.file.path): \(entry.checksum.algorithm) \(result.digest) verified (\(how))")
        if let classesFile = entry.classes, let names = m.classLists[classesFile] {
            let url = fetcher.cacheDirectory.appendingPathComponent(classesFile)
            if !FileManager.default.fileExists(atPath: url.path) {
                try DurableFile.write(Data((names.joined(separator: "\n") + "\n").utf8), to: url)
            }
            print("class names: \(url.path)")
        }
        print(nextStep(entry, result.file))
    }

    func parseBase(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw ValidationError("--url-base must be an http(s) URL such as http://127.0.0.1:8000, got '\(text)'")
        }
        return url
    }

    func nextStep(_ entry: PretrainedWeights, _ file: URL) -> String {
        let input = "preprocessing \(entry.preprocessing), \(entry.resizeTransform)"
        if entry.format == "torchvision-pth" || entry.format == "caffemodel" {
            let flag = entry.transformInput ? " --transform-input" : ""
            return "ready: zoo predict --weights \(file.path)\(flag) IMAGE... (\(input)"
                + (entry.transformInput ? "; torchvision's transform_input on, as its builder sets it for these weights)" : ")")
        }
        if !entry.includeTop {
            return "ready: load it into \(entry.architecture) without the top (\(input))"
        }
        return "ready: zoo run --model \(entry.architecture) --weights \(file.path) --input x.npy --out y.npy (\(input))"
    }

    func printList(_ m: PretrainedManifest) {
        func col(_ s: String, _ w: Int) -> String { s.padding(toLength: max(w, s.count + 1), withPad: " ", startingAt: 0) }
        print(col("name", 23) + col("source", 12) + col("top", 5) + col("transform", 19) + col("preprocessing", 14)
            + col("file", 52) + "checksum")
        for e in m.entries {
            print(col(e.name, 23) + col(e.source, 12) + col(e.includeTop ? "yes" : "no", 5) + col(e.resizeTransform, 19)
                + col(e.preprocessing, 14) + col(e.fileName, 52) + "\(e.checksum)"
                + (e.transformInput ? ", needs --transform-input" : ""))
        }
    }
}
