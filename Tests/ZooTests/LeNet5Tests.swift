import XCTest
@testable import Engine
@testable import Zoo

/// LeNet-5's two forms: names, shapes, the paper's parameter counts, Table I and the options.
final class LeNet5Tests: XCTestCase {
    func rows(_ model: Model) throws -> [ModelSummary.Row] { try ModelSummary(model).rows }

    func testCatalogRegistersBothForms() throws {
        let modern = try Catalog.architecture(named: "lenet5")
        XCTAssertEqual(modern.reference, "LeNet-5 (LeCun et al. 1998), modern form")
        XCTAssertEqual(modern.defaultInput, [32, 32, 1])
        XCTAssertEqual(try modern.make().inputShape, [32, 32, 1])
        let paper = try Catalog.architecture(named: "lenet5-paper")
        XCTAssertEqual(paper.defaultInput, [32, 32, 1])
        XCTAssertEqual(try paper.make().flavour, .paper)
    }

    func testLayerNamesAndShapesOfBothForms() throws {
        let expected: [(String, [Int])] = [
            ("c1", [28, 28, 6]), ("s2", [14, 14, 6]), ("c3", [10, 10, 16]), ("s4", [5, 5, 16]),
            ("c5", [1, 1, 120]), ("flatten", [120]), ("f6", [84]), ("predictions", [10]),
        ]
        for name in ["lenet5", "lenet5-paper"] {
            let table = try rows(Catalog.architecture(named: name).make())
            XCTAssertEqual(table.map(\.name), expected.map(\.0), name)
            XCTAssertEqual(table.map { Array($0.outputShape.dropFirst()) }, expected.map(\.1), name)
        }
    }

    /// The paper's figures (section II.B): C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164.
    /// C3's (5, 5, 6, 16) kernel holds 2,400 elements, of which Table I connects 1,500; the 900
    /// masked-out ones are not weights, so every count (row, trainable, total) leaves them out.
    func testPaperFormHasThePapersParameterCounts() throws {
        let model = try Catalog.architecture(named: "lenet5-paper").make()
        let perLayer = Dictionary(uniqueKeysWithValues: try rows(model).map { ($0.name, $0.parameters) })
        XCTAssertEqual(perLayer["c1"], 156)
        XCTAssertEqual(perLayer["s2"], 12)
        XCTAssertEqual(perLayer["c3"], 1_516)
        XCTAssertEqual(perLayer["s4"], 32)
        XCTAssertEqual(perLayer["c5"], 48_120)
        XCTAssertEqual(perLayer["f6"], 10_164)
        XCTAssertEqual(perLayer["predictions"], 840, "10 fixed 84-dimensional prototypes")
        XCTAssertEqual(model.trainableParameters, 60_000)
        XCTAssertEqual(model.totalParameters, 60_840)
        let text = try ModelSummary(model).render(title: "lenet5-paper")
        XCTAssertTrue(text.contains("Trainable params: 60,000"), text)
        XCTAssertTrue(text.contains("Non-trainable params: 840"), text)
        // C3's 151,600 connections in the paper are 100 output positions x (1,500 weights + 16 biases).
        XCTAssertEqual(try rows(model).first { $0.name == "c3" }?.multiplyAccumulates, 150_000)
    }

    func testModernFormCountsLikeKeras() throws {
        let model = try Catalog.architecture(named: "lenet5").make()
        // Keras's model.count_params() for the same layers: 156 + 2,416 + 48,120 + 10,164 + 850.
        XCTAssertEqual(model.totalParameters, 61_706)
        XCTAssertEqual(model.trainableParameters, 61_706)
        XCTAssertEqual(try rows(model).first { $0.name == "c3" }?.parameters, 2_416, "full C3 connectivity")
        XCTAssertEqual((model.network.layer(named: "predictions") as? Dense)?.activation, .softmax)
        XCTAssertTrue(model.network.layer(named: "s2") is MaxPool2D)
        XCTAssertEqual((model.network.layer(named: "c1") as? Conv2D)?.activation, .relu)
    }

    func testC3MaskIsTheConnectionTableOfThePaper() {
        let mask = LeNet5.c3Mask()
        func connected(_ s2: Int, _ c3: Int) -> Bool { mask[2, 3, s2, c3] == 1 }
        // Table I, first row: S2 map 0 feeds C3 maps 0, 4, 5, 6, 9, 10, 11, 12, 14, 15.
        XCTAssertEqual((0..<16).filter { connected(0, $0) }, [0, 4, 5, 6, 9, 10, 11, 12, 14, 15])
        // Last row: S2 map 5 feeds 3, 4, 5, 8, 9, 10, 11, 13, 14, 15.
        XCTAssertEqual((0..<16).filter { connected(5, $0) }, [3, 4, 5, 8, 9, 10, 11, 13, 14, 15])
        let perMap = (0..<16).map { c3 in (0..<6).filter { connected($0, c3) }.count }
        XCTAssertEqual(perMap, [3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6])
        XCTAssertEqual(mask.scalars.reduce(0, +), 1_500)
        for ky in 0..<5 { for kx in 0..<5 { XCTAssertEqual(mask[ky, kx, 1, 7], 1); XCTAssertEqual(mask[ky, kx, 0, 7], 0) } }
    }

