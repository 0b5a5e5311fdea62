import XCTest
@testable import Engine

/// Optimizers against torch.optim: the trajectories written by tools/make_optimizer_fixtures.py.
final class OptimizerTests: XCTestCase {
    typealias Build = (Parameter, Parameter) throws -> Optimizer

    /// The cases of tools/make_optimizer_fixtures.py, with the same settings.
    let cases: [(String, Build)] = [
        ("sgd", { a, b in try SGD([a, b], learningRate: 0.1) }),
        ("sgd_weight_decay", { a, b in try SGD([a, b], learningRate: 0.1, weightDecay: 0.01) }),
        ("sgd_momentum", { a, b in try SGD([a, b], learningRate: 0.1, momentum: 0.9) }),
        ("sgd_dampening", { a, b in try SGD([a, b], learningRate: 0.1, momentum: 0.9, dampening: 0.5) }),
        ("sgd_nesterov", { a, b in try SGD([a, b], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true) }),
        ("adagrad", { a, b in try Adagrad([a, b], learningRate: 0.1) }),
        ("adagrad_options", { a, b in
            try Adagrad([a, b], learningRate: 0.1, learningRateDecay: 0.01, weightDecay: 0.01,
                        initialAccumulatorValue: 0.1, epsilon: 1e-8) }),
        ("adadelta", { a, b in try Adadelta([a, b]) }),
        ("adadelta_options", { a, b in try Adadelta([a, b], learningRate: 0.5, rho: 0.8, epsilon: 1e-5, weightDecay: 0.01) }),
        ("rmsprop", { a, b in try RMSprop([a, b], learningRate: 0.01) }),
        ("rmsprop_momentum", { a, b in try RMSprop([a, b], learningRate: 0.01, weightDecay: 0.01, momentum: 0.9) }),
        ("rmsprop_centered", { a, b in try RMSprop([a, b], learningRate: 0.01, centered: true) }),
        ("rmsprop_centered_momentum", { a, b in
            try RMSprop([a, b], learningRate: 0.01, alpha: 0.9, momentum: 0.5, centered: true) }),
        ("adam", { a, b in try Adam([a, b], learningRate: 0.01) }),
        ("adam_weight_decay", { a, b in try Adam([a, b], learningRate: 0.01, weightDecay: 0.1) }),
        ("adam_amsgrad", { a, b in try Adam([a, b], learningRate: 0.01, amsgrad: true) }),
        ("adamw", { a, b in try AdamW([a, b], learningRate: 0.01) }),
        ("adamw_amsgrad", { a, b in
            try AdamW([a, b], learningRate: 0.01, betas: (0.8, 0.99), epsilon: 1e-6, weightDecay: 0.1, amsgrad: true) }),
        ("groups_sgd", { a, b in
            try SGD(groups: [ParameterGroup([a]), ParameterGroup([b], learningRate: 0.5, weightDecay: 0)],
                    learningRate: 0.1, momentum: 0.9, weightDecay: 0.01) }),
        ("groups_adamw", { a, b in
            try AdamW(groups: [ParameterGroup([a], learningRate: 1e-3), ParameterGroup([b], weightDecay: 0)],
                      learningRate: 1e-2, weightDecay: 0.1) }),
        ("clip_norm_sgd", { a, b in
            let o = try SGD([a, b], learningRate: 0.1, momentum: 0.9)
            o.gradientClipping = .globalNorm(1.0)
            return o }),
        ("clip_value_adam", { a, b in
            let o = try Adam([a, b], learningRate: 0.01)
            o.gradientClipping = .value(0.5)
            return o }),
    ]

    var initial = Tensor(zeros: [17])
    var gradients = Tensor(zeros: [10, 17])

    override func setUpWithError() throws {
        initial = try NPY.read(fixtureURL("learning/optimizers/initial.npy"))
        gradients = try NPY.read(fixtureURL("learning/optimizers/gradients.npy"))
    }

    /// Parameters A (3, 4) and B (5,) from a flat (17,) vector.
    func split(_ flat: Tensor, row: Int = 0) -> (Tensor, Tensor) {
        let s = flat.scalars, base = row * 17
        return (Tensor(shape: [3, 4], scalars: Array(s[base..<base + 12])),
                Tensor(shape: [5], scalars: Array(s[base + 12..<base + 17])))
    }

    func joined(_ a: Parameter, _ b: Parameter) -> Tensor { Tensor(shape: [17], scalars: a.value.scalars + b.value.scalars) }

    func parameters(from flat: Tensor) -> (Parameter, Parameter) {
        let (a, b) = split(flat)
        return (Parameter(name: "kernel", value: a), Parameter(name: "bias", value: b))
    }

    /// Feeds step `step`'s gradients and steps.
    func step(_ optimizer: Optimizer, _ a: Parameter, _ b: Parameter, _ step: Int) {
        let (ga, gb) = split(gradients, row: step)
        a.gradient = ga
        b.gradient = gb
        optimizer.step()
    }

    func testTrajectoriesEqualPyTorch() throws {
        for (name, build) in cases {
            let expected = try NPY.read(fixtureURL("learning/optimizers/\(name).npy"))
            let (a, b) = parameters(from: initial)
            let optimizer = try build(a, b)
            var worst: Float = 0
            for s in 0..<10 {
                step(optimizer, a, b, s)
                let row = Tensor(shape: [17], scalars: Array(expected.scalars[(s * 17)..<(s * 17 + 17)]))
                assertClose(joined(a, b), row, relative: 1e-6, "\(name) step \(s + 1)")
                for (x, y) in zip(joined(a, b).scalars, row.scalars) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
            }
            print("torch.optim parity \(name.padding(toLength: 26, withPad: " ", startingAt: 0)) max rel. diff \(worst)")
        }
    }

