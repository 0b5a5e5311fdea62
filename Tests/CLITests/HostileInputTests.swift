import Foundation
import TestSupport
import XCTest

/// Inputs a new user types or is handed, out of range or damaged: each ends in a clear error that
/// names the option or file and what was expected, with an exit status below 128 (no trap, no abort).
final class HostileInputTests: XCTestCase {
    var directory: URL!
    static let repo = repositoryRoot

    override func setUpWithError() throws { directory = try temporaryDirectory(self) }

    func hostile(_ name: String) -> String { fixtureURL("hostile/\(name)").path }

    /// Runs `zoo` under an 8 GB address-space limit, as a small machine would hold it, killed
    /// after 2 minutes (a hang then fails the test instead of stopping the suite).
    func run(_ arguments: [String]) throws -> ZooBinary.Result {
        try ZooBinary.run(["-c", "ulimit -v 8388608; exec timeout -s KILL 120 \"$0\" \"$@\"", ZooBinary.url.path] + arguments,
                          executable: URL(fileURLWithPath: "/bin/sh"))
    }

    /// Asserts a clear failure: an exit status from 1 to 127 and `expected` in the error text.
    func assertRefused(_ arguments: [String], _ expected: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(arguments)
        XCTAssertTrue((1..<128).contains(r.status), "zoo \(arguments.joined(separator: " ")): status \(r.status)\n\(r.stderr)",
                      file: file, line: line)
        for text in expected {
            XCTAssertTrue(r.stderr.contains(text), "zoo \(arguments.joined(separator: " ")): expected '\(text)' in\n\(r.stderr)",
                          file: file, line: line)
        }
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        XCTAssertLessThan(r.stderr.utf8.count, 4000, "a readable error", file: file, line: line)
    }

