import Engine
import Foundation
import XCTest
@testable import WeightIO

/// A stand-in with BatchNormalization's weights (gamma, beta trainable; moving statistics as
/// state), so loading is tested on a layer with state before the engine has BatchNorm. It only
/// holds weights: forward is the identity.
final class WeightsOnlyBatchNorm: Layer {
    var kerasClassName: String { "BatchNormalization" }
    let name: String
    let gamma, beta, movingMean, movingVariance: Parameter

    init(name: String, channels: Int) {
        self.name = name
        gamma = Parameter(name: "gamma", value: Tensor(shape: [channels], repeating: 1))
        beta = Parameter(name: "beta", value: Tensor(zeros: [channels]))
        movingMean = Parameter(name: "moving_mean", value: Tensor(zeros: [channels]), trainable: false)
        movingVariance = Parameter(name: "moving_variance", value: Tensor(shape: [channels], repeating: 1), trainable: false)
    }

    var parameters: [Parameter] { [gamma, beta] }
    var state: [Parameter] { [movingMean, movingVariance] }
    func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    func forward(_ input: Tensor, mode: Mode) throws -> Tensor { input }
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? { outputGradient }
}

/// The engine twin of the Keras fixture model: conv(3x3, 3->4) -> bn -> relu -> dense(144 -> units).
/// `names` renames the layers (to force loading by order).
func tinyEngineModel(names: [String] = ["conv", "bn", "dense"], units: Int = 5, seed: UInt64 = 1) -> Sequential {
    let generator = RandomGenerator(seed: seed)
    let conv = Conv2D(name: names[0], inputChannels: 3, filters: 4, kernelSize: (3, 3))
    let bn = WeightsOnlyBatchNorm(name: names[1], channels: 4)
    let dense = Dense(name: names[2], inputFeatures: 144, units: units)
    let model = Sequential(name: "tiny", [conv, bn, ActivationLayer(name: "relu", .relu), dense])
    randomize(model, generator)
    return model
}

/// The engine twin of the nested fixture: inner = Sequential(iconv, ibn), then dense.
func nestedEngineModel() -> Sequential {
    let inner = Sequential(name: "inner", [Conv2D(name: "iconv", inputChannels: 3, filters: 4, kernelSize: (3, 3)),
                                           WeightsOnlyBatchNorm(name: "ibn", channels: 4)])
    let model = Sequential(name: "nested", [inner, Dense(name: "dense", inputFeatures: 144, units: 5)])
    randomize(model, RandomGenerator(seed: 2))
    return model
}

/// Distinct random values in every weight, so a weight that was not loaded shows.
func randomize(_ model: Layer, _ generator: RandomGenerator) {
    for p in model.allWeights {
        p.value.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] = generator.uniform(-1, 1) } }
    }
}

/// Deep copies of every weight, to check a failed load changed nothing.
func snapshot(_ model: Layer) -> [Tensor] {
    model.allWeights.map { Tensor(shape: $0.value.shape, scalars: $0.value.scalars) }
}

/// Runs `body` with file descriptor 2 redirected to a file and returns what was written there.
func capturingStandardError<R>(_ body: () throws -> R) rethrows -> (R, String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)").path
    fflush(stderr)
    let saved = dup(2)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    dup2(fd, 2)
    close(fd)
    defer {
        fflush(stderr)
        dup2(saved, 2)
        close(saved)
        try? FileManager.default.removeItem(atPath: path)
    }
    let result = try body()
    fflush(stderr)
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return (result, text)
}
