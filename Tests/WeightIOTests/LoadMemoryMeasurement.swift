import Engine
import Foundation
import TestSupport
import XCTest
@testable import WeightIO

/// Peak memory of loading a VGG16-sized file (138M float32 weights, 528 MiB) into an engine
/// model of the same shapes: the datasets are read straight into the parameters, so the peak
/// should stay near the weights' own size. Driven by tools/measure_load_memory.py, which writes
/// the file and runs this test alone in a fresh process; skipped otherwise.
final class LoadMemoryMeasurement: XCTestCase {
    static let fileVariable = "CONVZOO_MEMORY_FILE"

    /// VGG16's weight shapes with Keras's layer names, as plain Conv2D and Dense layers.
    static func vgg16Shaped() -> Sequential {
        let blocks = [(1, [64, 64]), (2, [128, 128]), (3, [256, 256, 256]), (4, [512, 512, 512]), (5, [512, 512, 512])]
        var layers: [Layer] = []
        var channels = 3
        for (block, widths) in blocks {
            for (i, width) in widths.enumerated() {
                layers.append(Conv2D(name: "block\(block)_conv\(i + 1)", inputChannels: channels, filters: width,
                                     kernelSize: (3, 3), padding: .same, initializer: .zeros))
                channels = width
            }
        }
        layers.append(Dense(name: "fc1", inputFeatures: 7 * 7 * 512, units: 4096, initializer: .zeros))
        layers.append(Dense(name: "fc2", inputFeatures: 4096, units: 4096, initializer: .zeros))
        layers.append(Dense(name: "predictions", inputFeatures: 4096, units: 1000, initializer: .zeros))
        return Sequential(name: "vgg16", layers)
    }

    func testPeakMemoryOfLoadingVGG16SizedFile() throws {
        guard let path = ProcessInfo.processInfo.environment[LoadMemoryMeasurement.fileVariable] else {
            throw XCTSkip("run by tools/measure_load_memory.py")
        }
        let figures = try LoadMemoryFigures.measure(build: LoadMemoryMeasurement.vgg16Shaped, weightCount: \.parameterCount) {
            let report = try $0.loadWeights(from: URL(fileURLWithPath: path))
            XCTAssertTrue(report.isComplete, "\(report)")
        }
        print("MEMORY " + figures.summary)
        // What loading itself costs on top of the model's own tensors.
        XCTAssertLessThanOrEqual(figures.loadRatio, 0.3)
    }
}
