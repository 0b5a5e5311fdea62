/// The engine's seeded random generator (xoshiro256**, seeded through SplitMix64).
///
/// Everything random in ConvZoo (initial weights, dropout masks, shuffling, augmentation) draws
/// from a `RandomGenerator`, by default `RandomGenerator.global`; the same seed gives the same
/// stream on every machine.
public final class RandomGenerator {
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// The generator used when none is given. Reseed it with `RandomGenerator.global.reseed(_:)`.
    public static let global = RandomGenerator(seed: 0)

    public init(seed: UInt64) {
        state = (0, 0, 0, 0)
        reseed(seed)
    }

    /// Restores a state captured from `state` (for checkpoints).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) { self.state = state }

    /// Continues from a state captured from `state`, in place (for checkpoints of generators that
    /// others hold, such as a `Dropout` layer's).
    public func restore(_ state: (UInt64, UInt64, UInt64, UInt64)) { self.state = state }

    public func reseed(_ seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    @inline(__always) func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0; state.3 ^= state.1; state.1 ^= state.2; state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    public func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in [low, high).
    public func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * nextFloat() }

    /// Standard normal (Box-Muller on doubles).
    public func normal() -> Float {
        var u = nextDouble()
        while u <= .leastNormalMagnitude { u = nextDouble() }
        let v = nextDouble()
        return Float((-2 * _log(u)).squareRoot() * _cos(2 * Double.pi * v))
    }

    /// Uniform integer in 0..<bound, without modulo bias.
    public func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        var r = next()
        while r >= limit { r = next() }
        return Int(r % b)
    }

    /// Fisher-Yates shuffle.
    public func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, nextInt(below: i + 1)) }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
