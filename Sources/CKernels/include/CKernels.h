// ConvZoo's own compute kernels, compiled for several instruction sets and chosen at run time.
#ifndef CKERNELS_H
#define CKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set paths of zoo_sgemm.
typedef enum {
    ZOO_GEMM_PORTABLE = 0,  ///< plain C, any x86-64 or other CPU
    ZOO_GEMM_AVX2 = 1,      ///< AVX2 + FMA, 6x16 micro-kernel
    ZOO_GEMM_AVX512 = 2,    ///< AVX-512F/VL/BW/DQ + FMA, 12x32 micro-kernel
} zoo_gemm_isa;

/// C = alpha * op(A) * op(B) + beta * C, row-major, exactly cblas_sgemm(CblasRowMajor, ...) semantics
/// (beta == 0 ignores C's old contents, NaN included). Single-threaded: runs on the calling thread,
/// with a bounded per-thread packing buffer, so callers may run many calls concurrently.
void zoo_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
               const float *B, long ldb, float beta, float *C, long ldc);

/// The fastest path this CPU supports (what zoo_sgemm takes unless forced).
int zoo_sgemm_best_isa(void);

/// The path zoo_sgemm currently takes.
int zoo_sgemm_active_isa(void);

/// The active path's name: "avx512", "avx2" or "portable".
const char *zoo_sgemm_isa(void);

/// Whether this CPU (and OS) can run `isa`.
int zoo_sgemm_supports(int isa);

/// Forces a path (tests, benchmarks); -1 returns to the automatic choice (the best supported path).
/// Returns 1 when applied, 0 when the CPU cannot run `isa` (the path is then unchanged).
int zoo_sgemm_force_isa(int isa);

#ifdef __cplusplus
}
#endif

#endif
