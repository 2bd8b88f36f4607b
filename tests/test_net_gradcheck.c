/* Numerical gradient checks of whole nets, double build: depth 1 to 4, none/batchnorm/layernorm,
 * dropout with fixed masks (same step and rows on every evaluation), reg > 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/net.h"
#include "fcnet/rng.h"
#include "testutil.h"

_Static_assert(sizeof(fc_real) == sizeof(double), "gradient checks run in the double build");

enum { BATCH = 7, D = 6, C = 4 };

static double total_loss(fc_net *net, const double *x, const int32_t *y, const fc_batch_info *info)
{
    fc_net_forward(net, x, BATCH, FC_MODE_TRAIN, info);
    double loss = fc_net_loss(net, y, info);
    return loss + fc_net_add_reg(net);
}

/* Returns 1 when every parameter's gradient passes. */
static int check_net(int n_hidden, fc_norm norm, double keep, double reg)
{
    static const int widths[] = {5, 7, 3};
    fc_net_config cfg = {.n_input = D, .n_classes = C, .n_hidden = n_hidden, .hidden = widths, .norm = norm,
                         .keep = keep, .reg = reg, .weight_scale = 0.5, .init = FC_INIT_NORMAL,
                         .bn_momentum = 0.9, .seed = 1234};
    fc_net net;
    fc_net_init(&net, &cfg, BATCH, NULL);
    /* Perturb gamma and beta away from 1 and 0 so their gradients are exercised in general position. */
    for (int i = 0; i < net.layout.n_views; i++) {
        fc_view *v = &net.layout.views[i];
        if (strncmp(v->name, "gamma", 5) && strncmp(v->name, "beta", 4) && v->name[0] != 'b') continue;
        for (size_t j = 0; j < fc_view_size(v); j++) {
            uint32_t w[4];
            fc_rng_block(w, 99, FC_RNG_TEST, (uint64_t)i, 0, 0, (uint32_t)j);
            net.params[v->offset + j] += 0.3 * (fc_rng_unit_double(w[0], w[1]) - 0.5);
        }
    }
    double x[BATCH * D];
    int32_t y[BATCH];
    for (int i = 0; i < BATCH * D; i++) {
        uint32_t w[4];
        fc_rng_block(w, 5, FC_RNG_TEST, 1, 0, 0, (uint32_t)i);
        x[i] = 4 * fc_rng_unit_double(w[0], w[1]) - 2;
    }
    for (int i = 0; i < BATCH; i++) y[i] = (i * 3) % C;
    fc_batch_info info = {.step = 11, .row0 = 0, .global_batch = BATCH};

    fc_net_forward(&net, x, BATCH, FC_MODE_TRAIN, &info);
    fc_net_loss(&net, y, &info);
    fc_net_backward(&net);
    fc_net_add_reg(&net); /* the analytic gradient includes reg * W */
    double *analytic = malloc(net.layout.n_total * sizeof *analytic);
    memcpy(analytic, net.grads, net.layout.n_total * sizeof *analytic);

    int all_ok = 1;
    const double h = 1e-5;
    for (int i = 0; i < net.layout.n_views; i++) {
        const fc_view *v = &net.layout.views[i];
        size_t n = fc_view_size(v);
        double *num = malloc(n * sizeof *num);
        for (size_t j = 0; j < n; j++) {
            double *p = &net.params[v->offset + j], keep_p = *p;
            *p = keep_p + h;
            double fp = total_loss(&net, x, y, &info);
            *p = keep_p - h;
            double fm = total_loss(&net, x, y, &info);
            *p = keep_p;
            num[j] = (fp - fm) / (2 * h);
        }
        const double *a = analytic + v->offset;
        double rel = fct_rel_error(a, num, n), worst_abs = 0;
        for (size_t j = 0; j < n; j++) worst_abs = fmax(worst_abs, fabs(a[j] - num[j]));
        /* cs231n's levels: 1e-7, first-layer weights up to 1e-5; an exactly-zero gradient (a bias
         * before batchnorm) can only be checked against the noise floor of central differences. */
        double tol = strcmp(v->name, "W1") == 0 ? 1e-5 : 1e-7;
        int ok = rel <= tol || worst_abs <= 1e-10;
        fprintf(stderr, "depth %d norm %d keep %.2f reg %.2f %-8s rel %.2e abs %.2e %s\n", n_hidden + 1,
                (int)norm, keep, reg, v->name, rel, worst_abs, ok ? "ok" : "FAIL");
        all_ok &= ok;
        free(num);
    }
    free(analytic);
    fc_net_free(&net);
    return all_ok;
}

START_TEST(test_depths_norms)
{
    /* _i: depth index 0..3 (1 to 4 layers). */
    const int n_hidden = _i;
    for (int norm = 0; norm < 3; norm++) {
        ck_assert(check_net(n_hidden, (fc_norm)norm, 1.0, 0.0));
        ck_assert(check_net(n_hidden, (fc_norm)norm, 1.0, 0.1));
        if (n_hidden > 0) ck_assert(check_net(n_hidden, (fc_norm)norm, 0.75, 0.1));
    }
}
END_TEST

