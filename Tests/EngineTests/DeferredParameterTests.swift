import XCTest
@testable import Engine

/// Parameters made inside `Parameter.withoutAllocating`: shapes and counts without storage, and the
/// same first value as an eager parameter once read.
final class DeferredParameterTests: XCTestCase {
    func testLayersMadeWithoutAllocatingHoldNoWeightsButKnowTheirShapes() throws {
        let (dense, conv, norm) = Parameter.withoutAllocating {
            (Dense(name: "d", inputFeatures: 1 << 20, units: 1 << 16),   // 256 GB of float32 were it drawn
             Conv2D(name: "c", inputChannels: 3, filters: 8, kernelSize: (5, 5)),
             BatchNorm(name: "bn", channels: 8, epsilon: 1e-5, momentum: 0.1, convention: .pytorch))
        }
        for p in dense.weights + conv.weights + norm.weights { XCTAssertFalse(p.isAllocated, p.name) }
        XCTAssertEqual(dense.kernel.shape, [1 << 20, 1 << 16])
        XCTAssertEqual(dense.parameterCount, (1 << 36) + (1 << 16))
        XCTAssertEqual(try dense.outputShape(for: [2, 1 << 20]), [2, 1 << 16])
        XCTAssertEqual(try conv.outputShape(for: [1, 32, 32, 3]), [1, 28, 28, 8])
        XCTAssertEqual(conv.multiplyAccumulates(outputShape: [1, 28, 28, 8]), 28 * 28 * 5 * 5 * 3 * 8)
        XCTAssertEqual(norm.parameterCount, 32)
        XCTAssertFalse(Parameter.isDeferringAllocation, "the scope ends with the call")
        XCTAssertTrue(Dense(name: "e", inputFeatures: 2, units: 2).kernel.isAllocated, "outside it, weights are drawn at once")
    }

    func testADeferredParameterDrawsWhatAnEagerOneWouldOnFirstRead() throws {
        RandomGenerator.global.reseed(11)
        let eager = Conv2D(name: "c", inputChannels: 3, filters: 4, kernelSize: (3, 3), initializer: .pytorchDefault)
        RandomGenerator.global.reseed(11)
        let deferred = Parameter.withoutAllocating {
            Conv2D(name: "c", inputChannels: 3, filters: 4, kernelSize: (3, 3), initializer: .pytorchDefault)
        }
        XCTAssertEqual(deferred.kernel.value, eager.kernel.value, "drawn from the generator's same state")
        XCTAssertTrue(deferred.kernel.isAllocated)
        XCTAssertEqual(deferred.bias!.value.shape, [4])
        XCTAssertEqual(deferred.kernel.version, 0, "a first draw is not a write")

        let norm = Parameter.withoutAllocating { BatchNorm(name: "bn", channels: 3, epsilon: 1e-3, momentum: 0.99, convention: .keras) }
        XCTAssertEqual(norm.gamma!.value.scalars, [1, 1, 1])
        norm.movingMean.value[flat: 1] = 5   // writing through an unallocated value allocates it first
        XCTAssertEqual(norm.movingMean.value.scalars, [0, 5, 0])
        XCTAssertEqual(norm.movingMean.version, 1)
    }

    func testAMaskedKernelCountsItsConnectionsWithoutBeingDrawn() throws {
        var mask = Tensor(shape: [3, 3, 2, 2], repeating: 1)
        for i in 0..<9 { mask[flat: i * 4] = 0 }   // input 0 -> output 0 is not connected
        let conv = Parameter.withoutAllocating { Conv2D(name: "c3", inputChannels: 2, filters: 2, kernelSize: (3, 3), kernelMask: mask) }
        XCTAssertFalse(conv.kernel.isAllocated)
        XCTAssertEqual(conv.kernel.weightCount, 36 - 9)
        let k = conv.kernel.value
        XCTAssertEqual((0..<9).map { k[flat: $0 * 4] }, Array(repeating: 0, count: 9), "drawn with the mask's zeros")
    }
}
