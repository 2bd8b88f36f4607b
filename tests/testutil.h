/* Shared test helpers: MPI-aware Check runner and numerical comparisons. */
#ifndef FCNET_TESTUTIL_H
#define FCNET_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Runs suite in CK_NOFORK mode inside MPI_Init/MPI_Finalize and combines the failure counts of every
 * rank, so all ranks exit alike. Returns the process exit status. Without fork Check's per-test timeouts
 * (tcase_set_timeout) do nothing: the TIMEOUT each program is registered with in ctest bounds a hang.
 * With several ranks a failed assertion ends the whole job at once (testutil.c). */
int fct_run(Suite *suite, int argc, char **argv);

/* |a - b| <= atol + rtol * |b| elementwise; on failure prints label, the first bad index, both values
 * and the max error, and returns 0. Works on double arrays; see the float variant below. */
int fct_close_d(const char *label, const double *a, const double *b, size_t n, double atol, double rtol);
int fct_close_f(const char *label, const float *a, const float *b, size_t n, double atol, double rtol);
/* a: float or double (per sizeof_a), b: double reference. */
int fct_close_mixed(const char *label, const void *a, size_t sizeof_a, const double *b, size_t n,
                    double atol, double rtol);

/* Relative error as in cs231n: max |a-b| / max(1e-8, |a| + |b|) over elements. */
double fct_rel_error(const double *a, const double *b, size_t n);

/* Path of a file under tests/ (from FCNET_TEST_DATA, set by CTest). Returns a static buffer. */
const char *fct_data_path(const char *relative);

/* Reads dataset name of file as double (any numeric type); returns element count or -1.
 * *out is malloc'ed. dims (up to 4) and rank optional. */
long fct_h5_read(const char *file, const char *name, double **out, int *rank, long dims[4]);
#endif
