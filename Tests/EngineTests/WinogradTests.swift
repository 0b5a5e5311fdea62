import XCTest
@testable import Engine

/// Winograd F(2x2, 3x3) and F(4x4, 3x3) against a float64 convolution, beside the direct (im2col)
/// path's own error, in training's forward and input gradient too; the transformed-kernel cache
/// follows weight changes.
final class WinogradTests: XCTestCase {
    /// Runs `body` with Winograd tile `m` (0: direct), used however few tiles a layer has.
    func withOutputTile<T>(_ m: Int, _ body: () throws -> T) rethrows -> T {
        let saved = (WinogradPlan.outputTile, WinogradPlan.minimumTiles)
        WinogradPlan.outputTile = m
        WinogradPlan.minimumTiles = 1
        defer { (WinogradPlan.outputTile, WinogradPlan.minimumTiles) = saved }
        return try body()
    }

    /// conv(x) + bias in float64, NHWC / HWIO.
    func reference(_ conv: Conv2D, _ x: Tensor) throws -> [Double] {
        let out = try conv.outputShape(for: x.shape)
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow, k) = (out[1], out[2], out[3])
        let g = conv.geometry(x.shape)
        let xs = x.scalars.map(Double.init), ks = conv.kernel.value.scalars.map(Double.init)
        var y = [Double](repeating: 0, count: n * oh * ow * k)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc = conv.bias.map { $0.value.scalars.map(Double.init) } ?? [Double](repeating: 0, count: k)
                    for ky in 0..<3 {
                        let iy = oy - g.rows.padBegin + ky
                        guard iy >= 0 && iy < h else { continue }
                        for kx in 0..<3 {
                            let ix = ox - g.cols.padBegin + kx
                            guard ix >= 0 && ix < w else { continue }
                            for ci in 0..<c {
                                let v = xs[((b * h + iy) * w + ix) * c + ci]
                                let kRow = ((ky * 3 + kx) * c + ci) * k
                                for f in 0..<k { acc[f] += v * ks[kRow + f] }
                            }
                        }
                    }
                    let base = ((b * oh + oy) * ow + ox) * k
                    for f in 0..<k { y[base + f] = acc[f] }
                }
            }
        }
        return y
    }

    /// max |y - reference| / max |reference|.
    func error(_ y: Tensor, _ ref: [Double]) -> Double {
        var diff = 0.0, scale = 0.0
        for i in ref.indices {
            diff = max(diff, abs(Double(y[flat: i]) - ref[i]))
            scale = max(scale, abs(ref[i]))
        }
        return diff / scale
    }

    /// Shapes covering partial edge tiles, explicit and valid padding, channel counts off the vector
    /// width, filter splits, several blocks of tiles, and a VGG16 block5 layer at full width.
    static let cases: [(input: [Int], filters: Int, padding: Padding)] = [
        ([2, 9, 11, 24], 40, .same), ([1, 13, 10, 17], 33, .valid), ([1, 7, 7, 64], 96, .symmetric(1)),
        ([3, 30, 26, 32], 48, .same), ([1, 14, 14, 512], 512, .same),
    ]

    func testOutputsMatchFloat64AsCloselyAsDirectConvolution() throws {
        for (shape, filters, padding) in Self.cases {
            let conv = Conv2D(name: "conv", inputChannels: shape[3], filters: filters, kernelSize: (3, 3),
                              padding: padding, initializer: .heNormal())
            conv.bias?.value = randomTensor([filters], seed: 2, low: -0.1, high: 0.1)
            let x = randomTensor(shape, seed: 3, low: 0, high: 1)   // post-ReLU activations are non-negative
            let ref = try reference(conv, x)
            let direct = try withOutputTile(0) { try conv.forward(x, mode: .inference) }
            let directError = error(direct, ref)
            for m in [2, 4] {
                let y = try withOutputTile(m) { try conv.forward(x, mode: .inference) }
                XCTAssertNotNil(withOutputTile(m) { WinogradPlan(conv: conv, inputShape: shape, activation: .linear) })
                let e = error(y, ref)
                print("winograd F(\(m)x\(m),3x3) \(shape) -> \(filters): error \(e), direct \(directError)")
                // A few float32 roundings more than direct convolution, far inside the 1e-4 parity budget.
                XCTAssertLessThan(e, m == 2 ? 2e-6 : 1e-5, "F(\(m)x\(m)) \(shape) -> \(filters)")
            }
        }
    }

    /// The fused inference epilogue (bias, folded BatchNorm, ReLU) gives what direct convolution gives.
    func testFusedEpilogueMatchesDirectConvolution() throws {
        let conv = Conv2D(name: "conv", inputChannels: 32, filters: 70, kernelSize: (3, 3), padding: .same)
        conv.bias?.value = randomTensor([70], seed: 5)
        let x = randomTensor([2, 12, 9, 32], seed: 6)
        let scale = (0..<70).map { Float($0 % 7) * 0.3 - 0.5 }, shift = (0..<70).map { Float($0 % 5) * 0.2 - 0.4 }
        for act in [Activation.relu, .linear] {
            let direct = try withOutputTile(0) { try conv.forwardFused(x, scale: scale, shift: shift, then: act) }
            for m in [2, 4] {
                let y = try withOutputTile(m) { try conv.forwardFused(x, scale: scale, shift: shift, then: act) }
                assertClose(y, direct, relative: 1e-5, "F(\(m)x\(m)) \(act)")
            }
        }
    }

    /// In training the forward and the input gradient take Winograd too (dx of a stride-1 3x3
    /// convolution is the convolution of dy with the kernel turned 180 degrees, channels swapped):
    /// outputs and gradients match direct convolution's, the kernel gradient is unchanged.
    func testTrainingForwardAndInputGradientMatchDirectConvolution() throws {
        for (shape, filters, padding) in Self.cases.prefix(4) {
            for act in [Activation.linear, .relu] {
                let conv = Conv2D(name: "conv", inputChannels: shape[3], filters: filters, kernelSize: (3, 3),
                                  padding: padding, activation: act, initializer: .heNormal())
                conv.bias?.value = randomTensor([filters], seed: 2, low: -0.1, high: 0.1)
                let x = randomTensor(shape, seed: 3)
                let dy = randomTensor(try conv.outputShape(for: shape), seed: 4)
                func pass(_ m: Int) throws -> (y: Tensor, dx: Tensor, dw: Tensor) {
                    try withOutputTile(m) {
                        conv.zeroGradients()
                        let y = try conv.forward(x, mode: .training)
                        let dx = try XCTUnwrap(try conv.backward(dy, needsInputGradient: true))
                        return (y, dx, conv.kernel.gradient)
                    }
                }
                let direct = try pass(0)
                for m in [2, 4] {
                    XCTAssertNotNil(withOutputTile(m) { WinogradPlan(inputGradientOf: conv, inputShape: shape) })
                    let w = try pass(m)
                    let what = "F(\(m)x\(m)) \(shape) -> \(filters) \(padding) \(act)"
                    assertClose(w.y, direct.y, relative: 1e-5, "output, " + what)
                    assertClose(w.dx, direct.dx, relative: 1e-5, "input gradient, " + what)
                    XCTAssertEqual(w.dw, direct.dw, "kernel gradient, " + what)
                }
            }
        }
    }

    /// Finite differences of the Winograd forward and input gradient, same and valid padding.
    func testWinogradBackwardPassesGradientCheck() throws {
        for padding in [Padding.same, .valid] {
            let conv = Conv2D(name: "conv \(padding)", inputChannels: 16, filters: 17, kernelSize: (3, 3), padding: padding)
            conv.bias?.value = randomTensor([17], seed: 7)
            try withOutputTile(2) {
                XCTAssertNotNil(WinogradPlan(inputGradientOf: conv, inputShape: [1, 6, 5, 16]))
                try GradientCheck().check(conv, input: randomTensor([1, 6, 5, 16]))
            }
        }
    }

    /// The cached transformed kernel follows the weights: replaced, changed in place, or re-tiled.
    func testCachedKernelFollowsWeightChanges() throws {
        let conv = Conv2D(name: "conv", inputChannels: 16, filters: 32, kernelSize: (3, 3), padding: .same)
        let x = randomTensor([1, 8, 8, 16], seed: 7)
        func check(_ what: String) throws {
            let direct = try withOutputTile(0) { try conv.forward(x, mode: .inference) }
            let y = try withOutputTile(4) { try conv.forward(x, mode: .inference) }
            assertClose(y, direct, relative: 1e-5, what)
        }
        try check("first use")
        conv.kernel.value = randomTensor(conv.kernel.shape, seed: 8)
        try check("after assigning new weights")
        conv.kernel.value.mutableData()[5] += 3
        try check("after an in-place change")
        _ = try withOutputTile(2) { try conv.forward(x, mode: .inference) }
        conv.kernel.value.withUnsafeMutableBufferPointer { $0[0] -= 2 }
        try check("after switching tile size and changing weights")
    }

    func testIneligibleConvolutionsTakeTheDirectPath() {
        let late = Conv2D(name: "7x7 at batch 1", inputChannels: 512, filters: 512, kernelSize: (3, 3), padding: .same)
        XCTAssertNil(WinogradPlan(conv: late, inputShape: [1, 7, 7, 512], activation: .relu, outputTile: 2))
        XCTAssertNotNil(WinogradPlan(conv: late, inputShape: [4, 7, 7, 512], activation: .relu, outputTile: 2))
        let cases = [
            Conv2D(name: "strided", inputChannels: 32, filters: 32, kernelSize: (3, 3), strides: (2, 2)),
            Conv2D(name: "5x5", inputChannels: 32, filters: 32, kernelSize: (5, 5)),
            Conv2D(name: "grouped", inputChannels: 32, filters: 32, kernelSize: (3, 3), groups: 2),
            Conv2D(name: "dilated", inputChannels: 32, filters: 32, kernelSize: (3, 3), dilation: (2, 2)),
            Conv2D(name: "rgb", inputChannels: 3, filters: 64, kernelSize: (3, 3)),
        ]
        for conv in cases {
            XCTAssertNil(WinogradPlan(conv: conv, inputShape: [1, 32, 32, conv.inputChannels], activation: .relu,
                                      outputTile: 4), conv.name)
        }
        let conv = Conv2D(name: "tanh", inputChannels: 32, filters: 32, kernelSize: (3, 3))
        XCTAssertNil(WinogradPlan(conv: conv, inputShape: [1, 32, 32, 32], activation: .tanh, outputTile: 4))
        XCTAssertNotNil(WinogradPlan(conv: conv, inputShape: [1, 32, 32, 32], activation: .relu, outputTile: 4))
    }
}
