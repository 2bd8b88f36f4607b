/* Numerical gradient checks of every layer kernel, in the double build (cs231n's levels). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/layers.h"
#include "fcnet/rng.h"
#include "testutil.h"

_Static_assert(sizeof(fc_real) == sizeof(double), "gradient checks run in the double build");

#define H 1e-5

static void fill_uniform(double *x, size_t n, uint64_t seed, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t w[4];
        fc_rng_block(w, seed, FC_RNG_TEST, 0, 0, 0, (uint32_t)i);
        x[i] = lo + (hi - lo) * fc_rng_unit_double(w[0], w[1]);
    }
}

/* A layer as a scalar function: f = sum(out * dout) of the layer's output. */
typedef double (*scalar_fn)(void *ctx);

/* Central differences of f over every element of v; writes the result to num. */
static void numeric_grad(double *num, double *v, size_t n, scalar_fn f, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        double keep = v[i];
        v[i] = keep + H;
        double fp = f(ctx);
        v[i] = keep - H;
        double fm = f(ctx);
        v[i] = keep;
        num[i] = (fp - fm) / (2 * H);
    }
}

/* Pass when cs231n's relative error is <= tol, or the difference is within the noise floor of central
 * differences (exactly-zero gradients such as a bias before batchnorm have no relative precision). */
