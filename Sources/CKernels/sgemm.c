// zoo_sgemm's entry point: argument edge cases, the instruction-set choice and per-thread scratch.
#include "CKernels.h"
#include "gemm_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/// The forced path, or -1 for automatic.
static _Atomic int forced_isa = -1;

int zoo_sgemm_supports(int isa) {
    switch (isa) {
    case ZOO_GEMM_PORTABLE: return 1;
#if defined(__x86_64__)
    case ZOO_GEMM_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ZOO_GEMM_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

int zoo_sgemm_best_isa(void) {
    static _Atomic int best = -1;
    int b = atomic_load_explicit(&best, memory_order_relaxed);
    if (b < 0) {
        b = zoo_sgemm_supports(ZOO_GEMM_AVX512) ? ZOO_GEMM_AVX512
          : zoo_sgemm_supports(ZOO_GEMM_AVX2) ? ZOO_GEMM_AVX2 : ZOO_GEMM_PORTABLE;
        atomic_store_explicit(&best, b, memory_order_relaxed);
    }
    return b;
}

int zoo_sgemm_active_isa(void) {
    int f = atomic_load_explicit(&forced_isa, memory_order_relaxed);
    return f >= 0 ? f : zoo_sgemm_best_isa();
}

const char *zoo_sgemm_isa(void) {
    switch (zoo_sgemm_active_isa()) {
    case ZOO_GEMM_AVX512: return "avx512";
    case ZOO_GEMM_AVX2: return "avx2";
    default: return "portable";
    }
}

int zoo_sgemm_force_isa(int isa) {
    if (isa < 0) { atomic_store(&forced_isa, -1); return 1; }
    if (!zoo_sgemm_supports(isa)) return 0;
    atomic_store(&forced_isa, isa);
    return 1;
}

// Each thread packs into its own buffer, allocated on first use and freed when the thread ends.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free); }

static float *thread_scratch(void) {
    pthread_once(&scratch_once, make_scratch_key);
    float *s = pthread_getspecific(scratch_key);
    if (!s) {
        // 64-byte alignment: packed B panels are read with aligned vector loads.
        s = aligned_alloc(64, (ZOO_GEMM_SCRATCH_FLOATS * sizeof(float) + 63) / 64 * 64);
        if (s) pthread_setspecific(scratch_key, s);
    }
    return s;
}

/// C = beta * C, with beta == 0 clearing C whatever it held.
static void scale_c(long M, long N, float beta, float *C, long ldc) {
    if (beta == 1) return;
    for (long i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0) for (long j = 0; j < N; j++) c[j] = 0;
        else for (long j = 0; j < N; j++) c[j] *= beta;
    }
}

/// Plain triple loop: only used if the scratch buffer cannot be allocated.
static void naive_sgemm(const zoo_gemm_call *g) {
    for (long i = 0; i < g->M; i++) {
        for (long j = 0; j < g->N; j++) {
            float s = 0;
            for (long k = 0; k < g->K; k++) {
                float a = g->transA ? g->A[k * g->lda + i] : g->A[i * g->lda + k];
                float b = g->transB ? g->B[j * g->ldb + k] : g->B[k * g->ldb + j];
                s += a * b;
            }
            float *c = g->C + i * g->ldc + j;
            *c = g->beta == 0 ? g->alpha * s : g->alpha * s + g->beta * *c;
        }
    }
}

void zoo_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
               const float *B, long ldb, float beta, float *C, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0) { scale_c(M, N, beta, C, ldc); return; }
    const zoo_gemm_call call = {transA != 0, transB != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    float *scratch = thread_scratch();
    if (!scratch) { naive_sgemm(&call); return; }
    switch (zoo_sgemm_active_isa()) {
#if defined(__x86_64__)
    case ZOO_GEMM_AVX512: zoo_sgemm_avx512(&call, scratch); break;
    case ZOO_GEMM_AVX2: zoo_sgemm_avx2(&call, scratch); break;
#endif
    default: zoo_sgemm_portable(&call, scratch); break;
    }
}
