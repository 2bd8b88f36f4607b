/* sgemm_bound: the throughput limit that OpenBLAS's sgemm sets for one fcnet training step.
 *
 * For a net D -> [H1..H(L-1)] -> C and a global batch B split over R ranks, one step of fcnet on the
 * rank with the most rows (b = ceil(B / R)) runs exactly these GEMMs (src/layers.c, row-major):
 *   forward,  every layer l:    out(b, n_out)  = x(b, n_in)       * W(n_in, n_out)      NoTrans, NoTrans, beta 0
 *   backward, every layer l:    dW(n_in,n_out) = x^T(n_in, b)     * dout(b, n_out)      Trans,   NoTrans, beta 0
 *   backward, layers 2..L:      dx(b, n_in)    = dout(b, n_out)   * W^T(n_out, n_in)    NoTrans, Trans,   beta 0
 * (layer 1's dx is skipped: nobody needs the gradient of the data; --with-dx1 adds it back.)
 * Each distinct shape is timed (once) with cblas_sgemm on operands of exactly those sizes and leading dimensions;
 * the bound is B / (sum of the step's GEMM times) samples/s: what the step would reach if everything that
 * is not GEMM took no time and every rank ran its GEMMs concurrently on its own core.
 *
 *   sgemm_bound --dims 3072,100,100,100,100,100,10 --batch 200 [--ranks 2] [--threads 1] [--with-dx1]
 *               [--min-time 0.05] [--trials 5] [--name cs231n] [--json]
 *
 * Prints one line per GEMM, the total, and (with --json) one JSON object on the last line.
 * The thread count is OpenBLAS's (OPENBLAS_NUM_THREADS) unless --threads sets it. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Debian's cblas.h declares these; other OpenBLAS builds may not. */
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);
extern char *openblas_get_config(void);

#define MAX_LAYERS 64
#define MAX_GEMMS (3 * MAX_LAYERS)

typedef struct gemm {
    const char *what; /* "fwd", "dW", "dx" */
    int layer;        /* 1-based */
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k, lda, ldb, ldc;
    float beta;
    double seconds; /* median over trials of one call */
    double best;    /* fastest trial, one call */
} gemm;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_touched(size_t n)
{
    float *p = NULL;
    if (posix_memalign((void **)&p, 64, (n ? n : 1) * sizeof *p) != 0) {
        fprintf(stderr, "sgemm_bound: out of memory\n");
        exit(1);
    }
    /* Small, varied values: no denormals, no overflow. */
    for (size_t i = 0; i < n; i++) p[i] = (float)((double)((i * 2654435761u) % 1000) * 1e-6 - 5e-4);
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times one GEMM: warm-up, then `trials` trials of `reps` calls each, reps chosen so a trial lasts
 * about min_time seconds. Records the median and the best per-call time. */
static void time_gemm(gemm *g, double min_time, int trials)
{
    size_t a_rows = g->ta == CblasNoTrans ? (size_t)g->m : (size_t)g->k;
    size_t b_rows = g->tb == CblasNoTrans ? (size_t)g->k : (size_t)g->n;
    float *a = alloc_touched(a_rows * (size_t)g->lda);
    float *b = alloc_touched(b_rows * (size_t)g->ldb);
    float *c = alloc_touched((size_t)g->m * (size_t)g->ldc);
#define CALL()                                                                                               \
    cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1.0f, a, g->lda, b, g->ldb, g->beta, c, g->ldc)
    /* Warm-up and calibration. */
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int r = 0; r < reps; r++) CALL();
        double dt = now() - t0;
        if (dt >= 0.25 * min_time || reps >= (1 << 24)) {
            double per = dt / reps;
            reps = per > 0 ? (int)(min_time / per) + 1 : reps;
            break;
        }
        reps *= 4;
    }
    double times[64];
    if (trials > 64) trials = 64;
    for (int t = 0; t < trials; t++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) CALL();
        times[t] = (now() - t0) / reps;
    }
#undef CALL
    qsort(times, (size_t)trials, sizeof *times, cmp_double);
    g->seconds = trials % 2 ? times[trials / 2] : 0.5 * (times[trials / 2 - 1] + times[trials / 2]);
    g->best = times[0];
    free(a);
    free(b);
    free(c);
}

static int parse_dims(const char *s, int *dims)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 1000000 || n >= MAX_LAYERS + 1) return -1;
        dims[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sgemm_bound --dims D,H1,...,C --batch B [--ranks R] [--threads T] [--with-dx1]\n"
               "                   [--min-time S] [--trials N] [--name NAME] [--json]\n");
}

