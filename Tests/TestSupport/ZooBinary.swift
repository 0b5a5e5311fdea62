import Dispatch
import Foundation

/// Runs the built `zoo` binary as a real process.
public enum ZooBinary {
    /// The directory holding the test bundle, where SwiftPM also puts the `zoo` executable.
    public static var url: URL {
        let products = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL
            .deletingLastPathComponent() ?? Bundle.main.bundleURL
        return products.appendingPathComponent("zoo")
    }

    public struct Result {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `zoo` (or another executable) with `arguments`, in `directory` when given, waiting
    /// for it to finish.
    public static func run(_ arguments: [String], environment: [String: String] = [:], executable: URL? = nil,
                           directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? url
        if let directory { process.currentDirectoryURL = directory }
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Both pipes drain at once: reading one to its end first blocks for ever once the child
        // fills the other's buffer (64 KB) and waits for it to be read.
        let errBox = DataBox()
        let drained = DispatchGroup()
        DispatchQueue.global().async(group: drained) { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        let errData = errBox.data
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// What the stderr reader hands back; the group's wait orders its write before the read.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
