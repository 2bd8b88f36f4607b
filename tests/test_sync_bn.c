/* Sync batchnorm: forward and backward over shards equal batchnorm over the concatenated batch
 * (1e-6 float, 1e-12 double), including ranks with 0 rows and one row per rank. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/dist.h"
#include "fcnet/layers.h"
#include "fcnet/rng.h"
#include "testutil.h"

#ifdef FC_REAL_DOUBLE
#define TOL 1e-12
#else
#define TOL 1e-6
#endif

enum { N = 5 };

static double value(uint64_t stream, size_t i, double lo, double hi)
{
    uint32_t w[4];
    fc_rng_block(w, 21, FC_RNG_TEST, stream, 0, 0, (uint32_t)i);
    return lo + (hi - lo) * fc_rng_unit_double(w[0], w[1]);
}

static int check_batch(const fc_dist *dist, int global_batch)
{
    const size_t total = (size_t)global_batch * N;
    fc_real *x = malloc(total * sizeof *x), *dout = malloc(total * sizeof *dout);
    fc_real *out_all = malloc(total * sizeof *x), *xhat_all = malloc(total * sizeof *x), *dx_all = malloc(total * sizeof *x);
    fc_real *out = malloc(total * sizeof *x + 1), *xhat = malloc(total * sizeof *x + 1), *dx = malloc(total * sizeof *x + 1);
    fc_real gamma[N], beta[N], inv_all[N], inv[N], rm_all[N] = {0}, rv_all[N] = {0}, rm[N] = {0}, rv[N] = {0};
    fc_real dg_all[N] = {0}, db_all[N] = {0}, dg[N] = {0}, db[N] = {0};
    double scratch[2 * N + 1];
    for (size_t i = 0; i < total; i++) {
        x[i] = (fc_real)value(1, i, -2, 6);
        dout[i] = (fc_real)value(2, i, -1, 1);
    }
    for (int j = 0; j < N; j++) {
        gamma[j] = (fc_real)value(3, (size_t)j, 0.5, 2);
        beta[j] = (fc_real)value(4, (size_t)j, -1, 1);
    }
    /* whole batch in this process */
    fc_batchnorm_forward_train(out_all, xhat_all, inv_all, rm_all, rv_all, x, gamma, beta, 0.9, global_batch, N,
                               scratch, NULL);
    fc_batchnorm_backward(dx_all, dg_all, db_all, dout, xhat_all, inv_all, gamma, global_batch, N, scratch, NULL);
    /* this rank's shard, synchronised */
    int64_t begin, count;
    fc_dist_slice(global_batch, dist->rank, dist->size, &begin, &count);
    const size_t off = (size_t)begin * N;
    fc_batchnorm_forward_train(out, xhat, inv, rm, rv, x + off, gamma, beta, 0.9, (int)count, N, scratch, dist);
    fc_batchnorm_backward(dx, dg, db, dout + off, xhat, inv, gamma, (int)count, N, scratch, dist);
    /* parameter gradients are local sums until the gradient reduction */
    fc_dist_sum_grads(dist, dg, N);
    fc_dist_sum_grads(dist, db, N);
    char label[64];
    int ok = 1;
    double *ref = malloc(total * sizeof *ref + 8);
#define CMP(name, got, want, n)                                                          \
    do {                                                                                  \
        for (size_t k_ = 0; k_ < (n); k_++) ref[k_] = (double)(want)[k_];                \
        snprintf(label, sizeof label, "B=%d ranks=%d %s", global_batch, dist->size, name); \
        ok &= fct_close_mixed(label, got, sizeof(fc_real), ref, n, TOL, TOL);            \
    } while (0)
    CMP("out", out, out_all + off, (size_t)count * N);
    CMP("dx", dx, dx_all + off, (size_t)count * N);
    CMP("running_mean", rm, rm_all, (size_t)N);
    CMP("running_var", rv, rv_all, (size_t)N);
    CMP("dgamma", dg, dg_all, (size_t)N);
    CMP("dbeta", db, db_all, (size_t)N);
    /* every rank holds the same running statistics, bit for bit: the means and the variances */
    fc_real rm0[N], rv0[N];
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    MPI_Bcast(rm0, N * (int)sizeof(fc_real), MPI_BYTE, 0, dist->comm);
    MPI_Bcast(rv0, N * (int)sizeof(fc_real), MPI_BYTE, 0, dist->comm);
    if (memcmp(rm0, rm, sizeof rm) != 0 || memcmp(rv0, rv, sizeof rv) != 0) {
        fprintf(stderr, "B=%d ranks=%d: rank %d's running statistics differ from rank 0's\n", global_batch,
                dist->size, dist->rank);
        ok = 0;
    }
    free(ref);
    free(x), free(dout), free(out_all), free(xhat_all), free(dx_all), free(out), free(xhat), free(dx);
    return ok;
}

START_TEST(test_sync_equals_whole)
{
    fc_dist dist;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_dist_reserve(&dist, N, 2 * N + 1);
    const int batches[] = {13, 3, dist.size, 1, 64};
    for (int k = 0; k < 5; k++) ck_assert(check_batch(&dist, batches[k]));
    fc_dist_free(&dist);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sync_bn");
    TCase *t = tcase_create("sync_bn");
    tcase_add_test(t, test_sync_equals_whole);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
