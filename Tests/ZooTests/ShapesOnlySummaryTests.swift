import XCTest
@testable import Engine
@testable import Zoo

/// `ModelSummary(architecture, options:)`, what `zoo summary` prints: from shapes alone, with no
/// weight allocated, and the same table as the built network's.
final class ShapesOnlySummaryTests: XCTestCase {
    func assertSameTable(_ a: Architecture, _ options: ModelOptions, file: StaticString = #filePath, line: UInt = #line) throws {
        let shapes = try ModelSummary(a, options: options)
        let built = try ModelSummary(a.make(options))
        XCTAssertEqual(shapes.rows.count, built.rows.count, a.name, file: file, line: line)
        for (s, b) in zip(shapes.rows, built.rows) { XCTAssertEqual(s, b, a.name, file: file, line: line) }
        XCTAssertEqual(shapes.totalParameters, built.totalParameters, a.name, file: file, line: line)
        XCTAssertEqual(shapes.trainableParameters, built.trainableParameters, a.name, file: file, line: line)
        XCTAssertEqual(shapes.multiplyAccumulates, built.multiplyAccumulates, a.name, file: file, line: line)
        XCTAssertEqual(shapes.render(title: a.name), built.render(title: a.name), a.name, file: file, line: line)
    }

    func testEveryArchitecturesTableEqualsTheBuiltNetworks() throws {
        for a in Catalog.all { try assertSameTable(a, ModelOptions()) }
    }

    func testOptionsShapeTheTableAsTheyShapeTheNetwork() throws {
        try assertSameTable(Catalog.architecture(named: "vgg16-bn"), ModelOptions(classes: 7, inputSize: (160, 192)))
        try assertSameTable(Catalog.architecture(named: "resnet50-keras"), ModelOptions(includeTop: false, pooling: .max))
        try assertSameTable(Catalog.architecture(named: "googlenet-caffe"), ModelOptions(classifierActivation: .softmax))
        try assertSameTable(Catalog.architecture(named: "lenet5-paper"), ModelOptions(includeTop: false))
        try assertSameTable(Catalog.architecture(named: "alexnet-caffe"), ModelOptions(includeTop: false, pooling: .average))
    }

    func testNoWeightIsAllocated() throws {
        for a in Catalog.all {
            let model = try a.shapesOnly(ModelOptions())
            XCTAssertFalse(model.network.allWeights.isEmpty, a.name)
            XCTAssertEqual(model.network.allWeights.filter(\.isAllocated).map(\.name), [], "\(a.name) allocated weights")
        }
    }

    /// VGG16 at 1792x1792 has a 6.6 G-weight fc1: built, it would take 26 GB; its table takes none of it.
    func testATopLargerThanMemoryHasATable() throws {
        let vgg16 = try Catalog.architecture(named: "vgg16")
        let options = ModelOptions(inputSize: (1792, 1792))
        let summary = try ModelSummary(vgg16, options: options)
        let fc1 = try XCTUnwrap(summary.rows.first { $0.name == "fc1" })
        XCTAssertEqual(fc1.parameters, 56 * 56 * 512 * 4096 + 4096)
        XCTAssertEqual(summary.totalParameters, 138_357_544 + (56 * 56 - 7 * 7) * 512 * 4096)
        XCTAssertTrue(try vgg16.shapesOnly(options).network.allWeights.allSatisfy { !$0.isAllocated })
    }
}
