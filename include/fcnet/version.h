/* fcnet_dist --version, and the provenance a checkpoint records: what a bug report or a question of "why
 * do these results differ in the last bits" needs to know about the build and its libraries. */
#ifndef FCNET_VERSION_H
#define FCNET_VERSION_H

#include <stddef.h>

/* Room for any of the descriptions below (MPI's own text is at most MPI_MAX_LIBRARY_VERSION_STRING). */
#define FC_VERSION_TEXT_MAX 1024

/* Each library's own description, one line, read at run time (the loader may pick other builds than the
 * compiler saw): MPI's library version and standard; OpenBLAS's configuration, kernels and threads per
 * process; HDF5's version and the one fcnet was compiled against. None needs MPI_Init. */
void fc_version_mpi(char *buf, size_t size);
void fc_version_blas(char *buf, size_t size);
void fc_version_hdf5(char *buf, size_t size);

/* fcnet's version, precision, build type and compiler, then the three lines above, each ended by a newline:
 * the --version report. Needs no MPI_Init, so it also works on a login node, and as a launcher's check that
 * mpirun can start the program on every host. */
#define FC_VERSION_REPORT_MAX (4 * FC_VERSION_TEXT_MAX)
void fc_version_text(char *buf, size_t size);

#endif
