import XCTest
@testable import Engine

/// Each augmentation against a property that fails if it is wrong, plus the random forms drawing
/// what the static forms are given.
final class AugmentationTests: XCTestCase {
    /// n images (n, h, w, c) whose every element is distinct: value = flat index + 1.
    func distinctImages(_ n: Int, _ h: Int, _ w: Int, _ c: Int) -> Tensor {
        Tensor(shape: [n, h, w, c], scalars: (0..<(n * h * w * c)).map { Float($0 + 1) })
    }

    /// n images, image i filled with the constant i + 1.
    func constantImages(_ n: Int, _ h: Int, _ w: Int, _ c: Int) -> Tensor {
        Tensor(shape: [n, h, w, c], scalars: (0..<n).flatMap { Array(repeating: Float($0 + 1), count: h * w * c) })
    }

    func testFlipMirrorsAndFlippingTwiceIsTheIdentity() throws {
        let x = distinctImages(3, 4, 5, 2)
        let flags = [true, false, true]
        let once = try RandomHorizontalFlip.flip(x, samples: flags)
        for i in 0..<3 { for y in 0..<4 { for col in 0..<5 { for k in 0..<2 {
            XCTAssertEqual(once[i, y, col, k], x[i, y, flags[i] ? 4 - col : col, k])
        } } } }
        XCTAssertNotEqual(once, x)
        XCTAssertEqual(try RandomHorizontalFlip.flip(once, samples: flags), x)

        // The random form: the same draws twice undo each other; about half the images flip.
        let many = distinctImages(64, 3, 3, 1)
        let seed = RandomGenerator(seed: 5)
        var batch = Batch(inputs: many, labels: Array(repeating: 0, count: 64), classes: 1)
        let replay = RandomGenerator(state: seed.state)
        try RandomHorizontalFlip().apply(to: &batch, generator: seed)
        let flipped = (0..<64).filter { batch.inputs[$0, 0, 0, 0] != many[$0, 0, 0, 0] }.count
        XCTAssert((16...48).contains(flipped), "\(flipped) of 64 flipped at p = 0.5")
        try RandomHorizontalFlip().apply(to: &batch, generator: replay)
        XCTAssertEqual(batch.inputs, many)
    }

    func testRandomCropIsAShiftWithinThePaddingFilledWithZeros() throws {
        let (n, h, w, p) = (32, 5, 6, 2)
        let x = distinctImages(n, h, w, 1)
        XCTAssertEqual(try RandomCrop.crop(x, padding: p, offsets: Array(repeating: (p, p), count: n)), x,
                       "an offset equal to the padding is the identity")
        var batch = Batch(inputs: x, labels: Array(repeating: 0, count: n), classes: 1)
        try RandomCrop(padding: p).apply(to: &batch, generator: RandomGenerator(seed: 3))
        var shifts = Set<[Int]>()
        for i in 0..<n {
            let matches = (-p...p).flatMap { dy in (-p...p).map { dx in (dy, dx) } }.filter { dy, dx in
                (0..<h).allSatisfy { y in (0..<w).allSatisfy { c in
                    let (sy, sx) = (y + dy, c + dx)
                    let expected: Float = sy >= 0 && sy < h && sx >= 0 && sx < w ? x[i, sy, sx, 0] : 0
                    return batch.inputs[i, y, c, 0] == expected
                } }
            }
            XCTAssertEqual(matches.count, 1, "image \(i) is not a zero-filled shift of its input")
            if let m = matches.first { shifts.insert([m.0, m.1]) }
        }
        XCTAssertGreaterThan(shifts.count, 8, "offsets should vary over the 25 possible")
    }

