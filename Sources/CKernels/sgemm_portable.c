// Portable path: the same blocking with a plain C 4 x 8 micro-kernel, for CPUs without AVX2/FMA
// (and as a reference path the tests can force). Compiled for the baseline target only.
#include "gemm_internal.h"
#include "gemm_rows.h"

#define ZOO_TARGET
#define ZOO_DRIVER zoo_sgemm_portable
#define MR 4
#define NR 8
#define KC 256
#define NC 512
#define DIRECT_TN_NC 128

static inline __attribute__((always_inline)) void
kernel_4x8(long kc, const float *restrict ap, long rs, long cs, const int rows, const float *restrict bp,
           float *restrict c, long ldc,
           float alpha, float beta) {
    float acc[MR][NR] = {{0}};
    for (long k = 0; k < kc; k++) {
        for (int r = 0; r < rows; r++) {
            const float a = ap[r * rs];
            for (int j = 0; j < NR; j++) acc[r][j] += a * bp[j];
        }
        ap += cs;
        bp += NR;
    }
    for (int r = 0; r < rows; r++) {
        float *cr = c + r * ldc;
        if (beta == 0) {
            for (int j = 0; j < NR; j++) cr[j] = alpha * acc[r][j];
        } else {
            for (int j = 0; j < NR; j++) cr[j] = alpha * acc[r][j] + beta * cr[j];
        }
    }
}

static void kernel_rows(long kc, const float *a, long rs, long mr, const float *bp, float *c, long ldc,
                        float alpha, float beta) {
#define ZOO_KERNEL(rows) kernel_4x8(kc, a, rs, 1, rows, bp, c, ldc, alpha, beta); a += (rows) * rs
    ZOO_SPLIT_ROWS(mr);
#undef ZOO_KERNEL
}

static void kernel_cols(long kc, const float *a, long cs, long mr, const float *bp, float *c, long ldc,
                        float alpha, float beta) {
#define ZOO_KERNEL(rows) kernel_4x8(kc, a, 1, cs, rows, bp, c, ldc, alpha, beta); a += (rows)
    ZOO_SPLIT_ROWS(mr);
#undef ZOO_KERNEL
}

#include "gemm_driver.h"
