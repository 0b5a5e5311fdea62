import XCTest
@testable import Engine

/// Flatten, ZeroPadding2D and Dropout.
final class ReshapeDropoutTests: XCTestCase {
    // MARK: Flatten

    func testFlattenKeepsNHWCOrder() throws {
        let f = Flatten(name: "flatten")
        let x = randomTensor([2, 3, 4, 5])
        let y = try f.forward(x, mode: .training)
        XCTAssertEqual(y.shape, [2, 60])
        // Feature (h, w, c) of sample n sits at h*W*C + w*C + c: Keras's order.
        XCTAssertEqual(y[1, 2 * 20 + 3 * 5 + 4], x[1, 2, 3, 4])
        XCTAssertEqual(y.scalars, x.scalars)
        try GradientCheck().check(f, input: x)
        XCTAssertEqual(try f.outputShape(for: [7, 9]), [7, 9])
    }

    // MARK: ZeroPadding2D

    func testZeroPaddingPlacesInputAndZeros() throws {
        let z = ZeroPadding2D(name: "conv1_pad", padding: (top: 1, bottom: 2, left: 3, right: 0))
        let x = randomTensor([2, 3, 2, 4])
        let y = try z.forward(x, mode: .inference)
        XCTAssertEqual(y.shape, [2, 6, 5, 4])
        var sum: Float = 0
        for n in 0..<2 { for h in 0..<6 { for w in 0..<5 { for c in 0..<4 {
            let inside = (1..<4).contains(h) && (3..<5).contains(w)
            XCTAssertEqual(y[n, h, w, c], inside ? x[n, h - 1, w - 3, c] : 0)
            sum += abs(y[n, h, w, c])
        } } } }
        XCTAssertGreaterThan(sum, 0)
    }
    func testZeroPaddingGradient() throws {
        try GradientCheck().check(ZeroPadding2D(name: "pad", padding: (top: 1, bottom: 2, left: 0, right: 3)),
                                  input: randomTensor([2, 3, 4, 2]))
        let sym = ZeroPadding2D(name: "pad", symmetric: 3)
        XCTAssertEqual(try sym.outputShape(for: [1, 224, 224, 3]), [1, 230, 230, 3])
        try GradientCheck().check(sym, input: randomTensor([1, 2, 3, 2]))
    }

    // MARK: Dropout

    func testDropoutInferenceIsIdentity() throws {
        let d = Dropout(name: "drop", rate: 0.5)
        let x = randomTensor([4, 10])
        XCTAssertEqual(try d.forward(x, mode: .inference), x)
        XCTAssertThrowsError(try d.backward(x, needsInputGradient: true))
    }

    func testDropoutZeroesAboutRateAndScalesTheRest() throws {
        for rate: Float in [0.2, 0.5, 0.8] {
            let d = Dropout(name: "drop", rate: rate, generator: RandomGenerator(seed: 3))
            let n = 100_000
            let x = Tensor(shape: [10, n / 10], repeating: 2)
            let y = try d.forward(x, mode: .training)
            var zeros = 0
            for i in 0..<n {
                if y[flat: i] == 0 { zeros += 1 } else { XCTAssertEqual(y[flat: i], 2 / (1 - rate), accuracy: 1e-5) }
            }
            // Binomial: 5 standard deviations is under 1% of n here.
            let sd = (Double(n) * Double(rate) * Double(1 - rate)).squareRoot()
            XCTAssertEqual(Double(zeros), Double(n) * Double(rate), accuracy: 5 * sd, "rate \(rate)")
            // The gradient is masked and scaled the same way.
            let g = try XCTUnwrap(try d.backward(Tensor(shape: x.shape, repeating: 1), needsInputGradient: true))
            for i in 0..<n { XCTAssertEqual(g[flat: i], y[flat: i] / 2) }
        }
    }

    func testDropoutMasksFollowTheSeed() throws {
        let x = Tensor(shape: [8, 64], repeating: 1)
        let a = Dropout(name: "drop", rate: 0.5), b = Dropout(name: "drop", rate: 0.5)
        a.reseed(42); b.reseed(42)
        let ya = try a.forward(x, mode: .training)
        XCTAssertEqual(ya, try b.forward(x, mode: .training))
        XCTAssertNotEqual(ya, try a.forward(x, mode: .training), "the stream moves on between forwards")
        a.reseed(42)
        XCTAssertEqual(ya, try a.forward(x, mode: .training))
        b.reseed(43)
        XCTAssertNotEqual(ya, try b.forward(x, mode: .training))
        // Seeds drawn from the same parent generator reproduce too.
        let c = Dropout(name: "drop", rate: 0.5, generator: RandomGenerator(seed: 9))
        let e = Dropout(name: "drop", rate: 0.5, generator: RandomGenerator(seed: 9))
        XCTAssertEqual(c.seed, e.seed)
        XCTAssertEqual(try c.forward(x, mode: .training), try e.forward(x, mode: .training))
    }

    func testDropoutGradient() throws {
        let d = Dropout(name: "drop", rate: 0.4)
        var check = GradientCheck()
        check.beforeForward = { d.reseed(5) }
        try check.check(d, input: randomTensor([3, 4, 5]))
        // Rate 0 trains as the identity.
        try GradientCheck().check(Dropout(name: "drop", rate: 0), input: randomTensor([2, 3]))
    }

    func testBadInputs() {
        XCTAssertThrowsError(try Dropout(name: "fc_drop", rate: 1).forward(Tensor(zeros: [2, 3]), mode: .training)) { e in
            XCTAssertTrue("\(e)".contains("fc_drop") && "\(e)".contains("rate"), "\(e)")
        }
        XCTAssertThrowsError(try Flatten(name: "flatten").forward(Tensor(zeros: [5]), mode: .training)) { e in
            XCTAssertTrue("\(e)".contains("flatten") && "\(e)".contains("(5)"), "\(e)")
        }
        XCTAssertThrowsError(try ZeroPadding2D(name: "pad1", symmetric: 1).forward(Tensor(zeros: [2, 3, 4]), mode: .training)) { e in
            XCTAssertTrue("\(e)".contains("pad1") && "\(e)".contains("(2, 3, 4)"), "\(e)")
        }
        XCTAssertThrowsError(try ZeroPadding2D(name: "pad2", symmetric: -1).outputShape(for: [1, 3, 3, 1])) { e in
            XCTAssertTrue("\(e)".contains("pad2") && "\(e)".contains("negative"), "\(e)")
        }
    }
}
