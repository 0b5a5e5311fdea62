// Open MPI's C API (Debian libopenmpi-dev). Only the C target CMPIShim includes it: mpi.h
// defines its handles and constants as macros Swift cannot import.
#include <mpi.h>