/* Breaking the forward-backward pair must show: a wrong reg gradient is caught. */
START_TEST(test_detects_wrong_gradient)
{
    static const int widths[] = {5};
    fc_net_config cfg = {.n_input = D, .n_classes = C, .n_hidden = 1, .hidden = widths, .keep = 1, .reg = 0.1,
                         .weight_scale = 0.5, .bn_momentum = 0.9, .seed = 7};
    fc_net net;
    fc_net_init(&net, &cfg, BATCH, NULL);
    double x[BATCH * D];
    int32_t y[BATCH] = {0, 1, 2, 3, 0, 1, 2};
    for (int i = 0; i < BATCH * D; i++) x[i] = sin(i);
    fc_batch_info info = {.step = 0, .row0 = 0, .global_batch = BATCH};
    fc_net_forward(&net, x, BATCH, FC_MODE_TRAIN, &info);
    fc_net_loss(&net, y, &info);
    fc_net_backward(&net); /* reg gradient deliberately not added */
    const fc_view *w2 = &net.layout.views[fc_layout_find(&net.layout, "W2")];
    double *p = &net.params[w2->offset], keep_p = *p, h = 1e-5;
    *p = keep_p + h;
    double fp = total_loss(&net, x, y, &info);
    *p = keep_p - h;
    double fm = total_loss(&net, x, y, &info);
    *p = keep_p;
    double num = (fp - fm) / (2 * h), a = net.grads[w2->offset];
    ck_assert(fabs(num - a) / fmax(1e-8, fabs(num) + fabs(a)) > 1e-5);
    fc_net_free(&net);
}
END_TEST

/* A net of all-zero weights, so that every row's scores are its last-layer bias b2, after a test-mode forward of
 * arbitrary rows. */
static void forward_bias_only(fc_net *net, const double b2_values[C])
{
    static const int widths[] = {5};
    fc_net_config cfg = {.n_input = D, .n_classes = C, .n_hidden = 1, .hidden = widths, .keep = 1,
                         .weight_scale = 0, .init = FC_INIT_NORMAL, .bn_momentum = 0.9, .seed = 7};
    fc_net_init(net, &cfg, BATCH, NULL);
    double *b2 = &net->params[net->layout.views[fc_layout_find(&net->layout, "b2")].offset];
    for (int k = 0; k < C; k++) b2[k] = b2_values[k];
    double x[BATCH * D];
    for (int i = 0; i < BATCH * D; i++) x[i] = sin(i);
    fc_net_forward(net, x, BATCH, FC_MODE_TEST, NULL);
}

/* Accuracy counting and eval (fc_net_predict) take the first maximum of a row, as numpy's argmax: all-zero weights
 * and a last-layer bias whose largest value is shared by classes 1 and 2 make every row predict class 1. */
START_TEST(test_count_correct_first_maximum)
{
    fc_net net;
    forward_bias_only(&net, (const double[C]){0, 1, 1, 0.5});
    const int32_t y[BATCH] = {1, 1, 1, 2, 0, 3, 1}; /* four rows of class 1, one of class 2 */
    const double *scores = net.scores;
    for (int i = 0; i < BATCH; i++) {
        ck_assert(scores[i * C + 1] == scores[i * C + 2]);
        ck_assert_int_eq(fc_net_predict(&net, i), 1); /* eval's rule */
    }
    int64_t no_class = 0;
    ck_assert_int_eq(fc_net_count_correct(&net, y, &no_class), 4);
    ck_assert_int_eq(no_class, 0);
    fc_net_free(&net);
}
END_TEST

/* A row with a NaN or infinite score has no class: it is counted as wrong and as a row without a class, never
 * as the argmax the comparisons happen to leave (class 0 for a leading NaN, the Inf's class). */
START_TEST(test_count_correct_non_finite_rows)
{
    fc_net net;
    forward_bias_only(&net, (const double[C]){0, 1, 0.5, 0.5}); /* every row's finite scores predict class 1 */
    double *s = net.scores;
    s[0 * C + 0] = (double)NAN;                                   /* a leading NaN: the comparisons gave class 0 */
    s[1 * C + 1] = (double)NAN;                                   /* a NaN in the true class */
    s[2 * C + 0] = (double)INFINITY;                              /* an overflow: gave the Inf's class 0 */
    for (int k = 0; k < C; k++) s[3 * C + k] = -(double)INFINITY; /* all -Inf: gave class 0 */
    s[4 * C + 3] = -(double)INFINITY;                             /* one -Inf, the rest finite */
    const int32_t y[BATCH] = {0, 1, 0, 0, 1, 1, 2};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(fc_net_predict(&net, i), FC_NET_NO_CLASS);
    ck_assert_int_eq(fc_net_predict(&net, 5), 1);
    int64_t no_class = 0;
    ck_assert_int_eq(fc_net_count_correct(&net, y, &no_class), 1); /* row 5 alone */
    ck_assert_int_eq(no_class, 5);
    fc_net_free(&net);
}
END_TEST

