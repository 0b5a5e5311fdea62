import CMPIShim
import Foundation

/// The processes of a job started by `mpirun` (Open MPI), one rank each, and the collective
/// operations data-parallel work needs: sums, broadcasts and gathers over every rank.
///
/// MPI is initialized only when the process was launched by mpirun (`Cluster.world()`), so
/// plain `zoo` never touches it. A failed call throws `ClusterError`; a rank that dies ends the
/// whole job (mpirun's default), so no rank waits forever on a collective.
public final class Cluster: BatchStatisticsGroup {
    /// This process's place in the job, 0..<size.
    public let rank: Int
    /// The number of processes in the job.
    public let size: Int
    /// Rank 0 alone prints, writes files and reads what is broadcast.
    public var isRoot: Bool { rank == 0 }

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    private static var joined: Cluster?

    /// The job this process belongs to when mpirun started it (MPI initialized on the first call),
    /// nil for a process started any other way.
    public static func world() throws -> Cluster? {
        if let joined { return joined }
        guard Launch.current != nil else { return nil }
        var rank: Int32 = 0, size: Int32 = 0
        try call { convzoo_mpi_init(&rank, &size, $0, $1) }
        joined = Cluster(rank: Int(rank), size: Int(size))
        return joined
    }

    /// True once `world()` has initialized MPI in this process.
    public static var isJoined: Bool { joined != nil }

    /// Finalizes MPI if `world()` initialized it; the normal end of a run on every rank.
    public static func finish() {
        if joined != nil { _ = convzoo_mpi_finalize() }
        joined = nil
    }

    /// Ends every rank of the job with `code`: after an error on one rank, the others would wait
    /// for it forever in their next collective.
    public static func abort(code: Int32) -> Never {
        if joined != nil { convzoo_mpi_abort(code) }
        exit(code)
    }

    /// The portion of `0..<count` rank `rank` handles: contiguous, ranks in order, sizes differing
    /// by at most one (the first `count % size` ranks take one more).
    public func share(of count: Int, rank: Int? = nil) -> Range<Int> {
        Parallel.partition(count, parts: size, part: rank ?? self.rank)
    }

    /// This rank's whole batches of `0..<count` cut into batches of `batchSize`: a contiguous run of
    /// them (see `share(of:)`), so every batch holds the samples a single process's would and gives
    /// the same numbers.
    public func share(of count: Int, inBatchesOf batchSize: Int) -> Range<Int> {
        let batches = share(of: (count + batchSize - 1) / batchSize)
        return min(count, batches.lowerBound * batchSize)..<min(count, batches.upperBound * batchSize)
    }

    /// Sums `values` element-wise over every rank, in place on each.
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = values.baseAddress, size > 1 else { return }
        try Cluster.call { convzoo_mpi_sum_floats(base, values.count, $0, $1) }
    }

    /// Sums `values` element-wise over every rank.
    public func sum(_ values: [Double]) throws -> [Double] {
        guard size > 1 else { return values }
        var out = values
        try out.withUnsafeMutableBufferPointer { p in
            try Cluster.call { convzoo_mpi_sum_doubles(p.baseAddress!, p.count, $0, $1) }
        }
        return out
    }

    /// Every rank's `value`, in rank order, on every rank.
    public func allGather(_ value: Int) throws -> [Int] {
        guard size > 1 else { return [value] }
        var values = [Int64](repeating: 0, count: size)
        try values.withUnsafeMutableBufferPointer { p in
            try Cluster.call { convzoo_mpi_all_gather_long(Int64(value), p.baseAddress!, $0, $1) }
        }
        return values.map { Int($0) }
    }

    /// Rank `root`'s bytes of `buffer` copied into every other rank's `buffer` (the same size on all).
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int = 0) throws {
        guard let base = buffer.baseAddress, size > 1 else { return }
        try Cluster.call { convzoo_mpi_broadcast(base, buffer.count, Int32(root), $0, $1) }
    }

    /// Rank `root`'s `values` on every rank.
    public func broadcast(_ tensor: inout Tensor, from root: Int = 0) throws {
        try tensor.withUnsafeMutableBufferPointer { try broadcast(UnsafeMutableRawBufferPointer($0), from: root) }
    }

    /// Rank `root`'s `data` on every rank (what the others pass is ignored).
    public func broadcast(_ data: Data, from root: Int = 0) throws -> Data {
        guard size > 1 else { return data }
        var count = Int64(data.count)
        try withUnsafeMutableBytes(of: &count) { try broadcast($0, from: root) }
        var out = rank == root ? data : Data(count: Int(count))
        try out.withUnsafeMutableBytes { try broadcast($0, from: root) }
        return out
    }

    /// Every rank's `data`, in rank order, on every rank (sizes may differ).
    public func allGather(_ data: Data) throws -> [Data] {
        guard size > 1 else { return [data] }
        let sizes = try allGather(data.count)
        return try (0..<size).map { r in
            var piece = r == rank ? data : Data(count: sizes[r])
            try piece.withUnsafeMutableBytes { try broadcast($0, from: r) }
            return piece
        }
    }

    /// Every rank's `data`, in rank order, on rank `root`; nil on the others.
    public func gather(_ data: Data, to root: Int = 0) throws -> [Data]? {
        guard size > 1 else { return [data] }
        let sizes = try allGather(data.count)
        guard rank == root else {
            try data.withUnsafeBytes { p in
                try Cluster.call { convzoo_mpi_send(p.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, p.count, Int32(root), $0, $1) }
            }
            return nil
        }
        return try (0..<size).map { r in
            guard r != rank else { return data }
            var piece = Data(count: sizes[r])
            try piece.withUnsafeMutableBytes { p in
                try Cluster.call { convzoo_mpi_receive(p.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1)!, p.count, Int32(r), $0, $1) }
            }
            return piece
        }
    }

    /// Runs an MPI call of the shim, turning its failure into a `ClusterError` with MPI's message.
    private static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 512)
        let code = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard code == 0 else { throw ClusterError(String(cString: message)) }
    }
}

/// How mpirun started this process, read from the environment Open MPI (or PMIx) sets, before
/// and without initializing MPI.
public struct Launch {
    /// This process's rank and the job's size.
    public let rank: Int
    public let size: Int
    /// The job's processes on this machine (Open MPI's local size), 1 when unknown.
    public let localSize: Int

    /// The launch of this process, or nil when mpirun did not start it.
    public static let current: Launch? = {
        let env = ProcessInfo.processInfo.environment
        guard let size = (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMIX_SIZE"]).flatMap(Int.init), size > 0,
              let rank = (env["OMPI_COMM_WORLD_RANK"] ?? env["PMIX_RANK"]).flatMap(Int.init) else { return nil }
        let localSize = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init).map { max(1, $0) } ?? 1
        return Launch(rank: rank, size: size, localSize: localSize)
    }()
}

/// A collective operation of a data-parallel job that failed, with MPI's reason.
public struct ClusterError: Error, CustomStringConvertible {
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "MPI: \(message)" }
}
