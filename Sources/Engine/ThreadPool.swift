import CKernels
import Foundation
import Synchronization

/// The engine's compute threads: `Parallel.threadCount - 1` workers beside the thread that submits.
///
/// A job's parts are claimed one at a time from a shared counter, so which thread runs a part never
/// matters to the result. Between jobs a worker spins for `spinNanoseconds` before it sleeps: a
/// network's layers follow each other within microseconds, and waking a sleeping thread costs tens
/// of them (libdispatch's `concurrentPerform`, used before, woke its workers for every layer).
///
/// One job runs at a time. A job submitted while another runs (from inside a part, or from another
/// thread) is refused, and `Parallel.run` runs it on its own thread instead: the same parts, the same result.
final class ThreadPool: @unchecked Sendable {
    /// How long an idle worker watches for the next job before it sleeps (ONNX Runtime and OpenMP
    /// runtimes spin likewise; 0.2 ms is hundreds of layer gaps, and a blink of a core when idle).
    static let spinNanoseconds: UInt64 = 200_000

    /// The current job as generation (24 bits), part count (20 bits) and next unclaimed part (20 bits)
    /// in one word, so a worker claims a part of exactly the job it looked at.
    private let state = Atomic<UInt64>(0)
    /// Parts of the current job not yet finished.
    private let remaining = Atomic<Int>(0)
    /// Workers asleep on `wake`.
    private let sleepers = Atomic<Int>(0)
    /// The current job's body, valid while its parts are claimable and running.
    private var body: UnsafePointer<(Int) -> Void>?
    private let submission = NSLock()
    private let wake = NSCondition()
    private var generation: UInt64 = 0

    static let maximumParts = (1 << 20) - 1

    init(workers: Int) {
        for i in 0..<workers {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "zoo-compute-\(i + 1)"
            thread.start()
        }
    }

    private static func unpack(_ s: UInt64) -> (generation: UInt64, parts: UInt64, next: UInt64) {
        (s >> 40, (s >> 20) & 0xFFFFF, s & 0xFFFFF)
    }

    /// Runs `body(part)` for every part in `0..<parts` on the pool and the calling thread, and returns
    /// when all have finished; false (nothing run) when another job holds the pool.
    func run(parts: Int, _ body: (Int) -> Void) -> Bool {
        guard parts <= ThreadPool.maximumParts, submission.try() else { return false }
        defer { submission.unlock() }
        generation = (generation + 1) & 0xFF_FFFF
        let g = generation
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                self.body = pointer
                remaining.store(parts, ordering: .relaxed)
                state.store(g << 40 | UInt64(parts) << 20, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    wake.lock()
                    wake.broadcast()
                    wake.unlock()
                }
                while let part = claim(g) {
                    pointer.pointee(part)
                    remaining.subtract(1, ordering: .releasing)
                }
                var spins = 0
                while remaining.load(ordering: .acquiring) > 0 {
                    spins += 1
                    if spins < 100_000 { zoo_spin_pause() } else { sched_yield() }
                }
                self.body = nil
            }
        }
        return true
    }

    /// The next unclaimed part of job `g`, or nil when it has none left (or is no longer current).
    private func claim(_ g: UInt64) -> Int? {
        var s = state.load(ordering: .acquiring)
        while true {
            let (generation, parts, next) = ThreadPool.unpack(s)
            guard generation == g, next < parts else { return nil }
            let (exchanged, original) = state.compareExchange(expected: s, desired: s + 1,
                                                              successOrdering: .acquiringAndReleasing,
                                                              failureOrdering: .acquiring)
            if exchanged { return Int(next) }
            s = original
        }
    }

    private func work() {
        var seen: UInt64 = 0
        while true {
            let g = nextJob(after: seen)
            seen = g
            while let part = claim(g) {
                // The job cannot end, nor `body` change, before this part is counted as finished.
                body.unsafelyUnwrapped.pointee(part)
                remaining.subtract(1, ordering: .releasing)
            }
        }
    }

    /// Waits for a job of a generation other than `seen`: spinning first, then asleep.
    private func nextJob(after seen: UInt64) -> UInt64 {
        let start = DispatchTime.now().uptimeNanoseconds
        var spins = 0
        while true {
            let g = ThreadPool.unpack(state.load(ordering: .acquiring)).generation
            if g != seen { return g }
            spins += 1
            if spins & 255 == 0, DispatchTime.now().uptimeNanoseconds - start > ThreadPool.spinNanoseconds { break }
            zoo_spin_pause()
        }
        wake.lock()
        defer { wake.unlock() }
        sleepers.add(1, ordering: .sequentiallyConsistent)
        defer { sleepers.subtract(1, ordering: .relaxed) }
        while true {
            let g = ThreadPool.unpack(state.load(ordering: .sequentiallyConsistent)).generation
            if g != seen { return g }
            wake.wait()
        }
    }
}
