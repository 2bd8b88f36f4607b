/* sgemm_log: an LD_PRELOAD library for test_bench_shapes.sh. Every cblas_sgemm call is appended as one line
 * "TA TB m n k lda ldb ldc beta" (TA, TB: N or T) to $FCNET_TEST_SGEMM_LOG.<rank> (rank from Open MPI's
 * OMPI_COMM_WORLD_RANK, 0 without it) and then made by the real OpenBLAS. It shows which GEMMs a training step
 * really makes, so that sgemm_bound's list can be held to it. Test-only; never linked into fcnet. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                         const blasint, const blasint, const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *, const blasint);

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint m, const blasint n, const blasint k, const float alpha, const float *a,
                 const blasint lda, const float *b, const blasint ldb, const float beta, float *c, const blasint ldc)
{
    static sgemm_fn real = NULL;
    static FILE *log = NULL;
    if (!real) {
        real = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
        const char *base = getenv("FCNET_TEST_SGEMM_LOG"), *rank = getenv("OMPI_COMM_WORLD_RANK");
        if (base) {
            char path[4096];
            snprintf(path, sizeof path, "%s.%s", base, rank ? rank : "0");
            log = fopen(path, "w");
        }
    }
    if (log) {
        fprintf(log, "%c %c %d %d %d %d %d %d %g\n", ta == CblasTrans ? 'T' : 'N', tb == CblasTrans ? 'T' : 'N', (int)m,
                (int)n, (int)k, (int)lda, (int)ldb, (int)ldc, (double)beta);
        fflush(log);
    }
    real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
