import XCTest
@_exported import TestSupport
@testable import Engine

/// Finite-difference gradient checks for layers.
///
/// The loss is L = sum(output * R) for a fixed random R, so dL/dOutput = R. Analytic gradients come
/// from `backward(R)`; numeric ones from central differences of L (accumulated in Double) with
/// step `eps`. Each element must satisfy |a - n| <= atol + rtol * max(|a|, |n|).
struct GradientCheck {
    var eps: Float = 1e-2
    var rtol: Float = 2e-2
    var atol: Float = 2e-3
    var mode: Mode = .training
    /// Called before every forward, e.g. to reseed a dropout mask so every evaluation draws the same one.
    var beforeForward: () -> Void = {}

    func loss(_ layer: Layer, _ x: Tensor, _ r: Tensor) throws -> Double {
        beforeForward()
        let y = try layer.forward(x, mode: mode)
        var s = 0.0
        for i in 0..<y.count { s += Double(y[flat: i]) * Double(r[flat: i]) }
        return s
    }

    /// Checks dL/dInput and dL/dParameter for every trainable parameter of `layer`.
    func check(_ layer: Layer, input: Tensor, file: StaticString = #filePath, line: UInt = #line) throws {
        let gen = RandomGenerator(seed: 99)
        let outShape = try layer.outputShape(for: input.shape)
        var r = Tensor(zeros: outShape)
        for i in 0..<r.count { r[flat: i] = gen.uniform(-1, 1) }

        layer.zeroGradients()
        beforeForward()
        let y = try layer.forward(input, mode: mode)
        XCTAssertEqual(y.shape, outShape, "forward shape differs from outputShape", file: file, line: line)
        let dx = try XCTUnwrap(try layer.backward(r, needsInputGradient: true), file: file, line: line)
        XCTAssertEqual(dx.shape, input.shape, file: file, line: line)

        var x = input
        var worst: Float = 0
        for i in 0..<x.count {
            let v = x[flat: i]
            x[flat: i] = v + eps; let lp = try loss(layer, x, r)
            x[flat: i] = v - eps; let lm = try loss(layer, x, r)
            x[flat: i] = v
            let numeric = Float((lp - lm) / Double(2 * eps))
            worst = max(worst, compare(dx[flat: i], numeric, "\(layer.name) input[\(i)]", file: file, line: line))
        }
        for p in layer.trainableParameters {
            let analytic = p.gradient
            for i in 0..<p.value.count {
                let v = p.value[flat: i]
                p.value[flat: i] = v + eps; let lp = try loss(layer, x, r)
                p.value[flat: i] = v - eps; let lm = try loss(layer, x, r)
                p.value[flat: i] = v
                let numeric = Float((lp - lm) / Double(2 * eps))
                worst = max(worst, compare(analytic[flat: i], numeric, "\(layer.name).\(p.name)[\(i)]", file: file, line: line))
            }
        }
    }

    @discardableResult
    func compare(_ a: Float, _ n: Float, _ what: String, file: StaticString, line: UInt) -> Float {
        let err = abs(a - n)
        let bound = atol + rtol * max(abs(a), abs(n))
        if !(err <= bound) {
            XCTFail("\(what): analytic \(a) vs numeric \(n)", file: file, line: line)
        }
        return err
    }
}

/// A tensor of uniform values in [low, high) from a fixed seed.
func randomTensor(_ shape: [Int], seed: UInt64 = 1, low: Float = -1, high: Float = 1) -> Tensor {
    let g = RandomGenerator(seed: seed)
    var t = Tensor(zeros: shape)
    for i in 0..<t.count { t[flat: i] = g.uniform(low, high) }
    return t
}

/// A tensor of distinct values spaced at least `gap` apart, in random order: no ties and no
/// kinks within a finite-difference step, for max pooling and ReLU checks.
func distinctTensor(_ shape: [Int], seed: UInt64 = 1, gap: Float = 0.05) -> Tensor {
    let n = Tensor.elementCount(shape)
    var order = Array(0..<n)
    RandomGenerator(seed: seed).shuffle(&order)
    let offset = Float(n) * gap / 2 + gap / 2
    return Tensor(shape: shape, scalars: order.map { Float($0) * gap - offset })
}