    /// Five steps, save, a fresh optimizer restores and takes the other five: bit-identical to ten in a row.
    func testRestoredStateContinuesBitIdentically() throws {
        for (name, build) in cases {
            let (a, b) = parameters(from: initial)
            let reference = try build(a, b)
            for s in 0..<10 { step(reference, a, b, s) }

            let (c, d) = parameters(from: initial)
            let first = try build(c, d)
            for s in 0..<5 { step(first, c, d, s) }
            let saved = first.saveState()
            let resumedA = Parameter(name: "kernel", value: c.value)
            let resumedB = Parameter(name: "bias", value: d.value)
            for s in 5..<7 { step(first, c, d, s) }   // the snapshot must not follow later steps

            let resumed = try build(resumedA, resumedB)
            try resumed.loadState(saved)
            for s in 5..<10 { step(resumed, resumedA, resumedB, s) }
            XCTAssertEqual(joined(resumedA, resumedB), joined(a, b), "\(name): resumed run differs")
            XCTAssertEqual(resumed.saveState(), reference.saveState(), "\(name): resumed state differs")
            if !saved.tensors.isEmpty {   // and the state mattered: without it the run differs
                let (x, y) = (Parameter(name: "kernel", value: resumedA.value), Parameter(name: "bias", value: resumedB.value))
                let cold = try build(x, y)
                step(cold, x, y, 9)
                XCTAssertEqual(saved.scalars["0.step"], 5, name)
                XCTAssertNotEqual(joined(x, y), joined(a, b), "\(name): state made no difference")
            }
        }
    }

    /// A frozen parameter is skipped, as PyTorch skips one without a gradient.
    func testFrozenParameterIsSkipped() throws {
        let expected = try NPY.read(fixtureURL("learning/optimizers/adam.npy"))
        let (a, b) = parameters(from: initial)
        b.trainable = false
        let before = b.value
        let optimizer = try Adam([a, b], learningRate: 0.01)
        for s in 0..<10 { step(optimizer, a, b, s) }
        XCTAssertEqual(b.value, before)
        assertClose(a.value, split(expected, row: 9).0, relative: 1e-6)
        XCTAssertTrue(optimizer.states[0][1].buffers.isEmpty)
    }

    func testLoadStateRejectsMismatches() throws {
        let (a, b) = parameters(from: initial)
        let adam = try Adam([a, b])
        step(adam, a, b, 0)
        let saved = adam.saveState()
        XCTAssertThrowsError(try SGD([a, b], momentum: 0.9).loadState(saved)) { error in
            XCTAssertTrue("\(error)".contains("saved by Adam"), "\(error)")
        }
        let other = Parameter(name: "bias", value: Tensor(zeros: [6]))
        XCTAssertThrowsError(try Adam([a, other]).loadState(saved)) { error in
            XCTAssertTrue("\(error)".contains("(5)") && "\(error)".contains("(6)"), "\(error)")
        }
        XCTAssertThrowsError(try Adam([a]).loadState(saved))
        XCTAssertThrowsError(try Adam(groups: [ParameterGroup([a]), ParameterGroup([b])]).loadState(saved))
    }

    func testBadSettingsThrow() {
        let (a, b) = parameters(from: initial)
        XCTAssertThrowsError(try SGD([a, b], nesterov: true))
        XCTAssertThrowsError(try SGD([a, b], momentum: 0.9, dampening: 0.1, nesterov: true))
        XCTAssertThrowsError(try SGD([a, b, a]))
        XCTAssertThrowsError(try SGD([]))
        XCTAssertThrowsError(try SGD([a], learningRate: -1))
        XCTAssertThrowsError(try Adam([a], betas: (1, 0.999)))
    }

    func testGroupDefaultsAndDecaySplit() throws {
        let kernel = Parameter(name: "kernel", value: Tensor(zeros: [3, 3]))
        let bias = Parameter(name: "bias", value: Tensor(zeros: [3]))
        let head = Parameter(name: "kernel", value: Tensor(zeros: [3, 2]))
        let groups = ParameterGroup.decayingWeightsOnly([kernel, bias], learningRate: 1e-4, weightDecay: 5e-4)
            + [ParameterGroup([head])]
        let optimizer = try SGD(groups: groups, learningRate: 1e-2, momentum: 0.9, weightDecay: 1e-4)
        XCTAssertEqual(optimizer.groups.map { $0.parameters.map { $0.shape } }, [[[3, 3]], [[3]], [[3, 2]]])
        XCTAssertEqual(optimizer.groups.map { $0.learningRate }, [1e-4, 1e-4, 1e-2])
        XCTAssertEqual(optimizer.groups.map { $0.weightDecay }, [5e-4, 0, 1e-4])
    }

    func testGlobalNormClippingReturnsNormAndScales() {
        let p = Parameter(name: "a", value: Tensor(zeros: [2]))
        let q = Parameter(name: "b", value: Tensor(zeros: [1]))
        p.gradient = Tensor(shape: [2], scalars: [3, 0])
        q.gradient = Tensor(shape: [1], scalars: [-4])
        XCTAssertEqual(GradientClipping.globalNorm(2).apply(to: [p, q]), 5)
        XCTAssertEqual(p.gradient[0], 3 * 2 / (5 + 1e-6), accuracy: 1e-6)
        XCTAssertEqual(q.gradient[0], -4 * 2 / (5 + 1e-6), accuracy: 1e-6)
        GradientClipping.value(1).apply(to: [p, q])
        XCTAssertEqual(p.gradient.scalars + q.gradient.scalars, [1, 0, -1])
    }
}
