import Foundation

/// What this process may allocate, and sizes computed so they cannot overflow.
///
/// A size that comes from a file or an option is checked here before anything is allocated: a
/// failed allocation aborts the process, a refused one is an error the user can act on.
public enum MemoryBudget {
    /// Bytes this process can hold: physical memory, or less under `ulimit -v` (three quarters of
    /// the limit: code, libraries and thread stacks take address space too).
    public static let availableBytes: Int = {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) &* Int(sysconf(Int32(_SC_PAGESIZE)))
        var limit = rlimit()
        // RLIM_INFINITY is all ones, above Int.max.
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur < UInt(Int.max) {
            return min(physical, Int(limit.rlim_cur) / 4 * 3)
        }
        return physical
    }()

    /// The product of `factors`, nil when it overflows `Int` or a factor is negative.
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (p, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            result = p
        }
        return result
    }

    /// The sum of `terms`, nil when it overflows.
    public static func sum(_ terms: [Int]) -> Int? {
        var result = 0
        for t in terms {
            let (s, overflow) = result.addingReportingOverflow(t)
            if overflow { return nil }
            result = s
        }
        return result
    }

    /// Throws unless `bytes` (nil: too large to count) fits in what this process can hold.
    /// `what` names the thing in the message, e.g. "a batch of 1000000 images for vgg16".
    public static func check(_ bytes: Int?, for what: String, hint: String = "") throws {
        guard let bytes, bytes <= availableBytes else {
            let size = bytes.map { "about " + describe($0) } ?? "more bytes than can be counted"
            throw Exceeded(description: "\(what) would need \(size) of memory; this machine can hold "
                + describe(availableBytes) + (hint.isEmpty ? "" : "; " + hint))
        }
    }

    /// `bytes` in a readable unit (`1.5 GB`, `12 MB`).
    public static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: value < 10 ? "%.1f " : "%.0f ", value) + units[unit]
    }

    /// A size refused before allocating it.
    public struct Exceeded: Error, CustomStringConvertible {
        public let description: String
    }
}
