/* Batchnorm behaviour: train-mode output statistics, test mode from running statistics, running
 * statistics following the blend of batch statistics exactly and converging to the data's, and Chan's
 * merge equal to the statistics of the whole. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/layers.h"
#include "fcnet/rng.h"
#include "testutil.h"

enum { B = 200, N = 6 };

static void gaussian_batch(fc_real *x, int batch, int n, uint64_t seed, const double *mu, const double *sd)
{
    double *z = malloc((size_t)batch * n * sizeof *z);
    fc_rng_normal_fill(z, (size_t)batch * n, seed, 77, 1.0);
    for (int i = 0; i < batch; i++)
        for (int j = 0; j < n; j++) x[i * n + j] = (fc_real)(mu[j] + sd[j] * z[i * n + j]);
    free(z);
}

static const double mu[N] = {-3, 0, 2, 10, 0.5, 100};
static const double sd[N] = {0.5, 1, 2, 3, 0.1, 20};

START_TEST(test_train_output_statistics)
{
    fc_real x[B * N], out[B * N], xhat[B * N], inv_std[N], rm[N] = {0}, rv[N] = {0};
    fc_real gamma[N] = {1, 2, 0.5, 3, 1.5, 0.7}, beta[N] = {0, -1, 4, 0.25, 2, -3};
    double scratch[2 * N + 1];
    gaussian_batch(x, B, N, 1, mu, sd);
    fc_batchnorm_forward_train(out, xhat, inv_std, rm, rv, x, gamma, beta, 0.9, B, N, scratch, NULL);
    for (int j = 0; j < N; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < B; i++) m += (double)out[i * N + j];
        m /= B;
        for (int i = 0; i < B; i++) v += ((double)out[i * N + j] - m) * ((double)out[i * N + j] - m);
        double s = sqrt(v / B);
        ck_assert_msg(fabs(m - (double)beta[j]) < 1e-4, "feature %d mean %g beta %g", j, m, (double)beta[j]);
        /* std = gamma * sqrt(var / (var + eps)) */
        ck_assert_msg(fabs(s - (double)gamma[j]) < 1e-3 * (double)gamma[j] + 1e-4, "feature %d std %g gamma %g", j, s,
                      (double)gamma[j]);
    }
}
END_TEST

START_TEST(test_test_mode_uses_running_stats)
{
    fc_real x[4 * N], out[4 * N];
    fc_real gamma[N] = {1, 2, 0.5, 3, 1.5, 0.7}, beta[N] = {0, -1, 4, 0.25, 2, -3};
    fc_real rm[N] = {1, -2, 3, 0, 5, -1}, rv[N] = {4, 0.25, 1, 9, 2, 0.5};
    for (int i = 0; i < 4 * N; i++) x[i] = (fc_real)(i * 0.37 - 2);
    fc_batchnorm_forward_test(out, x, gamma, beta, rm, rv, 4, N);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < N; j++) {
            double want = (double)gamma[j] * ((double)x[i * N + j] - (double)rm[j]) / sqrt((double)rv[j] + 1e-5) +
                          (double)beta[j];
            ck_assert_msg(fabs((double)out[i * N + j] - want) < 1e-5 * (1 + fabs(want)), "row %d feature %d", i, j);
        }
    /* One row at a time gives the same answer: test mode has no batch dependence. */
    fc_real one[N];
    fc_batchnorm_forward_test(one, x + 2 * N, gamma, beta, rm, rv, 1, N);
    ck_assert(memcmp(one, out + 2 * N, sizeof one) == 0);
}
END_TEST

START_TEST(test_running_stats_converge)
{
    fc_real x[B * N], out[B * N], xhat[B * N], inv_std[N], rm[N] = {0}, rv[N] = {0};
    fc_real gamma[N], beta[N];
    double scratch[2 * N + 1];
    /* Alongside, the same blend of each batch's mean and biased variance written out in double: the running
     * statistics must follow it to float rounding, not just land near the population's. */
    double want_rm[N] = {0}, want_rv[N] = {0};
    for (int j = 0; j < N; j++) gamma[j] = 1, beta[j] = 0;
    for (int it = 0; it < 200; it++) {
        gaussian_batch(x, B, N, 100 + (uint64_t)it, mu, sd);
        fc_batchnorm_forward_train(out, xhat, inv_std, rm, rv, x, gamma, beta, 0.9, B, N, scratch, NULL);
        for (int j = 0; j < N; j++) {
            double m = 0, v = 0;
            for (int i = 0; i < B; i++) m += (double)x[i * N + j];
            m /= B;
            for (int i = 0; i < B; i++) v += ((double)x[i * N + j] - m) * ((double)x[i * N + j] - m);
            want_rm[j] = 0.9 * want_rm[j] + 0.1 * m;
            want_rv[j] = 0.9 * want_rv[j] + 0.1 * (v / B);
        }
    }
    for (int j = 0; j < N; j++) {
        ck_assert_msg(fabs((double)rm[j] - want_rm[j]) < 1e-5 * (fabs(want_rm[j]) + sd[j]),
                      "feature %d running mean %.9g, blend of batch means %.9g", j, (double)rm[j], want_rm[j]);
        ck_assert_msg(fabs((double)rv[j] - want_rv[j]) < 1e-5 * want_rv[j],
                      "feature %d running var %.9g, blend of batch variances %.9g", j, (double)rv[j], want_rv[j]);
    }
    for (int j = 0; j < N; j++) {
        /* biased batch variance: E = (B-1)/B sd^2; batch noise ~ sd^2 sqrt(2/B) averaged over ~19 batches */
        double want_var = sd[j] * sd[j] * (B - 1) / B;
        ck_assert_msg(fabs((double)rm[j] - mu[j]) < 0.1 * sd[j], "feature %d running mean %g", j, (double)rm[j]);
        ck_assert_msg(fabs((double)rv[j] - want_var) < 0.1 * want_var, "feature %d running var %g want %g", j,
                      (double)rv[j], want_var);
    }
}
END_TEST

START_TEST(test_chan_merge_equals_whole)
{
    enum { ROWS = 23 };
    fc_real x[ROWS * N];
    gaussian_batch(x, ROWS, N, 5, mu, sd);
    double mean_all[N], m2_all[N];
    fc_moments_columns(mean_all, m2_all, x, ROWS, N);
    /* split 0 | 7 | 1 | 0 | 15 rows, merged in order */
    const int parts[] = {0, 7, 1, 0, 15};
    int64_t n_acc = 0;
    double mean_acc[N] = {0}, m2_acc[N] = {0};
    int at = 0;
    for (int p = 0; p < 5; p++) {
        double mean_p[N], m2_p[N];
        fc_moments_columns(mean_p, m2_p, x + at * N, parts[p], N);
        fc_moments_merge(&n_acc, mean_acc, m2_acc, parts[p], mean_p, m2_p, N);
        at += parts[p];
    }
    ck_assert_int_eq(n_acc, ROWS);
    ck_assert(fct_close_d("merged mean", mean_acc, mean_all, N, 1e-12, 1e-12));
    ck_assert(fct_close_d("merged m2", m2_acc, m2_all, N, 1e-12, 1e-12));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *t = tcase_create("batchnorm");
    tcase_add_test(t, test_train_output_statistics);
    tcase_add_test(t, test_test_mode_uses_running_stats);
    tcase_add_test(t, test_running_stats_converge);
    tcase_add_test(t, test_chan_merge_equals_whole);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
