import XCTest
@testable import Engine

/// Wraps a layer and counts the backward calls it receives.
final class BackwardSpy: Layer {
    let inner: Layer
    private(set) var backwardCalls = 0
    init(_ inner: Layer) { self.inner = inner }
    var name: String { inner.name }
    var sublayers: [Layer] { [inner] }
    func outputShape(for s: [Int]) throws -> [Int] { try inner.outputShape(for: s) }
    func forward(_ input: Tensor, mode: Mode) throws -> Tensor { try inner.forward(input, mode: mode) }
    func backward(_ g: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        backwardCalls += 1
        return try inner.backward(g, needsInputGradient: needsInputGradient)
    }
}

final class CompositionTests: XCTestCase {
    func conv(_ name: String, _ inC: Int, _ outC: Int, _ k: Int, strides: Int = 1, padding: Padding = .same,
              activation: Activation = .linear, seed: UInt64 = 7) -> Conv2D {
        let c = Conv2D(name: name, inputChannels: inC, filters: outC, kernelSize: (k, k), strides: (strides, strides),
                       padding: padding, activation: activation)
        c.bias?.value = randomTensor([outC], seed: seed, low: -0.2, high: 0.2)
        return c
    }

    func inception() -> Concatenate {
        Concatenate(name: "mixed", branches: [
            conv("b1x1", 3, 2, 1),
            Sequential(name: "b3x3", [conv("b3x3_reduce", 3, 2, 1), conv("b3x3", 2, 3, 3, seed: 8)]),
            Sequential(name: "b5x5", [conv("b5x5_reduce", 3, 1, 1, seed: 9), ActivationLayer(name: "tanh", .tanh),
                                      conv("b5x5", 1, 4, 5, seed: 10)]),
        ])
    }

    // MARK: Concatenate

    func testConcatenateGradient() throws {
        let block = inception()
        XCTAssertEqual(try block.outputShape(for: [2, 5, 4, 3]), [2, 5, 4, 9])
        try GradientCheck().check(block, input: randomTensor([2, 5, 4, 3]))
    }

    func testConcatenateOrdersChannelsByBranch() throws {
        let block = inception()
        let x = randomTensor([1, 3, 3, 3], seed: 2)
        let y = try block.forward(x, mode: .inference)
        let parts = try block.branches.map { try $0.forward(x, mode: .inference) }
        var offset = 0
        for part in parts {
            let width = part.shape.last!
            XCTAssertEqual(Merge.channelSlice(y, offset: offset, width: width), part)
            offset += width
        }
        XCTAssertEqual(block.sublayers.map(\.name), ["b1x1", "b3x3", "b5x5"])
        XCTAssertNotNil(block.layer(named: "b5x5_reduce"))
    }

