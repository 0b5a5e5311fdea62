import TestSupport
import XCTest

/// `zoo list` and `zoo summary` for LeNet-5, whose default is 10 classes, not ImageNet's 1000.
final class LeNetSummaryCommandTests: XCTestCase {
    func testSummaryOfThePaperFormCountsTheConnectedWeights() throws {
        let r = try ZooBinary.run(["summary", "lenet5-paper"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Trainable params: 60,000"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Total params: 60,840"), r.stdout)
        let c3 = r.stdout.split(separator: "\n").first { $0.hasPrefix("c3 (Conv2D)") } ?? ""
        XCTAssertTrue(c3.hasSuffix("1,516"), String(c3))
    }

    func testSummaryDefaultsToTenClassesAndHonoursClasses() throws {
        let ten = try ZooBinary.run(["summary", "lenet5"])
        XCTAssertEqual(ten.status, 0, ten.stderr)
        XCTAssertTrue(ten.stdout.contains("Total params: 61,706"), ten.stdout)
        let predictions = ten.stdout.split(separator: "\n").first { $0.hasPrefix("predictions") } ?? ""
        XCTAssertTrue(predictions.contains("(None, 10)"), String(predictions))
        let five = try ZooBinary.run(["summary", "lenet5", "--classes", "5"])
        XCTAssertTrue(five.stdout.contains("(None, 5)"), five.stdout)
        let list = try ZooBinary.run(["list"])
        XCTAssertTrue(list.stdout.contains("LeNet-5 (LeCun et al. 1998), modern form"), list.stdout)
    }
}
