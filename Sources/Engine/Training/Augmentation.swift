/// A random transformation of a training batch. Every random choice is drawn from the generator
/// passed in (the trainer's augmentation generator), so a seed fixes every batch.
///
/// Image augmentations take NHWC batches (n, h, w, c). Each has a static form that takes its
/// random choices as arguments, which is what `apply` calls after drawing them.
public protocol BatchAugmentation {
    func apply(to batch: inout Batch, generator: RandomGenerator) throws
}

/// A rectangle of pixels: rows `top..<top + height`, columns `left..<left + width`.
public struct PixelBox: Equatable, Sendable {
    public var top: Int, left: Int, height: Int, width: Int

    /// The box with top-left pixel (top, left) and the given size.
    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }

    public var area: Int { height * width }
}

func requireImages(_ t: Tensor, _ augmentation: String) throws -> (n: Int, h: Int, w: Int, c: Int) {
    guard t.rank == 4, t.shape.allSatisfy({ $0 > 0 }) else {
        throw TrainingError("\(augmentation) expects NHWC image batches (n, h, w, c), got \(shapeString(t.shape))")
    }
    return (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
}

/// Mirrors each image left-right with probability `probability`.
public struct RandomHorizontalFlip: BatchAugmentation {
    public var probability: Float

    /// Flips each image with probability `probability`.
    public init(probability: Float = 0.5) { self.probability = probability }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        _ = try requireImages(batch.inputs, "RandomHorizontalFlip")
        let chosen = (0..<batch.count).map { _ in generator.nextFloat() < probability }
        batch.inputs = try RandomHorizontalFlip.flip(batch.inputs, samples: chosen)
    }

    /// The images with those whose flag is set mirrored along the width.
    public static func flip(_ images: Tensor, samples: [Bool]) throws -> Tensor {
        let (n, h, w, c) = try requireImages(images, "RandomHorizontalFlip")
        guard samples.count == n else { throw TrainingError("RandomHorizontalFlip: \(samples.count) flags for \(n) images") }
        var out = images
        let p = out.mutableData()
        for i in 0..<n where samples[i] {
            for y in 0..<h {
                let row = p + (i * h + y) * w * c
                for x in 0..<(w / 2) {
                    let a = row + x * c, b = row + (w - 1 - x) * c
                    for k in 0..<c { let t = a[k]; a[k] = b[k]; b[k] = t }
                }
            }
        }
        return out
    }
}

/// torchvision's `RandomCrop(size, padding=p)` at the input's size: pads each image with `padding`
/// zeros on every side and cuts out a window at a uniformly drawn offset, i.e. shifts the image by
/// up to `padding` pixels each way, filling with zeros.
public struct RandomCrop: BatchAugmentation {
    public var padding: Int

    /// Shifts by up to `padding` pixels each way.
    public init(padding: Int) { self.padding = padding }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        _ = try requireImages(batch.inputs, "RandomCrop")
        let offsets = (0..<batch.count).map { _ in
            (top: generator.nextInt(below: 2 * padding + 1), left: generator.nextInt(below: 2 * padding + 1))
        }
        batch.inputs = try RandomCrop.crop(batch.inputs, padding: padding, offsets: offsets)
    }

    /// Each image padded by `padding` and cut at its offset (each in 0...2 * padding).
    public static func crop(_ images: Tensor, padding: Int, offsets: [(top: Int, left: Int)]) throws -> Tensor {
        let (n, h, w, c) = try requireImages(images, "RandomCrop")
        guard padding >= 0, offsets.count == n,
              offsets.allSatisfy({ (0...(2 * padding)).contains($0.top) && (0...(2 * padding)).contains($0.left) })
        else { throw TrainingError("RandomCrop: need \(n) offsets in 0...\(2 * padding) for padding \(padding)") }
        var out = Tensor(zeros: images.shape)
        let src = images.data, dst = out.mutableData()
        for i in 0..<n {
            let dy = offsets[i].top - padding, dx = offsets[i].left - padding
            let x0 = max(0, -dx), x1 = min(w, w - dx)
            guard x0 < x1 else { continue }
            for y in max(0, -dy)..<max(max(0, -dy), min(h, h - dy)) {
                (dst + ((i * h + y) * w + x0) * c).update(from: src + ((i * h + y + dy) * w + x0 + dx) * c,
                                                          count: (x1 - x0) * c)
            }
        }
        return out
    }
}

/// Cutout (DeVries & Taylor, 2017): zeroes a `size` x `size` square, every channel, centred on a
/// uniformly drawn pixel of each image and clipped at the borders.
public struct Cutout: BatchAugmentation {
    public var size: Int

    /// Erases a `size` x `size` square per image.
    public init(size: Int) { self.size = size }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        let (n, h, w, _) = try requireImages(batch.inputs, "Cutout")
        let boxes = (0..<n).map { _ -> PixelBox in
            let cy = generator.nextInt(below: h), cx = generator.nextInt(below: w)
            return Cutout.box(centerY: cy, centerX: cx, size: size, height: h, width: w)
        }
        batch.inputs = try Cutout.erase(batch.inputs, boxes: boxes)
    }

    /// The square of side `size` centred on (centerY, centerX), clipped to the image.
    public static func box(centerY: Int, centerX: Int, size: Int, height: Int, width: Int) -> PixelBox {
        let top = max(0, centerY - size / 2), bottom = min(height, centerY - size / 2 + size)
        let left = max(0, centerX - size / 2), right = min(width, centerX - size / 2 + size)
        return PixelBox(top: top, left: left, height: max(0, bottom - top), width: max(0, right - left))
    }

    /// The images with each one's box set to zero.
    public static func erase(_ images: Tensor, boxes: [PixelBox]) throws -> Tensor {
        let (n, h, w, c) = try requireImages(images, "Cutout")
        guard boxes.count == n, boxes.allSatisfy({ $0.top >= 0 && $0.left >= 0 && $0.top + $0.height <= h
                                                    && $0.left + $0.width <= w }) else {
            throw TrainingError("Cutout: need \(n) boxes inside \(h)x\(w)")
        }
        var out = images
        let p = out.mutableData()
        for (i, b) in boxes.enumerated() {
            for y in b.top..<(b.top + b.height) {
                (p + ((i * h + y) * w + b.left) * c).update(repeating: 0, count: b.width * c)
            }
        }
        return out
    }
}

/// Adds N(0, standardDeviation²) noise to every input element (any rank, not only images).
public struct GaussianNoise: BatchAugmentation {
    public var standardDeviation: Float

    /// Noise of standard deviation `standardDeviation`.
    public init(standardDeviation: Float) { self.standardDeviation = standardDeviation }

    public func apply(to batch: inout Batch, generator: RandomGenerator) throws {
        guard standardDeviation >= 0 else { throw TrainingError("GaussianNoise: negative deviation \(standardDeviation)") }
        let count = batch.inputs.count, sigma = standardDeviation
        let p = batch.inputs.mutableData()
        // One stream in element order: parallel draws would make the noise depend on the thread count.
        for i in 0..<count { p[i] += sigma * generator.normal() }
    }
}
