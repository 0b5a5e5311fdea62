import Engine
import Foundation
import TestSupport
import Transfer
import WeightIO
import XCTest

/// `--input-channels`: ImageNet-shaped RGB weights (the 1000-class torchvision AlexNet twin of
/// Tests/Fixtures/predict, torch preprocessing) fine-tuned on grayscale images made here, which
/// load as one channel; the tuned file reloads as a gray model.
final class InputChannelsCommandTests: XCTestCase {
    static let rgbWeights = fixtureURL("predict/alexnet-1000.h5")
    static let twin = ["--channel-divisor", "64", "--hidden-units", "8"]

    /// root/horizontal and root/vertical: 63x63 gray stripes with seeded periods and phases.
    func stripes(_ root: URL, perClass: Int) throws -> [URL] {
        let random = RandomGenerator(seed: 9)
        var files: [URL] = []
        for label in ["horizontal", "vertical"] {
            let folder = root.appendingPathComponent(label)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let period = 4 + Int(random.nextDouble() * 8), phase = Int(random.nextDouble() * 8)
                var pixels = [UInt8](repeating: 0, count: 63 * 63)
                for y in 0..<63 {
                    for x in 0..<63 {
                        let along = label == "horizontal" ? y : x
                        pixels[y * 63 + x] = (along + phase) % period < period / 2 ? 230 : 25
                    }
                }
                let url = folder.appendingPathComponent("\(i).png")
                try PNGWriter.write(PixelImage(height: 63, width: 63, channels: 1, pixels: pixels), to: url)
                files.append(url)
            }
        }
        return files
    }

    func losses(_ stdout: String) -> [Double] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("epoch=") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("loss=") }.flatMap { Double($0.dropFirst(5)) }
        }
    }

    func testFineTuningGrayImagesWithRGBWeightsLearnsAndReloadsAsAGrayModel() throws {
        let work = try temporaryDirectory(self)
        let images = try stripes(work.appendingPathComponent("gray"), perClass: 8)
        let out = work.appendingPathComponent("gray.h5")
        let run = try ZooBinary.run(["finetune", "--weights", Self.rgbWeights.path, "--input-channels", "1",
                                     "--data", work.appendingPathComponent("gray").path, "--trainable-from", "conv1",
                                     "--epochs", "8", "--batch", "8", "--val-split", "0", "--lr", "0.01", "--seed", "4",
                                     "--out", out.path] + Self.twin)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("input channels adapted as timm's adapt_input_conv: conv1.kernel (11, 11, 3, 1) "
            + "-> (11, 11, 1, 1), summed over RGB"), run.stdout)
        let loss = losses(run.stdout)
        XCTAssertEqual(loss.count, 8, run.stdout)
        XCTAssertLessThan(try XCTUnwrap(loss.last), try XCTUnwrap(loss.first) * 0.8, "the loss goes down: \(loss)")

        // The file records one input channel: it reloads gray without the option, and predicts.
        let predict = try ZooBinary.run(["predict", "--weights", out.path, images[0].path, images[8].path] + Self.twin)
        XCTAssertEqual(predict.status, 0, predict.stderr)
        XCTAssertTrue(predict.stdout.contains("horizontal") && predict.stdout.contains("vertical"), predict.stdout)
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
