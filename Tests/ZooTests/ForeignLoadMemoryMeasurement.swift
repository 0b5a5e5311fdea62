import Foundation
import TestSupport
import XCTest
@testable import Zoo

/// Peak memory of loading a full-size PyTorch, safetensors or Caffe file into a zoo architecture
/// (a VGG16-shaped .pth or .safetensors, 528 MiB; a bvlc_alexnet-shaped caffemodel, 233 MiB):
/// each tensor is read from the file in 1 MiB windows straight into its parameter, converted on
/// the way. Driven by `tools/measure_load_memory.py --pth | --safetensors | --caffe`, which writes
/// the file and runs this test alone in a fresh process; skipped otherwise.
final class ForeignLoadMemoryMeasurement: XCTestCase {
    func testPeakMemoryOfLoadingAFullSizeForeignFile() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let path = environment["CONVZOO_FOREIGN_MEMORY_FILE"], let architecture = environment["CONVZOO_FOREIGN_MEMORY_MODEL"] else {
            throw XCTSkip("run by tools/measure_load_memory.py --pth, --safetensors or --caffe")
        }
        let figures = try LoadMemoryFigures.measure(build: { try Catalog.architecture(named: architecture).make(ModelOptions()) },
                                                    weightCount: \.totalParameters) {
            let report = try $0.loadWeights(from: URL(fileURLWithPath: path))
            XCTAssertTrue(report.isComplete, "\(report)")
        }
        let fileMiB = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1_048_576
        print("MEMORY \((path as NSString).lastPathComponent) (\(String(format: "%.1f", fileMiB)) MiB) into \(architecture): "
              + figures.summary)
        XCTAssertLessThanOrEqual(figures.totalRatio, 1.3)
    }
}
