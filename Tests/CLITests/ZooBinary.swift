import Foundation
import XCTest

/// Runs the built `zoo` binary as a real process.
enum ZooBinary {
    /// The directory holding the test bundle, where SwiftPM also puts the `zoo` executable.
    static var url: URL {
        let products = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL
            .deletingLastPathComponent() ?? Bundle.main.bundleURL
        return products.appendingPathComponent("zoo")
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `zoo` (or a copy of it at `executable`) with `arguments`, in `directory` when given,
    /// waiting for it to finish.
    static func run(_ arguments: [String], environment: [String: String] = [:], executable: URL? = nil,
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
        // Read before waiting so a chatty process cannot fill the pipe and block.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
