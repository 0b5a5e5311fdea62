@testable import Transfer
import XCTest

final class StratifiedSplitTests: XCTestCase {
    // 50 of class 0, 30 of class 1, 20 of class 2, 1 of class 3, interleaved.
    let labels: [Int] = (0..<100).map { $0 % 10 < 5 ? 0 : $0 % 10 < 8 ? 1 : 2 } + [3]

    func testKeepsClassProportionsAndNeverSharesASample() throws {
        let split = try StratifiedSplit(labels: labels, validationFraction: 0.2, seed: 7)
        XCTAssertTrue(Set(split.train).isDisjoint(with: split.validation))
        XCTAssertEqual(Set(split.train).union(split.validation), Set(labels.indices))
        XCTAssertEqual(split.train.count + split.validation.count, labels.count)
        func count(_ indices: [Int], _ c: Int) -> Int { indices.filter { labels[$0] == c }.count }
        XCTAssertEqual([0, 1, 2, 3].map { count(split.validation, $0) }, [10, 6, 4, 0])
        XCTAssertEqual([0, 1, 2, 3].map { count(split.train, $0) }, [40, 24, 16, 1])
        XCTAssertEqual(split.train, split.train.sorted())
    }

    func testSeededAndSeedDependent() throws {
        let a = try StratifiedSplit(labels: labels, validationFraction: 0.3, seed: 1)
        XCTAssertEqual(a, try StratifiedSplit(labels: labels, validationFraction: 0.3, seed: 1))
        XCTAssertNotEqual(a.validation, try StratifiedSplit(labels: labels, validationFraction: 0.3, seed: 2).validation)
    }

    func testSmallClassesStillTrainAndValidate() throws {
        let split = try StratifiedSplit(labels: [0, 0, 1, 1, 1, 2], validationFraction: 0.1, seed: 3)
        // round(0.2) = 0, but a class of two or more gives one to validation and keeps one for training.
        XCTAssertEqual(split.validation.map { [0, 0, 1, 1, 1, 2][$0] }.sorted(), [0, 1])
        XCTAssertEqual(split.train.count, 4)
        XCTAssertEqual(try StratifiedSplit(labels: [0, 0, 1], validationFraction: 0, seed: 3).validation, [])
        XCTAssertThrowsError(try StratifiedSplit(labels: [0], validationFraction: 1, seed: 0))
    }
}
