/* Shared test helpers: MPI-aware Check runner and numerical comparisons. */
#ifndef FCNET_TESTUTIL_H
#define FCNET_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* How a forked child ended (exit code or signal) and what it wrote on stderr. */
typedef struct fct_child {
    int exited, code, signalled, signal;
    char err[8192];
} fct_child;
/* Runs body(arg) in a forked child with its stderr captured, and returns how it ended. The body should end the
 * child itself (a crash, an abort, _exit); one that returns ends it with exit 99. A 30 s alarm turns a child
 * that hangs (in MPI_Abort, say) into a SIGALRM death instead of a stuck test. Only at one rank: a forked copy
 * of a rank with peers cannot take part in the job. */
fct_child fct_run_child(void (*body)(const void *arg), const void *arg);

/* This process's stderr into a temporary file from fct_stderr_begin to fct_stderr_end, which leaves what was
 * written in text (cut to size - 1 bytes) and stderr as it was. */
typedef struct fct_stderr {
    FILE *file;
    int saved;
} fct_stderr;
void fct_stderr_begin(fct_stderr *c);
void fct_stderr_end(fct_stderr *c, char *text, size_t size);

/* The directory for the tests' temporary files: $TMPDIR when set, else /tmp (as mktemp does in the shell tests). */
const char *fct_tmp_dir(void);
/* "<fct_tmp_dir()>/<prefix>XXXXXX" into buf, a template for mkstemp or mkdtemp. */
void fct_tmp_template(char *buf, size_t size, const char *prefix);

/* Path of a file under tests/ (from FCNET_TEST_DATA, set by CTest). Returns a static buffer. */
const char *fct_data_path(const char *relative);

/* Reads dataset name of file as double (any numeric type); returns element count or -1.
 * *out is malloc'ed. dims (up to 4) and rank optional. */
long fct_h5_read(const char *file, const char *name, double **out, int *rank, long dims[4]);
#endif
