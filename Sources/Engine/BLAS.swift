import CBLAS

/// Row-major single-precision GEMM on OpenBLAS.
///
/// Debian's default OpenBLAS is the pthread build. We pin it to one thread and split work across
/// our own `Parallel` pool instead: a threaded BLAS called from inside parallel work would start
/// two threads per core (a known 10-30x slowdown), and our fixed partition keeps results
/// reproducible for a given thread count.
public enum BLAS {
    static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// C = alpha * op(A) * op(B) + beta * C, all row-major, on the calling thread.
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = configured
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
            // Column blocks stay multiples of 16 so every thread runs full-width kernels.
            let blocks = (n + 15) / 16
            Parallel.forRanges(blocks) { r in
                let lo = r.lowerBound * 16, hi = min(n, r.upperBound * 16)
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
