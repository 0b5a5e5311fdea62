// The Winograd transforms of one instruction set: winograd.c defines WINO_TARGET (function attribute)
// and WINO_NAME(f) (per-ISA name) and includes this file once per ISA, so the loops over channels,
// innermost and contiguous in NHWC, are vectorized for that ISA.
//
// A tile is the t x t input window (t = m + 2) behind an m x m block of outputs. The transforms act on
// rows, then columns, with Lavin & Gray's matrices (points 0, +-1, +-2 for m = 4; 0, +-1 for m = 2):
// V = B^T d B (input), Y = A^T M A (output).

/// The patches of tiles `first..<first + count` transformed: v[(i * t + j) * ldv + tile * cp + c], where
/// cp is the channel count rounded up to WINO_LANES (the lanes past it hold zeros).
WINO_TARGET static void WINO_NAME(input)(const zoo_winograd_geometry *g, int m, const float *restrict x,
                                         long first, long count, float *restrict v, long ldv,
                                         float *restrict patch) {
    const int t = m + 2;
    const long C = g->channels, cp = wino_round_up(C);
    for (long n = 0; n < count; n++) {
        long tile = first + n;
        long image = tile / (g->tiles_y * g->tiles_x), r = tile % (g->tiles_y * g->tiles_x);
        long iy0 = (r / g->tiles_x) * m - g->pad_top, ix0 = (r % g->tiles_x) * m - g->pad_left;
        const float *xi = x + image * g->height * g->width * C;
        // The t x t window with channels padded to cp, zero outside the image.
        for (int i = 0; i < t; i++) {
            long iy = iy0 + i;
            for (int j = 0; j < t; j++) {
                long ix = ix0 + j;
                float *dst = patch + (long)(i * t + j) * cp;
                long c = 0;
                if (iy >= 0 && iy < g->height && ix >= 0 && ix < g->width) {
                    const float *src = xi + (iy * g->width + ix) * C;
                    for (; c < C; c++) dst[c] = src[c];
                }
                for (; c < cp; c++) dst[c] = 0;
            }
        }
        float *out = v + n * cp;
        for (long c0 = 0; c0 < cp; c0 += WINO_LANES) {
            const float *d = patch + c0;
            if (m == 4) {
                float w[6][6][WINO_LANES];
                for (int j = 0; j < 6; j++) {   // columns: B^T d
                    const float *d0 = d + (0 * 6 + j) * cp, *d1 = d + (1 * 6 + j) * cp, *d2 = d + (2 * 6 + j) * cp;
                    const float *d3 = d + (3 * 6 + j) * cp, *d4 = d + (4 * 6 + j) * cp, *d5 = d + (5 * 6 + j) * cp;
                    for (int l = 0; l < WINO_LANES; l++) {
                        w[0][j][l] = 4 * d0[l] - 5 * d2[l] + d4[l];
                        w[1][j][l] = -4 * (d1[l] + d2[l]) + d3[l] + d4[l];
                        w[2][j][l] = 4 * (d1[l] - d2[l]) - d3[l] + d4[l];
                        w[3][j][l] = 2 * (d3[l] - d1[l]) - d2[l] + d4[l];
                        w[4][j][l] = 2 * (d1[l] - d3[l]) - d2[l] + d4[l];
                        w[5][j][l] = 4 * d1[l] - 5 * d3[l] + d5[l];
                    }
                }
                for (int i = 0; i < 6; i++) {   // rows: (B^T d) B
                    float *o = out + (long)(i * 6) * ldv + c0;
                    const float *d0 = w[i][0], *d1 = w[i][1], *d2 = w[i][2], *d3 = w[i][3], *d4 = w[i][4], *d5 = w[i][5];
                    for (int l = 0; l < WINO_LANES; l++) {
                        o[0 * ldv + l] = 4 * d0[l] - 5 * d2[l] + d4[l];
                        o[1 * ldv + l] = -4 * (d1[l] + d2[l]) + d3[l] + d4[l];
                        o[2 * ldv + l] = 4 * (d1[l] - d2[l]) - d3[l] + d4[l];
                        o[3 * ldv + l] = 2 * (d3[l] - d1[l]) - d2[l] + d4[l];
                        o[4 * ldv + l] = 2 * (d1[l] - d3[l]) - d2[l] + d4[l];
                        o[5 * ldv + l] = 4 * d1[l] - 5 * d3[l] + d5[l];
                    }
                }
            } else {
                float w[4][4][WINO_LANES];
                for (int j = 0; j < 4; j++) {
                    const float *d0 = d + (0 * 4 + j) * cp, *d1 = d + (1 * 4 + j) * cp;
                    const float *d2 = d + (2 * 4 + j) * cp, *d3 = d + (3 * 4 + j) * cp;
                    for (int l = 0; l < WINO_LANES; l++) {
                        w[0][j][l] = d0[l] - d2[l]; w[1][j][l] = d1[l] + d2[l];
                        w[2][j][l] = d2[l] - d1[l]; w[3][j][l] = d1[l] - d3[l];
                    }
                }
                for (int i = 0; i < 4; i++) {
                    float *o = out + (long)(i * 4) * ldv + c0;
                    const float *d0 = w[i][0], *d1 = w[i][1], *d2 = w[i][2], *d3 = w[i][3];
                    for (int l = 0; l < WINO_LANES; l++) {
                        o[0 * ldv + l] = d0[l] - d2[l]; o[1 * ldv + l] = d1[l] + d2[l];
                        o[2 * ldv + l] = d2[l] - d1[l]; o[3 * ldv + l] = d1[l] - d3[l];
                    }
                }
            }
        }
    }
}

