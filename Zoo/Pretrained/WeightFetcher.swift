import Engine
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Downloads a manifest's weight file into a cache directory, resuming a broken download and
/// verifying the checksum before the file appears under its final name.
///
/// The bytes go to `NAME.part` (locked against a second fetch); an interrupted transfer keeps them
/// and the next attempt asks for the rest with `Range: bytes=N-`. Only a file whose checksum
/// verifies is renamed to `NAME` (by `DurableFile.commit`); a mismatch deletes the part file, and
/// a failed fetch that received nothing leaves no empty part file behind.
public struct WeightFetcher {
    public var cacheDirectory: URL
    /// Replaces the scheme, host and port of the manifest's URLs (a mirror, or a test server).
    public var urlBase: URL?
    /// Further attempts, each resuming, after an interrupted transfer within one fetch.
    public var retries = 2
    /// Seconds between progress lines.
    public var progressInterval: TimeInterval = 2
    /// Seconds without data before an attempt counts as interrupted.
    public var idleTimeout: TimeInterval = 60
    /// Receives progress and status lines.
    public var log: (String) -> Void

    public init(cacheDirectory: URL, urlBase: URL? = nil, log: @escaping (String) -> Void = { _ in }) {
        self.cacheDirectory = cacheDirectory
        self.urlBase = urlBase
        self.log = log
    }

    /// What a fetch did.
    public struct Result {
        /// The verified file under its final name.
        public let file: URL
        /// The URL it came from (after `urlBase`).
        public let source: URL
        /// Hex digest of the whole file (md5, sha1 or sha256, as the entry's checksum uses).
        public let digest: String
        /// Bytes transferred by this fetch (0 when the file was already cached).
        public let bytesDownloaded: Int64
        public let alreadyCached: Bool
        public let seconds: Double
    }

    /// `$ZOO_CACHE`, else `$XDG_CACHE_HOME/convzoo/weights`, else `~/.cache/convzoo/weights`.
    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["ZOO_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        let base: URL
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            base = URL(fileURLWithPath: xdg, isDirectory: true)
        } else {
            let home = environment["HOME"].map { URL(fileURLWithPath: $0, isDirectory: true) }
                ?? FileManager.default.homeDirectoryForCurrentUser
            base = home.appendingPathComponent(".cache", isDirectory: true)
        }
        return base.appendingPathComponent("convzoo/weights", isDirectory: true)
    }

    /// The entry's URL with its scheme, host and port replaced by `urlBase` (whose path, if any, is prepended).
    public func sourceURL(for entry: PretrainedWeights) -> URL {
        guard let urlBase, let parts = URLComponents(url: entry.url, resolvingAgainstBaseURL: false) else { return entry.url }
        var base = urlBase.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let tail = parts.percentEncodedPath + (parts.percentEncodedQuery.map { "?" + $0 } ?? "")
        return URL(string: base + tail) ?? entry.url
    }

    /// The final cache path of `entry`'s file.
    public func destination(for entry: PretrainedWeights) -> URL {
        cacheDirectory.appendingPathComponent(entry.fileName)
    }

    /// Downloads (or resumes) `entry`'s file, verifies it and moves it to its final name.
    public func fetch(_ entry: PretrainedWeights) throws -> Result {
        let started = Date()
        do {
            try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw PretrainedError("cannot create the cache directory \(cacheDirectory.path): \(error.localizedDescription)")
        }
        let final = destination(for: entry)
        let part = cacheDirectory.appendingPathComponent(entry.fileName + ".part")
        let source = sourceURL(for: entry)
        if let digest = try verifiedExisting(final, entry) {
            return Result(file: final, source: source, digest: digest, bytesDownloaded: 0, alreadyCached: true,
                          seconds: Date().timeIntervalSince(started))
        }

        let fd = open(part.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PretrainedError("cannot open \(part.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw PretrainedError("\(part.path) is locked: another `zoo fetch` is downloading it")
        }
        // A fetch that held the lock until just now may have finished the file.
        if let digest = try verifiedExisting(final, entry) {
            if size(of: fd) == 0 { unlink(part.path) }
            return Result(file: final, source: source, digest: digest, bytesDownloaded: 0, alreadyCached: true,
                          seconds: Date().timeIntervalSince(started))
        }

        // A failed fetch keeps what it received for the next one to resume; an empty part is no help.
        var committed = false
        defer { if !committed && size(of: fd) == 0 { unlink(part.path) } }
        var downloaded: Int64 = 0
        var failures = 0
        attempts: while true {
            let offset = size(of: fd)
            if offset > 0 { log("resuming \(part.lastPathComponent) from byte \(offset)") }
            let attempt = Attempt(fd: fd, offset: offset, log: log, progressInterval: progressInterval)
            let outcome = try attempt.run(source, idleTimeout: idleTimeout)
            downloaded += attempt.received
            switch outcome {
            case .complete:
                break attempts
            case .rangeNotSatisfiable:
                // The part file already holds all the server has (or more): the checksum decides.
                break attempts
            case .interrupted(let why):
                failures += 1
                let kept = size(of: fd)
                guard failures <= retries else {
                    let next = kept > 0 ? "\(kept) bytes kept in \(part.path); run `zoo fetch \(entry.name)` again to resume"
                                        : "nothing received; run `zoo fetch \(entry.name)` again to retry"
                    throw PretrainedError("download of \(source) interrupted: \(why); \(next)")
                }
                log("\(why); resuming (retry \(failures) of \(retries))")
            }
        }

        let digest = try digestOfFile(part, entry.checksum)
        guard entry.checksum.matches(digest) else {
            unlink(part.path)
            throw PretrainedError("checksum mismatch for \(source): expected \(entry.checksum), got \(entry.checksum.algorithm) "
                + "\(digest); deleted \(part.path)")
        }
        do {
            try DurableFile.commit(fd, part, to: final)
        } catch let error as DurableFileError {
            throw PretrainedError("cannot put \(part.path) in place as \(final.path): \(error)")
        }
        committed = true
        return Result(file: final, source: source, digest: digest, bytesDownloaded: downloaded, alreadyCached: false,
                      seconds: Date().timeIntervalSince(started))
    }

    /// The digest of `file` if it exists and matches; a file that fails is removed, so that only
    /// verified files ever stand under a final name.
    func verifiedExisting(_ file: URL, _ entry: PretrainedWeights) throws -> String? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let digest = try digestOfFile(file, entry.checksum)
        if entry.checksum.matches(digest) { return digest }
        log("\(file.path) fails its checksum (expected \(entry.checksum), got \(digest)); downloading it again")
        unlink(file.path)
        return nil
    }

    func digestOfFile(_ url: URL, _ checksum: WeightChecksum) throws -> String {
        try checksum.digest(ofFile: url)
    }

    func size(of fd: Int32) -> Int64 {
        var s = stat()
        return fstat(fd, &s) == 0 ? Int64(s.st_size) : 0
    }
}