static int grad_ok(const char *label, const double *analytic, const double *num, size_t n, double tol)
{
    double rel = fct_rel_error(analytic, num, n), worst_abs = 0;
    for (size_t i = 0; i < n; i++) worst_abs = fmax(worst_abs, fabs(analytic[i] - num[i]));
    int ok = rel <= tol || worst_abs <= 1e-10;
    fprintf(stderr, "%-28s rel error %.3e  max abs %.3e  %s\n", label, rel, worst_abs, ok ? "ok" : "FAIL");
    return ok;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

enum { B = 6, NI = 5, NO = 4 };

/* ---- affine ---- */
typedef struct {
    double x[B * NI], w[NI * NO], b[NO], out[B * NO], dout[B * NO];
} affine_ctx;

static double affine_f(void *p)
{
    affine_ctx *c = p;
    fc_affine_forward(c->out, c->x, c->w, c->b, B, NI, NO);
    return dot(c->out, c->dout, B * NO);
}

START_TEST(test_affine)
{
    affine_ctx c;
    fill_uniform(c.x, B * NI, 1, -1, 1);
    fill_uniform(c.w, NI * NO, 2, -1, 1);
    fill_uniform(c.b, NO, 3, -1, 1);
    fill_uniform(c.dout, B * NO, 4, -1, 1);
    double dx[B * NI], dw[NI * NO] = {0}, db[NO] = {0}, num[B * NI];
    affine_f(&c);
    fc_affine_backward(dx, dw, db, c.dout, c.x, c.w, B, NI, NO, 1);
    numeric_grad(num, c.x, B * NI, affine_f, &c);
    ck_assert(grad_ok("affine dx", dx, num, B * NI, 1e-7));
    numeric_grad(num, c.w, NI * NO, affine_f, &c);
    ck_assert(grad_ok("affine dw", dw, num, NI * NO, 1e-7));
    numeric_grad(num, c.b, NO, affine_f, &c);
    ck_assert(grad_ok("affine db", db, num, NO, 1e-7));
    /* Parameter gradients accumulate: a second backward doubles them. */
    double dw2[NI * NO], db2[NO];
    memcpy(dw2, dw, sizeof dw);
    memcpy(db2, db, sizeof db);
    fc_affine_backward(NULL, dw2, db2, c.dout, c.x, c.w, B, NI, NO, 1);
    for (int i = 0; i < NI * NO; i++) ck_assert(fabs(dw2[i] - 2 * dw[i]) <= 1e-12 * (1 + fabs(dw[i])));
    for (int i = 0; i < NO; i++) ck_assert(fabs(db2[i] - 2 * db[i]) <= 1e-12 * (1 + fabs(db[i])));
    /* accumulate == 0 overwrites: garbage in the buffers, the same gradients out. */
    for (int i = 0; i < NI * NO; i++) dw2[i] = 1e30;
    for (int i = 0; i < NO; i++) db2[i] = -1e30;
    fc_affine_backward(NULL, dw2, db2, c.dout, c.x, c.w, B, NI, NO, 0);
    for (int i = 0; i < NI * NO; i++) ck_assert(dw2[i] == dw[i]);
    for (int i = 0; i < NO; i++) ck_assert(db2[i] == db[i]);
    /* ... also with no rows (a rank whose slice of the batch is empty). */
    fc_affine_backward(NULL, dw2, db2, c.dout, c.x, c.w, 0, NI, NO, 0);
    for (int i = 0; i < NI * NO; i++) ck_assert(dw2[i] == 0);
    for (int i = 0; i < NO; i++) ck_assert(db2[i] == 0);
}
END_TEST

/* ---- relu ---- */
typedef struct {
    double x[B * NO], out[B * NO], dout[B * NO];
} relu_ctx;

static double relu_f(void *p)
{
    relu_ctx *c = p;
    fc_relu_forward(c->out, c->x, B * NO);
    return dot(c->out, c->dout, B * NO);
}

START_TEST(test_relu)
{
    relu_ctx c;
    fill_uniform(c.x, B * NO, 5, -1, 1);
    for (int i = 0; i < B * NO; i++)
        if (fabs(c.x[i]) < 1e-3) c.x[i] = 0.5; /* stay away from the kink */
    fill_uniform(c.dout, B * NO, 6, -1, 1);
    double dx[B * NO], num[B * NO];
    relu_f(&c);
    fc_relu_backward(dx, c.dout, c.out, B * NO);
    numeric_grad(num, c.x, B * NO, relu_f, &c);
    ck_assert(grad_ok("relu dx", dx, num, B * NO, 1e-7));
}
END_TEST

/* ---- batchnorm and layernorm ---- */
typedef struct {
    int layer; /* 0 batchnorm, 1 layernorm */
    double x[B * NO], gamma[NO], beta[NO], out[B * NO], dout[B * NO];
    double xhat[B * NO], inv_std[B > NO ? B : NO], rmean[NO], rvar[NO], scratch[2 * NO + 1];
} norm_ctx;

static double norm_f(void *p)
{
    norm_ctx *c = p;
    if (c->layer == 0)
        fc_batchnorm_forward_train(c->out, c->xhat, c->inv_std, c->rmean, c->rvar, c->x, c->gamma, c->beta,
                                   0.9, B, NO, c->scratch, NULL);
    else
        fc_layernorm_forward(c->out, c->xhat, c->inv_std, c->x, c->gamma, c->beta, B, NO);
    return dot(c->out, c->dout, B * NO);
}

static void check_norm(int layer)
{
    norm_ctx c;
    memset(&c, 0, sizeof c);
    c.layer = layer;
    fill_uniform(c.x, B * NO, 7, -3, 5);
    fill_uniform(c.gamma, NO, 8, 0.5, 1.5);
    fill_uniform(c.beta, NO, 9, -1, 1);
    fill_uniform(c.dout, B * NO, 10, -1, 1);
    double dx[B * NO], dgamma[NO] = {0}, dbeta[NO] = {0}, num[B * NO];
    norm_f(&c);
    if (layer == 0)
        fc_batchnorm_backward(dx, dgamma, dbeta, c.dout, c.xhat, c.inv_std, c.gamma, B, NO, c.scratch, NULL);
    else
        fc_layernorm_backward(dx, dgamma, dbeta, c.dout, c.xhat, c.inv_std, c.gamma, B, NO);
    const char *name = layer == 0 ? "batchnorm" : "layernorm";
    char label[64];
    numeric_grad(num, c.x, B * NO, norm_f, &c);
    snprintf(label, sizeof label, "%s dx", name);
    ck_assert(grad_ok(label, dx, num, B * NO, 1e-7));
    numeric_grad(num, c.gamma, NO, norm_f, &c);
    snprintf(label, sizeof label, "%s dgamma", name);
    ck_assert(grad_ok(label, dgamma, num, NO, 1e-7));
    numeric_grad(num, c.beta, NO, norm_f, &c);
    snprintf(label, sizeof label, "%s dbeta", name);
    ck_assert(grad_ok(label, dbeta, num, NO, 1e-7));
}

START_TEST(test_batchnorm) { check_norm(0); }
END_TEST

START_TEST(test_layernorm) { check_norm(1); }
END_TEST

/* ---- dropout: a fixed mask (same key) makes it linear ---- */
typedef struct {
    double x[B * NO], out[B * NO], dout[B * NO];
} drop_ctx;

static double drop_f(void *p)
{
    drop_ctx *c = p;
    memcpy(c->out, c->x, sizeof c->x);
    fc_dropout_forward(c->out, 0.6, 42, 7, 2, 100, B, NO);
    return dot(c->out, c->dout, B * NO);
}

START_TEST(test_dropout)
{
    drop_ctx c;
    fill_uniform(c.x, B * NO, 11, -1, 1);
    fill_uniform(c.dout, B * NO, 12, -1, 1);
    double dx[B * NO], num[B * NO];
    drop_f(&c);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < NO; j++) dx[i * NO + j] = c.dout[i * NO + j] * fc_dropout_mask(0.6, 42, 7, 2, 100 + i, j);
    numeric_grad(num, c.x, B * NO, drop_f, &c);
    ck_assert(grad_ok("dropout dx", dx, num, B * NO, 1e-7));
}
END_TEST

