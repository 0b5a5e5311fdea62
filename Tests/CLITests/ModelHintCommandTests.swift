import Foundation
import TestSupport
import XCTest

/// When the architecture cannot be told from a weight file, or the file fits another one, the error
/// says which `--model` to give (the library states the remedy; the CLI words it as its flag).
final class ModelHintCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory(self) }

    func assertFails(_ arguments: [String], saying expected: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try ZooBinary.run(arguments)
        XCTAssertTrue((1..<128).contains(r.status), "zoo \(arguments.joined(separator: " ")): status \(r.status)\n\(r.stderr)",
                      file: file, line: line)
        for text in expected {
            XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in\n\(r.stderr)", file: file, line: line)
        }
    }

    /// A Keras ResNet-50 twin's weights (Keras 3 file, no ConvZoo metadata) run as torchvision's
    /// resnet50: the error names the flavour they fit, and that flavour runs them.
    func testWeightsOfTheOtherFlavourNameTheModelTheyFit() throws {
        let twin = fixtureURL("zoo/resnet50-keras")
        let arguments = ["run", "--weights", twin.appendingPathComponent("weights.weights.h5").path,
                         "--input", twin.appendingPathComponent("input.npy").path,
                         "--out", directory.appendingPathComponent("y.npy").path, "--classes", "10", "--channel-divisor", "32"]
        try assertFails(arguments + ["--model", "resnet50"],
                        saying: "does not fit 'resnet50' (torchvision flavour) but fits 'resnet50-keras'", "; use --model resnet50-keras")
        let fixed = try ZooBinary.run(arguments + ["--model", "resnet50-keras"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
    }

    /// A ConvZoo-written file records its architecture (the shipped LeNet-5: `lenet5`); naming another
    /// one is answered with it, and that one runs.
    func testAFileRecordingItsArchitectureNamesIt() throws {
        let arguments = ["run", "--weights", repositoryRoot.appendingPathComponent("weights/lenet5-digits.h5").path,
                         "--input", fixtureURL("zoo/lenet5/input.npy").path, "--out", directory.appendingPathComponent("y.npy").path]
        try assertFails(arguments + ["--model", "lenet5-paper"],
                        saying: "lenet5-digits.h5 holds weights for 'lenet5', not 'lenet5-paper'; use --model lenet5")
        let fixed = try ZooBinary.run(arguments + ["--model", "lenet5"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
    }

    /// Keras's own files record no architecture: predict asks for one.
    func testAKerasFileWithoutTheModelAsksForIt() throws {
        try assertFails(["predict", "--weights", fixtureURL("weights/keras3_tiny.weights.h5").path,
                         fixtureURL("images/folder/ant/1.png").path],
                        saying: "keras3_tiny.weights.h5 does not record its architecture", "give it with --model")
    }

    /// A Keras `model.save()` file converted to Keras 3 without `--model`: the keys need the architecture.
    func testAFullModelKerasFileConvertedWithoutTheModelAsksForIt() throws {
        try assertFails(["convert", fixtureURL("weights/keras_resnet50_full.h5").path,
                         directory.appendingPathComponent("out.weights.h5").path],
                        saying: "keras_resnet50_full.h5 does not record its architecture; give it with --model")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("out.weights.h5").path))
    }

    /// PyTorch-style keys of no architecture ConvZoo can tell (a safetensors file holding `fc` alone).
    func testForeignKeysOfNoKnownArchitectureAskForTheModel() throws {
        let header = Array(#"{"fc.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#.utf8)
        let length = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        let url = directory.appendingPathComponent("fc.safetensors")
        try Data(length + header + [UInt8](repeating: 0, count: 16)).write(to: url)
        try assertFails(["run", "--weights", url.path, "--input", fixtureURL("zoo/lenet5/input.npy").path,
                         "--out", directory.appendingPathComponent("y.npy").path],
                        saying: "fc.safetensors holds torchvision-style keys (fc.weight) of no architecture ConvZoo can tell",
                        "; give it with --model")
    }
}