/// y = act(A^T M A * scale + shift) for tiles `first..<first + count`, filters k0..<k0 + kn, where the
/// products are mm[(i * t + j) * ldm + tile * knp + k], knp being kn rounded up to WINO_LANES. Outputs
/// past the image's edge are not written.
WINO_TARGET static void WINO_NAME(output)(const zoo_winograd_geometry *g, int m, const float *restrict mm, long ldm,
                                          long first, long count, long k0, long kn, const float *restrict scale,
                                          const float *restrict shift, int relu, float *restrict y) {
    const long K = g->filters, knp = wino_round_up(kn);
    for (long n = 0; n < count; n++) {
        long tile = first + n;
        long image = tile / (g->tiles_y * g->tiles_x), r = tile % (g->tiles_y * g->tiles_x);
        long oy0 = (r / g->tiles_x) * m, ox0 = (r % g->tiles_x) * m;
        long hy = g->out_height - oy0 < m ? g->out_height - oy0 : m;
        long hx = g->out_width - ox0 < m ? g->out_width - ox0 : m;
        float *yi = y + ((image * g->out_height + oy0) * g->out_width + ox0) * K + k0;
        for (long kb = 0; kb < kn; kb += WINO_LANES) {
            const float *src = mm + n * knp + kb;
            float o[4][4][WINO_LANES];
            if (m == 4) {
                float w[4][6][WINO_LANES];
                for (int j = 0; j < 6; j++) {   // columns: A^T M
                    const float *m0 = src + (0 * 6 + j) * ldm, *m1 = src + (1 * 6 + j) * ldm, *m2 = src + (2 * 6 + j) * ldm;
                    const float *m3 = src + (3 * 6 + j) * ldm, *m4 = src + (4 * 6 + j) * ldm, *m5 = src + (5 * 6 + j) * ldm;
                    for (int l = 0; l < WINO_LANES; l++) {
                        w[0][j][l] = m0[l] + (m1[l] + m2[l]) + (m3[l] + m4[l]);
                        w[1][j][l] = (m1[l] - m2[l]) + 2 * (m3[l] - m4[l]);
                        w[2][j][l] = (m1[l] + m2[l]) + 4 * (m3[l] + m4[l]);
                        w[3][j][l] = (m1[l] - m2[l]) + 8 * (m3[l] - m4[l]) + m5[l];
                    }
                }
                for (int i = 0; i < 4; i++) {   // rows: (A^T M) A
                    const float *m0 = w[i][0], *m1 = w[i][1], *m2 = w[i][2], *m3 = w[i][3], *m4 = w[i][4], *m5 = w[i][5];
                    for (int l = 0; l < WINO_LANES; l++) {
                        o[i][0][l] = m0[l] + (m1[l] + m2[l]) + (m3[l] + m4[l]);
                        o[i][1][l] = (m1[l] - m2[l]) + 2 * (m3[l] - m4[l]);
                        o[i][2][l] = (m1[l] + m2[l]) + 4 * (m3[l] + m4[l]);
                        o[i][3][l] = (m1[l] - m2[l]) + 8 * (m3[l] - m4[l]) + m5[l];
                    }
                }
            } else {
                float w[2][4][WINO_LANES];
                for (int j = 0; j < 4; j++) {
                    const float *m0 = src + (0 * 4 + j) * ldm, *m1 = src + (1 * 4 + j) * ldm;
                    const float *m2 = src + (2 * 4 + j) * ldm, *m3 = src + (3 * 4 + j) * ldm;
                    for (int l = 0; l < WINO_LANES; l++) {
                        w[0][j][l] = m0[l] + m1[l] + m2[l]; w[1][j][l] = m1[l] - m2[l] - m3[l];
                    }
                }
                for (int i = 0; i < 2; i++) {
                    for (int l = 0; l < WINO_LANES; l++) {
                        o[i][0][l] = w[i][0][l] + w[i][1][l] + w[i][2][l];
                        o[i][1][l] = w[i][1][l] - w[i][2][l] - w[i][3][l];
                    }
                }
            }
            // The epilogue; a missing scale or shift is 1 or 0, which leave every value as it is.
            float sc[WINO_LANES], sh[WINO_LANES];
            const long lanes = kn - kb < WINO_LANES ? kn - kb : WINO_LANES;
            for (int l = 0; l < WINO_LANES; l++) {
                sc[l] = scale && l < lanes ? scale[k0 + kb + l] : 1;
                sh[l] = shift && l < lanes ? shift[k0 + kb + l] : 0;
            }
            for (long i = 0; i < hy; i++) {
                for (long j = 0; j < hx; j++) {
                    float *dst = yi + (i * g->out_width + j) * K + kb;
                    float val[WINO_LANES];
                    for (int l = 0; l < WINO_LANES; l++) {
                        float v = o[i][j][l] * sc[l] + sh[l];
                        val[l] = relu && v < 0 ? 0 : v;
                    }
                    if (lanes == WINO_LANES) { for (int l = 0; l < WINO_LANES; l++) dst[l] = val[l]; }
                    else { for (long l = 0; l < lanes; l++) dst[l] = val[l]; }
                }
            }
        }
    }
}

