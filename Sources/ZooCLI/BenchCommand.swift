import ArgumentParser
import Engine
import Foundation
import Zoo

/// `zoo bench`: throughput of the engine's hot layers against the raw sgemm rate of the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput: a model's images/s, or the hot layers' GFLOP/s against raw sgemm.")

    @Option(help: "Architecture to measure (see `zoo list`); without it, the layer suite runs.")
    var model: String?

    @Flag(help: "With --model: measure a training step (forward, backward, SGD update) instead of inference.")
    var train = false

    @Option(help: "Batch sizes to measure.")
    var batch: [Int] = [1, 16]

    @Option(help: "Seconds to spend on each measurement.")
    var seconds: Double = 1.0

    @Option(help: "Only the layer cases whose name contains this text.")
    var only: String?

    @Flag(help: "Measure raw sgemm instead: each of our kernels against OpenBLAS, one thread, on the layers' GEMM shapes.")
    var gemm = false

    @Option(help: "Winograd output tile of stride-1 3x3 convolutions at inference: 2 (the default), 4 (faster on large layers, about 10x the rounding error) or 0 (direct convolution only).")
    var winograd: Int?

    func validate() throws {
        for b in batch { try OptionCheck.inRange(b, OptionCheck.batchRange, "--batch") }
        try OptionCheck.inRange(seconds, 0.01...3600, "--seconds")
        let cases = gemm ? GemmShape.all.map(\.name) : LayerCase.all.map(\.name)
        if let only, !cases.contains(where: { $0.contains(only) }) {
            throw ValidationError("--only '\(only)' matches no case; cases: " + cases.joined(separator: ", "))
        }
        if model != nil, only != nil { throw ValidationError("--only selects layer cases; it does not apply with --model") }
        if let winograd, ![0, 2, 4].contains(winograd) {
            throw ValidationError("--winograd must be 0, 2 or 4, got \(winograd)")
        }
    }

    func run() throws {
        if let winograd { Conv2D.winogradOutputTile = winograd }
        if gemm { return benchGemm() }
        // Every rate is also given as a share of this, so a figure means something on any CPU.
        let peak = Stopwatch.fmaPeak()
        print("threads: \(Parallel.threadCount), sgemm: \(BLAS.kernelDescription), winograd: \(Conv2D.winogradOutputTile)")
        print(String(format: "FMA peak: %.1f GFLOP/s (%d threads)", peak, Parallel.threadCount))
        if let model {
            for b in batch { try benchModel(model, batch: b, peak: peak) }
            return
        }
        let sgemm = measureSgemm(size: 1024)
        print(String(format: "sgemm 1024x1024x1024: %.1f GFLOP/s (%.0f%% of peak)", sgemm, 100 * sgemm / peak))
        print("layer                     batch   forward GFLOP/s (of peak)    backward GFLOP/s (of peak)")
        let cases = LayerCase.all.filter { only == nil || $0.name.contains(only!) }
        for b in batch {
            for c in cases {
                let r = try c.measure(batch: b, seconds: seconds)
                print(c.name.padding(toLength: 25, withPad: " ", startingAt: 0)
                    + String(format: " %5d   %8.1f (%3.0f%%)              %8.1f (%3.0f%%)",
                             b, r.forward, 100 * r.forward / peak, r.backward, 100 * r.backward / peak))
            }
        }
    }

    /// Prints `NAME batch B: X images/s, Y ms/batch, Z GFLOP/s (P% of peak)`.
    func benchModel(_ name: String, batch b: Int, peak: Double) throws {
        let m = try Catalog.architecture(named: name).make()
        try m.checkMemory(batch: b, training: train, option: "--batch")
        let macs = try ModelSummary(m).multiplyAccumulates
        let g = RandomGenerator(seed: 1)
        var x = Tensor(zeros: [b] + m.inputShape)
        x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = g.uniform(-1, 1) } }
        let seconds: Double
        var flops = 2 * Double(macs) * Double(b)
        if train {
            // One SGD step: forward in training mode, backward from a fixed output gradient, update.
            let outShape = try m.outputShape(batch: b)
            let dy = Tensor(shape: outShape, repeating: 1 / Float(b))
            let params = m.network.trainableParameters
            seconds = try Stopwatch.median(budget: self.seconds, minRounds: 2) {
                m.network.zeroGradients()
                _ = try m.network.forward(x, mode: .training)
                _ = try m.network.backward(dy, needsInputGradient: false)
                for p in params {
                    let v = p.value.count
                    let w = p.value.mutableData(), gr = p.gradient.data
                    for i in 0..<v { w[i] -= 0.001 * gr[i] }
                }
            }
            flops *= 3
        } else {
            seconds = try Stopwatch.median(budget: self.seconds, minRounds: 2) { _ = try m.predict(x) }
        }
        print(String(format: "%@ batch %d: %.2f images/s, %.1f ms/batch, %.1f GFLOP/s (%.0f%% of peak)%@", name, b,
                     Double(b) / seconds, seconds * 1000, flops / seconds / 1e9, 100 * flops / seconds / 1e9 / peak,
                     train ? " (training step)" : ""))
    }

    func measureSgemm(size n: Int) -> Double {
        let a = Tensor(shape: [n, n], repeating: 0.5), b = Tensor(shape: [n, n], repeating: 0.25)
        var c = Tensor(zeros: [n, n])
        let cp = c.mutableData()
        let t = Stopwatch.median(budget: seconds) {
            BLAS.parallelSgemm(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, beta: 0, c: cp, ldc: n)
        }
        return 2 * Double(n * n * n) / t / 1e9
    }
}

