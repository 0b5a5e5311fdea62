// AVX2 + FMA path: a 6 x 16 micro-kernel (12 ymm accumulators, two ymm of B per k, six broadcasts).
// Every function here carries the AVX2/FMA target attribute; nothing runs unless the CPU has it.
#if defined(__x86_64__)
#include <immintrin.h>
#include "gemm_internal.h"
#include "gemm_rows.h"

#define ZOO_TARGET __attribute__((target("avx2,fma")))
#define ZOO_DRIVER zoo_sgemm_avx2
#define MR 6
#define NR 16
#define KC 256
#define NC 512
#define DIRECT_TN_NC 128

/// The micro-kernel on `rows` (a constant, at most MR) rows, A's element (r, k) at ap[r * rs + k * cs].
ZOO_TARGET static inline __attribute__((always_inline)) void
kernel_6x16(long kc, const float *restrict ap, long rs, long cs, const int rows, const float *restrict bp,
            float *restrict c, long ldc, float alpha, float beta) {
    __m256 acc[MR][2];
    _Pragma("unroll")
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (long k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            const __m256 a = _mm256_broadcast_ss(ap + r * rs);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
        ap += cs;
        bp += NR;
    }
    const __m256 va = _mm256_set1_ps(alpha);
    if (beta == 0) {
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(va, acc[r][0]));
            _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(va, acc[r][1]));
        }
    } else if (beta == 1) {
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            _mm256_storeu_ps(c + r * ldc, _mm256_fmadd_ps(va, acc[r][0], _mm256_loadu_ps(c + r * ldc)));
            _mm256_storeu_ps(c + r * ldc + 8, _mm256_fmadd_ps(va, acc[r][1], _mm256_loadu_ps(c + r * ldc + 8)));
        }
    } else {
        const __m256 vb = _mm256_set1_ps(beta);
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            _mm256_storeu_ps(c + r * ldc,
                             _mm256_fmadd_ps(va, acc[r][0], _mm256_mul_ps(vb, _mm256_loadu_ps(c + r * ldc))));
            _mm256_storeu_ps(c + r * ldc + 8,
                             _mm256_fmadd_ps(va, acc[r][1], _mm256_mul_ps(vb, _mm256_loadu_ps(c + r * ldc + 8))));
        }
    }
}

ZOO_TARGET static void kernel_rows(long kc, const float *a, long rs, long mr, const float *bp, float *c, long ldc,
                                   float alpha, float beta) {
#define ZOO_KERNEL(rows) kernel_6x16(kc, a, rs, 1, rows, bp, c, ldc, alpha, beta); a += (rows) * rs
    ZOO_SPLIT_ROWS(mr);
#undef ZOO_KERNEL
}

ZOO_TARGET static void kernel_cols(long kc, const float *a, long cs, long mr, const float *bp, float *c, long ldc,
                                   float alpha, float beta) {
#define ZOO_KERNEL(rows) kernel_6x16(kc, a, 1, cs, rows, bp, c, ldc, alpha, beta); a += (rows)
    ZOO_SPLIT_ROWS(mr);
#undef ZOO_KERNEL
}

#include "gemm_driver.h"

#endif
