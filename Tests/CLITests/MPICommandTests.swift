import Engine
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

    /// `zoo` under mpirun as two programs (MPMD), one rank each, rank 0 in `first` and rank 1 in
    /// `second` as working directories.
    func mpirun(_ arguments: [String], rank0In first: URL, rank1In second: URL) throws -> ZooBinary.Result {
        let program = [ZooBinary.url.path] + arguments
        return try ZooBinary.run(["--oversubscribe", "--bind-to", "none", "-np", "1", "--wdir", first.path] + program
                                    + [":", "-np", "1", "--wdir", second.path] + program,
                                 environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"],
                                 executable: URL(fileURLWithPath: "/usr/bin/mpirun"))
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
            // Unless ZOO_THREADS says otherwise: the cores divided by the ranks on this machine.
            let threads = ProcessInfo.processInfo.environment["ZOO_THREADS"].flatMap(Int.init)
                ?? max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
            XCTAssertTrue(b.stdout.contains("data parallel: 2 ranks of \(threads) thread(s) each"), b.stdout)
            XCTAssertEqual(b.stdout.components(separatedBy: "\nwrote ").count - 1, 1, "rank 0 alone prints: \(b.stdout)")
            XCTAssertEqual(bestEpoch(b.stdout), bestEpoch(a.stdout), "run \(i)")
            try assertSameWeights(two, one, "run \(i): \(options)")
        }
    }

    func testSyncBNGivesTheSingleProcessWeightsWhereBatchNormTrains() throws {
        // ResNet-18's twin (its fixture weights, BatchNorm randomized) with every layer training, so
        // every BatchNorm normalizes with batch statistics; 12 hashed 32x32 samples, 9 for training:
        // batches of 5 split 3 + 2, the last of each epoch 4 split 2 + 2. A well-conditioned run (in
        // one process a 1e-5 change of --lr moves no weight by more than 3.3e-6 of its scale); see
        // the README on batches where BatchNorm's backward is ill-conditioned.
        let data = work.appendingPathComponent("hashed")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var images = Tensor(zeros: [12, 32, 32, 3])
        for i in 0..<images.count { images[flat: i] = Float(((UInt64(i) &* 2_654_435_761) >> 7) % 256) }
        try NPY.encode(images).write(to: data.appendingPathComponent("images.npy"))
        var labels = Tensor(zeros: [12])
        for i in 0..<12 { labels[flat: i] = Float(i % 3) }
        try NPY.encode(labels).write(to: data.appendingPathComponent("labels.npy"))
        let common = ["finetune", "--data", data.path, "--model", "resnet18", "--channel-divisor", "16",
                      "--weights", fixtureURL("zoo/resnet18/weights.h5").path, "--trainable-from", "conv1_conv",
                      "--epochs", "2", "--batch", "5", "--optimizer", "sgd", "--lr", "0.01", "--seed", "3"]
        let one = work.appendingPathComponent("one.h5"), synced = work.appendingPathComponent("synced.h5"),
            perRank = work.appendingPathComponent("per-rank.h5")
        let a = try ZooBinary.run(common + ["--out", one.path])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("9 for training"), a.stdout)
        let b = try mpirun(common + ["--out", synced.path, "--sync-bn"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stdout.contains("statistics of the global batch (--sync-bn)"), b.stdout)
        XCTAssertEqual(bestEpoch(b.stdout), bestEpoch(a.stdout))
        try assertSameWeights(synced, one, "--sync-bn on two ranks")

        // Without --sync-bn each rank normalizes its share by its own statistics: not the same run.
        let c = try mpirun(common + ["--out", perRank.path])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("statistics per rank"), c.stdout)
        XCTAssertGreaterThan(try worstRelativeDifference(perRank, one), 1e-3, "per-rank statistics change the result")
    }

    func testRank0AloneReadsTheWeightFile() throws {
        // Two working directories, the weight file only in rank 0's: rank 1 cannot open it.
        let first = work.appendingPathComponent("A"), second = work.appendingPathComponent("B")
        for folder in [first, second] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(at: Self.shipped, to: first.appendingPathComponent("w.h5"))

        let tune = ["finetune", "--data", Self.folder.path, "--weights", "w.h5", "--trainable-from", "c5", "--epochs", "2",
                    "--batch", "5", "--seed", "1"]
        let single = try ZooBinary.run(tune + ["--out", work.appendingPathComponent("one.h5").path], directory: first)
        XCTAssertEqual(single.status, 0, single.stderr)
        let tuned = try mpirun(tune + ["--out", "tuned.h5"], rank0In: first, rank1In: second)
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        XCTAssertTrue(tuned.stdout.contains("data parallel: 2 ranks"), tuned.stdout)
        try assertSameWeights(first.appendingPathComponent("tuned.h5"), work.appendingPathComponent("one.h5"),
                              "weights read by rank 0 alone")
        // Resumed for a third epoch: the checkpoint, too, is only in rank 0's directory.
        let longer = tune.map { $0 == "2" ? "3" : $0 }
        let three = try ZooBinary.run(longer + ["--out", work.appendingPathComponent("three.h5").path], directory: first)
        XCTAssertEqual(three.status, 0, three.stderr)
        let resumed = try mpirun(longer + ["--out", "tuned.h5", "--resume"], rank0In: first, rank1In: second)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("after epoch 2"), resumed.stdout)
        try assertSameWeights(first.appendingPathComponent("tuned.h5"), work.appendingPathComponent("three.h5"),
                              "resumed from the checkpoint rank 0 alone holds")

        let extract = ["features", "--weights", "w.h5", "--layer", "f6", "--batch", "3", Self.folder.path]
        let one = try ZooBinary.run(extract + ["--out", work.appendingPathComponent("one.npy").path],
                                    directory: first)
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(extract + ["--out", "two.npy"], rank0In: first, rank1In: second)
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertEqual(two.stderr.components(separatedBy: "Loaded ").count - 1, 1, "rank 0 alone reports the load: \(two.stderr)")
        XCTAssertEqual(try Data(contentsOf: first.appendingPathComponent("two.npy")),
                       try Data(contentsOf: work.appendingPathComponent("one.npy")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: second.path), [],
                       "rank 1 wrote nothing in its directory")
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

        let b = try mpirun(common + ["--out", resumed.path, "--resume"], environment: ["ZOO_THREADS": "3"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stdout.contains("after epoch 1"), b.stdout)
        XCTAssertTrue(b.stdout.contains("2 ranks of 3 thread(s) each"), "ZOO_THREADS is each rank's: \(b.stdout)")
        try assertSameWeights(resumed, whole, "resumed on two ranks")
    }

    func bestEpoch(_ stdout: String) -> String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("best epoch") }.map { String($0.prefix(while: { $0 != ":" })) }
    }

    /// The largest difference of a weight of `url` from `reference`'s, relative to that weight
    /// tensor's largest magnitude.
    func worstRelativeDifference(_ url: URL, _ reference: URL) throws -> Float {
        let mine = try WeightFile.read(url), theirs = try WeightFile.read(reference)
        return zip(mine.layers, theirs.layers).flatMap { a, b in zip(a.weights, b.weights) }.map { x, y in
            let scale = max(y.value.scalars.map(abs).max() ?? 0, 1e-6)
            return (zip(x.value.scalars, y.value.scalars).map { abs($0 - $1) }.max() ?? 0) / scale
        }.max() ?? 0
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
