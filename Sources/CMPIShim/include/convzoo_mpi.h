#ifndef CONVZOO_MPI_H
#define CONVZOO_MPI_H
// The few MPI calls ConvZoo makes, as plain C functions Swift can import (mpi.h's handles and
// constants are macros). Every call runs on MPI_COMM_WORLD with errors returned, not fatal: a
// nonzero result means failure and `message` (of `capacity` bytes) says why.
#include <stddef.h>

/// Initializes MPI and gives this process's rank and the job's size.
int convzoo_mpi_init(int *rank, int *size, char *message, size_t capacity);
/// Finalizes MPI at a normal end of the program.
int convzoo_mpi_finalize(void);
/// Ends every process of the job with `code` (after an error on one rank).
void convzoo_mpi_abort(int code);
/// Sums `count` floats (or doubles) element-wise over every rank, in place on each.
int convzoo_mpi_sum_floats(float *values, size_t count, char *message, size_t capacity);
int convzoo_mpi_sum_doubles(double *values, size_t count, char *message, size_t capacity);
/// Copies `bytes` bytes from rank `root`'s buffer into every other rank's.
int convzoo_mpi_broadcast(void *buffer, size_t bytes, int root, char *message, size_t capacity);
/// Each rank's `value` into `values[rank]` on every rank (`values` holds one per rank).
int convzoo_mpi_all_gather_long(long long value, long long *values, char *message, size_t capacity);
/// Point-to-point transfer of `bytes` bytes to or from rank `peer`.
int convzoo_mpi_send(const void *buffer, size_t bytes, int peer, char *message, size_t capacity);
int convzoo_mpi_receive(void *buffer, size_t bytes, int peer, char *message, size_t capacity);

#endif
