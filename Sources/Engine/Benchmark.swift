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
