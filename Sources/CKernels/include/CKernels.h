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

/// Runs `iterations` rounds of independent FMAs in registers with the active GEMM path's vector width
/// and returns the floating-point operations done (the result goes to `sink` so nothing is optimized away).
double zoo_fma_loop(long iterations, float *sink);

/// One pause instruction, for a thread spinning on a shared flag.
void zoo_spin_pause(void);

/// A stride-1 3x3 convolution's shape as the Winograd transforms see it; tiles are m x m output blocks
/// numbered image by image, row by row.
typedef struct {
    long height, width, channels;          ///< input, NHWC
    long out_height, out_width, filters;   ///< output, NHWC
    long pad_top, pad_left;
    long tiles_y, tiles_x;                 ///< tiles per image: ceil(out / m) each way
} zoo_winograd_geometry;

/// Transforms the input windows of tiles first..<first+count (m = 2 or 4, t = m + 2): point (i, j) of
/// tile n, channel c goes to v[(i * t + j) * ldv + n * cp + c], cp = channels rounded up to 16 (the extra
/// lanes get zeros). `patch` holds t * t * cp floats.
void zoo_winograd_input(const zoo_winograd_geometry *g, int m, const float *x, long first, long count,
                        float *v, long ldv, float *patch);

/// Writes y = act(A^T M A * scale + shift) for tiles first..<first+count and filters k0..<k0+kn, from the
/// products mm[(i * t + j) * ldm + n * knp + k], knp = kn rounded up to 16; scale and shift (indexed by
/// filter) may be NULL, relu != 0 clamps at zero. Outputs past the image's edge are dropped.
void zoo_winograd_output(const zoo_winograd_geometry *g, int m, const float *mm, long ldm, long first, long count,
                         long k0, long kn, const float *scale, const float *shift, int relu, float *y);

/// This thread's scratch buffer of at least `floats` floats, kept for the thread's next calls (and freed
/// when it ends); NULL if it cannot be allocated. Its contents are undefined.
float *zoo_winograd_scratch(long floats);

/// u[p * plane + e] = (G g G^T) at point p, for elements first..<first+count of a (3, 3, C, K) kernel g
/// (plane = C * K): the transformed kernel, computed in double and rounded once.
void zoo_winograd_kernel(int m, const float *g, long plane, long first, long count, float *u);

#ifdef __cplusplus
}
#endif

#endif
