// Winograd F(m x m, 3 x 3) transforms for stride-1 3x3 convolutions on NHWC data (m = 2 or 4); the
// products between them are ordinary zoo_sgemm calls, one per point of the t x t tile.
#include "CKernels.h"

#include <pthread.h>
#include <stdlib.h>

/// Channels are transformed this many at a time (one AVX-512 vector); padded buffers round up to it.
#define WINO_LANES 16
static inline long wino_round_up(long n) { return (n + WINO_LANES - 1) / WINO_LANES * WINO_LANES; }

#define WINO_TARGET
#define WINO_NAME(f) winograd_##f##_portable
#include "winograd_body.h"
#undef WINO_TARGET
#undef WINO_NAME

#if defined(__x86_64__)
#define WINO_TARGET __attribute__((target("avx2,fma")))
#define WINO_NAME(f) winograd_##f##_avx2
#include "winograd_body.h"
#undef WINO_TARGET
#undef WINO_NAME

#define WINO_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define WINO_NAME(f) winograd_##f##_avx512
#include "winograd_body.h"
#undef WINO_TARGET
#undef WINO_NAME
#endif

void zoo_winograd_input(const zoo_winograd_geometry *g, int m, const float *x, long first, long count,
                        float *v, long ldv, float *patch) {
    switch (zoo_sgemm_active_isa()) {
#if defined(__x86_64__)
    case ZOO_GEMM_AVX512: winograd_input_avx512(g, m, x, first, count, v, ldv, patch); break;
    case ZOO_GEMM_AVX2: winograd_input_avx2(g, m, x, first, count, v, ldv, patch); break;
#endif
    default: winograd_input_portable(g, m, x, first, count, v, ldv, patch); break;
    }
}

void zoo_winograd_output(const zoo_winograd_geometry *g, int m, const float *mm, long ldm, long first, long count,
                         long k0, long kn, const float *scale, const float *shift, int relu, float *y) {
    switch (zoo_sgemm_active_isa()) {
#if defined(__x86_64__)
    case ZOO_GEMM_AVX512: winograd_output_avx512(g, m, mm, ldm, first, count, k0, kn, scale, shift, relu, y); break;
    case ZOO_GEMM_AVX2: winograd_output_avx2(g, m, mm, ldm, first, count, k0, kn, scale, shift, relu, y); break;
#endif
    default: winograd_output_portable(g, m, mm, ldm, first, count, k0, kn, scale, shift, relu, y); break;
    }
}

void zoo_winograd_kernel(int m, const float *g, long plane, long first, long count, float *u) {
    switch (zoo_sgemm_active_isa()) {
#if defined(__x86_64__)
    case ZOO_GEMM_AVX512: winograd_kernel_avx512(m, g, plane, first, count, u); break;
    case ZOO_GEMM_AVX2: winograd_kernel_avx2(m, g, plane, first, count, u); break;
#endif
    default: winograd_kernel_portable(m, g, plane, first, count, u); break;
    }
}

// One growable buffer per thread, kept between calls: fresh memory every call measured up to 2.5x
// slower on small layers (page faults on each new mapping).
typedef struct { float *data; long capacity; } wino_buffer;
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;

static void free_buffer(void *p) { wino_buffer *b = p; free(b->data); free(b); }
static void make_buffer_key(void) { pthread_key_create(&buffer_key, free_buffer); }

float *zoo_winograd_scratch(long floats) {
    pthread_once(&buffer_once, make_buffer_key);
    wino_buffer *b = pthread_getspecific(buffer_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || pthread_setspecific(buffer_key, b) != 0) { free(b); return NULL; }
    }
    if (b->capacity < floats) {
        free(b->data);
        b->data = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        b->capacity = b->data ? floats : 0;
    }
    return b->data;
}
