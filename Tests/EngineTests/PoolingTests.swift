import XCTest
@testable import Engine

/// Gradient checks and input errors for the pooling layers.
final class PoolingTests: XCTestCase {
    // MARK: Max pooling (distinct inputs: no ties, no argmax switch within a finite-difference step)

    func testMaxPoolValid() throws {
        try GradientCheck().check(MaxPool2D(name: "pool", poolSize: (2, 2)), input: distinctTensor([2, 4, 6, 3]))
    }
    func testMaxPoolOverlappingPadded() throws {
        try GradientCheck().check(MaxPool2D(name: "pool", poolSize: (3, 3), strides: (2, 2), padding: .symmetric(1)),
                                  input: distinctTensor([2, 7, 6, 2]))
    }
    func testMaxPoolCeilModeGoogLeNet() throws {
        for size in [6, 7] {
            try GradientCheck().check(MaxPool2D(name: "pool", poolSize: (3, 3), strides: (2, 2), ceilMode: true),
                                      input: distinctTensor([1, size, size, 2], seed: UInt64(size)))
        }
    }
    func testMaxPoolManyChannels() throws {
        // 8-lane kernels plus a scalar tail.
        try GradientCheck().check(MaxPool2D(name: "pool", poolSize: (2, 3), strides: (2, 2), padding: .symmetric(1)),
                                  input: distinctTensor([1, 4, 5, 11]))
    }
    func testMaxPoolPropagatesNaN() throws {
        var x = randomTensor([1, 4, 4, 9])
        x[0, 1, 1, 0] = .nan; x[0, 2, 2, 8] = .nan
        let pool = MaxPool2D(name: "pool", poolSize: (2, 2))
        for mode in [Mode.training, .inference] {
            let y = try pool.forward(x, mode: mode)
            for c in 0..<9 { XCTAssertEqual(y[0, 0, 0, c].isNaN, c == 0, "channel \(c)") }
            XCTAssertTrue(y[0, 1, 1, 8].isNaN)
            XCTAssertFalse(y[0, 1, 1, 7].isNaN)
        }
    }
    func testMaxPoolSame() throws {
        try GradientCheck().check(MaxPool2D(name: "pool", poolSize: (3, 2), strides: (2, 2), padding: .same),
                                  input: distinctTensor([2, 5, 6, 2]))
    }

    // MARK: Average pooling

    func avg(_ k: (Int, Int), _ s: (Int, Int), _ padding: Padding = .valid, ceil: Bool = false,
             includePad: Bool) -> AvgPool2D {
        AvgPool2D(name: "pool", poolSize: k, strides: s, padding: padding, ceilMode: ceil, countIncludePad: includePad)
    }

    func testAvgPoolValid() throws {
        try GradientCheck().check(avg((2, 3), (2, 1), includePad: true), input: randomTensor([2, 5, 6, 3]))
    }
    func testAvgPoolPaddedCountingAndNotCountingPadding() throws {
        for includePad in [true, false] {
            try GradientCheck().check(avg((3, 3), (2, 2), .explicit(top: 1, bottom: 1, left: 1, right: 0),
                                          includePad: includePad), input: randomTensor([2, 6, 7, 2]))
        }
    }
    func testAvgPoolCeilMode() throws {
        for (size, includePad) in [(6, true), (7, false), (6, false)] {
            try GradientCheck().check(avg((3, 3), (2, 2), .symmetric(1), ceil: true, includePad: includePad),
                                      input: randomTensor([1, size, size + 1, 2]))
        }
    }
    func testAvgPoolSame() throws {
        try GradientCheck().check(avg((3, 3), (2, 2), .same, includePad: false), input: randomTensor([2, 6, 7, 2]))
    }

    // MARK: Global and adaptive

