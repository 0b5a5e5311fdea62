import Foundation
import TestSupport
import XCTest

/// `zoo finetune` as the built binary runs it: LeNet-5 trained from scratch on the bundled digits,
/// then fine-tuned on a small image folder holding a corrupt image, interrupted and resumed.
final class FinetuneCommandTests: XCTestCase {
    static let repo = repositoryRoot
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-finetune-\(UUID().uuidString)")
    static var base: URL { work.appendingPathComponent("lenet5-digits.h5") }
    static var folder: URL { work.appendingPathComponent("images") }
    nonisolated(unsafe) static var setUpError: String?
    nonisolated(unsafe) static var baseRun: ZooBinary.Result?

    override class func setUp() {
        super.setUp()
        do {
            // Three classes (folder names sorted: Dog, ant, cat), each image twice, and a corrupt one.
            let fm = FileManager.default
            let fixtures = repo.appendingPathComponent("Tests/Fixtures/images/folder")
            for (label, files) in [("ant", ["ant/1.png", "ant/2.png", "ant/3.png"]), ("Dog", ["Dog/one.png", "Dog/two.png", "Dog/broken.jpg"]),
                                   ("cat", ["cat/A.png", "ant/1.png", "Dog/one.png"])] {
                let dir = folder.appendingPathComponent(label)
                try fm.createDirectory(at: dir, withIntermediateDirectories: true)
                for (i, file) in files.enumerated() {
                    let name = URL(fileURLWithPath: file).lastPathComponent
                    for copy in 0..<2 where !(copy == 1 && name == "broken.jpg") {
                        try fm.copyItem(at: fixtures.appendingPathComponent(file),
                                        to: dir.appendingPathComponent("\(i)-\(copy)-\(name)"))
                    }
                }
            }
            let r = try ZooBinary.run(["finetune", "--model", "lenet5", "--data", repo.appendingPathComponent("datasets/digits").path,
                                       "--out", base.path, "--epochs", "2", "--preprocessing", "tf", "--seed", "3"])
            baseRun = r
            if r.status != 0 { setUpError = "zoo finetune from scratch failed: \(r.stderr)" }
        } catch {
            setUpError = "\(error)"
        }
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: work)
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let problem = Self.setUpError { XCTFail(problem) }
        try XCTSkipIf(Self.setUpError != nil)
    }

    func testTrainingFromScratchOnTheBundledDigitsWritesTheModelAndItsCurves() throws {
        let r = try XCTUnwrap(Self.baseRun)
        XCTAssertTrue(r.stdout.contains("lenet5: 5 of 5 layers with weights train (61,706 weights)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("data: 1797 samples of 10 classes; 1438 for training, 359 for validation"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch=") }.count, 2, r.stdout)
        XCTAssertTrue(r.stdout.contains("preprocessing tf"), r.stdout)
        let curves = try String(contentsOf: Self.work.appendingPathComponent("lenet5-digits-curves.svg"), encoding: .utf8)
        XCTAssertTrue(curves.contains("<svg"), curves)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.work.appendingPathComponent("lenet5-digits.checkpoints/epoch-0002/manifest.json").path))
    }

    func testFineTuningANewHeadOnAFolderSkipsTheCorruptImageOnceAndRecordsTheClasses() throws {
        let out = Self.work.appendingPathComponent("tuned/lenet5-folder.h5")
        let r = try ZooBinary.run(["finetune", "--weights", Self.base.path, "--data", Self.folder.path, "--out", out.path,
                                   "--epochs", "3", "--batch", "4", "--lr", "0.01"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("by name (strict): 4 layers loaded"), r.stdout)
        XCTAssertTrue(r.stdout.contains("new, left as built: predictions"), r.stdout)
        XCTAssertTrue(r.stdout.contains("lenet5: 1 of 5 layers with weights train (255 weights): predictions"), r.stdout)
        XCTAssertTrue(r.stdout.contains("data: 17 samples of 3 classes"), r.stdout)
        XCTAssertTrue(r.stdout.contains("cached trunk features: 84 per sample below 'f6'"), r.stdout)
        XCTAssertEqual(r.stderr.components(separatedBy: "broken.jpg").count - 1, 1, "warned once: \(r.stderr)")
        // 17 samples, one unreadable: the counts say what was used.
        let used = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("skipped 1 unreadable sample(s)") },
                                 r.stdout)
        let counts = used.components(separatedBy: "trained on ").last!.components(separatedBy: ", validated on ")
            .compactMap { Int($0) }
        XCTAssertEqual(counts.reduce(0, +), 16, String(used))
        XCTAssertTrue(r.stdout.contains("3 classes: Dog, ant, cat; preprocessing tf"), r.stdout)

        let p = try ZooBinary.run(["predict", "--weights", out.path, Self.folder.appendingPathComponent("ant/0-0-1.png").path])
        XCTAssertEqual(p.status, 0, p.stderr)
        let ranked = p.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[1] }
        XCTAssertEqual(Set(ranked), ["Dog", "ant", "cat"], p.stdout)
    }

    func testAnInterruptedFineTuneResumesToTheSameModelBitForBit() throws {
        let common = ["finetune", "--weights", Self.base.path, "--data", Self.folder.path, "--epochs", "4", "--batch", "4",
                      "--trainable-from", "c5", "--augment", "flip,crop", "--seed", "9"]
        let whole = Self.work.appendingPathComponent("whole/model.h5")
        let a = try ZooBinary.run(common + ["--out", whole.path])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertFalse(a.stdout.contains("cached trunk features"), "augmented inputs are not cached")

        let resumed = Self.work.appendingPathComponent("resumed/model.h5")
        let killed = try ZooBinary.run(common + ["--out", resumed.path], environment: ["ZOO_TEST_KILL_AFTER_EPOCH": "2"])
        XCTAssertEqual(killed.status, SIGKILL, "killed during epoch 3: \(killed.stdout)")
        let checkpoints = Self.work.appendingPathComponent("resumed/model.checkpoints")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).filter { $0.hasPrefix("epoch-") },
                       ["epoch-0002"])
        var changed = common
        changed[changed.firstIndex(of: "--seed")! + 1] = "10"
        let refused = try ZooBinary.run(changed + ["--out", resumed.path, "--resume", "--lr", "0.5"])
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("--resume: the checkpoint was written with other --lr, --seed"), refused.stderr)
        let b = try ZooBinary.run(common + ["--out", resumed.path, "--resume"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stdout.contains("after epoch 2"), b.stdout)
        XCTAssertEqual(try Data(contentsOf: whole), try Data(contentsOf: resumed), "the resumed run wrote the same file")
        func epochs(_ text: String, from first: Int) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix("epoch=") }.map { line in
                line.split(separator: " ").filter { !$0.hasPrefix("samples_per_second") && !$0.hasPrefix("seconds") }
                    .joined(separator: " ")
            }.filter { Int($0.dropFirst(6).prefix { $0 != "/" })! >= first }
        }
        XCTAssertEqual(epochs(b.stdout, from: 3), epochs(a.stdout, from: 3))
        XCTAssertEqual(epochs(b.stdout, from: 3).count, 2)
    }

    func testEvaluateTakesTheArraysFinetuneTrainedOn() throws {
        let out = Self.work.appendingPathComponent("digits-confusion.csv")
        let r = try ZooBinary.run(["evaluate", "--weights", Self.base.path, "--data",
                                   Self.repo.appendingPathComponent("datasets/digits").path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let top1 = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("top-1 accuracy:") }, r.stdout)
        XCTAssertTrue(top1.hasSuffix("(1797 images)"), String(top1))
        let percent = try XCTUnwrap(Double(top1.split(separator: " ")[2].dropLast()))
        XCTAssertGreaterThan(percent, 90, "two epochs on the digits: \(top1)")
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8).split(separator: "\n").count, 11)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.work.appendingPathComponent("digits-confusion.png").path))
    }

    func testResumeWithoutACheckpointFailsBeforeComputingFeatures() throws {
        let out = Self.work.appendingPathComponent("never-ran/model.h5")
        let r = try ZooBinary.run(["finetune", "--weights", Self.base.path, "--data", Self.folder.path, "--out", out.path,
                                   "--resume"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--resume: no checkpoint in"), r.stderr)
        XCTAssertFalse(r.stdout.contains("cached trunk features"), r.stdout)
    }

    func testMistakesGetClearErrors() throws {
        let out = Self.work.appendingPathComponent("bad/model.h5").path
        let unknown = try ZooBinary.run(["finetune", "--weights", Self.base.path, "--data", Self.folder.path, "--out", out,
                                         "--trainable-from", "conv9"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("lenet5 has no layer 'conv9'; its layers with weights are c1, c3, c5, f6, predictions"),
                      unknown.stderr)
        let noCheckpoint = try ZooBinary.run(["finetune", "--weights", Self.base.path, "--data", Self.folder.path, "--out", out,
                                              "--resume"])
        XCTAssertEqual(noCheckpoint.status, 1)
        XCTAssertTrue(noCheckpoint.stderr.contains("--resume: no checkpoint in"), noCheckpoint.stderr)
        let optimizer = try ZooBinary.run(["finetune", "--model", "lenet5", "--data", Self.folder.path, "--out", out,
                                           "--optimizer", "adamax"])
        XCTAssertNotEqual(optimizer.status, 0)
        XCTAssertTrue(optimizer.stderr.contains("--optimizer adamax: choose from sgd, momentum, nesterov, adam"), optimizer.stderr)
        let shape = try ZooBinary.run(["finetune", "--model", "alexnet", "--data",
                                       Self.repo.appendingPathComponent("datasets/digits").path, "--out", out])
        XCTAssertEqual(shape.status, 1)
        XCTAssertTrue(shape.stderr.contains("samples of shape [8, 8, 1]; alexnet takes [224, 224, 3]"), shape.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no model is written for a run that fails")
    }

    /// A folder on a read-only mount (in a private mount namespace of its own, so nothing outside
    /// sees it): `--out` there fails before any training, naming the folder. (chmod cannot show
    /// this as root, whose writes it does not stop.)
    func testAReadOnlyOutFolderFailsBeforeTheFirstEpoch() throws {
        let folder = Self.work.appendingPathComponent("read-only")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let mountReadOnly = "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" \"$1\" || exit 99; shift; exec \"$@\""
        let namespace = ["-m", "--propagation", "private", "/bin/sh", "-c", mountReadOnly, "sh", folder.path]
        let unshare = URL(fileURLWithPath: "/usr/bin/unshare")
        guard let probe = try? ZooBinary.run(namespace + ["/bin/true"], executable: unshare), probe.status == 0 else {
            throw XCTSkip("needs a private mount namespace (root, unshare -m)")
        }
        let out = folder.appendingPathComponent("tuned.h5")
        let r = try ZooBinary.run(namespace + [ZooBinary.url.path, "finetune", "--weights", Self.base.path, "--data",
                                               Self.folder.path, "--out", out.path, "--epochs", "1"], executable: unshare)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("--out: cannot write in \(folder.path) (read-only file system)"), r.stderr)
        XCTAssertFalse(r.stdout.lowercased().contains("epoch"), "no training before the error: \(r.stdout)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "nothing left behind")
    }
}
