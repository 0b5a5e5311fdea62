import Foundation
import XCTest
@testable import Engine
@testable import Zoo

/// One loaded model serving several callers at once: inference keeps no per-call state in the
/// layers, so concurrent predictions equal sequential ones and cannot disturb a training step.
final class SharedModelTests: XCTestCase {
    /// Narrow twins of one architecture per family of layers (pooling, LRN, Inception, residual, BatchNorm).
    static let architectures = ["alexnet-caffe", "googlenet", "resnet50", "vgg16-bn", "lenet5-paper"]

    func twin(_ name: String) throws -> Model {
        RandomGenerator.global.reseed(7)
        var o = ModelOptions(classes: 10, inputSize: name.hasPrefix("lenet") ? nil : name.hasPrefix("vgg") ? (32, 32) : (64, 64))
        o.channelDivisor = name.hasPrefix("lenet") ? 1 : 16
        o.hiddenUnits = 32
        return try Catalog.architecture(named: name).make(o)
    }

    func inputs(for model: Model, count: Int, batch: Int) -> [Tensor] {
        (0..<count).map { i in
            var x = Tensor(zeros: [batch] + model.inputShape)
            let p = x.mutableData()
            for j in 0..<x.count { p[j] = sin(Float(j % 977) * 0.37 + Float(i)) }
            return x
        }
    }

    /// Calls `body(caller)` on `callers` threads of their own, all started before any is waited for.
    func runConcurrently(_ callers: Int, _ body: @escaping (Int) -> Void) {
        let done = DispatchGroup()
        for c in 0..<callers {
            done.enter()
            let t = Thread { body(c); done.leave() }
            t.stackSize = 8 << 20
            t.start()
        }
        done.wait()
    }

    func testConcurrentPredictionsEqualSequentialOnes() throws {
        for arch in Self.architectures {
            let model = try twin(arch)
            let xs = inputs(for: model, count: 6, batch: 2)
            let expected = try xs.map { try model.predict($0) }
            let lock = NSLock()
            var got = [[Tensor?]](repeating: [Tensor?](repeating: nil, count: xs.count), count: 4)
            var failures: [String] = []
            runConcurrently(4) { caller in
                // Each caller walks the inputs in its own order, so different layers run at once.
                for step in 0..<xs.count {
                    let i = (step + caller) % xs.count
                    do {
                        let y = try model.predict(xs[i])
                        lock.lock(); got[caller][i] = y; lock.unlock()
                    } catch {
                        lock.lock(); failures.append("\(error)"); lock.unlock()
                    }
                }
            }
            XCTAssertEqual(failures, [], arch)
            for caller in got.indices {
                for i in xs.indices { XCTAssertEqual(got[caller][i], expected[i], "\(arch): caller \(caller), input \(i)") }
            }
        }
    }

    /// A prediction between a training forward and its backward leaves the gradients as they were.
    func testPredictionBetweenForwardAndBackwardChangesNoGradient() throws {
        for arch in Self.architectures {
            let model = try twin(arch)
            let xs = inputs(for: model, count: 2, batch: 2)
            func step(predictingBetween: Bool) throws -> [Tensor] {
                model.network.zeroGradients()
                RandomGenerator.global.reseed(11)   // the same dropout masks both times
                for d in model.network.allLayers.compactMap({ $0 as? Dropout }) { d.reseed(11) }
                let y = try model.network.forward(xs[0], mode: .training)
                if predictingBetween { _ = try model.predict(xs[1]) }
                var g = Tensor(zeros: y.shape)
                let p = g.mutableData()
                for j in 0..<g.count { p[j] = Float(j % 5) - 2 }
                _ = try model.network.backward(g, needsInputGradient: true)
                return model.network.trainableParameters.map(\.gradient)
            }
            let undisturbed = try step(predictingBetween: false)
            let withPrediction = try step(predictingBetween: true)
            XCTAssertEqual(withPrediction, undisturbed, arch)
        }
    }
}
