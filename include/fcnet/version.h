/* fcnet_dist --version: what a bug report or a rank-consistency check needs to know about the build. */
#ifndef FCNET_VERSION_H
#define FCNET_VERSION_H

#include <stdio.h>

/* Prints fcnet's version, precision and build type, and the MPI, BLAS and HDF5 libraries this process
 * runs with (their own words, read at run time: the loader may pick other builds than the compiler saw).
 * Needs no MPI_Init, so it also works on a login node, and as a launcher's check that mpirun can start the
 * program on every host. */
void fc_print_version(FILE *f);

#endif