    func testConcatenateErrorNamesTheBranch() {
        let block = Concatenate(name: "mixed", branches: [conv("same", 3, 2, 3), conv("strided", 3, 2, 3, strides: 2)])
        XCTAssertThrowsError(try block.forward(randomTensor([1, 6, 6, 3]), mode: .inference)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("mixed") && s.contains("strided") && s.contains("(1, 3, 3, 2)"), s)
        }
        XCTAssertThrowsError(try Concatenate(name: "empty", branches: []).outputShape(for: [1, 2, 2, 1])) { e in
            XCTAssertTrue("\(e)".contains("empty"))
        }
        XCTAssertThrowsError(try Merge.concatenateChannels([Tensor(zeros: [1, 2, 2, 1]), Tensor(zeros: [1, 2, 3, 1])],
                                                           layer: "cat")) { e in
            XCTAssertTrue("\(e)".contains("cat") && "\(e)".contains("(1, 2, 3, 1)"), "\(e)")
        }
    }

    // MARK: Residual

    func testResidualIdentityGradient() throws {
        let block = Residual(name: "block", main: Sequential(name: "main", [
            conv("conv1", 3, 4, 3, activation: .tanh), conv("conv2", 4, 3, 3, seed: 8),
        ]))
        try GradientCheck().check(block, input: randomTensor([2, 4, 4, 3]))
    }

    func testResidualProjectionWithReLUGradient() throws {
        let block = Residual(
            name: "conv2_block1",
            main: Sequential(name: "main", [conv("conv2_block1_1_conv", 2, 3, 3, strides: 2, activation: .tanh),
                                            conv("conv2_block1_2_conv", 3, 4, 3, seed: 8)]),
            shortcut: conv("conv2_block1_0_conv", 2, 4, 1, strides: 2, seed: 9),
            activation: .relu)
        XCTAssertEqual(try block.outputShape(for: [2, 5, 5, 2]), [2, 3, 3, 4])
        XCTAssertEqual(block.addName, "conv2_block1_add")
        XCTAssertEqual(block.outName, "conv2_block1_out")
        try GradientCheck(eps: 1e-3).check(block, input: randomTensor([2, 5, 5, 2], seed: 5))
    }

    func testResidualComputesActivationOfTheSum() throws {
        let main = conv("main", 2, 2, 1), shortcut = conv("proj", 2, 2, 1, seed: 3)
        let block = Residual(name: "block", main: main, shortcut: shortcut, activation: .relu)
        let x = randomTensor([1, 2, 2, 2])
        let y = try block.forward(x, mode: .inference)
        let a = try main.forward(x, mode: .inference), b = try shortcut.forward(x, mode: .inference)
        for i in 0..<y.count { XCTAssertEqual(y[flat: i], max(0, a[flat: i] + b[flat: i])) }
        let identity = Residual(name: "id", main: main)
        XCTAssertEqual(try identity.forward(x, mode: .inference)[flat: 3], a[flat: 3] + x[flat: 3])
    }

    func testResidualShapeErrorNamesTheBlock() {
        let block = Residual(name: "conv3_block1", main: conv("conv3_block1_1_conv", 4, 8, 1, strides: 2))
        XCTAssertThrowsError(try block.forward(randomTensor([1, 4, 4, 4]), mode: .inference)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("conv3_block1_add") && s.contains("(1, 2, 2, 8)") && s.contains("(1, 4, 4, 4)"), s)
        }
        var a = Tensor(zeros: [1, 2])
        XCTAssertThrowsError(try Merge.add(into: &a, Tensor(zeros: [2, 1]), layer: "add1")) { e in
            XCTAssertTrue("\(e)".contains("add1") && "\(e)".contains("(2, 1)"), "\(e)")
        }
    }

    // MARK: Backward stops below the lowest trainable layer

    func frozen(_ layer: Layer) -> BackwardSpy { layer.setTrainable(false); return BackwardSpy(layer) }

    func testSequentialSkipsFrozenLayersBelowTheLowestTrainable() throws {
        let bn = BatchNorm(name: "bn", channels: 3, epsilon: 1e-3, momentum: 0.99, convention: .keras)
        let frozenConv = frozen(conv("frozen_conv", 2, 3, 3)), frozenBN = frozen(bn)
        let head = BackwardSpy(conv("head", 3, 2, 3))
        let model = Sequential(name: "model", [frozenConv, frozenBN, head])
        let x = randomTensor([1, 4, 4, 2])
        let statistics = bn.state.map(\.value)
        _ = try model.forward(x, mode: .training)
        XCTAssertNil(try model.backward(randomTensor([1, 4, 4, 2]), needsInputGradient: false))
        XCTAssertEqual([frozenConv.backwardCalls, frozenBN.backwardCalls, head.backwardCalls], [0, 0, 1])
        XCTAssertEqual(bn.state.map(\.value), statistics)

        // The control: asked for the input gradient, every layer runs.
        _ = try model.forward(x, mode: .training)
        XCTAssertNotNil(try model.backward(randomTensor([1, 4, 4, 2]), needsInputGradient: true))
        XCTAssertEqual([frozenConv.backwardCalls, frozenBN.backwardCalls, head.backwardCalls], [1, 1, 2])
    }

    func testFrozenPathsInsideResidualAreSkipped() throws {
        let stem = frozen(conv("stem", 2, 3, 3))
        let frozenMain = frozen(Sequential(name: "main", [conv("a", 3, 3, 3), conv("b", 3, 3, 3)]))
        let frozenBlock = Residual(name: "frozen_block", main: frozenMain, activation: .relu)
        let trainableMain = BackwardSpy(conv("c", 3, 3, 3))
        let projection = frozen(conv("proj", 3, 3, 1))
        let trainableBlock = Residual(name: "block", main: trainableMain, shortcut: projection, activation: .relu)
        let head = BackwardSpy(conv("head", 3, 1, 1))
        let model = Sequential(name: "model", [stem, frozenBlock, trainableBlock, head])
        _ = try model.forward(randomTensor([1, 4, 4, 2]), mode: .training)
        _ = try model.backward(randomTensor([1, 4, 4, 1]), needsInputGradient: false)
        XCTAssertEqual([stem.backwardCalls, frozenMain.backwardCalls, projection.backwardCalls], [0, 0, 0])
        XCTAssertEqual([trainableMain.backwardCalls, head.backwardCalls], [1, 1])

        // A trainable layer below the frozen block makes the block pass its input gradient down.
        stem.setTrainable(true)
        _ = try model.forward(randomTensor([1, 4, 4, 2]), mode: .training)
        _ = try model.backward(randomTensor([1, 4, 4, 1]), needsInputGradient: false)
        XCTAssertEqual([stem.backwardCalls, frozenMain.backwardCalls, projection.backwardCalls], [1, 1, 1])
    }

    func testFrozenBranchesInsideConcatenateAreSkipped() throws {
        let frozenBranch = frozen(conv("frozen", 2, 2, 3)), poolFree = BackwardSpy(ActivationLayer(name: "act", .tanh))
        let trainable = BackwardSpy(conv("trainable", 2, 3, 1))
        let block = Concatenate(name: "mixed", branches: [frozenBranch, trainable, poolFree])
        _ = try block.forward(randomTensor([1, 3, 3, 2]), mode: .training)
        XCTAssertNil(try block.backward(randomTensor([1, 3, 3, 7]), needsInputGradient: false))
        XCTAssertEqual([frozenBranch.backwardCalls, trainable.backwardCalls, poolFree.backwardCalls], [0, 1, 0])
        let dx = try XCTUnwrap(block.backward(randomTensor([1, 3, 3, 7]), needsInputGradient: true))
        XCTAssertEqual(dx.shape, [1, 3, 3, 2])
        XCTAssertEqual([frozenBranch.backwardCalls, trainable.backwardCalls, poolFree.backwardCalls], [1, 2, 1])
    }

    func testBackwardBeforeForwardThrows() {
        let block = Residual(name: "block", main: conv("c", 2, 2, 1))
        XCTAssertThrowsError(try block.backward(Tensor(zeros: [1, 2, 2, 2]), needsInputGradient: true))
        let cat = inception()
        XCTAssertThrowsError(try cat.backward(Tensor(zeros: [1, 2, 2, 9]), needsInputGradient: true))
    }
}
