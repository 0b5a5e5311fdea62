import CBLAS
import CKernels
import Foundation

/// Row-major single-precision GEMM: ConvZoo's own kernels (CKernels) where the CPU has AVX2 or AVX-512,
/// OpenBLAS otherwise; OpenBLAS also serves sgemv.
///
/// Why our own: Debian's OpenBLAS 0.3.21 does not know Zen 5 and must be pinned there with
/// `OPENBLAS_CORETYPE=Haswell`, an AVX2 kernel at half the speed AVX-512 gives. `ZOO_GEMM=openblas|avx2|avx512`
/// overrides the choice (an unsupported request falls back to the default).
///
/// Everything is single-threaded on the calling thread: Debian's default OpenBLAS is the pthread build,
/// so we pin it to one thread and split work across our own `Parallel` pool instead. A threaded BLAS
/// called from inside parallel work would start two threads per core (a known 10-30x slowdown), and our
/// fixed partition keeps results reproducible for a given thread count.
public enum BLAS {
    /// The GEMM implementations `sgemm` can run.
    public enum Kernel: Int32, CaseIterable, Sendable {
        case openBLAS = -1, portable = 0, avx2 = 1, avx512 = 2

        /// Whether this CPU can run it.
        public var isSupported: Bool { self == .openBLAS || zoo_sgemm_supports(rawValue) != 0 }
    }

    /// Reads `ZOO_GEMM` once; the default is our fastest supported kernel, OpenBLAS on CPUs without AVX2.
    static let configured: Bool = {
        openblas_set_num_threads(1)
        let requested = ProcessInfo.processInfo.environment["ZOO_GEMM"].flatMap { name in
            Kernel.allCases.first { "\($0)".lowercased() == name.lowercased() }
        }
        applyKernel(requested.flatMap { $0.isSupported ? $0 : nil } ?? defaultKernel)
        return true
    }()

    static var defaultKernel: Kernel { Kernel.avx2.isSupported ? Kernel(rawValue: zoo_sgemm_best_isa())! : .openBLAS }

    /// True when `sgemm` calls OpenBLAS rather than `zoo_sgemm`.
    private static var usesOpenBLAS = true

    private static func applyKernel(_ k: Kernel) {
        guard k.isSupported else { return }
        usesOpenBLAS = k == .openBLAS
        if k != .openBLAS { zoo_sgemm_force_isa(k.rawValue) }
    }

    /// The kernel `sgemm` runs; setting an unsupported one leaves it unchanged (tests and benchmarks
    /// switch it, the engine never does).
    public static var kernel: Kernel {
        get { _ = configured; return usesOpenBLAS ? .openBLAS : Kernel(rawValue: zoo_sgemm_active_isa())! }
        set { _ = configured; applyKernel(newValue) }
    }

    /// A one-line description of the active kernel, e.g. "zoo avx512" or "openblas Haswell".
    public static var kernelDescription: String {
        kernel == .openBLAS ? "openblas " + String(cString: openblas_get_corename()) : "zoo " + String(cString: zoo_sgemm_isa())
    }

    /// C = alpha * op(A) * op(B) + beta * C, all row-major, on the calling thread.
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = configured
        guard m > 0, n > 0 else { return }
        if usesOpenBLAS {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else {
            zoo_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// The same product split across the pool: by rows of C when it is tall, by columns when wide.
    /// Each element of C is computed by exactly one thread, so the result does not depend on timing.
    public static func parallelSgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let threads = Parallel.threadCount
        // Tiny products are not worth a thread hand-off.
        if threads == 1 || m * n * max(k, 1) < 64 * 64 * 64 {
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                  b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        if m >= n {
            Parallel.forRanges(m, minimumChunk: 16) { rows in
                let aStart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
                sgemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
                      a: aStart, lda: lda, b: b, ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Column blocks stay multiples of 32 so every thread runs full-width kernels (12x32 or 6x16).
            let blocks = (n + 31) / 32
            Parallel.forRanges(blocks) { r in
                let lo = r.lowerBound * 32, hi = min(n, r.upperBound * 32)
                let bStart = transB ? b + lo * ldb : b + lo
                sgemm(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
                      b: bStart, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
            }
        }
    }
}

extension BLAS {
    /// y = x * W for one row x (length k) and a row-major W (k, n), split by columns across the pool.
    /// This is a batch-1 Dense layer: memory-bound, so W is streamed exactly once.
    public static func parallelRowTimesMatrix(
        x: UnsafePointer<Float>, w: UnsafePointer<Float>, k: Int, n: Int, beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        _ = configured
        let blocks = (n + 15) / 16
        Parallel.forRanges(blocks, minimumChunk: k * n < 1 << 16 ? blocks : 1) { r in
            let lo = r.lowerBound * 16, hi = min(n, r.upperBound * 16)
            // Row-major W^T x over the column block: W viewed as (k, hi - lo) with leading dimension n.
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(hi - lo), 1, w + lo, Int32(n), x, 1,
                        beta, y + lo, 1)
        }
    }
}
