import CKernels
import Foundation

/// Wall-clock measurement for benchmarks (never used in tests).
public enum Stopwatch {
    /// Seconds since an arbitrary origin, monotonic.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Median seconds per call of `body`: one warm-up call, then rounds until `budget` seconds
    /// have passed (at least `minRounds`).
    public static func median(budget: Double = 1.0, minRounds: Int = 3, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times: [Double] = []
        let start = now()
        while times.count < minRounds || now() - start < budget {
            let t0 = now()
            try body()
            times.append(now() - t0)
            if times.count >= 200 { break }
        }
        times.sort()
        return times[times.count / 2]
    }
}

extension Stopwatch {
    /// The machine's FMA peak in GFLOP/s: a register-only FMA loop (the active GEMM path's vector width)
    /// on `threads` pool threads at once, best of five rounds.
    public static func fmaPeak(threads: Int = Parallel.threadCount) -> Double {
        let iterations = 1 << 23
        var best = 0.0
        for _ in 0..<5 {
            var sinks = [Float](repeating: 0, count: threads)
            let t0 = now()
            let flops = sinks.withUnsafeMutableBufferPointer { s in
                let base = s.baseAddress!
                var done = [Double](repeating: 0, count: threads)
                done.withUnsafeMutableBufferPointer { d in
                    let out = d.baseAddress!
                    Parallel.run(parts: threads) { out[$0] = zoo_fma_loop(iterations, base + $0) }
                }
                return done.reduce(0, +)
            }
            best = max(best, flops / (now() - t0) / 1e9)
        }
        return best
    }
}
