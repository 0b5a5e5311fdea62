import Engine
import Foundation
@testable import Transfer
import XCTest

/// Streaming: every sample once, at most two batches decoded ahead of use, off the consumer's
/// thread, and unreadable images skipped, reported and counted.
final class BatchStreamTests: XCTestCase {
    /// Sample i is a 2x2x1 image filled with i; records when and where each load happens.
    final class CountingDataset: LabeledDataset, @unchecked Sendable {
        let count: Int
        let classNames = ["even", "odd"]
        let sampleShape = [2, 2, 1]
        let failing: Set<Int>
        private let lock = NSLock()
        private var loads: [(index: Int, thread: Thread)] = []

        init(count: Int, failing: Set<Int> = []) {
            self.count = count
            self.failing = failing
        }

        func label(at index: Int) -> Int { index % 2 }
        func sampleName(at index: Int) -> String { "sample\(index).png" }
        func load(at index: Int, into destination: UnsafeMutablePointer<Float>) throws {
            lock.lock(); loads.append((index, Thread.current)); lock.unlock()
            if failing.contains(index) { throw ImageError(file: sampleName(at: index), .corrupt, "test damage") }
            destination.update(repeating: Float(index), count: 4)
        }

        var loadCount: Int { lock.lock(); defer { lock.unlock() }; return loads.count }
        var loadThreads: [Thread] { lock.lock(); defer { lock.unlock() }; return loads.map(\.thread) }
    }

    func testEverySampleExactlyOnceWithItsLabel() throws {
        let data = CountingDataset(count: 23)
        let stream = try BatchStream(data, batchSize: 5, shuffle: RandomGenerator(seed: 4), logger: .silent)
        var seen: [Int] = []
        for batch in stream {
            XCTAssertEqual(batch.inputs.shape, [batch.count, 2, 2, 1])
            for (row, index) in batch.indices.enumerated() {
                XCTAssertEqual(batch.inputs[row, 1, 1, 0], Float(index))
                XCTAssertEqual(batch.labels[row], index % 2)
            }
            seen += batch.indices
        }
        XCTAssertEqual(seen.sorted(), Array(0..<23))
        XCTAssertNotEqual(seen, Array(0..<23), "the seeded shuffle should reorder")
        XCTAssertEqual(stream.batchCount, 5)
        XCTAssertEqual(stream.summary.loaded, 23)
        XCTAssertEqual(data.loadCount, 23)
    }

    func testDecodesAtMostOneBatchAheadAndOffTheConsumersThread() throws {
        let data = CountingDataset(count: 40)
        let stream = try BatchStream(data, batchSize: 4, logger: .silent)
        var received = 0
        while let batch = stream.next() {
            received += 1
            XCTAssertEqual(batch.count, 4)
            // Bounded: the batch in hand and the one being decoded, nothing further.
            XCTAssertLessThanOrEqual(data.loadCount, (received + 1) * 4)
            if received == 3 {
                // The next batch is decoded while the caller works, without asking for it.
                let deadline = Date().addingTimeInterval(5)
                while data.loadCount < 16 && Date() < deadline { usleep(1000) }
                XCTAssertEqual(data.loadCount, 16)
            }
        }
        XCTAssertEqual(received, 10)
        XCTAssertFalse(data.loadThreads.contains(Thread.current), "samples decoded on the consumer's thread")
    }

    func testUnreadableSamplesAreSkippedWarnedAndCounted() throws {
        let data = CountingDataset(count: 10, failing: [2, 6, 7])
        let warnings = WarningLog()
        let stream = try BatchStream(data, batchSize: 4, logger: warnings.logger)
        let batches = Array(stream)
        XCTAssertEqual(batches.map(\.indices), [[0, 1, 3], [4, 5], [8, 9]])
        XCTAssertEqual(batches[1].inputs.shape, [2, 2, 2, 1])
        XCTAssertEqual(batches[1].inputs[1, 0, 0, 0], 5)
        XCTAssertEqual(stream.summary.loaded, 7)
        XCTAssertEqual(stream.summary.skipped.map(\.name), ["sample2.png", "sample6.png", "sample7.png"])
        XCTAssertEqual(warnings.messages.count, 3)
        XCTAssertTrue(warnings.messages[0].contains("sample2.png") && warnings.messages[0].contains("corrupt"),
                      warnings.messages[0])
        XCTAssertTrue(stream.summary.description.contains("skipped 3 unreadable"), stream.summary.description)
    }

    func testABatchWhoseSamplesAllFailIsPassedOver() throws {
        let data = CountingDataset(count: 6, failing: [2, 3])
        let stream = try BatchStream(data, batchSize: 2, logger: .silent)
        XCTAssertEqual(Array(stream).map(\.indices), [[0, 1], [4, 5]])
        XCTAssertEqual(stream.summary.skipped.count, 2)
    }

    func testCorruptImagesInAFolderAreSkippedAndTheRestLoad() throws {
        let pipeline = try ImagePipeline(height: 6, width: 6, channels: 3, resize: .direct(.bilinear), preprocessing: .torch)
        let folder = try ImageFolder(root: imageFixture("folder"), pipeline: pipeline)
        let warnings = WarningLog()
        let split = try Splits.stratified(labels: folder.labels, validationFraction: 0.25, generator: RandomGenerator(seed: 1))
        var seen: [Int] = []
        for indices in [split.training, split.validation] {
            let stream = try BatchStream(folder, indices: indices, batchSize: 3, logger: warnings.logger)
            for batch in stream {
                for (row, i) in batch.indices.enumerated() {
                    var expected = try pipeline.load(folder.files[i])
                    expected = expected.reshaped([1] + expected.shape)
                    let got = Tensor(shape: [1, 6, 6, 3], scalars: Array(batch.inputs.scalars[(row * 108)..<((row + 1) * 108)]))
                    XCTAssertEqual(got, expected, folder.files[i].lastPathComponent)
                }
                seen += batch.indices
            }
        }
        let bad = Set(["broken.jpg", "text.png"])
        XCTAssertEqual(seen.sorted(), folder.files.indices.filter { !bad.contains(folder.files[$0].lastPathComponent) })
        XCTAssertEqual(warnings.messages.count, 2)
        XCTAssertTrue(warnings.messages.contains { $0.contains("Dog/broken.jpg") && $0.contains("truncated") }, "\(warnings.messages)")
        XCTAssertTrue(warnings.messages.contains { $0.contains("Dog/text.png") && $0.contains("not a JPEG or PNG") }, "\(warnings.messages)")
    }

    func testBadArgumentsAreErrors() {
        let data = CountingDataset(count: 3)
        XCTAssertThrowsError(try BatchStream(data, batchSize: 0))
        XCTAssertThrowsError(try BatchStream(data, indices: [0, 3], batchSize: 1)) {
            XCTAssertTrue("\($0)".contains("index 3"), "\($0)")
        }
    }
}

/// Collects warnings for assertions.
final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []
    var messages: [String] { lock.lock(); defer { lock.unlock() }; return collected }
    var logger: DataLogger { DataLogger { [self] m in lock.lock(); collected.append(m); lock.unlock() } }
}