/* ReLU passes a NaN on, as cs231n's np.maximum(0, x) does, in test mode and through a kept dropout unit: a row on
 * which the network overflows (here a NaN feature, every hidden unit NaN) reaches NaN scores and has no class.
 * Before, ReLU made the NaN units 0 and the row got the class of its bias-only scores. */
START_TEST(test_nan_passes_relu)
{
    static const int widths[] = {5};
    for (int train = 0; train < 2; train++) {
        fc_net_config cfg = {.n_input = D, .n_classes = C, .n_hidden = 1, .hidden = widths, .keep = train ? 0.5 : 1,
                             .weight_scale = 0.1, .init = FC_INIT_NORMAL, .bn_momentum = 0.9, .seed = 7};
        fc_net net;
        fc_net_init(&net, &cfg, BATCH, NULL);
        double x[BATCH * D];
        for (int i = 0; i < BATCH * D; i++) x[i] = sin(i);
        x[2 * D + 1] = (double)NAN;
        const fc_batch_info info = {.step = 3, .row0 = 0, .global_batch = BATCH};
        const double *s = fc_net_forward(&net, x, BATCH, train ? FC_MODE_TRAIN : FC_MODE_TEST, &info);
        for (int i = 0; i < BATCH; i++)
            for (int k = 0; k < C; k++) ck_assert_msg(i == 2 ? isnan(s[i * C + k]) : isfinite(s[i * C + k]),
                                                      "train %d: score (%d, %d) = %g", train, i, k, s[i * C + k]);
        ck_assert_int_eq(fc_net_predict(&net, 2), FC_NET_NO_CLASS);
        fc_net_free(&net);
    }
}
END_TEST

/* fc_net_bn_stats_finite, the check that stops a run whose running statistics overflowed although the loss and
 * gradients stayed finite, looks at every element: each running mean and variance of both batchnorm layers,
 * the first and the last included, made +Inf, -Inf or NaN alone. The last layer is 16 wide, so that its running
 * variance's last element is the arena's last (the views are 16-element aligned; a narrower layer would leave
 * padding there that no check needs to see). */
START_TEST(test_bn_stats_finite_every_element)
{
    static const int widths[] = {5, 16}; /* the last view ends the arena, no padding after it */
    fc_net_config cfg = {.n_input = D, .n_classes = C, .n_hidden = 2, .hidden = widths, .norm = FC_NORM_BATCH,
                         .keep = 1, .weight_scale = 0.5, .init = FC_INIT_NORMAL, .bn_momentum = 0.9, .seed = 7};
    fc_net net;
    fc_net_init(&net, &cfg, BATCH, NULL);
    ck_assert_int_eq(net.bn_layout.n_views, 4); /* running_mean1, running_var1, running_mean2, running_var2 */
    const fc_view *last = &net.bn_layout.views[3];
    ck_assert_uint_eq(last->offset + fc_view_size(last), net.bn_layout.n_total);
    for (int k = 0; k < net.bn_layout.n_views; k++) {
        const fc_view *v = &net.bn_layout.views[k];
        for (size_t j = 0; j < fc_view_size(v); j++) net.bn_stats[v->offset + j] = 0.25 * (double)(k + j + 1);
    }
    ck_assert_int_eq(fc_net_bn_stats_finite(&net), 1);
    const double bad[] = {(double)INFINITY, -(double)INFINITY, (double)NAN};
    for (int k = 0; k < net.bn_layout.n_views; k++) {
        const fc_view *v = &net.bn_layout.views[k];
        for (size_t j = 0; j < fc_view_size(v); j++)
            for (int b = 0; b < 3; b++) {
                double *at = &net.bn_stats[v->offset + j];
                const double keep = *at;
                *at = bad[b];
                ck_assert_msg(fc_net_bn_stats_finite(&net) == 0, "%s[%zu] = %g not found", v->name, j, bad[b]);
                *at = keep;
            }
    }
    ck_assert_int_eq(fc_net_bn_stats_finite(&net), 1);
    fc_net_free(&net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("net_gradcheck");
    TCase *t = tcase_create("net");
    tcase_add_loop_test(t, test_depths_norms, 0, 4);
    tcase_add_test(t, test_detects_wrong_gradient);
    tcase_add_test(t, test_count_correct_first_maximum);
    tcase_add_test(t, test_count_correct_non_finite_rows);
    tcase_add_test(t, test_nan_passes_relu);
    tcase_add_test(t, test_bn_stats_finite_every_element);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
