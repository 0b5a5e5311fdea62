import XCTest
@testable import Engine

final class InitializerTests: XCTestCase {
    // A conv kernel (3, 3, 64, 128): fan_in 576, fan_out 1152, 73,728 samples.
    let shape = [3, 3, 64, 128]
    let fanIn = 576.0, fanOut = 1152.0

    struct Moments { var mean: Double, variance: Double, minimum: Float, maximum: Float, count: Int }

    func moments(_ t: Tensor) -> Moments {
        var s = 0.0, s2 = 0.0, lo = Float.infinity, hi = -Float.infinity
        t.withUnsafeBufferPointer { p in
            for v in p { s += Double(v); s2 += Double(v) * Double(v); lo = min(lo, v); hi = max(hi, v) }
        }
        let n = Double(t.count), mean = s / n
        return Moments(mean: mean, variance: s2 / n - mean * mean, minimum: lo, maximum: hi, count: t.count)
    }

    /// Sample mean within 5 standard errors of `mean`, sample variance within 3% of `variance`.
    func check(_ initializer: Initializer, mean: Double = 0, variance: Double, bound: Double? = nil,
               file: StaticString = #filePath, line: UInt = #line) -> Moments {
        let m = moments(initializer.make(shape: shape, generator: RandomGenerator(seed: 11)))
        XCTAssertEqual(m.mean, mean, accuracy: 5 * (variance / Double(m.count)).squareRoot(),
                       "\(initializer) mean", file: file, line: line)
        XCTAssertEqual(m.variance, variance, accuracy: 0.03 * variance, "\(initializer) variance", file: file, line: line)
        if let bound {
            XCTAssertGreaterThanOrEqual(Double(m.minimum), mean - bound, "\(initializer) below bound", file: file, line: line)
            XCTAssertLessThanOrEqual(Double(m.maximum), mean + bound, "\(initializer) above bound", file: file, line: line)
            // The samples should also reach close to the bound, or the bound checked nothing.
            XCTAssertGreaterThan(Double(m.maximum), mean + 0.95 * bound, "\(initializer) never nears its bound",
                                 file: file, line: line)
        }
        return m
    }

    func testUniformVarianceScaling() {
        let glorot = 2 / (fanIn + fanOut)
        _ = check(.glorotUniform, variance: glorot, bound: (3 * glorot).squareRoot())
        _ = check(.heUniform(), variance: 2 / fanIn, bound: (6 / fanIn).squareRoot())
        _ = check(.heUniform(mode: .fanOut), variance: 2 / fanOut, bound: (6 / fanOut).squareRoot())
        _ = check(.lecunUniform, variance: 1 / fanIn, bound: (3 / fanIn).squareRoot())
        _ = check(.kaimingUniform(a: 0.1, mode: .fanOut), variance: 2 / (1.01 * fanOut))
        _ = check(.varianceScaling(scale: 3, mode: .fanAverage, distribution: .uniform), variance: 3 / ((fanIn + fanOut) / 2))
    }

    /// PyTorch's Conv/Linear default: kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(fan_in)), variance 1/(3 fan_in).
    func testPyTorchDefault() {
        _ = check(.pytorchDefault, variance: 1 / (3 * fanIn), bound: 1 / fanIn.squareRoot())
        // The same range reached through the general formula (its bound may differ in the last bit).
        assertClose(Initializer.kaimingUniform(a: 5.0.squareRoot()).make(shape: shape, generator: RandomGenerator(seed: 3)),
                    Initializer.pytorchDefault.make(shape: shape, generator: RandomGenerator(seed: 3)), relative: 1e-6)
    }

    /// Keras's normal initializers are truncated at 2 std of a widened normal, so the variance is
    /// still scale / fan and no sample lies beyond 2 * sqrt(scale / fan) / 0.8796.
    func testKerasNormalsAreTruncated() {
        for (initializer, variance) in [(Initializer.glorotNormal(), 2 / (fanIn + fanOut)), (.heNormal(), 2 / fanIn),
                                        (.heNormal(mode: .fanOut), 2 / fanOut), (.lecunNormal(), 1 / fanIn)] {
            let bound = 2 * variance.squareRoot() / Initializer.truncatedNormalStdRatio
            _ = check(initializer, variance: variance, bound: bound)
        }
    }

    /// PyTorch's xavier_normal_ / kaiming_normal_ are plain normals: same variance, tails past the Keras bound.
    func testPyTorchNormalsAreNotTruncated() {
        for (initializer, variance) in [(Initializer.glorotNormal(.pytorch), 2 / (fanIn + fanOut)),
                                        (.heNormal(mode: .fanOut, .pytorch), 2 / fanOut),
                                        (.kaimingNormal(a: 0, mode: .fanOut), 2 / fanOut),
                                        (.lecunNormal(.pytorch), 1 / fanIn)] {
            let m = check(initializer, variance: variance)
            let kerasBound = 2 * variance.squareRoot() / Initializer.truncatedNormalStdRatio
            XCTAssertGreaterThan(Double(max(-m.minimum, m.maximum)), 1.5 * kerasBound, "\(initializer) looks truncated")
        }
    }

