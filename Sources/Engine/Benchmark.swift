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
    /// on `threads` pool threads at once, each rated by its own CPU time so other processes sharing the
    /// cores do not lower the figure; the sum over threads, best of five rounds.
    public static func fmaPeak(threads: Int = Parallel.threadCount) -> Double {
        let iterations = 1 << 23
        var best = 0.0
        for _ in 0..<5 {
            var rates = [Double](repeating: 0, count: threads)
            var sinks = [Float](repeating: 0, count: threads)
            rates.withUnsafeMutableBufferPointer { r in
                sinks.withUnsafeMutableBufferPointer { s in
                    let rate = r.baseAddress!, sink = s.baseAddress!
                    Parallel.run(parts: threads) { part in
                        let t0 = threadCPUTime()
                        let flops = zoo_fma_loop(iterations, sink + part)
                        rate[part] = flops / max(threadCPUTime() - t0, 1e-9) / 1e9
                    }
                }
            }
            best = max(best, rates.reduce(0, +))
        }
        return best
    }

    /// CPU seconds the calling thread has run.
    static func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
