// The allreduce cost behind the README's scaling estimate: MPI_Allreduce (sum, in place) of
// float buffers the size of gradient buckets, timed over repetitions after a warm-up, on whatever
// transport mpirun picks (shared memory on one machine, or --mca btl tcp,self).
// Build and run: mpicc -O2 tools/mpi_allreduce_bench.c -o /tmp/allreduce_bench &&
//   mpirun -np 2 --oversubscribe /tmp/allreduce_bench [megabytes ...]   (default 4 32 102)
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double defaults[] = {4, 32, 102};
    int sizes = argc > 1 ? argc - 1 : 3;
    for (int s = 0; s < sizes; s++) {
        double megabytes = argc > 1 ? atof(argv[s + 1]) : defaults[s];
        size_t count = (size_t)(megabytes * 1e6 / sizeof(float));
        float *data = malloc(count * sizeof(float));
        for (size_t i = 0; i < count; i++) data[i] = (float)(rank + 1) * 1e-3f;
        int repetitions = megabytes > 50 ? 5 : 20;
        MPI_Allreduce(MPI_IN_PLACE, data, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double best = 1e30, total = 0;
        for (int r = 0; r < repetitions; r++) {
            double start = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, data, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double seconds = MPI_Wtime() - start;
            total += seconds;
            if (seconds < best) best = seconds;
        }
        if (rank == 0)
            printf("%d ranks, %.0f MB: best %.2f ms, mean %.2f ms (%d repetitions), %.2f GB/s algorithm bandwidth\n",
                   size, megabytes, best * 1e3, total / repetitions * 1e3, repetitions, megabytes / 1e3 / best);
        free(data);
    }
    MPI_Finalize();
    return 0;
}