    func testPlainDistributions() {
        _ = check(.uniform(low: -1, high: 3), mean: 1, variance: 16.0 / 12, bound: 2)
        _ = check(.normal(mean: 0.5, std: 0.2), mean: 0.5, variance: 0.04)
        _ = check(.torchvisionGoogLeNet, variance: 1e-4)
        // Keras TruncatedNormal(stddev=0.05): variance 0.05² * 0.8796², within ±0.1.
        _ = check(.kerasTruncatedNormal(std: 0.05), variance: pow(0.05 * Initializer.truncatedNormalStdRatio, 2), bound: 0.1)
    }

    /// PyTorch's trunc_normal_ takes absolute bounds, here asymmetric around the mean.
    func testTruncatedNormalWithAbsoluteBounds() {
        let (mean, variance) = truncatedMoments(mean: 1, std: 2, low: 0, high: 3)
        let m = check(.truncatedNormal(mean: 1, std: 2, low: 0, high: 3), mean: mean, variance: variance)
        XCTAssertGreaterThanOrEqual(m.minimum, 0)
        XCTAssertLessThanOrEqual(m.maximum, 3)
    }

    /// An interval 3 to 4 std out holds 0.13% of the mass: sampled by inverse CDF, not rejection.
    func testFarTruncationInterval() {
        let (mean, variance) = truncatedMoments(mean: 0, std: 1, low: 3, high: 4)
        let m = check(.truncatedNormal(mean: 0, std: 1, low: 3, high: 4), mean: mean, variance: variance)
        XCTAssertGreaterThanOrEqual(m.minimum, 3)
        XCTAssertLessThanOrEqual(m.maximum, 4)
    }

    func testConstants() {
        XCTAssertEqual(Initializer.zeros.make(shape: [4, 5]), Tensor(zeros: [4, 5]))
        XCTAssertEqual(Initializer.ones.make(shape: [3]), Tensor(shape: [3], repeating: 1))
        XCTAssertEqual(Initializer.constant(-0.25).make(shape: [2, 2]), Tensor(shape: [2, 2], repeating: -0.25))
    }

    func testFansMatchPyTorch() {
        // torch: Linear(10, 7).weight (7, 10) -> fan_in 10, fan_out 7; Conv2d(6, 8, 3, groups=2).weight
        // (8, 3, 3, 3) -> fan_in 27, fan_out 72. Ours are the Keras layouts of the same weights.
        XCTAssertEqual(Fans(shape: [10, 7]), Fans(shape: [10, 7]))
        XCTAssertEqual(Fans(shape: [10, 7]).fanIn, 10)
        XCTAssertEqual(Fans(shape: [10, 7]).fanOut, 7)
        XCTAssertEqual(Fans(shape: [3, 3, 3, 8]).fanIn, 27)
        XCTAssertEqual(Fans(shape: [3, 3, 3, 8]).fanOut, 72)
    }

    /// PyTorch's Linear/Conv bias: U(±1/sqrt(fan_in)) of the kernel; Keras and torchvision: zeros.
    func testBiasInitializer() {
        XCTAssertEqual(Initializer.pytorchDefault.biasInitializer(kernelShape: [3, 3, 16, 32]),
                       .uniform(low: -1 / 12, high: 1 / 12))
        XCTAssertEqual(Initializer.glorotUniform.biasInitializer(kernelShape: [3, 3, 16, 32]), .zeros)
        XCTAssertEqual(Initializer.heNormal(mode: .fanOut, .pytorch).biasInitializer(kernelShape: [4, 4]), .zeros)

        let dense = Dense(name: "fc", inputFeatures: 100, units: 50, initializer: .pytorchDefault)
        let bias = moments(dense.bias!.value)
        XCTAssertLessThanOrEqual(max(-bias.minimum, bias.maximum), 0.1)
        XCTAssertGreaterThan(bias.maximum - bias.minimum, 0.1, "bias should spread over U(-0.1, 0.1)")
        let conv = Conv2D(name: "c", inputChannels: 3, filters: 8, kernelSize: (3, 3))
        XCTAssertEqual(conv.bias!.value, Tensor(zeros: [8]), "Keras's default keeps a zero bias")
    }

    func testSameSeedSameWeights() {
        for initializer in [Initializer.glorotUniform, .heNormal(), .heNormal(.pytorch), .torchvisionGoogLeNet,
                            .truncatedNormal(mean: 0, std: 1, low: 3, high: 4)] {
            let a = initializer.make(shape: [5, 7], generator: RandomGenerator(seed: 42))
            let b = initializer.make(shape: [5, 7], generator: RandomGenerator(seed: 42))
            let c = initializer.make(shape: [5, 7], generator: RandomGenerator(seed: 43))
            XCTAssertEqual(a, b, "\(initializer): same seed, different weights")
            XCTAssertNotEqual(a, c, "\(initializer): different seeds, same weights")
        }
    }

    /// Mean and variance of N(mean, std²) truncated to [low, high].
    func truncatedMoments(mean: Double, std: Double, low: Double, high: Double) -> (Double, Double) {
        func pdf(_ x: Double) -> Double { exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
        let a = (low - mean) / std, b = (high - mean) / std
        let z = Initializer.normalCDF(b) - Initializer.normalCDF(a)
        let shift = (pdf(a) - pdf(b)) / z
        return (mean + std * shift, std * std * (1 + (a * pdf(a) - b * pdf(b)) / z - shift * shift))
    }
}
