import CHDF5
import Foundation

/// Process-wide access to libhdf5.
///
/// Every call into the library goes through `serialized`, which holds one recursive lock (a
/// serial libhdf5 is not safe from several threads, and one lock costs nothing next to file I/O)
/// and keeps HDF5 from printing its error stack to stderr: failures become Swift errors instead,
/// carrying the stack's innermost message.
enum HDF5Library {
    private static let lock = NSRecursiveLock()

    static func serialized<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        // Thread-safe builds keep one error-stack setting per thread, so silence it on every entry.
        H5Eset_auto2(convzoo_h5e_default(), nil, nil)
        return try body()
    }

    /// The most specific message on this thread's HDF5 error stack, which is then cleared.
    static func takeErrorMessage() -> String? {
        final class Box { var messages: [String] = [] }
        let box = Box()
        let walker: H5E_walk2_t = { _, entry, context in
            guard let entry, let context, let desc = entry.pointee.desc else { return 0 }
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().messages.append(String(cString: desc))
            return 0
        }
        _ = H5Ewalk2(convzoo_h5e_default(), H5E_WALK_UPWARD, walker, Unmanaged.passUnretained(box).toOpaque())
        H5Eclear2(convzoo_h5e_default())
        return box.messages.first { !$0.isEmpty }
    }

    /// "message (HDF5: detail)" when HDF5 left a detail on its error stack.
    static func withDetail(_ message: String) -> String {
        guard let detail = takeErrorMessage() else { return message }
        return "\(message) (HDF5: \(detail))"
    }
}

/// An HDF5 identifier that is closed once, when the last Swift reference to it goes away.
final class HDF5Handle {
    let id: hid_t
    private let closer: (hid_t) -> herr_t

    /// Wraps `id`, or returns nil when the HDF5 call that produced it failed (negative id).
    init?(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        guard id >= 0 else { return nil }
        self.id = id
        self.closer = close
    }

    deinit {
        let id = self.id, closer = self.closer
        HDF5Library.serialized { _ = closer(id) }
    }
}
