// Shared between the dispatcher (sgemm.c) and the per-instruction-set drivers.
#ifndef ZOO_GEMM_INTERNAL_H
#define ZOO_GEMM_INTERNAL_H

/// One zoo_sgemm call's arguments; M, N, K >= 1 and alpha != 0 by the time a driver sees it.
typedef struct {
    int transA, transB;
    long M, N, K;
    float alpha;
    const float *A;
    long lda;
    const float *B;
    long ldb;
    float beta;
    float *C;
    long ldc;
} zoo_gemm_call;

/// Floats of per-thread scratch every driver fits in: a KC x NC block of B, an MR x KC panel of A,
/// one MR x NR edge tile. Sized for the largest blocking (AVX-512's, in sgemm_avx512.c).
#define ZOO_GEMM_SCRATCH_FLOATS (384 * 512 + 16 * 384 + 16 * 64)

void zoo_sgemm_avx512(const zoo_gemm_call *call, float *scratch);
void zoo_sgemm_avx2(const zoo_gemm_call *call, float *scratch);
void zoo_sgemm_portable(const zoo_gemm_call *call, float *scratch);

#endif
