import Foundation
import TestSupport
import XCTest

/// `zoo fetch` against tools/serve_weights.py on 127.0.0.1: a clean download, an interrupted one
/// resumed with a Range request, a corrupted file rejected, unknown names.
final class FetchCommandTests: XCTestCase {
    var directory: URL!
    var server: Process?
    var log: URL { directory.appendingPathComponent("requests.jsonl") }
    var cache: URL { directory.appendingPathComponent("cache") }
    var root: URL { directory.appendingPathComponent("root") }

    static let tools = repositoryRoot.appendingPathComponent("tools")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-fetch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("models"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let server, server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the server (bounded: it stops by itself after 60 s) and returns its base URL.
    func startServer(_ extra: [String] = []) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.tools.appendingPathComponent("serve_weights.py").path, "--root", root.path,
                       "--log", log.path, "--lifetime", "60"] + extra
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        server = p
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }    // the server exited
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw XCTSkip("tools/serve_weights.py did not start (python3 needed): '\(text)'")
        }
        return "http://127.0.0.1:\(port)"
    }

    /// A weight file of `size` seeded bytes under root/models/NAME.
    func serve(_ name: String, size: Int) throws -> Data {
        var g = SystemRandomNumberGenerator()
        let data = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &g) })
        try data.write(to: root.appendingPathComponent("models/\(name)"))
        return data
    }

    /// A manifest of one entry for `file`, with the given checksum field.
    func manifest(name: String = "tiny", file: String, checksum: String, format: String = "keras-h5",
                  source: String = "keras", architecture: String = "resnet50", extra: String = "") throws -> String {
        let json = """
            {"manifest_version": 1, "weights": [{"name": "\(name)", "architecture": "\(architecture)", "source": "\(source)",\(extra)
             "reference": "test file", "format": "\(format)", "url": "https://weights.invalid/models/\(file)",
             "file_name": "\(file)", \(checksum), "preprocessing": "torch", "resize_transform": "resize256-crop224",
             "input_size": [224, 224, 3], "include_top": false, "classes": null}]}
            """
        let url = directory.appendingPathComponent("manifest.json")
        try Data(json.utf8).write(to: url)
        return url.path
    }

    /// hashlib's digest: the checksums come from Python, not from the code under test.
    func hashlib(_ algorithm: String, _ data: Data) throws -> String {
        let url = directory.appendingPathComponent("digest-input")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import hashlib,sys; print(hashlib.new(sys.argv[1], open(sys.argv[2],'rb').read()).hexdigest())",
                       algorithm, url.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func md5(_ data: Data) throws -> String { try hashlib("md5", data) }

    /// The Range headers of the requests the server saw, in order ("-" for none).
    func ranges() throws -> [String] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").compactMap { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard o?["event"] as? String == "request" else { return nil }
            return o?["range"] as? String ?? "-"
        }
    }

    func cacheFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: cache.path).sorted()
    }

    func testCleanDownloadLandsVerifiedUnderItsName() throws {
        let data = try serve("tiny.h5", size: 300_000)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(try md5(data))\"")
        let base = try startServer()
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try cacheFiles(), ["tiny.h5"])
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("tiny.h5")), data)
        XCTAssertTrue(r.stdout.contains("md5 \(try md5(data)) verified"), r.stdout)
        XCTAssertTrue(r.stderr.contains("300.0 kB of 300.0 kB (100%)") && r.stderr.contains("/s"), r.stderr)
        XCTAssertEqual(try ranges(), ["-"])

        // A second fetch checks the cached file and asks the server nothing.
        let again = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("already in the cache"), again.stdout)
        XCTAssertEqual(try ranges(), ["-"])
    }

    func testInterruptedDownloadKeepsOnlyThePartFileAndResumes() throws {
        let data = try serve("tiny.h5", size: 300_000)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(try md5(data))\"")
        let base = try startServer(["--drop-after", "100000"])
        let args = ["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base]
        let broken = try ZooBinary.run(args + ["--retries", "0"])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.stderr.contains("interrupted") && broken.stderr.contains("again to resume"), broken.stderr)
        XCTAssertEqual(try cacheFiles(), ["tiny.h5.part"], "nothing under the final name")
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("tiny.h5.part")), data.prefix(100_000))

        let resumed = try ZooBinary.run(args)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming tiny.h5.part from byte 100000"), resumed.stderr)
        XCTAssertEqual(try ranges(), ["-", "bytes=100000-"])
        XCTAssertEqual(try cacheFiles(), ["tiny.h5"])
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("tiny.h5")), data)
    }

    /// Within one run, a broken connection is resumed by the retries; torchvision's sha256 prefix is checked.
    func testRetryResumesWithinOneRunAndChecksTheSHA256Prefix() throws {
        let data = try serve("resnet50-fake.pth", size: 250_000)
        let base = try startServer(["--drop-after", "70000", "--drops", "2"])
        let sha = try hashlib("sha256", data)
        let m = try manifest(name: "fake", file: "resnet50-fake.pth", checksum: "\"sha256_prefix\": \"\(sha.prefix(8))\"",
                             format: "torchvision-pth", source: "torchvision")
        let r = try ZooBinary.run(["fetch", "fake", "--manifest", m, "--url-base", base],
                                  environment: ["ZOO_CACHE": cache.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ranges(), ["-", "bytes=70000-", "bytes=140000-"])
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("resnet50-fake.pth")), data)
        XCTAssertTrue(r.stdout.contains("sha256 \(sha) verified"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ready: zoo predict --weights " + cache.appendingPathComponent("resnet50-fake.pth").path
            + " IMAGE"), r.stdout)
    }

    /// A torchvision .pth (the resnet50 twin as torch.save wrote it) is fetched, checked as torch.hub
    /// checks it (the sha256 prefix in its name), and runs as it is: PyTorch's outputs, no converter.
    func testTorchvisionFileIsFetchedAndRunsAsItIs() throws {
        let data = try Data(contentsOf: fixtureURL("foreign/resnet50.pth"))
        let prefix = String(try hashlib("sha256", data).prefix(8))
        let name = "resnet50-\(prefix).pth"
        try data.write(to: root.appendingPathComponent("models/\(name)"))
        let m = try manifest(name: "resnet50", file: name, checksum: "\"sha256_prefix\": \"\(prefix)\"", format: "torchvision-pth",
                             source: "torchvision")
        let r = try ZooBinary.run(["fetch", "resnet50", "--manifest", m, "--cache", cache.path, "--url-base", try startServer()])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fetched = cache.appendingPathComponent(name)
        XCTAssertTrue(r.stdout.contains("ready: zoo predict --weights \(fetched.path) IMAGE"), r.stdout)
        XCTAssertFalse(r.stdout.contains("--transform-input"), r.stdout)

        let twin = fixtureURL("zoo/resnet50"), out = directory.appendingPathComponent("y.npy")
        let run = try ZooBinary.run(["run", "--channel-divisor", "32", "--weights", fetched.path,
                                     "--input", twin.appendingPathComponent("input.npy").path, "--out", out.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertMatches(out, twin.appendingPathComponent("output.npy"))
    }

    /// GoogLeNet's entry records torchvision's transform_input; fetch says to turn it on.
    func testGoogLeNetEntrySaysTransformInput() throws {
        let data = try serve("googlenet-fake.pth", size: 5000)
        let prefix = String(try hashlib("sha256", data).prefix(8))
        let m = try manifest(name: "googlenet", file: "googlenet-fake.pth", checksum: "\"sha256_prefix\": \"\(prefix)\"",
                             format: "torchvision-pth", source: "torchvision", architecture: "googlenet",
                             extra: " \"transform_input\": true,")
        let r = try ZooBinary.run(["fetch", "googlenet", "--manifest", m, "--cache", cache.path, "--url-base", try startServer()])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("ready: zoo predict --weights " + cache.appendingPathComponent("googlenet-fake.pth").path
            + " --transform-input IMAGE"), r.stdout)
        let list = try ZooBinary.run(["fetch", "--list", "--manifest", m])
        XCTAssertTrue(list.stdout.contains("needs --transform-input"), list.stdout)
    }

    /// Stopped after the last byte but before the rename: the server answers 416 and the checksum decides.
    /// A Caffe model zoo file is checked against its SHA-1 (hashlib's), and a wrong one is refused.
    func testCaffeModelIsCheckedAgainstItsSHA1() throws {
        let data = try serve("bvlc_fake.caffemodel", size: 200_000)
        let base = try startServer()
        let sha1 = try hashlib("sha1", data)
        let m = try manifest(name: "fake", file: "bvlc_fake.caffemodel", checksum: "\"sha1\": \"\(sha1)\"",
                             format: "caffemodel", source: "caffe")
        let r = try ZooBinary.run(["fetch", "fake", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("bvlc_fake.caffemodel")), data)
        XCTAssertTrue(r.stdout.contains("sha1 \(sha1) verified"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ready: zoo predict --weights"), r.stdout)

        let wrong = String(sha1.reversed())
        let w = try manifest(name: "fake", file: "bvlc_fake.caffemodel", checksum: "\"sha1\": \"\(wrong)\"",
                             format: "caffemodel", source: "caffe")
        let other = directory.appendingPathComponent("other-cache")
        let bad = try ZooBinary.run(["fetch", "fake", "--manifest", w, "--cache", other.path, "--url-base", base])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("expected sha1 \(wrong)") && bad.stderr.contains("got sha1 \(sha1)"), bad.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: other.path), [], "nothing kept")
    }

    func testCompletePartFileIsVerifiedAndNamed() throws {
        let data = try serve("tiny.h5", size: 120_000)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(try md5(data))\"")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try data.write(to: cache.appendingPathComponent("tiny.h5.part"))
        let base = try startServer()
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ranges(), ["bytes=120000-"])
        XCTAssertEqual(try cacheFiles(), ["tiny.h5"])
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("tiny.h5")), data)
    }

    /// A server that answers a range request with the whole file (200): the part file starts over.
    func testServerIgnoringRangesStartsOver() throws {
        let data = try serve("tiny.h5", size: 120_000)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(try md5(data))\"")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 50_000).write(to: cache.appendingPathComponent("tiny.h5.part"))
        let base = try startServer(["--ignore-ranges"])
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("ignored the range request; starting over"), r.stderr)
        XCTAssertEqual(try ranges(), ["bytes=50000-"])
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("tiny.h5")), data)
    }

    /// A file under the final name that fails its checksum is not trusted: it is fetched again.
    func testCorruptCachedFileIsReplaced() throws {
        let data = try serve("tiny.h5", size: 60_000)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(try md5(data))\"")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data(repeating: 1, count: 60_000).write(to: cache.appendingPathComponent("tiny.h5"))
        let base = try startServer()
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("fails its checksum"), r.stderr)
        XCTAssertEqual(try ranges(), ["-"])
        XCTAssertEqual(try Data(contentsOf: cache.appendingPathComponent("tiny.h5")), data)
    }

    /// A second fetch of the same file while one is running stops at once instead of mixing bytes.
    func testPartFileInUseIsAnError() throws {
        let data = try serve("tiny.h5", size: 10_000)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(try md5(data))\"")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        let part = cache.appendingPathComponent("tiny.h5.part")
        let fd = open(part.path, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", "http://127.0.0.1:9"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("\(part.path) is locked"), r.stderr)
    }

    func testWrongChecksumIsRejectedAndNothingIsKept() throws {
        _ = try serve("tiny.h5", size: 50_000)
        let wrong = String(repeating: "0", count: 32)
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(wrong)\"")
        let base = try startServer()
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path],
                                  environment: ["ZOO_WEIGHTS_URL_BASE": base])
        XCTAssertNotEqual(r.status, 0)
        let actual = try md5(Data(contentsOf: root.appendingPathComponent("models/tiny.h5")))
        for part in ["checksum mismatch", "\(base)/models/tiny.h5", "expected md5 \(wrong)", "got md5 \(actual)"] {
            XCTAssertTrue(r.stderr.contains(part), "'\(part)' in: \(r.stderr)")
        }
        XCTAssertEqual(try cacheFiles(), [], "neither the final name nor a part file")
    }

    func testServerErrorNamesTheURL() throws {
        let m = try manifest(file: "missing.h5", checksum: "\"md5\": \"\(String(repeating: "0", count: 32))\"")
        let base = try startServer()
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", base])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("HTTP 404") && r.stderr.contains("\(base)/models/missing.h5"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.appendingPathComponent("missing.h5").path))
        XCTAssertEqual(try cacheFiles(), [], "a fetch that received nothing leaves no empty part file")
    }

    /// No server at all: nothing was received, so nothing is kept (a non-empty part would be, to resume).
    func testUnreachableServerLeavesNoEmptyPartFile() throws {
        let m = try manifest(file: "tiny.h5", checksum: "\"md5\": \"\(String(repeating: "0", count: 32))\"")
        let r = try ZooBinary.run(["fetch", "tiny", "--manifest", m, "--cache", cache.path, "--url-base", "http://127.0.0.1:9",
                                   "--retries", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("interrupted"), r.stderr)
        XCTAssertEqual(try cacheFiles(), [])
    }

    func testUnknownNameListsTheKnownOnes() throws {
        let r = try ZooBinary.run(["fetch", "resnet51", "--cache", cache.path])
        XCTAssertNotEqual(r.status, 0)
        for name in ["resnet51", "vgg16", "vgg16-notop", "resnet50-keras", "alexnet", "resnet50-v2", "resnet152-v2"] {
            XCTAssertTrue(r.stderr.contains(name), "\(name) in: \(r.stderr)")
        }
        let list = try ZooBinary.run(["fetch", "--list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("resnet50-v2") && list.stdout.contains("resize232-crop224"), list.stdout)
        XCTAssertEqual(list.stdout.split(separator: "\n").count, 25, "a header and 24 files")
        // The Caffe model zoo's files with the SHA-1 of BVLC/caffe's models/<name>/readme.md.
        for (file, sha1) in [("bvlc_alexnet.caffemodel", "9116a64c0fbe4459d18f4bb6b56d647b63920377"),
                             ("bvlc_googlenet.caffemodel", "405fc5acd08a3bb12de8ee5e23a96bec22f08204")] {
            let line = list.stdout.split(separator: "\n").first { $0.contains(file) }
            XCTAssertTrue(line?.hasSuffix("sha1 \(sha1)") == true, list.stdout)
        }
    }
}
