/* The --version report. Every library is asked at run time: the one the loader found is the one that
 * computes. */
#include "fcnet/version.h"

#include <hdf5.h>
#include <mpi.h>
#include <string.h>

#include "fcnet/common.h"

/* Declared by Debian's cblas.h, not by every OpenBLAS build's. */
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);

#ifndef FC_BUILD_TYPE
#define FC_BUILD_TYPE ""
#endif
#if defined(__clang__)
#define FC_COMPILER __VERSION__ /* clang's own text names it */
#elif defined(__GNUC__)
#define FC_COMPILER "gcc " __VERSION__
#else
#define FC_COMPILER "an unnamed compiler"
#endif

void fc_print_version(FILE *f)
{
    fprintf(f, "fcnet_dist %s (%s, %s build, %s)\n", FC_VERSION, FC_REAL_NAME,
            FC_BUILD_TYPE[0] ? FC_BUILD_TYPE : "default", FC_COMPILER);

    /* MPI allows both queries before MPI_Init. The library's text may run over several lines: the first
     * names it. */
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0, major = 0, minor = 0;
    lib[0] = '\0';
    MPI_Get_library_version(lib, &len);
    lib[strcspn(lib, "\n")] = '\0';
    MPI_Get_version(&major, &minor);
    fprintf(f, "MPI: %s (MPI standard %d.%d)\n", lib, major, minor);

    const char *config = openblas_get_config();
    fprintf(f, "BLAS: %s; kernels %s; %d thread(s) per process (OPENBLAS_NUM_THREADS)\n", config ? config : "OpenBLAS",
            openblas_get_corename(), openblas_get_num_threads());

    unsigned h_major = 0, h_minor = 0, h_release = 0;
    H5get_libversion(&h_major, &h_minor, &h_release);
    fprintf(f, "HDF5: %u.%u.%u (compiled against %d.%d.%d)\n", h_major, h_minor, h_release, H5_VERS_MAJOR,
            H5_VERS_MINOR, H5_VERS_RELEASE);
}
