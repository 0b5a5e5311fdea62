// AVX-512 path: a 12 x 32 micro-kernel (24 zmm accumulators, two zmm of B per k, twelve broadcasts).
// Every function here carries the AVX-512 target attribute; nothing runs unless the CPU has it.
#if defined(__x86_64__)
#include <immintrin.h>
#include "gemm_internal.h"
#include "gemm_rows.h"

#define ZOO_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define ZOO_DRIVER zoo_sgemm_avx512
#define MR 12
#define NR 32
#define KC 384
#define NC 512
#define DIRECT_TN_NC 128

/// The micro-kernel on `rows` (a constant, at most MR) rows, A's element (r, k) at ap[r * rs + k * cs].
ZOO_TARGET static inline __attribute__((always_inline)) void
kernel_12x32(long kc, const float *restrict ap, long rs, long cs, const int rows, const float *restrict bp,
             float *restrict c, long ldc, float alpha, float beta) {
    __m512 acc[MR][2];
    _Pragma("unroll")
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            const __m512 a = _mm512_set1_ps(ap[r * rs]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
        ap += cs;
        bp += NR;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    if (beta == 0) {
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            _mm512_storeu_ps(c + r * ldc, _mm512_mul_ps(va, acc[r][0]));
            _mm512_storeu_ps(c + r * ldc + 16, _mm512_mul_ps(va, acc[r][1]));
        }
    } else if (beta == 1) {
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            _mm512_storeu_ps(c + r * ldc, _mm512_fmadd_ps(va, acc[r][0], _mm512_loadu_ps(c + r * ldc)));
            _mm512_storeu_ps(c + r * ldc + 16, _mm512_fmadd_ps(va, acc[r][1], _mm512_loadu_ps(c + r * ldc + 16)));
        }
    } else {
        const __m512 vb = _mm512_set1_ps(beta);
        _Pragma("unroll")
        for (int r = 0; r < rows; r++) {
            _mm512_storeu_ps(c + r * ldc,
                             _mm512_fmadd_ps(va, acc[r][0], _mm512_mul_ps(vb, _mm512_loadu_ps(c + r * ldc))));
            _mm512_storeu_ps(c + r * ldc + 16,
                             _mm512_fmadd_ps(va, acc[r][1], _mm512_mul_ps(vb, _mm512_loadu_ps(c + r * ldc + 16))));
        }
    }
}

ZOO_TARGET static void kernel_rows(long kc, const float *a, long rs, long mr, const float *bp, float *c, long ldc,
                                   float alpha, float beta) {
#define ZOO_KERNEL(rows) kernel_12x32(kc, a, rs, 1, rows, bp, c, ldc, alpha, beta); a += (rows) * rs
    ZOO_SPLIT_ROWS(mr);
#undef ZOO_KERNEL
}

ZOO_TARGET static void kernel_cols(long kc, const float *a, long cs, long mr, const float *bp, float *c, long ldc,
                                   float alpha, float beta) {
#define ZOO_KERNEL(rows) kernel_12x32(kc, a, 1, cs, rows, bp, c, ldc, alpha, beta); a += (rows)
    ZOO_SPLIT_ROWS(mr);
#undef ZOO_KERNEL
}

#include "gemm_driver.h"

#endif