/* ---- the fused hidden-layer kernels: bias or normalisation, then ReLU and dropout, through the library's
 * own backward (act_grad_row and friends), for no normalisation, batchnorm and layernorm, keep 1 and 0.6 ---- */
typedef struct {
    int norm; /* 0 none (bias), 1 batchnorm, 2 layernorm */
    fc_act act;
    double z[B * NO], b[NO], gamma[NO], beta[NO], out[B * NO], dout[B * NO];
    double xhat[B * NO], inv_std[B > NO ? B : NO], rmean[NO], rvar[NO], scratch[2 * NO + 1];
} fused_ctx;

static void fused_forward(fused_ctx *c, const fc_act *act)
{
    if (c->norm == 0)
        fc_bias_act_forward(c->out, c->z, c->b, act, B, NO);
    else if (c->norm == 1)
        fc_batchnorm_act_forward_train(c->out, c->xhat, c->inv_std, c->rmean, c->rvar, c->z, c->b, c->gamma,
                                       c->beta, 0.9, act, B, NO, c->scratch, NULL);
    else
        fc_layernorm_act_forward(c->out, c->xhat, c->inv_std, c->z, c->b, c->gamma, c->beta, act, B, NO);
}

static double fused_f(void *p)
{
    fused_ctx *c = p;
    fused_forward(c, &c->act);
    return dot(c->out, c->dout, B * NO);
}

START_TEST(test_fused_act)
{
    static const char *const names[] = {"bias", "batchnorm", "layernorm"};
    fused_ctx c;
    memset(&c, 0, sizeof c);
    c.norm = _i % 3;
    c.act = (fc_act){.relu = 1, .keep = _i < 3 ? 1.0 : 0.6, .seed = 42, .step = 7, .layer = 2, .row0 = 100};
    fill_uniform(c.z, B * NO, 21, -3, 5);
    fill_uniform(c.b, NO, 22, -1, 1);
    fill_uniform(c.gamma, NO, 23, 0.5, 1.5);
    fill_uniform(c.beta, NO, 24, -1, 1);
    fill_uniform(c.dout, B * NO, 25, -1, 1);
    /* Central differences need every pre-activation away from ReLU's kink, and the case must exercise both
     * sides of it and (keep < 1) both dropout outcomes. */
    const fc_act linear = {.relu = 0, .keep = 1};
    fused_forward(&c, &linear);
    int negative = 0, dropped = 0;
    for (int i = 0; i < B * NO; i++) {
        ck_assert_msg(fabs(c.out[i]) > 1e-3, "pre-activation %d too close to 0: %g", i, c.out[i]);
        negative += c.out[i] < 0;
    }
    fused_f(&c);
    for (int i = 0; i < B * NO; i++)
        dropped += c.out[i] == 0 && fc_dropout_mask(c.act.keep, 42, 7, 2, 100 + i / NO, i % NO) == 0;
    ck_assert_int_gt(negative, 0);
    if (c.act.keep < 1) ck_assert_int_gt(dropped, 0);

    double h[B * NO], dz[B * NO], db[NO] = {0}, dgamma[NO] = {0}, dbeta[NO] = {0}, num[B * NO];
    memcpy(h, c.out, sizeof h);
    if (c.norm == 0)
        fc_bias_act_backward(dz, db, c.dout, h, c.act.keep, B, NO);
    else if (c.norm == 1)
        fc_batchnorm_act_backward(dz, db, dgamma, dbeta, c.dout, h, c.act.keep, c.xhat, c.inv_std, c.gamma, B, NO,
                                  c.scratch, NULL);
    else
        fc_layernorm_act_backward(dz, db, dgamma, dbeta, c.dout, h, c.act.keep, c.xhat, c.inv_std, c.gamma, B, NO);
    char label[64];
    snprintf(label, sizeof label, "%s+relu keep %.1f dz", names[c.norm], c.act.keep);
    numeric_grad(num, c.z, B * NO, fused_f, &c);
    ck_assert(grad_ok(label, dz, num, B * NO, 1e-7));
    snprintf(label, sizeof label, "%s+relu keep %.1f db", names[c.norm], c.act.keep);
    numeric_grad(num, c.b, NO, fused_f, &c);
    ck_assert(grad_ok(label, db, num, NO, 1e-7));
    if (c.norm == 0) return;
    snprintf(label, sizeof label, "%s+relu keep %.1f dgamma", names[c.norm], c.act.keep);
    numeric_grad(num, c.gamma, NO, fused_f, &c);
    ck_assert(grad_ok(label, dgamma, num, NO, 1e-7));
    snprintf(label, sizeof label, "%s+relu keep %.1f dbeta", names[c.norm], c.act.keep);
    numeric_grad(num, c.beta, NO, fused_f, &c);
    ck_assert(grad_ok(label, dbeta, num, NO, 1e-7));
}
END_TEST

