import Foundation
import TestSupport
import WeightIO
import XCTest

/// `zoo features` and `zoo finetune` under `mpirun -np 2` on this machine (shared memory, as root
/// with Open MPI's allow-run-as-root settings), against the same commands in one process.
final class MPICommandTests: XCTestCase {
    static let folder = fixtureURL("images/folder")
    static let shipped = repositoryRoot.appendingPathComponent("weights/lenet5-digits.h5")
    var work: URL!

    override func setUpWithError() throws { work = try temporaryDirectory(self) }

    /// `zoo` under `mpirun -np ranks` on this machine.
    func mpirun(_ arguments: [String], ranks: Int = 2, environment: [String: String] = [:]) throws -> ZooBinary.Result {
        var env = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
        for (key, value) in environment { env[key] = value }
        let exported = environment.keys.sorted().flatMap { ["-x", $0] }
        return try ZooBinary.run(["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none"] + exported
                                    + [ZooBinary.url.path] + arguments,
                                 environment: env, executable: URL(fileURLWithPath: "/usr/bin/mpirun"))
    }

    /// One layer (one file), then three (one .h5, or one .npy / .csv per layer).
    func testShardedFeaturesWriteTheSingleProcessFilesByteForByte() throws {
        for (layers, perLayer) in [("f6", [String]()), ("s4,c5,f6", ["s4", "c5", "f6"])] {
            for name in ["f.csv", "f.h5", "f.npy"] {
                let common = ["features", "--weights", Self.shipped.path, "--layer", layers, "--batch", "3", Self.folder.path]
                let one = try ZooBinary.run(common + ["--out", work.appendingPathComponent("one-" + name).path])
                XCTAssertEqual(one.status, 0, one.stderr)
                let two = try mpirun(common + ["--out", work.appendingPathComponent("two-" + name).path])
                XCTAssertEqual(two.status, 0, two.stderr)
                let ext = (name as NSString).pathExtension
                let files = ext == "h5" || perLayer.isEmpty ? [name] : perLayer.map { "f-\($0).\(ext)" }
                for file in files {
                    XCTAssertEqual(try Data(contentsOf: work.appendingPathComponent("two-" + file)),
                                   try Data(contentsOf: work.appendingPathComponent("one-" + file)), "\(layers): \(file)")
                }
                XCTAssertEqual(two.stdout.components(separatedBy: "wrote ").count - 1, 1, "rank 0 alone reports: \(two.stdout)")
                XCTAssertTrue(two.stdout.contains("skipped 2 unreadable"), two.stdout)
                XCTAssertEqual(two.stdout.replacingOccurrences(of: "two-", with: ""),
                               one.stdout.replacingOccurrences(of: "one-", with: ""))
            }
        }
    }

    func testFineTuningOnTwoRanksGivesTheSingleProcessWeights() throws {
        // Head only on cached trunk features; then every layer with augmentation and mixup (the
        // batch gathered for them); then AlexNet's twin, whose Dropout masks span the global batch.
        // Batches of 5 split 3 + 2 between the ranks, and the last batch of each epoch is smaller.
        let runs: [[String]] = [
            ["--weights", Self.shipped.path, "--epochs", "3", "--batch", "5", "--lr", "0.01"],
            ["--weights", Self.shipped.path, "--trainable-from", "c1", "--augment", "flip,crop,mixup", "--epochs", "2",
             "--batch", "5", "--optimizer", "momentum", "--lr", "0.01"],
            ["--model", "alexnet", "--channel-divisor", "16", "--hidden-units", "32", "--epochs", "2", "--batch", "5",
             "--optimizer", "sgd", "--lr", "0.01"],
        ]
        for (i, options) in runs.enumerated() {
            let common = ["finetune", "--data", Self.folder.path, "--seed", "5"] + options
            let one = work.appendingPathComponent("one-\(i).h5"), two = work.appendingPathComponent("two-\(i).h5")
            let a = try ZooBinary.run(common + ["--out", one.path])
            XCTAssertEqual(a.status, 0, a.stderr)
            let b = try mpirun(common + ["--out", two.path])
            XCTAssertEqual(b.status, 0, b.stderr)
            XCTAssertTrue(b.stdout.contains("data parallel: 2 ranks"), b.stdout)
            XCTAssertEqual(b.stdout.components(separatedBy: "\nwrote ").count - 1, 1, "rank 0 alone prints: \(b.stdout)")
            XCTAssertEqual(bestEpoch(b.stdout), bestEpoch(a.stdout), "run \(i)")
            try assertSameWeights(two, one, "run \(i): \(options)")
        }
    }

    func testARankKilledMidRunEndsTheJobAndTheRunResumesUnderMpirun() throws {
        let common = ["finetune", "--data", Self.folder.path, "--weights", Self.shipped.path, "--trainable-from", "c5",
                      "--epochs", "3", "--batch", "4", "--seed", "2"]
        let whole = work.appendingPathComponent("whole.h5")
        let a = try ZooBinary.run(common + ["--out", whole.path])
        XCTAssertEqual(a.status, 0, a.stderr)

        let resumed = work.appendingPathComponent("resumed.h5")
        let killed = try mpirun(common + ["--out", resumed.path],
                                environment: ["ZOO_TEST_KILL_AFTER_EPOCH": "1", "ZOO_TEST_KILL_RANK": "1"])
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertTrue(killed.stderr.contains("rank 1") && killed.stderr.contains("signal 9"), killed.stderr)
        let checkpoints = work.appendingPathComponent("resumed.checkpoints")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).filter { $0.hasPrefix("epoch-") },
                       ["epoch-0001"], "the last checkpoint is intact and no later one was started")

        let b = try mpirun(common + ["--out", resumed.path, "--resume"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stdout.contains("after epoch 1"), b.stdout)
        try assertSameWeights(resumed, whole, "resumed on two ranks")
    }

    func bestEpoch(_ stdout: String) -> String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("best epoch") }.map { String($0.prefix(while: { $0 != ":" })) }
    }

    /// Every weight of `url` within 1e-5 of `reference`'s, relative to that weight tensor's largest magnitude.
    func assertSameWeights(_ url: URL, _ reference: URL, _ what: String) throws {
        let mine = try WeightFile.read(url), theirs = try WeightFile.read(reference)
        XCTAssertEqual(mine.layers.map(\.name), theirs.layers.map(\.name), what)
        var compared = 0
        for (a, b) in zip(mine.layers, theirs.layers) {
            XCTAssertEqual(a.weights.map(\.name), b.weights.map(\.name), what)
            for (x, y) in zip(a.weights, b.weights) {
                XCTAssertEqual(x.value.shape, y.value.shape, "\(what): \(a.name)/\(x.name)")
                let scale = y.value.scalars.map(abs).max() ?? 0
                let worst = zip(x.value.scalars, y.value.scalars).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-5 * max(scale, 1e-6), "\(what): \(a.name)/\(x.name)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 0, what)
    }
}
