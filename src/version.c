/* The --version report, and the same library descriptions for the checkpoint's provenance attributes.
 * Every library is asked at run time: the one the loader found is the one that computes. */
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

void fc_version_mpi(char *buf, size_t size)
{
    /* MPI allows both queries before MPI_Init. The library's text may run over several lines: the first
     * names it. */
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0, major = 0, minor = 0;
    lib[0] = '\0';
    MPI_Get_library_version(lib, &len);
    lib[strcspn(lib, "\n")] = '\0';
    MPI_Get_version(&major, &minor);
    snprintf(buf, size, "%s (MPI standard %d.%d)", lib, major, minor);
}

void fc_version_blas(char *buf, size_t size)
{
    const char *config = openblas_get_config();
    snprintf(buf, size, "%s; kernels %s; %d thread(s) per process (OPENBLAS_NUM_THREADS)",
             config ? config : "OpenBLAS", openblas_get_corename(), openblas_get_num_threads());
}

void fc_version_hdf5(char *buf, size_t size)
{
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    snprintf(buf, size, "%u.%u.%u (compiled against %d.%d.%d)", major, minor, release, H5_VERS_MAJOR,
             H5_VERS_MINOR, H5_VERS_RELEASE);
}

void fc_version_text(char *buf, size_t size)
{
    char mpi[FC_VERSION_TEXT_MAX], blas[FC_VERSION_TEXT_MAX], hdf5[FC_VERSION_TEXT_MAX];
    fc_version_mpi(mpi, sizeof mpi);
    fc_version_blas(blas, sizeof blas);
    fc_version_hdf5(hdf5, sizeof hdf5);
    snprintf(buf, size, "fcnet_dist %s (%s, %s build, %s)\nMPI: %s\nBLAS: %s\nHDF5: %s\n", FC_VERSION, FC_REAL_NAME,
             FC_BUILD_TYPE[0] ? FC_BUILD_TYPE : "default", FC_COMPILER, mpi, blas, hdf5);
}
