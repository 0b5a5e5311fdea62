// A register-only FMA loop for measuring the machine's floating-point peak: enough independent
// accumulator chains to cover the FMA latency on every port, nothing touching memory.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static float fma_loop_avx512(long iterations) {
    __m512 acc[12];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iterations; n++) {
        _Pragma("unroll")
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long iterations) {
    __m256 acc[12];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iterations; n++) {
        _Pragma("unroll")
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

static float fma_loop_portable(long iterations) {
    float acc[12];
    for (int i = 0; i < 12; i++) acc[i] = (float)i;
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < 12; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
    float s = 0;
    for (int i = 0; i < 12; i++) s += acc[i];
    return s;
}

double zoo_fma_loop(long iterations, float *sink) {
    switch (zoo_sgemm_active_isa()) {
#if defined(__x86_64__)
    case ZOO_GEMM_AVX512: *sink = fma_loop_avx512(iterations); return 12.0 * 16 * 2 * (double)iterations;
    case ZOO_GEMM_AVX2: *sink = fma_loop_avx2(iterations); return 12.0 * 8 * 2 * (double)iterations;
#endif
    default: *sink = fma_loop_portable(iterations); return 12.0 * 2 * (double)iterations;
    }
}