    func testCutoutZeroesExactlyTheBox() throws {
        let x = Tensor(shape: [2, 6, 7, 3], repeating: 1)
        let boxes = [PixelBox(top: 1, left: 2, height: 3, width: 4), PixelBox(top: 4, left: 0, height: 2, width: 7)]
        let y = try Cutout.erase(x, boxes: boxes)
        for i in 0..<2 { for r in 0..<6 { for c in 0..<7 { for k in 0..<3 {
            let b = boxes[i]
            let inside = r >= b.top && r < b.top + b.height && c >= b.left && c < b.left + b.width
            XCTAssertEqual(y[i, r, c, k], inside ? 0 : 1, "image \(i) (\(r), \(c), \(k))")
        } } } }
        XCTAssertEqual(Cutout.box(centerY: 0, centerX: 6, size: 4, height: 6, width: 7),
                       PixelBox(top: 0, left: 4, height: 2, width: 3), "clipped at the corner")

        // The random form zeroes one rectangle per image, of side at most `size` and at least size / 2.
        var batch = Batch(inputs: Tensor(shape: [20, 8, 8, 2], repeating: 1), labels: Array(repeating: 0, count: 20), classes: 1)
        try Cutout(size: 4).apply(to: &batch, generator: RandomGenerator(seed: 11))
        for i in 0..<20 {
            var zeros: [(Int, Int)] = []
            for r in 0..<8 { for c in 0..<8 where batch.inputs[i, r, c, 0] == 0 {
                zeros.append((r, c))
                XCTAssertEqual(batch.inputs[i, r, c, 1], 0, "every channel of the box")
            } }
            let rows = zeros.map(\.0), cols = zeros.map(\.1)
            let height = rows.max()! - rows.min()! + 1, width = cols.max()! - cols.min()! + 1
            XCTAssertEqual(zeros.count, height * width, "image \(i): the zeros must form one rectangle")
            XCTAssert((2...4).contains(height) && (2...4).contains(width), "image \(i): box \(height)x\(width)")
        }
    }

