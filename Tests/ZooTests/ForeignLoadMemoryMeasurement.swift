import Foundation
import TestSupport
import XCTest
@testable import Zoo

/// Peak memory of loading a full-size bvlc_alexnet-shaped caffemodel (61M float32 weights,
/// 233 MiB) into `alexnet-caffe`: each blob is read from the file in 1 MiB windows straight into
/// its parameter, converted on the way. Driven by `tools/measure_load_memory.py --caffe`, which
/// writes the file and runs this test alone in a fresh process; skipped otherwise.
final class CaffeLoadMemoryMeasurement: XCTestCase {
    func testPeakMemoryOfLoadingFullSizeCaffeAlexNet() throws {
        guard let path = ProcessInfo.processInfo.environment["CONVZOO_CAFFE_MEMORY_FILE"] else {
            throw XCTSkip("run by tools/measure_load_memory.py --caffe")
        }
        let baseline = processStatusKB("VmRSS")
        let model = try Catalog.architecture(named: "alexnet-caffe").make(ModelOptions())
        let withModel = processStatusKB("VmRSS")
        let weightsKB = model.totalParameters * 4 / 1024
        let fileKB = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0) / 1024
        let start = Date()
        let report = try model.loadWeights(from: URL(fileURLWithPath: path))
        let seconds = Date().timeIntervalSince(start)
        let peak = processStatusKB("VmHWM")
        XCTAssertTrue(report.isComplete, "\(report)")
        func mib(_ kb: Int) -> Double { Double(kb) / 1024 }
        let loadRatio = Double(peak - withModel) / Double(weightsKB)
        print(String(format: "MEMORY caffemodel %.1f MiB, weights %.1f MiB; process %.1f MiB before the model, %.1f MiB "
                     + "with it (%.2fx the weights), peak %.1f MiB during the load: the load adds %.3fx the weights; "
                     + "peak above the process baseline %.2fx the weights; load took %.2f s",
                     mib(fileKB), mib(weightsKB), mib(baseline), mib(withModel),
                     Double(withModel - baseline) / Double(weightsKB), mib(peak), loadRatio,
                     Double(peak - baseline) / Double(weightsKB), seconds))
        XCTAssertLessThanOrEqual(loadRatio, 0.3)
    }
}
