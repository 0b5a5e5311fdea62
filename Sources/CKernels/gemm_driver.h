// Goto/BLIS blocking around a register micro-kernel, instantiated once per instruction set: each
// ISA's .c file defines the macros below and its two micro-kernels, then includes this file, so the
// packing loops are compiled (and vectorized) for that ISA too.
//
//   ZOO_TARGET   function attribute selecting the ISA (empty for the portable path)
//   ZOO_DRIVER   name of the driver function to define
//   MR, NR       micro-tile: MR rows of C (broadcast from A) by NR columns (vector loads of B)
//   KC, NC       cache blocks: a KC x NC block of packed B stays in L2 while MR-row panels of A
//                (MR x KC, in L1) sweep over it
//   DIRECT_TN_NC widest column block for which a transposed A is read in place rather than packed
//
// Kernels, both computing C[mr x NR] = alpha * A_panel * B_panel + beta * C (beta == 0: C not read)
// for mr <= MR rows (fewer than MR run as 8-, 4-, 2- and 1-row kernels, see gemm_rows.h):
//   kernel_rows(kc, a, rs, mr, bp, c, ldc, alpha, beta)  A's element (r, k) at a[r * rs + k]
//   kernel_cols(kc, a, cs, mr, bp, c, ldc, alpha, beta)  A's element (r, k) at a[r + k * cs]
// B panels are always packed k-major: bp[k * NR + j], zero-padded to NR columns.
//
// A non-transposed A is read where it lies (kernel_rows with rs = lda): its rows are contiguous in k,
// and copying them measured slower than streaming them. A transposed A (stored K x M) holds mr
// contiguous values per k, read in place too (kernel_cols with cs = lda) when few kernels reuse the
// panel; when many do (wide N), packing it measured faster: its lines then stay in L1.

static inline long zoo_min(long a, long b) { return a < b ? a : b; }

/// Rows ic..ic+mr, columns pc..pc+kc of a transposed A stored K x M (`at` points at At[pc][ic]) as one
/// k-major panel ap[k * MR + r].
ZOO_TARGET static void pack_a_transposed(const float *restrict at, long lda, long mr, long kc, float *restrict ap) {
    if (mr == MR) {
        for (long k = 0; k < kc; k++)
            for (long r = 0; r < MR; r++) ap[k * MR + r] = at[k * lda + r];
        return;
    }
    for (long k = 0; k < kc; k++)
        for (long r = 0; r < mr; r++) ap[k * MR + r] = at[k * lda + r];
}

/// A kc x nc block of a non-transposed B (`b` points at B[pc][jc]) as NR-column panels.
ZOO_TARGET static void pack_b_n(const float *restrict b, long ldb, long kc, long nc, float *restrict bp) {
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long nr = zoo_min(NR, nc - j0);
        float *dst = bp + j0 * kc;
        const float *src = b + j0;
        if (nr == NR) {
            for (long k = 0; k < kc; k++)
                for (long j = 0; j < NR; j++) dst[k * NR + j] = src[k * ldb + j];
        } else {
            for (long k = 0; k < kc; k++) {
                for (long j = 0; j < nr; j++) dst[k * NR + j] = src[k * ldb + j];
                for (long j = nr; j < NR; j++) dst[k * NR + j] = 0;
            }
        }
    }
}

/// The same block from a transposed B stored N x K (`bt` points at Bt[jc][pc]).
ZOO_TARGET static void pack_b_t(const float *restrict bt, long ldb, long kc, long nc, float *restrict bp) {
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long nr = zoo_min(NR, nc - j0);
        float *dst = bp + j0 * kc;
        // Eight k at a time keeps the strided writes within a few lines of the panel.
        long k0 = 0;
        for (; k0 + 8 <= kc; k0 += 8) {
            for (long j = 0; j < nr; j++) {
                const float *src = bt + (j0 + j) * ldb + k0;
                for (long k = 0; k < 8; k++) dst[(k0 + k) * NR + j] = src[k];
            }
        }
        for (long j = 0; j < nr; j++) {
            const float *src = bt + (j0 + j) * ldb;
            for (long k = k0; k < kc; k++) dst[k * NR + j] = src[k];
        }
        for (long k = 0; k < kc; k++)
            for (long j = nr; j < NR; j++) dst[k * NR + j] = 0;
    }
}

