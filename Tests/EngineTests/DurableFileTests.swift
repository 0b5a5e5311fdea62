import Foundation
import XCTest
@testable import Engine

/// `DurableFile`: nothing but the target is left after a write, whatever happens, and the
/// temporaries of processes that died are cleaned up by the next write.
final class DurableFileTests: XCTestCase {
    func contents(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    /// The PID of a process that has exited and been reaped.
    func deadPID() throws -> pid_t {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func testTemporariesOfDeadProcessesAreRemovedAndThoseOfLiveOnesKept() throws {
        let dir = try temporaryDirectory(self)
        let dead = try deadPID()
        try Data("half a save".utf8).write(to: dir.appendingPathComponent(".model.h5.\(dead).123.tmp"))
        let checkpoint = dir.appendingPathComponent(".epoch-0002.\(dead).77.tmp")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: false)
        try Data("x".utf8).write(to: checkpoint.appendingPathComponent("weights.npz"))
        let live = ".other.h5.\(getpid()).456.tmp"
        let unrelated = [".notes.tmp", ".a.b.tmp", ".x.\(dead).tmp", "plain.\(dead).1.tmp"]
        for name in [live] + unrelated { try Data().write(to: dir.appendingPathComponent(name)) }

        try DurableFile.write(Data("new".utf8), to: dir.appendingPathComponent("model.h5"))
        XCTAssertEqual(try contents(dir), ([live, "model.h5"] + unrelated).sorted())
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("model.h5"), encoding: .utf8), "new")
    }

    func testAFailedWriteLeavesTheTargetAndNoTemporary() throws {
        let dir = try temporaryDirectory(self)
        let url = dir.appendingPathComponent("model.h5")
        try DurableFile.write(Data("old".utf8), to: url)
        struct Failure: Error {}
        XCTAssertThrowsError(try DurableFile.write(to: url) { write in
            try write(Data("partial".utf8))
            throw Failure()
        })
        XCTAssertThrowsError(try DurableFile.create(url) { temporary in
            try Data("partial".utf8).write(to: temporary)
            throw Failure()
        })
        XCTAssertThrowsError(try DurableFile.replaceDirectory(dir.appendingPathComponent("checkpoint")) { _ in throw Failure() })
        XCTAssertEqual(try contents(dir), ["model.h5"])
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "old")
    }

    func testCreateReplacesTheTargetWithWhatTheLibraryWrote() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("features.h5")
        try DurableFile.write(Data("old".utf8), to: url)
        try DurableFile.create(url) { temporary in try Data("written by name".utf8).write(to: temporary) }
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "written by name")
        XCTAssertEqual(try contents(url.deletingLastPathComponent()), ["features.h5"])
    }
}
