import Engine
import Foundation
import TestSupport
import Transfer
import WeightIO
import XCTest

/// `--input-channels`: ImageNet-shaped RGB weights (the 1000-class torchvision AlexNet twin of
/// Tests/Fixtures/predict, torch preprocessing, 1 filter in conv1) fine-tuned on grayscale images
/// made here, which load as one channel; the tuned file reloads as a gray model.
final class InputChannelsCommandTests: XCTestCase {
    static let rgbWeights = fixtureURL("predict/alexnet-1000.h5")
    static let twin = ["--channel-divisor", "64", "--hidden-units", "8"]

    /// root/dark and root/light: 63x63 gray noise, values 10..<110 and 140..<245.
    func grayImages(_ root: URL, perClass: Int) throws -> [URL] {
        let random = RandomGenerator(seed: 9)
        var files: [URL] = []
        for (label, low, high) in [("dark", 10.0, 110.0), ("light", 140.0, 245.0)] {
            let folder = root.appendingPathComponent(label)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let pixels = (0..<(63 * 63)).map { _ in UInt8(low + random.nextDouble() * (high - low)) }
                let url = folder.appendingPathComponent("\(i).png")
                try PNGWriter.write(PixelImage(height: 63, width: 63, channels: 1, pixels: pixels), to: url)
                files.append(url)
            }
        }
        return files
    }

    /// Each epoch line's training (loss, top-1).
    func epochs(_ stdout: String) -> [(loss: Double, top1: Double)] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("epoch=") }.compactMap { line in
            func field(_ name: String) -> Double? {
                line.split(separator: " ").first { $0.hasPrefix(name + "=") }.flatMap { Double($0.dropFirst(name.count + 1)) }
            }
            guard let loss = field("loss"), let top1 = field("top1") else { return nil }
            return (loss, top1)
        }
    }

    func testFineTuningGrayImagesWithRGBWeightsLearnsAndReloadsAsAGrayModel() throws {
        let work = try temporaryDirectory(self)
        let images = try grayImages(work.appendingPathComponent("gray"), perClass: 8)
        let out = work.appendingPathComponent("gray.h5")
        let run = try ZooBinary.run(["finetune", "--weights", Self.rgbWeights.path, "--input-channels", "1",
                                     "--data", work.appendingPathComponent("gray").path, "--trainable-from", "conv1",
                                     "--epochs", "10", "--batch", "8", "--val-split", "0", "--lr", "0.03", "--seed", "4",
                                     "--out", out.path] + Self.twin)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("input channels adapted as timm's adapt_input_conv: conv1.kernel (11, 11, 3, 1) "
            + "-> (11, 11, 1, 1), summed over RGB"), run.stdout)
        let history = epochs(run.stdout)
        XCTAssertEqual(history.count, 10, run.stdout)
        let (first, last) = (try XCTUnwrap(history.first), try XCTUnwrap(history.last))
        XCTAssertLessThan(last.loss, first.loss * 0.7, "the loss goes down: \(history)")
        XCTAssertGreaterThanOrEqual(last.top1, 0.75, "\(history)")

        // The file records one input channel: it reloads gray without the option, and predicts.
        let predict = try ZooBinary.run(["predict", "--weights", out.path] + images.map(\.path) + Self.twin)
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let lines = predict.stdout.split(separator: "\n").map(String.init)
        let correct = images.filter { image in
            guard let at = lines.firstIndex(of: image.path), at + 1 < lines.count else { return false }
            let label = image.deletingLastPathComponent().lastPathComponent
            return lines[at + 1].hasPrefix("  1. \(label) ")
        }
        XCTAssertGreaterThanOrEqual(correct.count, 12, "top-1 right for \(correct.count) of 16 training images: \(predict.stdout)")
        XCTAssertFalse(predict.stderr.contains("adapted"), "a gray file loads as it is: \(predict.stderr)")
        let root = try HDF5File.open(out).root()
        XCTAssertEqual(try root.dataset("conv1/conv1/kernel:0").readTensor().shape, [11, 11, 1, 1])
    }

    func testChannelsAreRangeCheckedAndArraysTakeOtherCounts() throws {
        let work = try temporaryDirectory(self)
        for bad in ["0", "513", "x"] {
            let r = try ZooBinary.run(["predict", "--weights", Self.rgbWeights.path, "--input-channels", bad,
                                       fixtureURL("images/gray.png").path] + Self.twin)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--input-channels"), r.stderr)
        }
        // Four channels: images cannot give them, arrays can.
        let folder = try ZooBinary.run(["predict", "--weights", Self.rgbWeights.path, "--input-channels", "4",
                                        fixtureURL("images/gray.png").path] + Self.twin)
        XCTAssertNotEqual(folder.status, 0)
        XCTAssertTrue(folder.stderr.contains("a model of 4 input channels takes arrays"), folder.stderr)
        let x = work.appendingPathComponent("x.npy"), y = work.appendingPathComponent("y.npy")
        let random = RandomGenerator(seed: 2)
        try NPY.encode(Tensor(shape: [2, 63, 63, 4], scalars: (0..<(2 * 63 * 63 * 4)).map { _ in Float(random.nextDouble()) }))
            .write(to: x)
        let run = try ZooBinary.run(["run", "--weights", Self.rgbWeights.path, "--input-channels", "4", "--input", x.path,
                                     "--out", y.path] + Self.twin)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("(11, 11, 3, 1) -> (11, 11, 4, 1), RGB repeated 2 times, first 4 kept, scaled by 3/4"),
                      run.stderr)
        XCTAssertEqual(try NPY.read(y).shape, [2, 1000])
    }
}
