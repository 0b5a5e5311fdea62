import XCTest
@testable import Engine
@testable import Zoo

/// Each architecture starts from its reference's own initialization.
final class InitializationTests: XCTestCase {
    func stats(_ t: Tensor) -> (mean: Double, std: Double, maxAbs: Float) {
        var s = 0.0, s2 = 0.0, m: Float = 0
        for i in 0..<t.count { let v = Double(t[flat: i]); s += v; s2 += v * v; m = max(m, abs(t[flat: i])) }
        let mean = s / Double(t.count)
        return (mean, (s2 / Double(t.count) - mean * mean).squareRoot(), m)
    }

    func kernel(_ m: Model, _ name: String) throws -> Tensor {
        let l = try XCTUnwrap(m.network.layer(named: name), name)
        return try XCTUnwrap(l.parameters.first { $0.name == "kernel" }).value
    }

    func testTorchvisionResNetUsesKaimingNormalFanOut() throws {
        let m = try Catalog.architecture(named: "resnet18").make()
        let k = try kernel(m, "conv3_block1_2_conv")   // (3, 3, 128, 128): fan_out = 9 * 128
        let expected: Double = (2.0 / 1152.0).squareRoot()
        XCTAssertEqual(stats(k).std, expected, accuracy: 0.03 * expected)
        // The classifier keeps PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for kernel and bias.
        let fc = try XCTUnwrap(m.network.layer(named: "predictions") as? Dense)
        XCTAssertLessThanOrEqual(stats(fc.kernel.value).maxAbs, 1 / Float(512).squareRoot())
        XCTAssertGreaterThan(stats(fc.bias!.value).maxAbs, 0, "PyTorch's default bias is not zero")
    }

    func testTorchvisionVGGDenseLayersDrawFromNormal001() throws {
        var o = ModelOptions(); o.channelDivisor = 8
        let m = try Catalog.architecture(named: "vgg16-bn").make(o)
        XCTAssertEqual(stats(try kernel(m, "fc2")).std, 0.01, accuracy: 0.0003)
        XCTAssertEqual(stats(try kernel(m, "fc2")).mean, 0, accuracy: 0.0003)
    }

    func testGoogLeNetUsesTruncatedNormal001() throws {
        let m = try Catalog.architecture(named: "googlenet").make()
        let s = stats(try kernel(m, "inception4c_3x3_conv"))
        XCTAssertEqual(s.std, 0.01, accuracy: 0.0003)
    }

    func testKerasApplicationsUseGlorotUniformAndZeroBias() throws {
        var o = ModelOptions(); o.channelDivisor = 4
        let m = try Catalog.architecture(named: "vgg16").make(o)
        let conv = try XCTUnwrap(m.network.layer(named: "block3_conv2") as? Conv2D)   // (3, 3, 64, 64)
        let limit = (6.0 / Double(9 * 64 + 9 * 64)).squareRoot()
        let s = stats(conv.kernel.value)
        XCTAssertLessThanOrEqual(Double(s.maxAbs), limit)
        XCTAssertEqual(s.std, limit / 3.0.squareRoot(), accuracy: 0.03 * limit)
        XCTAssertEqual(stats(conv.bias!.value).maxAbs, 0)
    }

    func testAlexNetUsesPyTorchDefault() throws {
        let m = try Catalog.architecture(named: "alexnet").make()
        let k = try kernel(m, "conv3")   // (3, 3, 192, 384): bound 1/sqrt(fan_in)
        let bound = 1 / Double(9 * 192).squareRoot()
        XCTAssertLessThanOrEqual(Double(stats(k).maxAbs), bound)
        XCTAssertEqual(stats(k).std, bound / 3.0.squareRoot(), accuracy: 0.03 * bound)
    }
}