/// u[p * plane + e] = (G g G^T)[p] for kernel elements e in first..<first + count of a (3, 3, C, K) kernel
/// whose 3x3 taps lie `plane` = C * K floats apart; computed in double, rounded once.
WINO_TARGET static void WINO_NAME(kernel)(int m, const float *restrict g, long plane, long first, long count,
                                          float *restrict u) {
    for (long e = first; e < first + count; e++) {
        double k[3][3], w[6][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) k[i][j] = g[(i * 3 + j) * plane + e];
        if (m == 4) {
            for (int j = 0; j < 3; j++) {   // G k
                double a = k[0][j], b = k[1][j], c = k[2][j];
                w[0][j] = a / 4; w[1][j] = -(a + b + c) / 6; w[2][j] = -(a - b + c) / 6;
                w[3][j] = a / 24 + b / 12 + c / 6; w[4][j] = a / 24 - b / 12 + c / 6; w[5][j] = c;
            }
            for (int i = 0; i < 6; i++) {   // (G k) G^T
                double a = w[i][0], b = w[i][1], c = w[i][2];
                float *o = u + (long)(i * 6) * plane + e;
                o[0 * plane] = (float)(a / 4); o[1 * plane] = (float)(-(a + b + c) / 6);
                o[2 * plane] = (float)(-(a - b + c) / 6); o[3 * plane] = (float)(a / 24 + b / 12 + c / 6);
                o[4 * plane] = (float)(a / 24 - b / 12 + c / 6); o[5 * plane] = (float)c;
            }
        } else {
            for (int j = 0; j < 3; j++) {
                double a = k[0][j], b = k[1][j], c = k[2][j];
                w[0][j] = a; w[1][j] = (a + b + c) / 2; w[2][j] = (a - b + c) / 2; w[3][j] = c;
            }
            for (int i = 0; i < 4; i++) {
                double a = w[i][0], b = w[i][1], c = w[i][2];
                float *o = u + (long)(i * 4) * plane + e;
                o[0 * plane] = (float)a; o[1 * plane] = (float)((a + b + c) / 2);
                o[2 * plane] = (float)((a - b + c) / 2); o[3 * plane] = (float)c;
            }
        }
    }
}