extension BenchCommand {
    /// GFLOP/s of one product on the calling thread with each supported kernel, OpenBLAS first.
    func benchGemm() {
        let kernels = [BLAS.Kernel.openBLAS, .avx2, .avx512].filter(\.isSupported)
        let saved = BLAS.kernel
        defer { BLAS.kernel = saved }
        BLAS.kernel = .openBLAS
        print("one thread; " + kernels.map { k -> String in
            BLAS.kernel = k
            return "\(k): \(BLAS.kernelDescription)"
        }.joined(separator: ", "))
        print("shape".padding(toLength: 30, withPad: " ", startingAt: 0) + "     M     N     K  "
            + kernels.map { "\($0)".leftPadded(to: 9) }.joined(separator: " ") + "  (GFLOP/s)")
        for s in GemmShape.all where only == nil || s.name.contains(only!) {
            let rates = kernels.map { k -> Double in
                BLAS.kernel = k
                return s.measure(seconds: seconds)
            }
            print(s.name.padding(toLength: 30, withPad: " ", startingAt: 0)
                + String(format: "%6d%6d%6d  ", s.m, s.n, s.k)
                + rates.map { String(format: "%9.1f", $0) }.joined(separator: " "))
        }
    }
}

/// One raw sgemm product as a layer issues it (im2col rows x patch, patch x filters, and the gradients' transposes).
struct GemmShape {
    let name: String
    let transA: Bool, transB: Bool
    let m: Int, n: Int, k: Int

    static let all: [GemmShape] = [
        GemmShape(name: "square 1024", transA: false, transB: false, m: 1024, n: 1024, k: 1024),
        GemmShape(name: "vgg16 block3_conv1 forward", transA: false, transB: false, m: 3136, n: 256, k: 1152),
        GemmShape(name: "vgg16 block3_conv1 dW (TN)", transA: true, transB: false, m: 1152, n: 256, k: 3136),
        GemmShape(name: "vgg16 block3_conv1 dX (NT)", transA: false, transB: true, m: 3136, n: 1152, k: 256),
        GemmShape(name: "resnet50 1x1 forward", transA: false, transB: false, m: 784, n: 128, k: 512),
        GemmShape(name: "resnet50 1x1 dW (TN)", transA: true, transB: false, m: 512, n: 128, k: 784),
        GemmShape(name: "resnet50 1x1 dX (NT)", transA: false, transB: true, m: 784, n: 512, k: 128),
        GemmShape(name: "resnet stem forward", transA: false, transB: false, m: 12544, n: 64, k: 147),
        GemmShape(name: "resnet stem dW (TN)", transA: true, transB: false, m: 147, n: 64, k: 12544),
    ]

    /// GFLOP/s with the current `BLAS.kernel`, median over `seconds`.
    func measure(seconds: Double) -> Double {
        let g = RandomGenerator(seed: 5)
        let a = (0..<(m * k)).map { _ in g.uniform(-1, 1) }, b = (0..<(k * n)).map { _ in g.uniform(-1, 1) }
        var c = [Float](repeating: 0, count: m * n)
        let t = c.withUnsafeMutableBufferPointer { cp in
            Stopwatch.median(budget: seconds) {
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b,
                           ldb: transB ? k : n, beta: 0, c: cp.baseAddress!, ldc: n)
            }
        }
        return 2 * Double(m * n * k) / t / 1e9
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

/// One benchmarked layer shape.
struct LayerCase {
    let name: String
    let inputShape: (Int) -> [Int]
    let make: () -> Layer
    let macsPerImage: Int

    static let all: [LayerCase] = [
        LayerCase(name: "vgg16 block3_conv1 3x3", inputShape: { [$0, 56, 56, 128] },
                  make: { Conv2D(name: "block3_conv1", inputChannels: 128, filters: 256, kernelSize: (3, 3), padding: .same) },
                  macsPerImage: 56 * 56 * 256 * 9 * 128),
        LayerCase(name: "resnet50 bottleneck 1x1", inputShape: { [$0, 28, 28, 512] },
                  make: { Conv2D(name: "conv3_block2_1_conv", inputChannels: 512, filters: 128, kernelSize: (1, 1)) },
                  macsPerImage: 28 * 28 * 128 * 512),
        LayerCase(name: "resnet stem 7x7/2", inputShape: { [$0, 224, 224, 3] },
                  make: { Conv2D(name: "conv1_conv", inputChannels: 3, filters: 64, kernelSize: (7, 7), strides: (2, 2),
                                 padding: .symmetric(3)) },
                  macsPerImage: 112 * 112 * 64 * 49 * 3),
        LayerCase(name: "vgg16 fc1 25088->4096", inputShape: { [$0, 25088] },
                  make: { Dense(name: "fc1", inputFeatures: 25088, units: 4096) },
                  macsPerImage: 25088 * 4096),
    ]

    /// Forward and backward (input and weight gradients) GFLOP/s.
    func measure(batch: Int, seconds: Double) throws -> (forward: Double, backward: Double) {
        let layer = make()
        var x = Tensor(zeros: inputShape(batch))
        let g = RandomGenerator(seed: 1)
        x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = g.uniform(-1, 1) } }
        let flops = 2 * Double(macsPerImage) * Double(batch)
        let forward = try Stopwatch.median(budget: seconds) { _ = try layer.forward(x, mode: .inference) }
        let y = try layer.forward(x, mode: .training)
        let dy = Tensor(shape: y.shape, repeating: 0.01)
        let backward = try Stopwatch.median(budget: seconds) { _ = try layer.backward(dy, needsInputGradient: true) }
        return (flops / forward / 1e9, 2 * flops / backward / 1e9)
    }
}