/* ---- softmax cross-entropy ---- */
/* Sizes up to 3 x 100: more classes than fc_softmax_loss keeps exponentials for (64), whose probabilities
 * are then recomputed. */
enum { SM_MAX = 3 * 100 };
typedef struct {
    double scores[SM_MAX], d[SM_MAX];
    int32_t y[SM_MAX];
    int batch, classes;
} softmax_ctx;

static double softmax_f(void *p)
{
    softmax_ctx *c = p;
    return fc_softmax_loss(c->d, c->scores, c->y, c->batch, c->classes, c->batch);
}

/* Analytic dscores against central differences; every row of dscores sums to 0 (the probabilities sum to 1,
 * minus the one-hot label). */
static void check_softmax_grad(softmax_ctx *c, const char *label)
{
    const size_t n = (size_t)c->batch * (size_t)c->classes;
    double num[SM_MAX], analytic[SM_MAX];
    softmax_f(c);
    memcpy(analytic, c->d, n * sizeof *analytic);
    numeric_grad(num, c->scores, n, softmax_f, c);
    ck_assert(grad_ok(label, analytic, num, n, 1e-7));
    for (int i = 0; i < c->batch; i++) {
        double row = 0;
        for (int k = 0; k < c->classes; k++) row += analytic[(size_t)i * (size_t)c->classes + (size_t)k];
        ck_assert_msg(fabs(row) < 1e-15, "%s: row %d of dscores sums to %g", label, i, row);
    }
}

START_TEST(test_softmax)
{
    static softmax_ctx c = {.batch = B, .classes = NO};
    fill_uniform(c.scores, B * NO, 13, -5, 5);
    for (int i = 0; i < B; i++) c.y[i] = i % NO;
    check_softmax_grad(&c, "softmax dscores");
    /* Max subtraction: huge scores give the same loss as shifted ones, never inf/nan. */
    double loss = softmax_f(&c);
    for (int i = 0; i < B * NO; i++) c.scores[i] += 1000;
    double shifted = softmax_f(&c);
    ck_assert(isfinite(shifted) && fabs(shifted - loss) < 1e-9);
    /* Uniform scores: loss = log(C). */
    memset(c.scores, 0, sizeof c.scores);
    ck_assert(fabs(softmax_f(&c) - log((double)NO)) < 1e-12);
}
END_TEST

START_TEST(test_softmax_many_classes)
{
    static softmax_ctx c = {.batch = 3, .classes = 100, .y = {3, 64, 99}}; /* labels on both sides of 64 */
    fill_uniform(c.scores, 3 * 100, 14, -5, 5);
    check_softmax_grad(&c, "softmax dscores, 100 classes");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("layers_gradcheck");
    TCase *t = tcase_create("layers");
    tcase_add_test(t, test_affine);
    tcase_add_test(t, test_relu);
    tcase_add_test(t, test_batchnorm);
    tcase_add_test(t, test_layernorm);
    tcase_add_test(t, test_dropout);
    tcase_add_loop_test(t, test_fused_act, 0, 6);
    tcase_add_test(t, test_softmax);
    tcase_add_test(t, test_softmax_many_classes);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