    func testMixupLabelsSumToOneWithTheDrawnLambda() throws {
        let n = 10
        let batch = Batch(inputs: constantImages(n, 2, 2, 1), labels: (0..<n).map { $0 % 4 }, classes: 4)
        let generator = RandomGenerator(seed: 21)
        let replay = RandomGenerator(state: generator.state)
        var mixed = batch
        try Mixup(alpha: 0.4).apply(to: &mixed, generator: generator)
        let lambda = Float(replay.beta(0.4, 0.4))
        var partner = Array(0..<n)
        replay.shuffle(&partner)
        XCTAssertNotEqual(partner, Array(0..<n))
        let targets = try XCTUnwrap(mixed.softTargets)
        XCTAssertEqual(mixed.labels, batch.labels, "hard labels stay the originals")
        for i in 0..<n {
            let j = partner[i]
            XCTAssertEqual(mixed.inputs[i, 1, 1, 0], lambda * Float(i + 1) + (1 - lambda) * Float(j + 1), accuracy: 1e-5)
            let row = (0..<4).map { targets[i, $0] }
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-6)
            var expected = [Float](repeating: 0, count: 4)
            expected[batch.labels[i]] += lambda
            expected[batch.labels[j]] += 1 - lambda
            for c in 0..<4 { XCTAssertEqual(row[c], expected[c], accuracy: 1e-6, "sample \(i) class \(c)") }
        }
    }

    func testCutMixLabelWeightEqualsThePastedAreaFraction() throws {
        let (n, h, w) = (10, 8, 8)
        let batch = Batch(inputs: constantImages(n, h, w, 1), labels: Array(0..<n), classes: n)
        var sawPaste = false
        for seed in 0..<6 as Range<UInt64> {
            var mixed = batch
            try CutMix(alpha: 1).apply(to: &mixed, generator: RandomGenerator(seed: seed))
            let targets = try XCTUnwrap(mixed.softTargets)
            for i in 0..<n {
                var fromPartner = 0, partner = i
                for r in 0..<h { for c in 0..<w where mixed.inputs[i, r, c, 0] != Float(i + 1) {
                    fromPartner += 1
                    partner = Int(mixed.inputs[i, r, c, 0]) - 1
                } }
                let fraction = Float(fromPartner) / Float(h * w)
                sawPaste = sawPaste || fromPartner > 0
                XCTAssertEqual((0..<n).map { targets[i, $0] }.reduce(0, +), 1, accuracy: 1e-6)
                XCTAssertEqual(targets[i, i], 1 - fraction, accuracy: 1e-6, "seed \(seed) sample \(i)")
                if partner != i {
                    XCTAssertEqual(targets[i, partner], fraction, accuracy: 1e-6, "seed \(seed) sample \(i)")
                }
            }
        }
        XCTAssert(sawPaste)
        // The static form with a known box and partners.
        let pasted = try CutMix.paste(batch, box: PixelBox(top: 2, left: 1, height: 4, width: 2), partner: [1, 0] + Array(2..<n))
        XCTAssertEqual(pasted.inputs[0, 3, 2, 0], 2)
        XCTAssertEqual(pasted.inputs[0, 1, 2, 0], 1)
        XCTAssertEqual(pasted.softTargets![0, 1], 8.0 / 64, accuracy: 1e-7)
        XCTAssertEqual(pasted.softTargets![0, 0], 56.0 / 64, accuracy: 1e-7)
    }

    func testResizedCropMatchesTorchvision() throws {
        let image = try NPY.read(fixtureURL("training/resized_crop_image.npy"))
        let x = image.reshaped([1] + image.shape)
        for (name, box, size) in [("up", PixelBox(top: 1, left: 2, height: 4, width: 5), (6, 8)),
                                  ("down", PixelBox(top: 0, left: 1, height: 7, width: 8), (3, 4))] {
            let expected = try NPY.read(fixtureURL("training/resized_crop_\(name).npy"))
            let y = try RandomResizedCrop.resizeCrops(x, boxes: [box], to: size)
            assertClose(y.reshaped(expected.shape), expected, relative: 1e-6, name)
        }
    }

    func testRandomResizedCropDrawsBoxesWithinScaleAndRatio() throws {
        let crop = RandomResizedCrop(scale: (0.3, 0.6), ratio: (0.75, 1.3333))
        let generator = RandomGenerator(seed: 8)
        for _ in 0..<200 {
            let b = crop.drawBox(height: 40, width: 40, generator: generator)
            XCTAssert(b.top >= 0 && b.left >= 0 && b.top + b.height <= 40 && b.left + b.width <= 40)
            let area = Double(b.area) / 1600, aspect = Double(b.width) / Double(b.height)
            XCTAssert(area > 0.27 && area < 0.64, "area fraction \(area)")
            XCTAssert(aspect > 0.7 && aspect < 1.42, "aspect \(aspect)")
        }
        // The whole image at its own size is the identity.
        let x = distinctImages(4, 6, 6, 2)
        var batch = Batch(inputs: x, labels: [0, 0, 0, 0], classes: 1)
        try RandomResizedCrop(scale: (1, 1), ratio: (1, 1)).apply(to: &batch, generator: generator)
        XCTAssertEqual(batch.inputs, x)
        var resized = Batch(inputs: x, labels: [0, 0, 0, 0], classes: 1)
        try RandomResizedCrop(size: (3, 5)).apply(to: &resized, generator: generator)
        XCTAssertEqual(resized.inputs.shape, [4, 3, 5, 2])
    }

    func testGaussianNoiseHasTheRequestedDeviationAndFollowsTheSeed() throws {
        let n = 40_000, sigma: Float = 0.3
        func noisy(_ seed: UInt64) throws -> Tensor {
            var batch = Batch(inputs: Tensor(zeros: [n, 1]), labels: Array(repeating: 0, count: n), classes: 1)
            try GaussianNoise(standardDeviation: sigma).apply(to: &batch, generator: RandomGenerator(seed: seed))
            return batch.inputs
        }
        let a = try noisy(1)
        let values = a.scalars.map(Double.init)
        let mean = values.reduce(0, +) / Double(n)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 5 * Double(sigma) / Double(n).squareRoot())
        XCTAssertEqual(std, Double(sigma), accuracy: 0.02 * Double(sigma))
        XCTAssertEqual(try noisy(1), a)
        XCTAssertNotEqual(try noisy(2), a)
    }

    func testBetaDrawsHaveTheBetaMoments() {
        let generator = RandomGenerator(seed: 4)
        for (a, b) in [(0.4, 0.4), (2.0, 5.0), (1.0, 1.0)] {
            let draws = (0..<20_000).map { _ in generator.beta(a, b) }
            XCTAssert(draws.allSatisfy { $0 >= 0 && $0 <= 1 })
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
            XCTAssertEqual(mean, a / (a + b), accuracy: 0.01, "Beta(\(a), \(b)) mean")
            XCTAssertEqual(variance, a * b / ((a + b) * (a + b) * (a + b + 1)), accuracy: 0.006, "Beta(\(a), \(b)) variance")
        }
    }

    func testImageAugmentationsRejectFeatureVectors() {
        var batch = Batch(inputs: Tensor(zeros: [4, 64]), labels: [0, 0, 0, 0], classes: 1)
        let augmentations: [BatchAugmentation] = [RandomHorizontalFlip(), RandomCrop(padding: 1), Cutout(size: 2),
                                                  RandomResizedCrop(), CutMix()]
        for a in augmentations {
            XCTAssertThrowsError(try a.apply(to: &batch, generator: RandomGenerator(seed: 0))) { error in
                XCTAssert("\(error)".contains("NHWC"), "\(error)")
            }
        }
    }
}
