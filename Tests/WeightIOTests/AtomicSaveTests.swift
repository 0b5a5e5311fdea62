import Engine
import Foundation
import XCTest
@testable import WeightIO

/// A save that dies part-way must leave the previous file whole: checked with a fault-injection
/// hook stopping after N bytes, and with a real child process killed mid-save.
final class AtomicSaveTests: XCTestCase {
    static let targetVariable = "CONVZOO_KILL_TEST_TARGET"
    static let markerVariable = "CONVZOO_KILL_TEST_MARKER"

    /// A model of about 2 MB of weights, enough for a save to be caught half-way.
    func largerModel(seed: UInt64) -> Sequential {
        let model = Sequential(name: "larger", [Conv2D(name: "conv", inputChannels: 3, filters: 8, kernelSize: (3, 3)),
                                                Dense(name: "fc", inputFeatures: 512, units: 1024)])
        randomize(model, RandomGenerator(seed: seed))
        return model
    }

    func assertHolds(_ url: URL, weightsOf model: Layer, file: StaticString = #filePath, line: UInt = #line) throws {
        let fresh = tinyOrLarger(like: model)
        _ = try fresh.loadWeights(from: url)
        for (a, b) in zip(model.allWeights, fresh.allWeights) {
            XCTAssertEqual(a.value, b.value, "\(a.name)", file: file, line: line)
        }
    }

    func tinyOrLarger(like model: Layer) -> Layer {
        model.name == "larger" ? largerModel(seed: 999) : tinyEngineModel(seed: 999)
    }

    func leftovers(in dir: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil, options: [])
            .filter { $0.lastPathComponent.hasSuffix(".tmp") }
    }

    func testCrashAfterNBytesLeavesThePreviousFileIntact() throws {
        let dir = try temporaryDirectory(self)
        let url = dir.appendingPathComponent("model.h5")
        let old = tinyEngineModel(seed: 1), new = tinyEngineModel(seed: 2)
        try old.saveWeights(to: url)
        let before = try Data(contentsOf: url)
        let size = try WeightWriter.kerasH5Data(WeightArchive(model: new)).count
        for n in [0, 1, 8, 512, 4096, size / 2, size - 1] {
            do {
                try new.saveWeights(to: url, hooks: SaveHooks(chunkSize: 1000, crashAfterBytes: n))
                XCTFail("a save stopped after \(n) of \(size) bytes must not succeed")
            } catch let crash as SimulatedCrash {
                XCTAssertEqual(crash.bytesWritten, n)
                let partial = try Data(contentsOf: crash.temporaryFile)
                XCTAssertEqual(partial.count, n, "the temporary file holds what was written")
                XCTAssertEqual(crash.temporaryFile.deletingLastPathComponent().path, dir.path, "same directory as the target")
                try FileManager.default.removeItem(at: crash.temporaryFile)
            }
            XCTAssertEqual(try Data(contentsOf: url), before, "after a crash at \(n) bytes")
        }
        try assertHolds(url, weightsOf: old)
        try new.saveWeights(to: url)
        try assertHolds(url, weightsOf: new)
        XCTAssertEqual(try leftovers(in: dir), [], "a completed save leaves no temporary file")
    }

    func testSaveKeepsThePermissionsOfTheFileItReplaces() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("model.h5")
        try tinyEngineModel(seed: 1).saveWeights(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        try tinyEngineModel(seed: 2).saveWeights(to: url)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
    }

    func testChildProcessKilledMidSaveLeavesThePreviousFileIntact() throws {
        let dir = try temporaryDirectory(self)
        let url = dir.appendingPathComponent("model.h5")
        let marker = dir.appendingPathComponent("child-is-mid-save")
        let old = largerModel(seed: 1)
        try old.saveWeights(to: url)
        let before = try Data(contentsOf: url)

        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["WeightIOTests.AtomicSaveTests/testChildHalfOfTheKillTest"]
        child.environment = ProcessInfo.processInfo.environment.merging(
            [AtomicSaveTests.targetVariable: url.path, AtomicSaveTests.markerVariable: marker.path]) { _, new in new }
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL); child.waitUntilExit() } }

        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: marker.path) && child.isRunning && Date() < deadline {
            usleep(10_000)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker.path), "the child never reached the middle of its save")
        XCTAssertTrue(child.isRunning, "the child must still be saving when killed")
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .uncaughtSignal)

        XCTAssertEqual(try Data(contentsOf: url), before, "the killed save must not touch the previous file")
        try assertHolds(url, weightsOf: old)
        let partial = try leftovers(in: dir)
        XCTAssertEqual(partial.count, 1, "the killed save left its temporary file")
        if let temp = partial.first {
            let size = try Data(contentsOf: temp).count
            XCTAssertTrue(size >= 256 * 1024 && size < before.count, "\(size) bytes: the child died mid-write")
        }
    }

    /// The child half of the kill test: saves a new model and, half-way through, tells the parent
    /// and waits to be killed. Skipped when run on its own.
    func testChildHalfOfTheKillTest() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let target = environment[AtomicSaveTests.targetVariable], let marker = environment[AtomicSaveTests.markerVariable] else {
            throw XCTSkip("runs only as the child process of testChildProcessKilledMidSaveLeavesThePreviousFileIntact")
        }
        try largerModel(seed: 2).saveWeights(to: URL(fileURLWithPath: target), hooks: SaveHooks(chunkSize: 64 * 1024) { written in
            guard written >= 256 * 1024 else { return }
            FileManager.default.createFile(atPath: marker, contents: nil)
            while true { sleep(1) }
        })
        XCTFail("the parent kills this process before its save ends")
    }
}
