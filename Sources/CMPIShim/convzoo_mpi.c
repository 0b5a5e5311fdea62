#include "convzoo_mpi.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>

// MPI counts are ints: larger transfers go in pieces of at most this many elements.
#define PIECE (1 << 28)

static int fail(int code, const char *call, char *message, size_t capacity) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
    snprintf(message, capacity, "%s failed: %s", call, text);
    return code == 0 ? -1 : code;
}

int convzoo_mpi_init(int *rank, int *size, char *message, size_t capacity) {
    int code = MPI_Init(NULL, NULL);
    if (code != MPI_SUCCESS) return fail(code, "MPI_Init", message, capacity);
    // A failed call reports back instead of ending the process, so the error can name what failed.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((code = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS) return fail(code, "MPI_Comm_rank", message, capacity);
    if ((code = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS) return fail(code, "MPI_Comm_size", message, capacity);
    return 0;
}

int convzoo_mpi_finalize(void) { return MPI_Finalize(); }

void convzoo_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

// Sums `count` elements of `type` (each `width` bytes) across the ranks, in place, in pieces.
static int sum_in_place(char *values, size_t count, MPI_Datatype type, size_t width, char *message, size_t capacity) {
    for (size_t done = 0; done < count; done += PIECE) {
        int n = (int)(count - done < PIECE ? count - done : PIECE);
        int code = MPI_Allreduce(MPI_IN_PLACE, values + done * width, n, type, MPI_SUM, MPI_COMM_WORLD);
        if (code != MPI_SUCCESS) return fail(code, "MPI_Allreduce", message, capacity);
    }
    return 0;
}

int convzoo_mpi_sum_floats(float *values, size_t count, char *message, size_t capacity) {
    return sum_in_place((char *)values, count, MPI_FLOAT, sizeof *values, message, capacity);
}

int convzoo_mpi_sum_doubles(double *values, size_t count, char *message, size_t capacity) {
    return sum_in_place((char *)values, count, MPI_DOUBLE, sizeof *values, message, capacity);
}

int convzoo_mpi_broadcast(void *buffer, size_t bytes, int root, char *message, size_t capacity) {
    for (size_t done = 0; done < bytes; done += PIECE) {
        int n = (int)(bytes - done < PIECE ? bytes - done : PIECE);
        int code = MPI_Bcast((char *)buffer + done, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (code != MPI_SUCCESS) return fail(code, "MPI_Bcast", message, capacity);
    }
    return 0;
}

int convzoo_mpi_all_gather_long(long long value, long long *values, char *message, size_t capacity) {
    int code = MPI_Allgather(&value, 1, MPI_LONG_LONG, values, 1, MPI_LONG_LONG, MPI_COMM_WORLD);
    return code == MPI_SUCCESS ? 0 : fail(code, "MPI_Allgather", message, capacity);
}

int convzoo_mpi_send(const void *buffer, size_t bytes, int peer, char *message, size_t capacity) {
    for (size_t done = 0; done < bytes; done += PIECE) {
        int n = (int)(bytes - done < PIECE ? bytes - done : PIECE);
        int code = MPI_Send((const char *)buffer + done, n, MPI_BYTE, peer, 0, MPI_COMM_WORLD);
        if (code != MPI_SUCCESS) return fail(code, "MPI_Send", message, capacity);
    }
    return 0;
}

int convzoo_mpi_receive(void *buffer, size_t bytes, int peer, char *message, size_t capacity) {
    for (size_t done = 0; done < bytes; done += PIECE) {
        int n = (int)(bytes - done < PIECE ? bytes - done : PIECE);
        int code = MPI_Recv((char *)buffer + done, n, MPI_BYTE, peer, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (code != MPI_SUCCESS) return fail(code, "MPI_Recv", message, capacity);
    }
    return 0;
}
