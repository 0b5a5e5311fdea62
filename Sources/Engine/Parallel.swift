import Dispatch
import Foundation

/// The engine's one pool of compute threads.
///
/// Work is split into a fixed number of contiguous parts, one per thread, so the partition (and
/// therefore every floating-point sum) depends only on the thread count, never on timing.
/// OpenBLAS runs single-threaded inside these threads (see `BLAS`), so the cores are never
/// oversubscribed.
public enum Parallel {
    /// Number of compute threads: `ZOO_THREADS` if set, otherwise the active cores divided among
    /// the ranks mpirun started on this machine (all of them without mpirun), so that ranks
    /// sharing a machine do not oversubscribe its cores.
    public static var threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["ZOO_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount / (Launch.current?.localSize ?? 1))
    }()

    /// The compute threads, started at first use.
    private static let pool = ThreadPool(workers: max(0, threadCount - 1))

    /// Calls `body(part)` for `part` in `0..<parts`, running parts concurrently on the pool (on the
    /// calling thread alone when the pool is busy, or from `background` work).
    public static func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 { if parts == 1 { body(0) }; return }
        if threadCount > 1, pthread_getspecific(backgroundKey) == nil, pool.run(parts: parts, body) { return }
        for part in 0..<parts { body(part) }
    }

    /// Set (non-nil) on a thread running `background` work; a thread-specific key, as `run` reads it
    /// on every call.
    private static let backgroundKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Splits `0..<count` into at most `threadCount` contiguous ranges and runs them concurrently.
    /// Ranges smaller than `minimumChunk` are not split further.
    public static func forRanges(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let parts = max(1, min(threadCount, count / max(1, minimumChunk)))
        run(parts: parts) { p in
            let r = Parallel.partition(count, parts: parts, part: p)
            if !r.isEmpty { body(r) }
        }
    }

    /// Starts `body` on another thread and returns at once, for work that overlaps the compute
    /// (decoding the next batch). Its own `run` calls stay on its thread, so it never takes the
    /// compute threads from the layers.
    public static func background(_ body: @escaping @Sendable () -> Void) {
        DispatchQueue.global().async {
            pthread_setspecific(backgroundKey, UnsafeRawPointer(bitPattern: 1))
            defer { pthread_setspecific(backgroundKey, nil) }
            body()
        }
    }

    /// The `part`-th of `parts` contiguous, near-equal ranges covering `0..<count`.
    public static func partition(_ count: Int, parts: Int, part: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }
}