    func testGlobalPools() throws {
        try GradientCheck().check(GlobalAveragePooling2D(name: "gap"), input: randomTensor([2, 3, 4, 5]))
        try GradientCheck().check(GlobalMaxPooling2D(name: "gmp"), input: distinctTensor([2, 3, 4, 5]))
    }
    func testAdaptiveNonDivisible() throws {
        try GradientCheck().check(AdaptiveAvgPool2D(name: "avgpool", outputSize: (3, 2)), input: randomTensor([2, 5, 7, 2]))
        // Output larger than input: bins overlap.
        try GradientCheck().check(AdaptiveAvgPool2D(name: "avgpool", outputSize: (3, 4)), input: randomTensor([1, 2, 3, 2]))
    }
    func testAdaptiveIdentityWhenSizesMatch() throws {
        let pool = AdaptiveAvgPool2D(name: "avgpool", outputSize: (6, 6))
        let x = randomTensor([2, 6, 6, 3])
        XCTAssertEqual(try pool.forward(x, mode: .training), x)
        let g = randomTensor([2, 6, 6, 3], seed: 2)
        XCTAssertEqual(try pool.backward(g, needsInputGradient: true), g)
        try GradientCheck().check(pool, input: x)
    }

    // MARK: Bookkeeping

    func testInferenceSavesNothing() throws {
        let layers: [Layer] = [MaxPool2D(name: "a", poolSize: (2, 2)), avg((2, 2), (2, 2), includePad: true),
                               GlobalAveragePooling2D(name: "c"), GlobalMaxPooling2D(name: "d"),
                               AdaptiveAvgPool2D(name: "e", outputSize: (1, 1))]
        for layer in layers {
            let x = randomTensor([1, 4, 4, 2])
            let y = try layer.forward(x, mode: .inference)
            XCTAssertThrowsError(try layer.backward(y, needsInputGradient: true)) { e in
                XCTAssertTrue("\(e)".contains("needs a forward in training mode"), "\(layer.name): \(e)")
            }
        }
    }
    func testMaxPoolInferenceEqualsTraining() throws {
        let pool = MaxPool2D(name: "pool", poolSize: (3, 3), strides: (2, 2), padding: .symmetric(1), ceilMode: true)
        let x = randomTensor([2, 9, 8, 3])
        XCTAssertEqual(try pool.forward(x, mode: .inference), try pool.forward(x, mode: .training))
    }
    func testWrongGradientShape() throws {
        let pool = MaxPool2D(name: "pool1", poolSize: (2, 2))
        _ = try pool.forward(randomTensor([1, 4, 4, 1]), mode: .training)
        XCTAssertThrowsError(try pool.backward(Tensor(zeros: [1, 4, 4, 1]), needsInputGradient: true)) { e in
            XCTAssertTrue("\(e)".contains("pool1") && "\(e)".contains("(1, 2, 2, 1)"), "\(e)")
        }
    }

    // MARK: Bad input

    func assertError(_ layer: Layer, _ shape: [Int], _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try layer.forward(Tensor(zeros: shape), mode: .training), line: line) { e in
            XCTAssertTrue(e is LayerError, "\(e)", line: line)
            for f in [layer.name] + fragments {
                XCTAssertTrue("\(e)".contains(f), "'\(f)' missing from: \(e)", line: line)
            }
        }
    }

    func testBadInputsNameTheLayer() {
        assertError(MaxPool2D(name: "pool1", poolSize: (2, 2)), [4, 4, 3], ["(4, 4, 3)"])
        assertError(MaxPool2D(name: "pool1", poolSize: (3, 3)), [1, 2, 5, 3], ["too small", "(1, 2, 5, 3)"])
        assertError(avg((3, 3), (1, 1), includePad: true), [1, 5, 2, 1], ["too small"])
        assertError(MaxPool2D(name: "pool2", poolSize: (2, 2), padding: .symmetric(2)), [1, 4, 4, 1], ["wholly"])
        assertError(MaxPool2D(name: "pool3", poolSize: (0, 2)), [1, 4, 4, 1], ["positive"])
        assertError(MaxPool2D(name: "pool4", poolSize: (2, 2), padding: .symmetric(-1)), [1, 4, 4, 1], ["negative"])
        assertError(GlobalAveragePooling2D(name: "gap"), [2, 5], ["(2, 5)"])
        assertError(GlobalMaxPooling2D(name: "gmp"), [2, 3, 0, 1], ["(2, 3, 0, 1)"])
        assertError(AdaptiveAvgPool2D(name: "avgpool", outputSize: (6, 6)), [1, 6, 6], ["(1, 6, 6)"])
        assertError(AdaptiveAvgPool2D(name: "avgpool", outputSize: (0, 6)), [1, 6, 6, 1], ["positive"])
    }
}