int main(int argc, char **argv)
{
    int dims[MAX_LAYERS + 1], n_dims = 0, global_batch = 0, ranks = 1, threads = 0, with_dx1 = 0, json = 0;
    int trials = 5;
    double min_time = 0.05;
    const char *name = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dims") && v) {
            n_dims = parse_dims(v, dims);
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            global_batch = atoi(v);
            i++;
        } else if (!strcmp(a, "--ranks") && v) {
            ranks = atoi(v);
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            threads = atoi(v);
            i++;
        } else if (!strcmp(a, "--min-time") && v) {
            min_time = atof(v);
            i++;
        } else if (!strcmp(a, "--trials") && v) {
            trials = atoi(v);
            i++;
        } else if (!strcmp(a, "--name") && v) {
            name = v;
            i++;
        } else if (!strcmp(a, "--with-dx1")) {
            with_dx1 = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sgemm_bound: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (n_dims < 2 || global_batch <= 0 || ranks <= 0 || trials <= 0 || !(min_time > 0)) {
        usage(stderr);
        return 2;
    }
    if (threads > 0) openblas_set_num_threads(threads);
    int L = n_dims - 1;
    int b = (global_batch + ranks - 1) / ranks; /* the busiest rank sets the pace */

    gemm g[MAX_GEMMS];
    int n_g = 0;
    for (int l = 1; l <= L; l++) { /* forward */
        int n_in = dims[l - 1], n_out = dims[l];
        g[n_g++] = (gemm){"fwd", l, CblasNoTrans, CblasNoTrans, b, n_out, n_in, n_in, n_out, n_out, 0.0f, 0, 0};
    }
    for (int l = L; l >= 1; l--) { /* backward, in fcnet's order */
        int n_in = dims[l - 1], n_out = dims[l];
        g[n_g++] = (gemm){"dW", l, CblasTrans, CblasNoTrans, n_in, n_out, b, n_in, n_out, n_out, 0.0f, 0, 0};
        if (l > 1 || with_dx1)
            g[n_g++] = (gemm){"dx", l, CblasNoTrans, CblasTrans, b, n_in, n_out, n_out, n_out, n_in, 0.0f, 0, 0};
    }

    printf("sgemm_bound %s: dims", name);
    for (int i = 0; i < n_dims; i++) printf("%s%d", i ? "," : " ", dims[i]);
    printf("  global batch %d, %d rank(s) -> local batch %d, layer-1 dx %s\n", global_batch, ranks, b,
           with_dx1 ? "included" : "skipped");
    printf("OpenBLAS core %s, %d thread(s), config: %s\n", openblas_get_corename(), openblas_get_num_threads(),
           openblas_get_config());
    /* The leading dimensions last: tests/test_bench_shapes.sh holds them to the ones fcnet passes. */
    printf("%-4s %5s %-5s %7s %7s %7s %12s %10s %7s %7s %7s\n", "gemm", "layer", "trans", "m", "n", "k", "usec",
           "GFLOP/s", "lda", "ldb", "ldc");
    double total = 0, total_best = 0, flops = 0;
    for (int i = 0; i < n_g; i++) {
        int same = -1; /* identical shapes (e.g. the 100x100 layers of cs231n) are timed once */
        for (int j = 0; j < i && same < 0; j++)
            if (g[j].ta == g[i].ta && g[j].tb == g[i].tb && g[j].m == g[i].m && g[j].n == g[i].n &&
                g[j].k == g[i].k)
                same = j;
        if (same >= 0) {
            g[i].seconds = g[same].seconds;
            g[i].best = g[same].best;
        } else {
            time_gemm(&g[i], min_time, trials);
        }
        double f = 2.0 * g[i].m * g[i].n * g[i].k;
        flops += f;
        total += g[i].seconds;
        total_best += g[i].best;
        printf("%-4s %5d %c%c    %7d %7d %7d %12.1f %10.1f %7d %7d %7d\n", g[i].what, g[i].layer,
               g[i].ta == CblasTrans ? 'T' : 'N', g[i].tb == CblasTrans ? 'T' : 'N', g[i].m, g[i].n, g[i].k,
               1e6 * g[i].seconds, f / g[i].seconds * 1e-9, g[i].lda, g[i].ldb, g[i].ldc);
    }
    double bound = global_batch / total;
    printf("total: %.3f GFLOP per step per rank, %.1f usec of GEMM (%.1f GFLOP/s) -> sgemm bound %.0f samples/s "
           "(best trials: %.0f)\n",
           flops * 1e-9, total * 1e6, flops / total * 1e-9, bound, global_batch / total_best);
    if (json) {
        printf("{\"tool\": \"sgemm_bound\", \"name\": \"%s\", \"dims\": [", name);
        for (int i = 0; i < n_dims; i++) printf("%s%d", i ? ", " : "", dims[i]);
        printf("], \"global_batch\": %d, \"ranks\": %d, \"local_batch\": %d, \"with_dx1\": %s, "
               "\"corename\": \"%s\", \"threads\": %d, \"gflop_per_step\": %.6f, \"gemm_seconds\": %.9f, "
               "\"gflops\": %.3f, \"bound_samples_per_s\": %.3f, \"bound_best_samples_per_s\": %.3f, \"gemms\": [",
               global_batch, ranks, b, with_dx1 ? "true" : "false", openblas_get_corename(),
               openblas_get_num_threads(), flops * 1e-9, total, flops / total * 1e-9, bound,
               global_batch / total_best);
        for (int i = 0; i < n_g; i++)
            printf("%s{\"what\": \"%s\", \"layer\": %d, \"m\": %d, \"n\": %d, \"k\": %d, \"seconds\": %.9f, "
                   "\"gflops\": %.3f}",
                   i ? ", " : "", g[i].what, g[i].layer, g[i].m, g[i].n, g[i].k, g[i].seconds,
                   2.0 * g[i].m * g[i].n * g[i].k / g[i].seconds * 1e-9);
        printf("]}\n");
    }
    return 0;
}