    /// A float32 .npy header declaring `shape`, with only 64 bytes of data behind it.
    func npy(_ shape: String) throws -> String {
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (64 - (10 + header.count + 1) % 64) % 64) + [10]
        let url = directory.appendingPathComponent("x.npy")
        try (Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header)
            + Data(count: 64)).write(to: url)
        return url.path
    }

    func testModelShapeOptionsOutOfRange() throws {
        try assertRefused(["summary", "lenet5", "--classes=-1"], "--classes must be from 1 to 100000, got -1")
        try assertRefused(["summary", "lenet5", "--classes", "0"], "--classes must be from 1 to 100000, got 0")
        try assertRefused(["summary", "lenet5", "--classes", "9223372036854775807"], "--classes must be from 1 to 100000")
        try assertRefused(["summary", "vgg16", "--input-size", "99999999x99999999"],
                          "--input-size's height and width must be from 1 to 4096, got 99999999")
        try assertRefused(["summary", "vgg16", "--input-size", "224x"], "--input-size must look like 224x224")
        try assertRefused(["summary", "lenet5", "--input-size", "1000x1000"], "lenet5: input height 1000 is out of range; expected 1 to 256")
        try assertRefused(["summary", "vgg16", "--input-size", "5000x5000"],
                          "--input-size's height and width must be from 1 to 4096, got 5000")
        // In range, but fc1's weights grow with the input: a model built to run is refused with the
        // estimate before anything is allocated (`summary` builds none: see the next test).
        let x = directory.appendingPathComponent("big.npy")
        let header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1792, 1792, 3), }".utf8)
        let padded = header + Array(repeating: UInt8(ascii: " "), count: (64 - (10 + header.count + 1) % 64) % 64) + [10]
        try (Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.count & 0xFF), UInt8(padded.count >> 8)] + padded)
            + Data(count: 1792 * 1792 * 3 * 4)).write(to: x)
        try assertRefused(["run", "--model", "vgg16", "--input", x.path, "--out", directory.appendingPathComponent("y.npy").path],
                          "vgg16 with a 1792x1792 input: fc1's weights (1605632 x 4096) would need about 26 GB of memory")
        let usage = try run(["summary", "lenet5", "--classes", "0"])
        XCTAssertTrue(usage.stderr.contains("Usage: zoo summary"), "the subcommand's usage: \(usage.stderr)")
    }

    func testSummaryOfALargeInputWithoutTheTopPrintsTheTable() throws {
        let r = try run(["summary", "vgg16", "--no-top", "--input-size", "1792x1792"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("(None, 56, 56, 512)"), r.stdout)
    }

    /// `summary` works from shapes alone: under the 8 GB limit it prints the table of a network
    /// whose weights alone would take 26 GB.
    func testSummaryAllocatesNoWeights() throws {
        let r = try run(["summary", "vgg16", "--input-size", "1792x1792"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("fc1 (Dense)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("6,576,672,768"), "fc1: 1605632 x 4096 weights and 4096 biases\n\(r.stdout)")
        XCTAssertTrue(r.stdout.contains("Total params: 6,612,265,768"), r.stdout)
    }

    func testNPYWhoseShapeOverflowsIsRefused() throws {
        let huge = try npy("(4294967296, 4294967296, 1, 1)")
        try assertRefused(["run", "--model", "lenet5", "--input", huge, "--out", directory.appendingPathComponent("y.npy").path],
                          "x.npy: shape (4294967296, 4294967296, 1, 1) holds more than 2147483648 elements")
        let bytes = try npy("(4611686018427387904, 1, 1, 1)")
        try assertRefused(["run", "--model", "lenet5", "--input", bytes, "--out", directory.appendingPathComponent("y.npy").path],
                          "more than 2147483648 elements")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("y.npy").path))
    }

    func testBatchSizesAreRangeCheckedAndEstimatedBeforeAllocating() throws {
        let x = try npy("(1, 4, 4, 1)")
        try assertRefused(["features", "--model", "lenet5", "--layer", "f6", "--input", x, "--out",
                           directory.appendingPathComponent("f.npy").path, "--batch", "9223372036854775807"],
                          "--batch must be from 1 to 65536, got 9223372036854775807")
        try assertRefused(["bench", "--model", "lenet5", "--batch", "1099511627776"], "--batch must be from 1 to 65536")
        try assertRefused(["bench", "--model", "vgg16", "--batch", "65536"],
                          "vgg16 on a batch of 65536 224x224 inputs would need about", "use a smaller --batch")
        try assertRefused(["bench", "--model", "vgg16", "--batch", "2048", "--train"], "in training would need about")
    }

    func testBenchSecondsAndOnlyAreChecked() throws {
        for seconds in ["0", "-1", "nan"] {
            try assertRefused(["bench", "--seconds=\(seconds)"], "--seconds must be from 0.01 to 3600.0")
        }
        try assertRefused(["bench", "--only", "nothing-like-this"], "--only 'nothing-like-this' matches no case; cases: vgg16 block3_conv1")
    }

    func testRecordedMetadataIsCheckedBeforeAnyModelIsBuilt() throws {
        let image = fixtureURL("images/folder/ant/1.png").path
        try assertRefused(["predict", "--weights", hostile("lenet5_input_4096.h5"), image],
                          "lenet5_input_4096.h5, at /: attribute 'convzoo_input_size' is [4096, 4096, 1]; expected "
                          + "[height, width, channels] with sides from 1 to 256")
        try assertRefused(["predict", "--weights", hostile("lenet5_input_huge.h5"), image], "convzoo_input_size")
        try assertRefused(["run", "--weights", hostile("lenet5_input_huge.h5"), "--input", try npy("(1, 4, 4, 1)"),
                           "--out", directory.appendingPathComponent("y.npy").path], "convzoo_input_size")
        try assertRefused(["convert", hostile("lenet5_input_4096.h5"), directory.appendingPathComponent("c.h5").path],
                          "convzoo_input_size")
        try assertRefused(["predict", "--weights", hostile("lenet5_bad_preprocessing.h5"), image],
                          "attribute 'convzoo_preprocessing' is 'bogus'; expected caffe, torch, tf, none")
    }

    func testDamagedKerasFilesAreReportedAsDamagedAndWhere() throws {
        try assertRefused(["inspect", hostile("keras3_tiny_bad_crc.keras")],
                          "keras3_tiny_bad_crc.keras, at model.weights.h5: CRC-32 is", "the entry is damaged")
        try assertRefused(["inspect", hostile("keras3_tiny_damaged_group.weights.h5")],
                          "at /layers/dense", "damaged layer group")
        let sound = try run(["inspect", fixtureURL("weights/keras3_tiny.keras").path])
        XCTAssertEqual(sound.status, 0, sound.stderr)
    }

    /// libhdf5 1.10 trusts the global heap holding variable-length strings: it looped for ever on
    /// `loop` and asked malloc for 5e18 bytes on `huge`. Each damage is named before libhdf5 reads.
    func testDamagedGlobalHeapsAreRefusedBeforeLibHDF5ReadsThem() throws {
        let damage = [
            "loop": "has an object at byte 96 whose size (0 bytes) is smaller than its own header",
            "huge": "says it is 5000000000000000000 bytes long, past the end of the file",
            "past_end": "has an object of 1000000 bytes at byte 16, past its end (4096 bytes)",
            "index": "string 0 refers to object 1 of the global heap collection at byte 2048, which has no such object",
            "short_string": "string 0 is 4 bytes long but its global heap object at byte 2048 holds 10",
        ]
        for (name, expected) in damage.sorted(by: { $0.key < $1.key }) {
            try assertRefused(["inspect", hostile("lenet5_heap_\(name).h5")], "lenet5_heap_\(name).h5",
                              "cannot read attribute 'backend'", expected)
        }
    }

    /// libhdf5 1.10 allocates an object header's continuation chunk at the length the file gives.
    func testAnObjectHeaderContinuingPastTheFileIsRefusedBeforeLibHDF5AllocatesIt() throws {
        try assertRefused(["inspect", hostile("lenet5_header_continuation_huge.h5")], "lenet5_header_continuation_huge.h5",
                          "at /c1: has a damaged object header", "a chunk of 5000000000000000000 bytes")
    }

    /// Found by `tools/fuzz.sh 600 keras-h5 keras3`: libhdf5 1.10 segfaults iterating the
    /// attributes of an object one of whose attribute messages is damaged, reads an attribute's
    /// value past its message, and allocates a group's local heap at the size the file gives (here
    /// 2^64 - 168 bytes), and crashes on an attribute whose datatype it cannot decode.
    func testFuzzFindingsInLibHDF5AreRefusedBeforeItReadsThem() throws {
        try assertRefused(["inspect", hostile("fuzz_keras_h5_attribute_dataspace.h5")], "fuzz_keras_h5_attribute_dataspace.h5",
                          "at /: has a damaged object header", "an attribute message at byte 1632 has a damaged dataspace")
        // Its variable-length value would be read past the message (a heap-buffer-overflow under ASan).
        try assertRefused(["inspect", hostile("fuzz_keras_h5_attribute_data_short.h5")], "fuzz_keras_h5_attribute_data_short.h5",
                          "an attribute message at byte 992 claims 1 values of 16 bytes in 0")
        // A variable-length string attribute whose characters claim 1 GB each: libhdf5 converted it
        // through a 5 GB buffer before the file was refused further on, at /model_weights/image.
        try assertRefused(["inspect", hostile("fuzz_keras_h5_vlen_base_huge.h5")], "fuzz_keras_h5_vlen_base_huge.h5, at /:",
                          "not a Keras weight file")
        // A datatype of an unknown version: libhdf5 fails to decode it and crashes freeing the table.
        try assertRefused(["inspect", hostile("fuzz_keras_h5_datatype_version.h5")], "fuzz_keras_h5_datatype_version.h5",
                          "an attribute message at byte 1080 has a datatype of no known version (12)")
        try assertRefused(["inspect", hostile("fuzz_keras3_local_heap_huge.weights.h5")], "fuzz_keras3_local_heap_huge.weights.h5",
                          "has a damaged local heap (its member names) at byte 680",
                          "a data segment of 18446744073709551448 bytes")
    }

    func testRunTakesTheArchitectureTheFileRecordsAndWarnsAboutNaN() throws {
        let shipped = Self.repo.appendingPathComponent("weights/lenet5-digits.h5").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: shipped), "the shipped LeNet-5 weights are generated")
        var values = [Float](repeating: 0.5, count: 32 * 32)
        values[7] = .nan
        let input = directory.appendingPathComponent("nan.npy")
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 32, 32, 1), }".utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (64 - (10 + header.count + 1) % 64) % 64) + [10]
        try (Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0] + header)
            + values.withUnsafeBytes { Data($0) }).write(to: input)
        let r = try run(["run", "--weights", shipped, "--input", input.path, "--out", directory.appendingPathComponent("y.npy").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("shape [1, 10]"), r.stdout)
        XCTAssertTrue(r.stderr.contains("warning: \(input.path) holds 1 NaN and 0 infinite value(s)"), r.stderr)
        try assertRefused(["run", "--input", input.path, "--out", "y.npy"], "give --model (or --weights recording one)")
    }

    func testFilesThatAreNotWhatTheOptionNeeds() throws {
        let weights = fixtureURL("weights/keras3_tiny.weights.h5").path
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let shipped = Self.repo.appendingPathComponent("weights/lenet5-digits.h5").path
        if FileManager.default.fileExists(atPath: shipped) {
            try assertRefused(["predict", "--weights", shipped, folder.path], "\(folder.path)", "a folder, not a file")
        }
        try assertRefused(["finetune", "--model", "lenet5", "--data", "x", "--out", "model.npy"],
                          "--out model.npy: expected a weight file name ending in .h5")
        let notAFolder = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: notAFolder)
        try assertRefused(["finetune", "--model", "lenet5", "--data", Self.repo.appendingPathComponent("datasets/digits").path,
                           "--out", notAFolder.appendingPathComponent("m.h5").path], "--out: \(notAFolder.path) is not a folder")
        try assertRefused(["finetune", "--model", "lenet5", "--data", "x", "--out", "m.h5", "--lr", "nan"],
                          "--lr must be a finite number above 0, got nan")
        try assertRefused(["finetune", "--model", "lenet5", "--data", "x", "--out", "m.h5", "--early-stop", "2", "--val-split", "0"],
                          "--early-stop watches the validation loss; give a --val-split above 0")
        try assertRefused(["convert", weights, directory.appendingPathComponent("o.h5").path, "--format", "onnx"],
                          "--format must be one of", "Usage: zoo convert")
        try assertRefused(["convert", weights, directory.appendingPathComponent("o.h5").path, "--format", "keras3"],
                          "o.h5: a Keras 3 weight file's name must end in .weights.h5")
        try assertRefused(["convert", weights, weights], "the output is the input")
        let keras3 = directory.appendingPathComponent("named.weights.h5").path
        let converted = try run(["convert", weights, keras3])
        XCTAssertTrue(converted.stdout.contains("(keras3)"), "the name says Keras 3: \(converted.stdout)\(converted.stderr)")
        let x = try npy("(1, 4, 4, 1)")
        try assertRefused(["run", "--model", "lenet5", "--input", x, "--out", folder.path], "--out \(folder.path) is a folder")
        try assertRefused(["features", "--model", "lenet5", "--layer", "f6", "--input", x, "--out", notAFolder.path + "/f.npy"],
                          "--out: \(notAFolder.path) is not a folder")
        try assertRefused(["finetune", "--model", "lenet5", "--data", Self.repo.appendingPathComponent("datasets/digits").path,
                           "--out", directory.appendingPathComponent("m.h5").path, "--checkpoints", notAFolder.path],
                          "--checkpoints: \(notAFolder.path) is not a folder")
        try assertRefused(["run", "--model", "lenet5", "--input", try npy("(0, 4, 4, 1)"), "--out", "y.npy"],
                          "expected a (batch, height, width, channels) array of at least one sample, got shape [0, 4, 4, 1]")
    }

    func testDemoOutsideTheRepositoryAndWithTooManyShots() throws {
        try assertRefused(["demo", "--shots", "1000"], "--shots must be from 1 to 100, got 1000")
        let r = try ZooBinary.run(["demo"], directory: directory)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("datasets/digits/images.npy not found: run `zoo demo` from the repository root"), r.stderr)
    }

    func testProgressToAPipeIsOneLinePerUpdateSoWarningsStartTheirOwnLine() throws {
        let r = try run(["features", "--model", "lenet5", "--layer", "f6", fixtureURL("images/folder").path, "--batch", "2",
                         "--out", directory.appendingPathComponent("f.npy").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("\r"), r.stderr)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("warning: ") && $0.contains("broken.jpg") }, r.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("features: batch 1/") }, r.stderr)
    }

    func testArrayLabelsFarBeyondAnyClassCountAreRefused() throws {
        let data = directory.appendingPathComponent("arrays")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        func write(_ header: String, _ body: Data, to name: String) throws {
            var h = Array(header.utf8)
            h += Array(repeating: UInt8(ascii: " "), count: (64 - (10 + h.count + 1) % 64) % 64) + [10]
            try (Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count), 0] + h) + body)
                .write(to: data.appendingPathComponent(name))
        }
        try write("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 32, 32, 1), }", Data(count: 2 * 32 * 32 * 4),
                  to: "images.npy")
        try write("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                  [Float(0), 99_999].withUnsafeBytes { Data($0) }, to: "labels.npy")
        try assertRefused(["finetune", "--model", "lenet5", "--data", data.path, "--out",
                           directory.appendingPathComponent("m.h5").path, "--epochs", "1"],
                          "label 1 is 99999.0; expected a class index 0, 1, 2, ... below 10000")
    }

    func testVersion() throws {
        let r = try ZooBinary.run(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("0."), r.stdout)
    }
}
