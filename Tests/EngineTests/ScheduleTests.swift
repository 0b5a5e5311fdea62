import Foundation
import XCTest
@testable import Engine

/// Learning-rate schedules against torch.optim.lr_scheduler: tools/make_optimizer_fixtures.py writes
/// each schedule's group learning rates after construction and after each of 50 steps.
final class ScheduleTests: XCTestCase {
    typealias Build = (Optimizer) throws -> LearningRateScheduler

    /// The cases of tools/make_optimizer_fixtures.py, with the same settings.
    let cases: [(String, Build)] = [
        ("step", { try StepLR(optimizer: $0, stepSize: 7, gamma: 0.5) }),
        ("multistep", { MultiStepLR(optimizer: $0, milestones: [10, 25, 25, 40], gamma: 0.3) }),
        ("exponential", { ExponentialLR(optimizer: $0, gamma: 0.93) }),
        ("cosine", { try CosineAnnealingLR(optimizer: $0, maxIterations: 20, minimumLearningRate: 0.001) }),
        ("cosine_restarts", {
            try CosineAnnealingWarmRestarts(optimizer: $0, firstPeriod: 8, periodMultiplier: 2, minimumLearningRate: 1e-4) }),
        ("cosine_restarts_constant_period", { try CosineAnnealingWarmRestarts(optimizer: $0, firstPeriod: 10) }),
        ("linear", { try LinearLR(optimizer: $0, startFactor: 0.2, totalIterations: 10) }),
        ("linear_decay", { try LinearLR(optimizer: $0, startFactor: 1, endFactor: 0.05, totalIterations: 30) }),
        ("lambda_warmup", { LambdaLR(optimizer: $0) { e in min(1.0, Double(e + 1) / 5) } }),
        ("warmup_cosine", { o in
            try SequentialLR.linearWarmup(optimizer: o, startFactor: 0.1, steps: 5) {
                try CosineAnnealingLR(optimizer: $0, maxIterations: 45) } }),
        ("warmup_step", { o in
            try SequentialLR.linearWarmup(optimizer: o, startFactor: 0.25, steps: 4) {
                try StepLR(optimizer: $0, stepSize: 10, gamma: 0.5) } }),
        ("warmup_multistep", { o in
            try SequentialLR.linearWarmup(optimizer: o, startFactor: 0.1, steps: 5) {
                MultiStepLR(optimizer: $0, milestones: [15, 30], gamma: 0.1) } }),
        ("warmup_exponential", { o in
            try SequentialLR.linearWarmup(optimizer: o, startFactor: 0.1, steps: 3) {
                ExponentialLR(optimizer: $0, gamma: 0.95) } }),
        ("warmup_cosine_restarts", { o in
            try SequentialLR.linearWarmup(optimizer: o, startFactor: 0.1, steps: 5) {
                try CosineAnnealingWarmRestarts(optimizer: $0, firstPeriod: 10, periodMultiplier: 2,
                                                minimumLearningRate: 1e-3) } }),
    ]

    let plateaus: [(String, (Optimizer) throws -> ReduceLROnPlateau)] = [
        ("plateau", { try ReduceLROnPlateau(optimizer: $0, factor: 0.5, patience: 3, threshold: 0.01, cooldown: 2,
                                            minimumLearningRate: 0.005) }),
        ("plateau_max_abs", { try ReduceLROnPlateau(optimizer: $0, mode: .max, factor: 0.3, patience: 2, threshold: 0.001,
                                                    thresholdMode: .absolute, minimumLearningRates: [0, 0.001]) }),
    ]

    var fixtures: [String: [String: Any]] = [:]

    override func setUpWithError() throws {
        let data = try Data(contentsOf: fixtureURL("learning/schedules.json"))
        fixtures = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    /// SGD over two one-element parameters in groups of lr 0.1 and 0.02, as the fixture script builds it.
    func twoGroups() throws -> Optimizer {
        let a = Parameter(name: "a", value: Tensor(zeros: [1])), b = Parameter(name: "b", value: Tensor(zeros: [1]))
        return try SGD(groups: [ParameterGroup([a]), ParameterGroup([b], learningRate: 0.02)], learningRate: 0.1)
    }

    /// The fixture's numbers are repr strings: Double(String) reads them exactly.
    func expected(_ name: String) throws -> [[Double]] {
        let rows = try XCTUnwrap(fixtures[name]?["lrs"] as? [[String]], "no fixture for \(name)")
        return try rows.map { try $0.map { try XCTUnwrap(Double($0)) } }
    }

    /// Exact equality: the schedules repeat PyTorch's float64 arithmetic operation for operation.
    func testSchedulesEqualPyTorch() throws {
        XCTAssertEqual(Set(fixtures.keys), Set((cases.map { $0.0 } + plateaus.map { $0.0 })), "cases and fixtures differ")
        for (name, build) in cases {
            let optimizer = try twoGroups()
            let scheduler = try build(optimizer)
            var lrs = [optimizer.groups.map { $0.learningRate }]
            for _ in 0..<50 {
                optimizer.step()
                scheduler.step()
                lrs.append(optimizer.groups.map { $0.learningRate })
                XCTAssertEqual(scheduler.lastLearningRates, lrs.last!, name)
            }
            XCTAssertEqual(lrs, try expected(name), name)
        }
    }

    func testReduceOnPlateauEqualsPyTorch() throws {
        for (name, build) in plateaus {
            let metrics = try XCTUnwrap(fixtures[name]?["metrics"] as? [String]).map { try XCTUnwrap(Double($0)) }
            let optimizer = try twoGroups()
            let scheduler = try build(optimizer)
            var lrs = [optimizer.groups.map { $0.learningRate }]
            for m in metrics {
                optimizer.step()
                scheduler.step(metric: m)
                lrs.append(optimizer.groups.map { $0.learningRate })
            }
            XCTAssertEqual(lrs, try expected(name), name)
        }
    }

    /// A warm-up changes what the optimizer uses: its first steps are smaller.
    func testSchedulerDrivesTheOptimizer() throws {
        let p = Parameter(name: "w", value: Tensor(zeros: [1]))
        let optimizer = try SGD([p], learningRate: 0.1)
        let scheduler = try LinearLR(optimizer: optimizer, startFactor: 0.5, totalIterations: 2)
        var moves: [Float] = []
        for _ in 0..<3 {
            p.gradient = Tensor(shape: [1], repeating: 1)
            let before = p.value[0]
            optimizer.step()
            scheduler.step()
            moves.append(before - p.value[0])
        }
        for (move, lr) in zip(moves, [0.05, 0.075, 0.1] as [Float]) { XCTAssertEqual(move, lr, accuracy: 1e-7) }
    }

    func testBadSettingsThrow() throws {
        let o = try twoGroups()
        XCTAssertThrowsError(try StepLR(optimizer: o, stepSize: 0))
        XCTAssertThrowsError(try LinearLR(optimizer: o, startFactor: 0))
        XCTAssertThrowsError(try CosineAnnealingWarmRestarts(optimizer: o, firstPeriod: 0))
        XCTAssertThrowsError(try ReduceLROnPlateau(optimizer: o, factor: 1))
        XCTAssertThrowsError(try ReduceLROnPlateau(optimizer: o, minimumLearningRates: [0]))
        let step = try StepLR(optimizer: o, stepSize: 3)
        XCTAssertThrowsError(try SequentialLR(optimizer: o, schedulers: [step], milestones: [2]))
        XCTAssertThrowsError(try SequentialLR(optimizer: try twoGroups(), schedulers: [step], milestones: []))
    }
}
