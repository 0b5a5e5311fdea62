#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// mixup (Zhang et al., 2018): blends each sample with a partner from the same batch (a random
/// permutation), x = λ x_i + (1 - λ) x_j, and their targets the same way, with one λ ~ Beta(α, α)
/// per batch as in the authors' code. The blended targets go to the loss as soft labels; the
/// batch's `labels` stay the originals. Works on any input rank.
public struct Mixup: BatchAugmentation {
    public var alpha: Double

    /// λ ~ Beta(alpha, alpha); the paper uses 0.2 to 0.4 on ImageNet.
    public init(alpha: Double = 0.2) { self.alpha = alpha }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        guard alpha > 0 else { throw TrainingError("Mixup: alpha \(alpha) must be positive") }
        let lambda = Float(generator.beta(alpha, alpha))
        var partner = Array(0..<batch.count)
        generator.shuffle(&partner)
        batch = try Mixup.mix(batch, lambda: lambda, partner: partner)
    }

    /// Sample i blended with sample partner[i]: weight `lambda` on its own inputs and targets.
    public static func mix(_ batch: Batch, lambda: Float, partner: [Int]) throws -> Batch {
        try requirePartners(partner, batch.count, "Mixup")
        let targets = batch.probabilityTargets
        var out = batch
        let size = batch.inputs.count / max(batch.count, 1)
        blend(batch.inputs.data, into: out.inputs.mutableData(), rowSize: size, lambda: lambda, partner: partner)
        var soft = Tensor(uninitialized: targets.shape)
        blend(targets.data, into: soft.mutableData(), rowSize: batch.classes, lambda: lambda, partner: partner)
        out.softTargets = soft
        return out
    }

    static func blend(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rowSize: Int, lambda: Float,
                      partner: [Int]) {
        let other = 1 - lambda
        for (i, j) in partner.enumerated() {
            let a = x + i * rowSize, b = x + j * rowSize, o = y + i * rowSize
            for k in 0..<rowSize { o[k] = lambda * a[k] + other * b[k] }
        }
    }
}

/// CutMix (Yun et al., 2019): pastes a box from each sample's partner (a random permutation) into
/// it. λ ~ Beta(α, α) sets the box to cover 1 - λ of the image (side √(1 - λ), centre uniform,
/// clipped at the borders, one box per batch as in the authors' code); the targets are then
/// weighted by the areas actually kept and pasted.
public struct CutMix: BatchAugmentation {
    public var alpha: Double

    /// λ ~ Beta(alpha, alpha); the paper uses 1 (λ uniform).
    public init(alpha: Double = 1) { self.alpha = alpha }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        let (_, h, w, _) = try requireImages(batch.inputs, "CutMix")
        guard alpha > 0 else { throw TrainingError("CutMix: alpha \(alpha) must be positive") }
        let lambda = generator.beta(alpha, alpha)
        let cut = (1 - lambda).squareRoot()
        let cutH = Int(Double(h) * cut), cutW = Int(Double(w) * cut)
        let cy = generator.nextInt(below: h), cx = generator.nextInt(below: w)
        let top = min(max(cy - cutH / 2, 0), h), bottom = min(max(cy + cutH / 2, 0), h)
        let left = min(max(cx - cutW / 2, 0), w), right = min(max(cx + cutW / 2, 0), w)
        var partner = Array(0..<batch.count)
        generator.shuffle(&partner)
        batch = try CutMix.paste(batch, box: PixelBox(top: top, left: left, height: bottom - top, width: right - left),
                                 partner: partner)
    }

    /// Sample i with partner[i]'s pixels inside `box`; targets weighted by the kept and pasted areas.
    public static func paste(_ batch: Batch, box: PixelBox, partner: [Int]) throws -> Batch {
        let (n, h, w, c) = try requireImages(batch.inputs, "CutMix")
        try requirePartners(partner, n, "CutMix")
        guard box.top >= 0, box.left >= 0, box.height >= 0, box.width >= 0, box.top + box.height <= h,
              box.left + box.width <= w else { throw TrainingError("CutMix: box \(box) is not inside \(h)x\(w)") }
        var out = batch
        let src = batch.inputs.data, dst = out.inputs.mutableData()
        for (i, j) in partner.enumerated() {
            for y in box.top..<(box.top + box.height) {
                (dst + ((i * h + y) * w + box.left) * c).update(from: src + ((j * h + y) * w + box.left) * c,
                                                                count: box.width * c)
            }
        }
        let kept = 1 - Float(box.area) / Float(h * w)
        let targets = batch.probabilityTargets
        var soft = Tensor(uninitialized: targets.shape)
        Mixup.blend(targets.data, into: soft.mutableData(), rowSize: batch.classes, lambda: kept, partner: partner)
        out.softTargets = soft
        return out
    }
}

private func requirePartners(_ partner: [Int], _ n: Int, _ what: String) throws {
    guard partner.count == n, partner.allSatisfy({ $0 >= 0 && $0 < n }) else {
        throw TrainingError("\(what): need one partner index in 0..<\(n) per sample, got \(partner.count)")
    }
}

extension RandomGenerator {
    /// Gamma(shape, 1) by Marsaglia and Tsang's method (boosted by U^(1/shape) below shape 1).
    public func gamma(shape: Double) -> Double {
        precondition(shape > 0, "gamma shape must be positive")
        if shape < 1 {
            var u = nextDouble()
            while u == 0 { u = nextDouble() }
            return gamma(shape: shape + 1) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = Double(normal())
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = nextDouble()
            if u < 1 - 0.0331 * x * x * x * x || log(max(u, .leastNormalMagnitude)) < 0.5 * x * x + d * (1 - v + log(v)) {
                return d * v
            }
        }
    }

    /// Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
    public func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(shape: a), y = gamma(shape: b)
        return x + y == 0 ? 0.5 : x / (x + y)
    }
}