/// One HTTP request of a fetch, appending to the part file from `offset`.
// @unchecked: its state is touched only on the session's serial delegate queue until `done` is signalled,
// and read by the waiting thread after that.
final class Attempt: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    enum Outcome { case complete, rangeNotSatisfiable, interrupted(String) }

    let fd: Int32
    let offset: Int64
    let log: (String) -> Void
    let progressInterval: TimeInterval
    var position: Int64
    var received: Int64 = 0
    var total: Int64?
    var status = 0
    var failure: PretrainedError?
    var transportError: Error?
    let started = Date()
    var lastReport = Date()
    let done = DispatchSemaphore(value: 0)

    init(fd: Int32, offset: Int64, log: @escaping (String) -> Void, progressInterval: TimeInterval) {
        self.fd = fd
        self.offset = offset
        self.position = offset
        self.log = log
        self.progressInterval = progressInterval
    }

    func run(_ url: URL, idleTimeout: TimeInterval) throws -> Outcome {
        var request = URLRequest(url: url)
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        // Byte offsets must be the file's own: no transparent decompression.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        request.setValue("convzoo-fetch", forHTTPHeaderField: "User-Agent")
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
        session.dataTask(with: request).resume()
        done.wait()
        session.finishTasksAndInvalidate()

        if let failure { throw failure }
        if status == 416 { return .rangeNotSatisfiable }
        if let transportError {
            return .interrupted("connection lost after \(position) bytes (\(transportError.localizedDescription))")
        }
        if let total, position != total {
            return .interrupted("connection closed after \(position) of \(total) bytes")
        }
        report(final: true)
        return .complete
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let url = response.url?.absoluteString ?? dataTask.originalRequest?.url?.absoluteString ?? "?"
        guard let http = response as? HTTPURLResponse else {
            failure = PretrainedError("\(url): not an HTTP response")
            return completionHandler(.cancel)
        }
        status = http.statusCode
        switch status {
        case 206:
            // Content-Range: bytes START-END/TOTAL
            let range = header(http, "Content-Range") ?? ""
            let numbers = range.split(whereSeparator: { !$0.isNumber }).compactMap { Int64($0) }
            guard range.hasPrefix("bytes "), numbers.count == 3, numbers[0] == offset else {
                failure = PretrainedError("\(url) answered the request for bytes \(offset)- with Content-Range '\(range)'")
                return completionHandler(.cancel)
            }
            total = numbers[2]
        case 200:
            if offset > 0 {
                log("the server ignored the range request; starting over")
                guard ftruncate(fd, 0) == 0 else {
                    failure = PretrainedError("cannot truncate the part file: \(String(cString: strerror(errno)))")
                    return completionHandler(.cancel)
                }
                position = 0
            }
            total = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
        case 416:
            return completionHandler(.cancel)
        default:
            failure = PretrainedError("HTTP \(status) (\(HTTPURLResponse.localizedString(forStatusCode: status))) from \(url)")
            return completionHandler(.cancel)
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        let ok: Bool = data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(position) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
        guard ok else {
            failure = PretrainedError("cannot write the part file: \(String(cString: strerror(errno)))")
            dataTask.cancel()
            return
        }
        position += Int64(data.count)
        received += Int64(data.count)
        if Date().timeIntervalSince(lastReport) >= progressInterval { report(final: false) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if status != 416, failure == nil { transportError = error }
        done.signal()
    }

    func report(final: Bool) {
        lastReport = Date()
        let seconds = max(Date().timeIntervalSince(started), 1e-3)
        let rate = Double(received) / seconds
        var line = "\(final ? "done" : "    "): \(byteString(position))"
        if let total, total > 0 { line += " of \(byteString(total)) (\(Int(100 * Double(position) / Double(total)))%)" }
        line += ", \(byteString(Int64(rate)))/s"
        log(line)
    }

    func header(_ response: HTTPURLResponse, _ name: String) -> String? {
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, key.lowercased() == name.lowercased() { return value as? String }
        }
        return nil
    }
}

/// `528.0 MB`, `1.2 kB`, `812 B` (decimal units, as curl and browsers show).
public func byteString(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes), unit = 0
    while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}
