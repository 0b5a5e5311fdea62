import XCTest
@testable import Engine

/// What every optimizer tutorial teaches, as tests: on an ill-conditioned least-squares problem with
/// a fixed budget, momentum beats plain SGD at the same learning rate and Adam converges with its
/// defaults. Also: one seed gives one training run, bit for bit.
final class OptimizerLessonTests: XCTestCase {
    static let samples = 256, features = 8, budget = 1500
    /// Feature scales from 0.1 to 3: curvatures 900x apart, so plain SGD crawls along the flat ones.
    static let scales: [Float] = [0.1, 0.2, 0.5, 1, 1, 2, 3, 3]

    /// y = X w* + b* + N(0, 0.1²).
    static let problem: (x: Tensor, y: Tensor) = {
        let g = RandomGenerator(seed: 2024)
        var x = Tensor(zeros: [samples, features]), y = Tensor(zeros: [samples, 1])
        let w = (0..<features).map { _ in g.uniform(-1, 1) }, b = g.uniform(-1, 1)
        for i in 0..<samples {
            var t = b + 0.1 * g.normal()
            for j in 0..<features {
                x[i, j] = scales[j] * g.normal()
                t += w[j] * x[i, j]
            }
            y[i, 0] = t
        }
        return (x, y)
    }()

    /// The least-squares optimum's loss, by normal equations in Double: the floor every run aims at.
    static let floor: Double = {
        let (x, y) = problem, n = features + 1
        var a = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for i in 0..<samples {
            let row = (0..<features).map { Double(x[i, $0]) } + [1]
            for r in 0..<n {
                for c in 0..<n { a[r][c] += row[r] * row[c] }
                a[r][n] += row[r] * Double(y[i, 0])
            }
        }
        for k in 0..<n {   // Gauss-Jordan; the system is well posed, no pivoting needed
            for r in 0..<n where r != k {
                let f = a[r][k] / a[k][k]
                for c in k...n { a[r][c] -= f * a[k][c] }
            }
        }
        let solution = (0..<n).map { a[$0][n] / a[$0][$0] }
        var sse = 0.0
        for i in 0..<samples {
            var p = solution[features]
            for j in 0..<features { p += solution[j] * Double(x[i, j]) }
            sse += (p - Double(y[i, 0])) * (p - Double(y[i, 0]))
        }
        return sse / Double(samples)
    }()

    /// Full-batch training of a Dense(8 -> 1) from zero weights; the final MSE.
    func train(_ makeOptimizer: ([Parameter]) throws -> Optimizer) throws -> Float {
        let model = Dense(name: "regression", inputFeatures: Self.features, units: 1, initializer: .zeros)
        let optimizer = try makeOptimizer(model.trainableParameters)
        let (x, y) = Self.problem
        for _ in 0..<Self.budget {
            model.zeroGradients()
            let loss = try MeanSquaredError()(try model.forward(x, mode: .training), y)
            _ = try model.backward(loss.gradient, needsInputGradient: false)
            optimizer.step()
        }
        return try MeanSquaredError()(try model.forward(x, mode: .inference), y).value
    }

    func testMomentumBeatsPlainSGDAndAdamConvergesWithDefaults() throws {
        let runs: [(String, ([Parameter]) throws -> Optimizer)] = [
            ("SGD lr 0.01", { try SGD($0, learningRate: 0.01) }),
            ("SGD lr 0.01 momentum 0.9", { try SGD($0, learningRate: 0.01, momentum: 0.9) }),
            ("SGD lr 0.01 Nesterov 0.9", { try SGD($0, learningRate: 0.01, momentum: 0.9, nesterov: true) }),
            ("Adam (defaults)", { try Adam($0) }),
            ("AdamW (defaults)", { try AdamW($0) }),
            ("RMSprop (defaults)", { try RMSprop($0) }),
            ("Adagrad (defaults)", { try Adagrad($0) }),
            ("Adadelta (defaults)", { try Adadelta($0) }),
        ]
        var losses: [String: Float] = [:]
        let initial = try MeanSquaredError()(Tensor(zeros: [Self.samples, 1]), Self.problem.y).value
        var table = "Least squares, \(Self.samples)x\(Self.features), feature scales 0.1...3, \(Self.budget) full-batch steps\n"
        table += "initial loss \(initial), optimum \(String(format: "%.6f", Self.floor))\n"
        table += "optimizer                   final loss   loss / optimum\n"
        for (name, make) in runs {
            let loss = try train(make)
            losses[name] = loss
            table += name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: "%-12.6f %.3f\n", Double(loss), Double(loss) / Self.floor)
        }
        print(table)
        // Judged by the excess over the optimum (the noise floor is the same for everyone).
        func excess(_ name: String) throws -> Double { Double(try XCTUnwrap(losses[name])) - Self.floor }
        let gap = Double(initial) - Self.floor
        XCTAssertLessThan(try excess("SGD lr 0.01 momentum 0.9"), 0.1 * (try excess("SGD lr 0.01")),
                          "momentum should cut plain SGD's excess loss tenfold at the same lr")
        XCTAssertLessThan(try excess("SGD lr 0.01"), 0.01 * gap, "plain SGD should still close most of the gap")
        XCTAssertLessThan(try excess("Adam (defaults)"), 1e-3 * gap,
                          "Adam with its defaults should close 99.9% of the gap to the optimum")
        XCTAssertGreaterThan(try excess("SGD lr 0.01"), 1e-3 * gap, "plain SGD should not, at this budget")
    }

    /// Same seed: the same initial weights, the same mini-batches, the same weights after training, bit
    /// for bit. Another seed: different weights.
    func testSameSeedGivesBitIdenticalTraining() throws {
        func run(seed: UInt64) throws -> [Tensor] {
            let g = RandomGenerator(seed: seed)
            let hidden = Dense(name: "hidden", inputFeatures: Self.features, units: 16, activation: .relu)
            let head = Dense(name: "head", inputFeatures: 16, units: 1)
            hidden.kernel.value = Initializer.heNormal(mode: .fanIn, .pytorch).make(shape: hidden.kernel.shape, generator: g)
            head.kernel.value = Initializer.glorotUniform.make(shape: head.kernel.shape, generator: g)
            let model = Sequential(name: "mlp", [hidden, head])
            let optimizer = try AdamW(model.trainableParameters, learningRate: 1e-2)
            optimizer.gradientClipping = .globalNorm(1)
            let (x, y) = Self.problem
            var order = Array(0..<Self.samples)
            for _ in 0..<3 {
                g.shuffle(&order)
                for start in stride(from: 0, to: Self.samples, by: 32) {
                    var xb = Tensor(zeros: [32, Self.features]), yb = Tensor(zeros: [32, 1])
                    for (r, i) in order[start..<start + 32].enumerated() {
                        for j in 0..<Self.features { xb[r, j] = x[i, j] }
                        yb[r, 0] = y[i, 0]
                    }
                    model.zeroGradients()
                    let loss = try MeanSquaredError()(try model.forward(xb, mode: .training), yb)
                    _ = try model.backward(loss.gradient, needsInputGradient: false)
                    optimizer.step()
                }
            }
            return model.allWeights.map { $0.value }
        }
        let a = try run(seed: 5), b = try run(seed: 5), c = try run(seed: 6)
        XCTAssertEqual(a, b, "same seed, different weights")
        XCTAssertNotEqual(a, c, "different seeds, same weights")
    }
}
