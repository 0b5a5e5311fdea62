// Edge rows without wasted work: a panel of mr < MR rows runs as kernels of 8, 4, 2 and 1 rows (the
// binary digits of mr), each a copy of the MR-row kernel with a constant row count.
#ifndef ZOO_GEMM_ROWS_H
#define ZOO_GEMM_ROWS_H

/// Runs ZOO_KERNEL(rows) for rows = MR when mr == MR, else once per binary digit of mr, moving C down
/// after each call (ZOO_KERNEL moves A itself). MR must be below 16.
#define ZOO_SPLIT_ROWS(mr)                                                  \
    do {                                                                    \
        if ((mr) == MR) { ZOO_KERNEL(MR); break; }                          \
        if (MR > 8 && ((mr) & 8)) { ZOO_KERNEL(8); c += 8 * ldc; }          \
        if (MR > 4 && ((mr) & 4)) { ZOO_KERNEL(4); c += 4 * ldc; }          \
        if (MR > 2 && ((mr) & 2)) { ZOO_KERNEL(2); c += 2 * ldc; }          \
        if ((mr) & 1) { ZOO_KERNEL(1); }                                    \
    } while (0)

#endif