    func testPaperFormLayersAndInitialization() throws {
        let model = try Catalog.architecture(named: "lenet5-paper").make()
        let net = model.network
        XCTAssertEqual((net.layer(named: "c1") as? Conv2D)?.activation, .scaledTanh)
        XCTAssertEqual((net.layer(named: "s2") as? Subsampling)?.activation, .scaledTanh)
        XCTAssertEqual((net.layer(named: "f6") as? Dense)?.activation, .scaledTanh)
        XCTAssertTrue(net.layer(named: "predictions") is EuclideanRBF)
        // U(-2.4/F, 2.4/F): C3 map 0 reads 3 S2 maps (F = 75), map 15 all six (F = 150).
        let c3 = try XCTUnwrap(net.layer(named: "c3") as? Conv2D)
        let mask = LeNet5.c3Mask()
        var largest = [Float](repeating: 0, count: 16)
        for i in 0..<c3.kernel.value.count {
            let v = c3.kernel.value[flat: i]
            if mask[flat: i] == 0 { XCTAssertEqual(v, 0) }
            largest[i % 16] = max(largest[i % 16], abs(v))
        }
        XCTAssertLessThanOrEqual(largest[0], 2.4 / 75)
        XCTAssertGreaterThan(largest[0], 0.8 * 2.4 / 75)
        XCTAssertLessThanOrEqual(largest[15], 2.4 / 150)
        let s2 = try XCTUnwrap(net.layer(named: "s2") as? Subsampling)
        XCTAssertTrue(s2.coefficient.value.scalars.allSatisfy { abs($0) <= 0.6 })
        XCTAssertNotEqual(s2.bias.value.scalars, [0, 0, 0, 0, 0, 0], "biases are drawn too")
    }

    func testOptions() throws {
        let averageTanh = try LeNet5.make(.modern(pooling: .average, activation: .tanh))
        XCTAssertTrue(averageTanh.network.layer(named: "s4") is AvgPool2D)
        XCTAssertEqual((averageTanh.network.layer(named: "f6") as? Dense)?.activation, .tanh)

        XCTAssertEqual(try Catalog.architecture(named: "lenet5").make(ModelOptions(classes: 26)).outputShape(), [1, 26])
        XCTAssertEqual(try Catalog.architecture(named: "lenet5-paper").make(ModelOptions(classes: 26)).outputShape(), [1, 26])
        let logits = try Catalog.architecture(named: "lenet5").make(ModelOptions(classifierActivation: .linear))
        XCTAssertEqual((logits.network.layer(named: "predictions") as? Dense)?.activation, .linear)

        let pooled = try Catalog.architecture(named: "lenet5").make(ModelOptions(includeTop: false, pooling: .average))
        XCTAssertEqual(try pooled.outputShape(batch: 2), [2, 120])
        let trunk = try Catalog.architecture(named: "lenet5-paper").make(ModelOptions(includeTop: false))
        XCTAssertEqual(try trunk.outputShape(), [1, 1, 1, 120])

        // A larger input makes C5 a map; F6 reads all of it (Keras's Flatten order).
        let big = try Catalog.architecture(named: "lenet5").make(ModelOptions(inputSize: (36, 40)))
        XCTAssertEqual((big.network.layer(named: "f6") as? Dense)?.inputFeatures, 2 * 3 * 120)
    }

    func testBadOptionsAreErrors() {
        XCTAssertThrowsError(try Catalog.architecture(named: "lenet5").make(ModelOptions(inputSize: (28, 28)))) {
            XCTAssertTrue("\($0)".contains("smallest input this network supports is 32x32"), "\($0)")
        }
        XCTAssertThrowsError(try Catalog.architecture(named: "lenet5-paper").make(ModelOptions(classifierActivation: .softmax))) {
            XCTAssertTrue("\($0)".contains("lenet5-paper") && "\($0)".contains("distances"), "\($0)")
        }
        XCTAssertThrowsError(try LeNet5.make(.modern(activation: .softmax))) { XCTAssertTrue("\($0)".contains("softmax")) }
        var narrow = ModelOptions()
        narrow.channelDivisor = 2
        XCTAssertThrowsError(try LeNet5.make(.paper, options: narrow)) { XCTAssertTrue("\($0)".contains("connection table")) }
        XCTAssertEqual(try LeNet5.make(.modern(), options: narrow).network.layer(named: "c3").map { ($0 as! Conv2D).filters }, 8)
    }
}
