#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcnet/h5quiet.h"

/* Every ck_assert of a test program links to this (-Wl,--wrap=_ck_assert_failed, tests/CMakeLists.txt).
 * Check without fork answers a failed assertion by jumping to the next test. In a multi-rank run the
 * other ranks are still inside the failed test, waiting in its collectives for this rank: they hang until
 * ctest's timeout (up to 10 minutes), or worse, match them with the next test's. So with several ranks a
 * failed assertion ends the job at once, naming the rank; with one rank Check reports it as usual. */
void __real__ck_assert_failed(const char *file, int line, const char *expr, const char *msg, ...);
void __wrap__ck_assert_failed(const char *file, int line, const char *expr, const char *msg, ...);
void __wrap__ck_assert_failed(const char *file, int line, const char *expr, const char *msg, ...)
{
    char text[1024] = "";
    if (msg) {
        va_list ap;
        va_start(ap, msg);
        vsnprintf(text, sizeof text, msg, ap);
        va_end(ap);
    }
    int initialized = 0, finalized = 0, size = 1, rank = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) {
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    if (size == 1) {
        if (msg)
            __real__ck_assert_failed(file, line, expr, "%s", text);
        else
            __real__ck_assert_failed(file, line, expr, NULL);
        return; /* not reached: Check jumps back to its runner */
    }
    fprintf(stderr, "%s:%d: rank %d of %d: %s (the job ends here: the other ranks would wait for this one)\n",
            file, line, rank, size, msg ? text : expr);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

int fct_run(Suite *suite, int argc, char **argv)
{
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) MPI_Init(&argc, &argv);
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner), run = srunner_ntests_run(runner);
    srunner_free(runner);
    int total_failed = 0;
    MPI_Allreduce(&failed, &total_failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0 && run == 0) fprintf(stderr, "no test ran\n");
    MPI_Finalize();
    return (total_failed == 0 && run > 0) ? 0 : 1;
}

static int close_generic(const char *label, double (*get_a)(const void *, size_t), const void *a,
                         const double *b, size_t n, double atol, double rtol)
{
    size_t first_bad = n;
    double max_err = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = get_a(a, i), err = fabs(ai - b[i]);
        if (err > max_err || isnan(err)) max_err = isnan(err) ? (double)INFINITY : err;
        if (first_bad == n && !(err <= atol + rtol * fabs(b[i]))) first_bad = i;
    }
    if (first_bad == n) return 1;
    fprintf(stderr, "%s: mismatch at index %zu: got %.10g want %.10g (atol %g rtol %g, max abs err %.3g over %zu)\n",
            label, first_bad, get_a(a, first_bad), b[first_bad], atol, rtol, max_err, n);
    return 0;
}

static double get_d(const void *p, size_t i) { return ((const double *)p)[i]; }
static double get_f(const void *p, size_t i) { return (double)((const float *)p)[i]; }

int fct_close_d(const char *label, const double *a, const double *b, size_t n, double atol, double rtol)
{
    return close_generic(label, get_d, a, b, n, atol, rtol);
}

int fct_close_f(const char *label, const float *a, const float *b, size_t n, double atol, double rtol)
{
    double *bd = malloc((n ? n : 1) * sizeof *bd);
    for (size_t i = 0; i < n; i++) bd[i] = (double)b[i];
    int ok = close_generic(label, get_f, a, bd, n, atol, rtol);
    free(bd);
    return ok;
}

int fct_close_mixed(const char *label, const void *a, size_t sizeof_a, const double *b, size_t n,
                    double atol, double rtol)
{
    return close_generic(label, sizeof_a == sizeof(float) ? get_f : get_d, a, b, n, atol, rtol);
}

double fct_rel_error(const double *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs(a[i]) + fabs(b[i]);
        double r = fabs(a[i] - b[i]) / (den > 1e-8 ? den : 1e-8);
        if (r > worst || isnan(r)) worst = isnan(r) ? (double)INFINITY : r;
    }
    return worst;
}

void fct_stderr_begin(fct_stderr *c)
{
    fflush(stderr);
    c->file = tmpfile();
    ck_assert(c->file != NULL);
    c->saved = dup(STDERR_FILENO);
    dup2(fileno(c->file), STDERR_FILENO);
}

void fct_stderr_end(fct_stderr *c, char *text, size_t size)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    rewind(c->file);
    text[fread(text, 1, size - 1, c->file)] = '\0';
    fclose(c->file);
}

const char *fct_tmp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && dir[0] ? dir : "/tmp";
}

void fct_tmp_template(char *buf, size_t size, const char *prefix)
{
    const int n = snprintf(buf, size, "%s/%sXXXXXX", fct_tmp_dir(), prefix);
    if (n < 0 || (size_t)n >= size) { /* a cut template would make mkstemp fail for another reason */
        fprintf(stderr, "TMPDIR too long for a temporary name: %s\n", fct_tmp_dir());
        abort();
    }
}

const char *fct_data_path(const char *relative)
{
    static char buf[4096];
    const char *root = getenv("FCNET_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", relative);
    return buf;
}

long fct_h5_read(const char *file, const char *name, double **out, int *rank, long dims[4])
{
    *out = NULL;
    fc_h5_quiet quiet;
    fc_h5_quiet_begin(&quiet);
    long count = -1;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        if (d >= 0) {
            hid_t s = H5Dget_space(d);
            hsize_t hd[8] = {0};
            int r = H5Sget_simple_extent_ndims(s);
            H5Sget_simple_extent_dims(s, hd, NULL);
            count = 1;
            for (int i = 0; i < r; i++) count *= (long)hd[i];
            if (rank) *rank = r;
            if (dims)
                for (int i = 0; i < 4; i++) dims[i] = i < r ? (long)hd[i] : 1;
            *out = malloc((size_t)(count ? count : 1) * sizeof(double));
            if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
                free(*out);
                *out = NULL;
                count = -1;
            }
            H5Sclose(s);
            H5Dclose(d);
        }
        H5Fclose(f);
    }
    fc_h5_quiet_end(&quiet);
    return count;
}

fct_child fct_run_child(void (*body)(const void *arg), const void *arg)
{
    fct_child r;
    memset(&r, 0, sizeof r);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        alarm(30);
        body(arg);
        _exit(99);
    }
    close(fds[1]);
    size_t len = 0;
    for (ssize_t n; len + 1 < sizeof r.err && (n = read(fds[0], r.err + len, sizeof r.err - 1 - len)) > 0;)
        len += (size_t)n;
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r.exited = WIFEXITED(status);
    r.code = r.exited ? WEXITSTATUS(status) : -1;
    r.signalled = WIFSIGNALED(status);
    r.signal = r.signalled ? WTERMSIG(status) : 0;
    return r;
}
