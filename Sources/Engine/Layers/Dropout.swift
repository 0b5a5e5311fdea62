/// Inverted dropout (Keras `Dropout`, PyTorch `nn.Dropout`).
///
/// Training keeps each element with probability 1 - rate and scales kept ones by 1 / (1 - rate),
/// so inference is the identity. The mask comes from the layer's own `RandomGenerator`, seeded at
/// construction from `generator` (or `RandomGenerator.global`): masks are reproducible from that
/// seed and independent of how often other layers draw. `reseed(_:)` restarts the stream, and
/// `generator.state` can be saved and restored for checkpoints.
public final class Dropout: Layer {
    public let name: String
    public let rate: Float
    /// The generator masks are drawn from; owned by this layer.
    public let generator: RandomGenerator
    /// The seed of the current stream (set at construction and by `reseed`).
    public private(set) var seed: UInt64
    private var savedMask: Tensor?
    private var savedShape: [Int]?
    /// Under data parallelism, where this rank's samples start in the global batch and how many
    /// that batch holds: the masks of the whole batch are drawn and this rank's rows kept, so they
    /// do not depend on the number of ranks. Nil in a single process.
    public var globalBatch: (offset: Int, total: Int)?
    /// Mask elements per sample in the last training forward, for `skipMasks`.
    private var elementsPerSample = 0

    public init(name: String, rate: Float, generator: RandomGenerator? = nil) {
        self.name = name
        self.rate = rate
        seed = (generator ?? RandomGenerator.global).next()
        self.generator = RandomGenerator(seed: seed)
    }

    /// Restarts the mask stream: the next training forwards draw the same masks as after any
    /// other `reseed` with this seed.
    public func reseed(_ seed: UInt64) {
        self.seed = seed
        generator.reseed(seed)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard !s.isEmpty, s.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "expected a non-empty input, got shape \(shapeString(s))")
        }
        guard rate >= 0, rate < 1 else { throw LayerError(layer: name, "rate \(rate) must be in [0, 1)") }
        return s
    }

    public func forward(_ input: Tensor, mode: Mode) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        guard mode == .training else { return input }
        savedShape = input.shape
        savedMask = nil
        guard rate > 0 else { return input }
        var mask = Tensor(uninitialized: input.shape)
        let m = mask.mutableData()
        let scale = 1 / (1 - rate)
        elementsPerSample = input.count / input.shape[0]
        let (before, after) = globalBatch.map { ($0.offset, $0.total - $0.offset - input.shape[0]) } ?? (0, 0)
        skip(before * elementsPerSample)
        // Serial on purpose: one random stream in a fixed order is what makes masks reproducible.
        for i in 0..<mask.count { m[i] = generator.nextFloat() < rate ? 0 : scale }
        skip(after * elementsPerSample)
        savedMask = mask
        return multiply(input, mask)
    }

    /// Advances the stream past the masks of `samples` samples, for a data-parallel rank that has
    /// none of a batch (the sample size is the last forward's).
    public func skipMasks(samples: Int) {
        if rate > 0 { skip(samples * elementsPerSample) }
    }

    private func skip(_ draws: Int) {
        for _ in 0..<max(0, draws) { _ = generator.next() }
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) throws -> Tensor? {
        let shape = try requireSaved(savedShape)
        try requireGradientShape(outputGradient, shape)
        guard needsInputGradient else { return nil }
        guard let mask = savedMask else { return outputGradient }
        return multiply(outputGradient, mask)
    }

    private func multiply(_ a: Tensor, _ mask: Tensor) -> Tensor {
        var out = Tensor(uninitialized: a.shape)
        let x = a.data, m = mask.data, y = out.mutableData()
        Parallel.forRanges(a.count, minimumChunk: 1 << 16) { r in
            for i in r { y[i] = x[i] * m[i] }
        }
        return out
    }
}