/// C[mr x nr] = alpha * tile + beta * C for a partial tile computed into scratch.
ZOO_TARGET static void merge_edge(const float *restrict tile, float *restrict c, long ldc, long mr, long nr,
                                  float alpha, float beta) {
    for (long r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        const float *tr = tile + r * NR;
        if (beta == 0) {
            for (long j = 0; j < nr; j++) cr[j] = alpha * tr[j];
        } else {
            for (long j = 0; j < nr; j++) cr[j] = alpha * tr[j] + beta * cr[j];
        }
    }
}

/// Splits n into equal blocks of at most `block`, each a multiple of `unit` (the last may be shorter).
static inline long zoo_balanced_block(long n, long block, long unit) {
    long count = (n + block - 1) / block;
    long size = (n + count - 1) / count;
    return (size + unit - 1) / unit * unit;
}

ZOO_TARGET void ZOO_DRIVER(const zoo_gemm_call *g, float *scratch) {
    float *bpack = scratch;
    float *apack = bpack + KC * NC;
    float *edge = apack + MR * KC;
    const long M = g->M, N = g->N, K = g->K, lda = g->lda;
    const long ncBlock = zoo_balanced_block(N, NC, NR);
    const long kcBlock = zoo_balanced_block(K, KC, 1);
    for (long jc = 0; jc < N; jc += ncBlock) {
        const long nc = zoo_min(ncBlock, N - jc);
        const int packTransposed = nc > DIRECT_TN_NC;
        for (long pc = 0; pc < K; pc += kcBlock) {
            const long kc = zoo_min(kcBlock, K - pc);
            // Later K blocks add onto what the first one wrote.
            const float beta = pc == 0 ? g->beta : 1.0f;
            if (g->transB) pack_b_t(g->B + jc * g->ldb + pc, g->ldb, kc, nc, bpack);
            else pack_b_n(g->B + pc * g->ldb + jc, g->ldb, kc, nc, bpack);
            for (long ic = 0; ic < M; ic += MR) {
                const long mr = zoo_min(MR, M - ic);
                const float *a = g->transA ? g->A + pc * lda + ic : g->A + ic * lda + pc;
                const int packed = g->transA && packTransposed;
                if (packed) pack_a_transposed(a, lda, mr, kc, apack);
                float *crow = g->C + ic * g->ldc + jc;
                for (long jr = 0; jr < nc; jr += NR) {
                    const long nr = zoo_min(NR, nc - jr);
                    const float *bp = bpack + jr * kc;
                    // Narrow tiles go through a scratch tile, so kernels only ever store whole rows of NR.
                    const int full = nr == NR;
                    float *c = full ? crow + jr : edge;
                    const long ldc = full ? g->ldc : NR;
                    const float alpha = full ? g->alpha : 1.0f, b = full ? beta : 0.0f;
                    if (packed) kernel_cols(kc, apack, MR, mr, bp, c, ldc, alpha, b);
                    else if (g->transA) kernel_cols(kc, a, lda, mr, bp, c, ldc, alpha, b);
                    else kernel_rows(kc, a, lda, mr, bp, c, ldc, alpha, b);
                    if (!full) merge_edge(edge, crow + jr, g->ldc, mr, nr, g->alpha, beta);
                }
            }
        }
    }
}

_Static_assert(KC * NC + MR * KC + MR * NR <= ZOO_GEMM_SCRATCH_FLOATS, "blocking exceeds the scratch buffer");
