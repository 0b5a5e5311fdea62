import XCTest
@testable import Engine

/// ConvPlan's tiling: bands of output rows that run on across images, and the filter split used when
/// there are too few bands to share between threads. Neither may change a result.
final class ConvTilingTests: XCTestCase {
    func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let saved = Parallel.threadCount
        Parallel.threadCount = n
        defer { Parallel.threadCount = saved }
        return try body()
    }

    func image(_ x: Tensor, _ n: Int) -> Tensor {
        let per = x.count / x.shape[0]
        return Tensor(shape: [1] + x.shape.dropFirst(), scalars: Array(x.scalars[(n * per)..<((n + 1) * per)]))
    }

    /// A batch whose bands straddle image boundaries gives what each image gives alone: outputs, input
    /// gradients, and the kernel gradient as the sum over images.
    func testBandsAcrossImagesMatchImageByImage() throws {
        let conv = Conv2D(name: "conv", inputChannels: 2, filters: 8, kernelSize: (3, 3), padding: .same)
        let x = randomTensor([4, 10, 16, 2], seed: 11)
        let plan = ConvPlan(conv: conv, inputShape: x.shape)
        XCTAssertGreaterThan(plan.tiles.count, 2)
        XCTAssertTrue(plan.tiles.contains { $0.lowerBound / 10 != ($0.upperBound - 1) / 10 }, "no band crosses an image")
        XCTAssertEqual(Set(plan.tiles.dropLast().map(\.count)).count, 1, "bands differ in height")

        let y = try conv.forward(x, mode: .training)
        let dy = randomTensor(y.shape, seed: 12)
        conv.zeroGradients()
        let dx = try XCTUnwrap(conv.backward(dy, needsInputGradient: true))
        let dw = conv.kernel.gradient

        conv.zeroGradients()
        for n in 0..<4 {
            let yn = try conv.forward(image(x, n), mode: .training)
            assertClose(yn, image(y, n), relative: 1e-5, "output of image \(n)")
            let dxn = try XCTUnwrap(conv.backward(image(dy, n), needsInputGradient: true))
            assertClose(dxn, image(dx, n), relative: 1e-5, "input gradient of image \(n)")
        }
        assertClose(conv.kernel.gradient, dw, relative: 1e-5, "kernel gradient")
    }

    /// One image of a late-stage size has a single band: two threads then split the filters, and the
    /// output (with bias, ReLU, or a folded BatchNorm) is bit for bit the single-thread output.
    func testFilterSplitMatchesOneThread() throws {
        let layers = [
            (Conv2D(name: "conv3x3", inputChannels: 3, filters: 160, kernelSize: (3, 3), padding: .same, activation: .relu),
             [1, 5, 6, 3]),
            (Conv2D(name: "conv1x1", inputChannels: 16, filters: 200, kernelSize: (1, 1)), [1, 4, 4, 16]),
        ]
        for (conv, shape) in layers {
            conv.bias?.value = randomTensor([conv.filters], seed: 3)
            let x = randomTensor(shape, seed: 4)
            let scale = (0..<conv.filters).map { Float($0 % 7) * 0.3 - 0.5 }
            let shift = (0..<conv.filters).map { Float($0 % 5) * 0.2 - 0.4 }
            let one = try withThreads(1) {
                [try conv.forward(x, mode: .inference), try conv.forwardFused(x, scale: scale, shift: shift, then: .relu)]
            }
            let two = try withThreads(2) { () throws -> [Tensor] in
                let plan = ConvPlan(conv: conv, inputShape: x.shape)
                XCTAssertGreaterThan(plan.columnBlocks(.relu), 1, "\(conv.name): filters not split")
                return [try conv.forward(x, mode: .inference), try conv.forwardFused(x, scale: scale, shift: shift, then: .relu)]
            }
            for (a, b) in zip(one, two) { XCTAssertEqual(a.scalars, b.scalars, conv.name) }
            XCTAssertTrue(one[1].scalars.contains(0) && one[1].scalars.contains { $0 > 0 }, "ReLU epilogue not exercised")
        }
    }
}
