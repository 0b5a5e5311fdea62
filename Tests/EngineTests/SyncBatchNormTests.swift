import Foundation
import XCTest
@testable import Engine

/// `BatchNorm` with synchronized statistics (`--sync-bn`), its ranks simulated by threads of this
/// process: a batch split into unequal shares, one of them empty, gives the whole batch's forward,
/// running statistics and gradients, and the synchronized backward passes a finite-difference check.
final class SyncBatchNormTests: XCTestCase {
    func batchNorm(_ channels: Int, _ convention: BatchNormConvention) -> BatchNorm {
        let bn = BatchNorm(name: "bn", channels: channels, epsilon: 1e-3, momentum: convention == .keras ? 0.99 : 0.1,
                           convention: convention)
        bn.gamma?.value = randomTensor([channels], seed: 11, low: 0.5, high: 1.5)
        bn.beta?.value = randomTensor([channels], seed: 12)
        bn.movingMean.value = randomTensor([channels], seed: 13, low: -0.3, high: 0.3)
        bn.movingVariance.value = randomTensor([channels], seed: 14, low: 0.5, high: 1.5)
        return bn
    }

    /// (input shape, samples per rank, convention): equal and unequal shares, an empty rank, and
    /// under PyTorch's rule a rank of one row (which alone could not estimate a variance).
    let cases: [([Int], [Int], BatchNormConvention)] = [
        ([4, 3, 2, 3], [2, 2], .keras),
        ([5, 3, 3, 4], [3, 2], .keras),
        ([5, 2, 3, 3], [2, 0, 3], .pytorch),
        ([6, 4], [1, 5], .pytorch),
        ([5, 3], [3, 2, 0], .keras),
    ]

    func testSharesNormalizeLikeTheWholeBatchAndUpdateTheSameStatistics() throws {
        for (shape, sizes, convention) in cases {
            let what = "\(shape) as \(sizes), \(convention)"
            let whole = batchNorm(shape.last!, convention)
            let split = SplitBatchNorm(sizes: sizes) { self.batchNorm(shape.last!, convention) }
            let x = randomTensor(shape, seed: 3, low: -2, high: 3)
            for _ in 0..<2 {
                assertClose(try split.forward(x, mode: .training), try whole.forward(x, mode: .training), relative: 1e-5, what)
            }
            for member in split.members {
                assertClose(member.movingMean.value, whole.movingMean.value, relative: 1e-6, what + ": running mean")
                assertClose(member.movingVariance.value, whole.movingVariance.value, relative: 1e-6, what + ": running variance")
            }
        }
    }

    func testSharesGiveTheWholeBatchsGradients() throws {
        for (shape, sizes, convention) in cases {
            let what = "\(shape) as \(sizes), \(convention)"
            let whole = batchNorm(shape.last!, convention)
            let split = SplitBatchNorm(sizes: sizes) { self.batchNorm(shape.last!, convention) }
            let x = randomTensor(shape, seed: 4, low: -2, high: 3), dy = randomTensor(shape, seed: 5)
            _ = try whole.forward(x, mode: .training)
            _ = try split.forward(x, mode: .training)
            let dxWhole = try XCTUnwrap(try whole.backward(dy, needsInputGradient: true))
            let dxSplit = try XCTUnwrap(try split.backward(dy, needsInputGradient: true))
            assertClose(dxSplit, dxWhole, relative: 1e-5, what + ": input gradient")
            for (p, q) in zip(split.parameters, whole.parameters) {
                assertClose(p.gradient, q.gradient, relative: 1e-5, what + ": \(p.name) gradient")
            }
        }
    }

    func testSynchronizedBackwardMatchesFiniteDifferences() throws {
        for (shape, sizes, convention) in cases {
            try GradientCheck().check(SplitBatchNorm(sizes: sizes) { self.batchNorm(shape.last!, convention) },
                                      input: randomTensor(shape, seed: 6))
        }
    }

    func testAllRanksEmptyIsRefused() throws {
        let split = SplitBatchNorm(sizes: [0, 0]) { self.batchNorm(2, .keras) }
        XCTAssertThrowsError(try split.forward(randomTensor([1, 2]), mode: .training)) { error in
            XCTAssertTrue("\(error)".contains("no rank holds a sample"), "\(error)")
        }
    }
}

/// One BatchNorm as the ranks of a data-parallel step run it, each rank a thread: member k
/// normalizes its run of `sizes[k]` samples (one stand-in sample of zeros when it has none, which
/// counts for nothing) with statistics synchronized over the members. Backward gives each member
/// its output gradient as its own loss would (the mean over its samples: the whole batch's gradient
/// divided by its share) and combines the members' gradients as the trainer's averaging does.
final class SplitBatchNorm: Layer {
    let name = "split"
    let members: [BatchNorm]
    let sizes: [Int]
    var parameters: [Parameter] { members[0].parameters }
    var state: [Parameter] { members[0].state }

    init(sizes: [Int], _ make: () -> BatchNorm) {
        let group = ThreadGroup(members: sizes.count)
        members = sizes.map { n in
            let member = make()
            member.synchronization = BatchNormSynchronization(group: group, contributes: n > 0)
            return member
        }
        self.sizes = sizes
    }

    func outputShape(for s: [Int]) throws -> [Int] { try members[0].outputShape(for: s) }

    func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        // Every rank holds the same weights: member 0's.
        for member in members.dropFirst() {
            for (p, q) in zip(member.weights, members[0].weights) { p.value = q.value }
        }
        return join(try onThreads { k in try self.members[k].forward(self.piece(input, k), mode: mode) })
    }

    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let accumulated = members[0].parameters.map(\.gradient)
        for member in members { member.zeroGradients() }
        let total = Float(sizes.reduce(0, +))
        let dx = try onThreads { k in
            let share = Float(self.sizes[k]) / total
            let dy = self.sizes[k] > 0 ? self.scaled(self.piece(outputGradient, k), by: 1 / share)
                : self.piece(outputGradient, k)
            return try self.members[k].backward(dy, needsInputGradient: needsInputGradient).map {
                self.scaled($0, by: share)
            }
        }
        for (i, p) in members[0].parameters.enumerated() {
            var sum = accumulated[i]
            for (k, member) in members.enumerated() {
                let g = member.parameters[i].gradient, share = Float(sizes[k]) / total
                for j in 0..<sum.count { sum[flat: j] += share * g[flat: j] }
            }
            p.gradient = sum
        }
        return needsInputGradient ? join(dx.map { $0! }) : nil
    }

    /// Member k's samples of `x`, or one sample of zeros when it has none.
    func piece(_ x: Tensor, _ k: Int) -> Tensor {
        let start = sizes[..<k].reduce(0, +)
        return sizes[k] > 0 ? x.rows(start..<(start + sizes[k])) : Tensor(zeros: [1] + x.shape.dropFirst())
    }

    /// The members' rows end to end, stand-ins left out.
    func join(_ pieces: [Tensor]) -> Tensor {
        let kept = zip(pieces, sizes).filter { $0.1 > 0 }.map(\.0)
        return Tensor(rows: kept.map { Data(tensor: $0) }, shape: [sizes.reduce(0, +)] + kept[0].shape.dropFirst())
    }

    func scaled(_ x: Tensor, by factor: Float) -> Tensor {
        var y = x
        for i in 0..<y.count { y[flat: i] *= factor }
        return y
    }

    /// `body(k)` for every member at once, each on a thread of its own (they wait for each other
    /// in the exchanges); the results in member order, or the first error.
    func onThreads<T>(_ body: @escaping (Int) throws -> T) throws -> [T] {
        let results = Results<T>(count: members.count)
        let done = DispatchGroup()
        for k in members.indices {
            done.enter()
            Thread {
                results.set(k, Result { try body(k) })
                done.leave()
            }.start()
        }
        done.wait()
        return try results.values.map { try $0!.get() }
    }
}

/// The members' results, each set once from its own thread.
private final class Results<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<T, Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ k: Int, _ result: Result<T, Error>) {
        lock.lock()
        values[k] = result
        lock.unlock()
    }
}

/// Members of one process that add their values like an allreduce: each call waits until every
/// member has made its call, and all get the sum.
final class ThreadGroup: BatchStatisticsGroup {
    let members: Int
    private let condition = NSCondition()
    private var arrived = 0, round = 0
    private var accumulated: [Double] = [], result: [Double] = []

    init(members: Int) { self.members = members }

    func sum(_ values: [Double]) throws -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        let mine = round
        accumulated = arrived == 0 ? values : zip(accumulated, values).map { $0 + $1 }
        arrived += 1
        if arrived == members {
            result = accumulated
            arrived = 0
            round += 1
            condition.broadcast()
        } else {
            while round == mine { condition.wait() }
        }
        return result
    }
}
