/* fcnet against the independent numpy reference (tests/ref/reference.py) through the committed
 * fixtures tests/ref/fixtures.h5: random numbers bit for bit, every layer kernel, whole nets (loss, every
 * gradient, running statistics, test-mode scores), seeded initialisation and optimizer trajectories.
 * Built twice: float (product tolerances) and double (to ~1e-12, i.e. the same formulas). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/layers.h"
#include "fcnet/net.h"
#include "fcnet/optim.h"
#include "fcnet/params.h"
#include "fcnet/rng.h"
#include "testutil.h"

/* |got - want| <= ATOL + RTOL |want|. The fixture inputs are float32-representable, so the float build
 * differs from the float64 reference only through its own rounding: a few float ulps (6e-8) per
 * operation, amplified by the short sums here (batch 7, width <= 9) and by batchnorm/layernorm's
 * division by the standard deviation (the fixtures keep every normalised std >= 0.3, see
 * make_fixtures.py) -- 1e-5 relative with a 2e-6 floor for entries near zero. Measured: the float
 * build stays within a tenth of that bound everywhere but batchnorm test-mode scores (a third).
 * The double build runs the same formulas in another summation order (BLAS), so 1e-12 relative with a
 * 1e-13 floor for sums that cancel to ~0 (the gradient of a bias feeding batchnorm); measured within a
 * hundredth of that bound. */
#ifdef FC_REAL_DOUBLE
#define ATOL 1e-13
#define RTOL 1e-12
#else
#define ATOL 2e-6
#define RTOL 1e-5
#endif
/* Quantities fcnet computes in double whatever fc_real is (moments, Box-Muller): the libm
 * functions of two implementations may differ by an ulp, nothing more. */
#define ATOL_D 1e-14
#define RTOL_D 1e-13

static char fixture_file[4096];

/* Every array a test reads or allocates goes into a pool freed at the next test's start: a failed
 * ck_assert leaves the test early (CK_NOFORK), so per-test frees would leak anyway. */
static void **pool;
static int pool_n, pool_cap;

static void pool_reset(void)
{
    for (int i = 0; i < pool_n; i++) free(pool[i]);
    pool_n = 0;
    if (!fixture_file[0]) snprintf(fixture_file, sizeof fixture_file, "%s", fct_data_path("ref/fixtures.h5"));
}

static void *pool_add(void *p)
{
    ck_assert_msg(p != NULL, "out of memory");
    if (pool_n == pool_cap) {
        pool_cap = pool_cap ? 2 * pool_cap : 256;
        void **grown = realloc(pool, (size_t)pool_cap * sizeof *grown);
        ck_assert_msg(grown != NULL, "out of memory");
        pool = grown;
    }
    pool[pool_n++] = p;
    return p;
}

static void *pool_alloc(size_t n_bytes) { return pool_add(calloc(n_bytes ? n_bytes : 1, 1)); }

/* Reads the dataset named by the printf-style format; fails the test when it is missing. */
static double *vrd(long *count, const char *fmt, va_list ap)
{
    char name[256];
    vsnprintf(name, sizeof name, fmt, ap);
    double *d = NULL;
    long n = fct_h5_read(fixture_file, name, &d, NULL, NULL);
    ck_assert_msg(n >= 0, "fixture %s: cannot read %s (regenerate with tests/ref/make_fixtures.py)",
                  fixture_file, name);
    pool_add(d);
    if (count) *count = n;
    return d;
}

static double *rd(long *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double *rd(long *count, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    double *d = vrd(count, fmt, ap);
    va_end(ap);
    return d;
}

static fc_real *to_real(const double *d, long n)
{
    fc_real *r = pool_alloc((size_t)n * sizeof *r);
    for (long i = 0; i < n; i++) r[i] = (fc_real)d[i];
    return r;
}

/* The same, converted to fc_real. */
static fc_real *rd_real(long *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static fc_real *rd_real(long *count, const char *fmt, ...)
{
    long n;
    va_list ap;
    va_start(ap, fmt);
    const double *d = vrd(&n, fmt, ap);
    va_end(ap);
    if (count) *count = n;
    return to_real(d, n);
}

static int32_t *to_labels(const double *d, long n)
{
    int32_t *y = pool_alloc((size_t)n * sizeof *y);
    for (long i = 0; i < n; i++) y[i] = (int32_t)d[i];
    return y;
}

static uint64_t seed_of(double lo, double hi) { return (uint64_t)lo | ((uint64_t)hi << 32); }

static int close_r(const char *label, const fc_real *got, const double *want, long n)
{
    return fct_close_mixed(label, got, sizeof(fc_real), want, (size_t)n, ATOL, RTOL);
}

#define CHECK_R(label, got, want, n) ck_assert_msg(close_r(label, got, want, n), "%s differs", label)
#define CHECK_D(label, got, want, n)                                                           \
    ck_assert_msg(fct_close_d(label, got, want, (size_t)(n), ATOL_D, RTOL_D), "%s differs", label)

/* ---------------------------------------------------------------------------------------------- */
/* Random numbers: exact. */

/* The four 32-bit words of case k must equal the fixture's out[4k..4k+3] bit for bit. */
static void check_words(const char *what, long k, const uint32_t got[4], const double *out)
{
    for (int i = 0; i < 4; i++)
        ck_assert_msg(got[i] == (uint32_t)out[4 * k + i], "%s %ld word %d: got 0x%08x want 0x%08x", what, k, i,
                      (unsigned)got[i], (unsigned)(uint32_t)out[4 * k + i]);
}

START_TEST(test_philox_kat)
{
    pool_reset();
    long n;
    const double *ctr = rd(&n, "philox/ctr"), *key = rd(NULL, "philox/key"), *out = rd(NULL, "philox/out");
    for (long k = 0; k < n / 4; k++) {
        uint32_t c[4], kk[2], got[4];
        for (int i = 0; i < 4; i++) c[i] = (uint32_t)ctr[4 * k + i];
        for (int i = 0; i < 2; i++) kk[i] = (uint32_t)key[2 * k + i];
        fc_philox4x32(got, c, kk);
        check_words("Philox KAT", k, got, out);
    }
}
END_TEST

START_TEST(test_rng_block)
{
    pool_reset();
    long n;
    const double *args = rd(&n, "rng_block/args"), *out = rd(NULL, "rng_block/out");
    for (long k = 0; k < n / 7; k++) {
        const double *a = args + 7 * k;
        uint32_t got[4];
        fc_rng_block(got, seed_of(a[0], a[1]), (uint32_t)a[2], (uint64_t)a[3], (uint32_t)a[4], (uint32_t)a[5],
                     (uint32_t)a[6]);
        check_words("rng_block case", k, got, out);
    }
}
END_TEST

START_TEST(test_rng_normal)
{
    pool_reset();
    long n;
    const double *args = rd(NULL, "rng_normal/args"), *want = rd(&n, "rng_normal/x");
    double *got = pool_alloc((size_t)n * sizeof *got);
    fc_rng_normal_fill(got, (size_t)n, seed_of(args[0], args[1]), (uint32_t)args[2], args[3]);
    CHECK_D("rng_normal", got, want, n);
}
END_TEST

START_TEST(test_rng_perm)
{
    pool_reset();
    long n;
    const double *args = rd(NULL, "rng_perm/args"), *want = rd(&n, "rng_perm/perm");
    int64_t *got = pool_alloc((size_t)n * sizeof *got);
    fc_rng_permutation(got, n, seed_of(args[0], args[1]), (uint32_t)args[2], (uint64_t)args[3]);
    for (long i = 0; i < n; i++)
        ck_assert_msg(got[i] == (int64_t)want[i], "perm[%ld] = %lld, want %.0f", i, (long long)got[i],
                      want[i]);
}
END_TEST

START_TEST(test_dropout_mask)
{
    pool_reset();
    long n;
    const double *args = rd(&n, "rng_dropout_mask/args"), *want = rd(NULL, "rng_dropout_mask/mask");
    for (long k = 0; k < n / 7; k++) {
        const double *a = args + 7 * k;
        fc_real m =
            fc_dropout_mask(a[0], seed_of(a[1], a[2]), (uint64_t)a[3], (int)a[4], (int64_t)a[5], (int)a[6]);
        /* Which units are dropped must agree exactly; the kept value 1/keep to rounding. */
        ck_assert_msg((m == 0) == (want[k] == 0), "dropout mask %ld: got %g want %g", k, (double)m, want[k]);
        CHECK_R("dropout mask value", &m, &want[k], 1);
    }
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Layer kernels. */

START_TEST(test_affine)
{
    pool_reset();
    long nx, nw, nb;
    const fc_real *x = rd_real(&nx, "layers/affine/x"), *w = rd_real(&nw, "layers/affine/w");
    const fc_real *b = rd_real(&nb, "layers/affine/b"), *dout = rd_real(NULL, "layers/affine/dout");
    const int n_out = (int)nb, n_in = (int)(nw / nb), batch = (int)(nx / n_in);
    fc_real *out = pool_alloc((size_t)batch * (size_t)n_out * sizeof *out);
    fc_affine_forward(out, x, w, b, batch, n_in, n_out);
    CHECK_R("affine out", out, rd(NULL, "layers/affine/out"), batch * n_out);

    /* Parameter gradients accumulate onto dw0/db0; dx overwrites (seeded with garbage to prove it). */
    fc_real *dw = rd_real(NULL, "layers/affine/dw0"), *db = rd_real(NULL, "layers/affine/db0");
    fc_real *dx = pool_alloc((size_t)nx * sizeof *dx);
    for (long i = 0; i < nx; i++) dx[i] = (fc_real)1e3;
    fc_affine_backward(dx, dw, db, dout, x, w, batch, n_in, n_out, 1);
    CHECK_R("affine dx", dx, rd(NULL, "layers/affine/dx"), nx);
    CHECK_R("affine dw", dw, rd(NULL, "layers/affine/dw"), nw);
    CHECK_R("affine db", db, rd(NULL, "layers/affine/db"), nb);

    /* dx == NULL (layer 1) must still produce the parameter gradients. */
    dw = rd_real(NULL, "layers/affine/dw0");
    db = rd_real(NULL, "layers/affine/db0");
    fc_affine_backward(NULL, dw, db, dout, x, w, batch, n_in, n_out, 1);
    CHECK_R("affine dw (dx NULL)", dw, rd(NULL, "layers/affine/dw"), nw);
    CHECK_R("affine db (dx NULL)", db, rd(NULL, "layers/affine/db"), nb);
}
END_TEST

START_TEST(test_relu)
{
    pool_reset();
    long n;
    fc_real *x = rd_real(&n, "layers/relu/x");
    const fc_real *dout = rd_real(NULL, "layers/relu/dout");
    const double *want_out = rd(NULL, "layers/relu/out"), *want_dx = rd(NULL, "layers/relu/dx");
    fc_real *out = pool_alloc((size_t)n * sizeof *out), *dx = pool_alloc((size_t)n * sizeof *dx);
    fc_relu_forward(out, x, (size_t)n);
    CHECK_R("relu out", out, want_out, n);
    fc_relu_backward(dx, dout, out, (size_t)n);
    CHECK_R("relu dx", dx, want_dx, n);
    /* In place, as the net uses it. */
    fc_relu_forward(x, x, (size_t)n);
    CHECK_R("relu out (in place)", x, want_out, n);
    fc_real *d2 = to_real(rd(NULL, "layers/relu/dout"), n);
    fc_relu_backward(d2, d2, x, (size_t)n);
    CHECK_R("relu dx (in place)", d2, want_dx, n);
    /* A NaN passes on, as np.maximum(0, x) and the fused kernels pass it (a comparison x > 0 would make it 0). */
    const fc_real nan_in[2] = {(fc_real)NAN, -1};
    fc_real nan_out[2] = {0, 1};
    fc_relu_forward(nan_out, nan_in, 2);
    ck_assert_msg(isnan(nan_out[0]) && nan_out[1] == 0, "relu(NaN) = %g, relu(-1) = %g", (double)nan_out[0],
                  (double)nan_out[1]);
}
END_TEST

START_TEST(test_batchnorm)
{
    pool_reset();
    long nx, n;
    const fc_real *x = rd_real(&nx, "layers/batchnorm/x"), *gamma = rd_real(&n, "layers/batchnorm/gamma");
    const fc_real *beta = rd_real(NULL, "layers/batchnorm/beta");
    fc_real *rmean = rd_real(NULL, "layers/batchnorm/running_mean0");
    fc_real *rvar = rd_real(NULL, "layers/batchnorm/running_var0");
    const double momentum = rd(NULL, "layers/batchnorm/momentum")[0];
    const int batch = (int)(nx / n), width = (int)n;
    fc_real *out = pool_alloc((size_t)nx * sizeof *out), *xhat = pool_alloc((size_t)nx * sizeof *xhat);
    fc_real *inv_std = pool_alloc((size_t)n * sizeof *inv_std);
    double *scratch = pool_alloc((2 * (size_t)n + 1) * sizeof *scratch); /* 2n + 1 (layers.h) */
    fc_batchnorm_forward_train(out, xhat, inv_std, rmean, rvar, x, gamma, beta, momentum, batch, width,
                               scratch, NULL);
    CHECK_R("batchnorm out", out, rd(NULL, "layers/batchnorm/out"), nx);
    CHECK_R("batchnorm xhat", xhat, rd(NULL, "layers/batchnorm/xhat"), nx);
    CHECK_R("batchnorm inv_std", inv_std, rd(NULL, "layers/batchnorm/inv_std"), n);
    CHECK_R("batchnorm running_mean", rmean, rd(NULL, "layers/batchnorm/running_mean"), n);
    CHECK_R("batchnorm running_var (biased)", rvar, rd(NULL, "layers/batchnorm/running_var"), n);

    fc_real *dgamma = rd_real(NULL, "layers/batchnorm/dgamma0");
    fc_real *dbeta = rd_real(NULL, "layers/batchnorm/dbeta0");
    const fc_real *dout = rd_real(NULL, "layers/batchnorm/dout");
    fc_real *dx = pool_alloc((size_t)nx * sizeof *dx);
    fc_batchnorm_backward(dx, dgamma, dbeta, dout, xhat, inv_std, gamma, batch, width, scratch, NULL);
    CHECK_R("batchnorm dx", dx, rd(NULL, "layers/batchnorm/dx"), nx);
    CHECK_R("batchnorm dgamma", dgamma, rd(NULL, "layers/batchnorm/dgamma"), n);
    CHECK_R("batchnorm dbeta", dbeta, rd(NULL, "layers/batchnorm/dbeta"), n);

    /* Test mode with the running statistics this step produced (the reference's expectation uses them). */
    fc_batchnorm_forward_test(out, x, gamma, beta, rmean, rvar, batch, width);
    CHECK_R("batchnorm test-mode out", out, rd(NULL, "layers/batchnorm/out_test"), nx);
}
END_TEST

START_TEST(test_layernorm)
{
    pool_reset();
    long nx, n;
    const fc_real *x = rd_real(&nx, "layers/layernorm/x"), *gamma = rd_real(&n, "layers/layernorm/gamma");
    const fc_real *beta = rd_real(NULL, "layers/layernorm/beta");
    const int batch = (int)(nx / n), width = (int)n;
    fc_real *out = pool_alloc((size_t)nx * sizeof *out), *xhat = pool_alloc((size_t)nx * sizeof *xhat);
    fc_real *inv_std = pool_alloc((size_t)batch * sizeof *inv_std);
    fc_layernorm_forward(out, xhat, inv_std, x, gamma, beta, batch, width);
    CHECK_R("layernorm out", out, rd(NULL, "layers/layernorm/out"), nx);
    CHECK_R("layernorm xhat", xhat, rd(NULL, "layers/layernorm/xhat"), nx);
    CHECK_R("layernorm inv_std (per row)", inv_std, rd(NULL, "layers/layernorm/inv_std"), batch);

    fc_real *dgamma = rd_real(NULL, "layers/layernorm/dgamma0");
    fc_real *dbeta = rd_real(NULL, "layers/layernorm/dbeta0");
    const fc_real *dout = rd_real(NULL, "layers/layernorm/dout");
    fc_real *dx = pool_alloc((size_t)nx * sizeof *dx);
    fc_layernorm_backward(dx, dgamma, dbeta, dout, xhat, inv_std, gamma, batch, width);
    CHECK_R("layernorm dx", dx, rd(NULL, "layers/layernorm/dx"), nx);
    CHECK_R("layernorm dgamma", dgamma, rd(NULL, "layers/layernorm/dgamma"), n);
    CHECK_R("layernorm dbeta", dbeta, rd(NULL, "layers/layernorm/dbeta"), n);
}
END_TEST

START_TEST(test_dropout_forward)
{
    pool_reset();
    long nx, nm, dims[4];
    double *xd = NULL;
    nx = fct_h5_read(fixture_file, "layers/dropout/x", &xd, NULL, dims);
    ck_assert_int_gt(nx, 0);
    pool_add(xd);
    fc_real *x = to_real(xd, nx);
    const double *a = rd(NULL, "layers/dropout/args"), *mask = rd(&nm, "layers/dropout/mask");
    const int batch = (int)dims[0], width = (int)dims[1];
    /* args: keep, seed_lo, seed_hi, step, layer, row0 */
    fc_dropout_forward(x, a[0], seed_of(a[1], a[2]), (uint64_t)a[3], (int)a[4], (int64_t)a[5], batch, width);
    for (long i = 0; i < nx; i++)
        ck_assert_msg((x[i] == 0) == (mask[i] == 0), "dropout unit %ld (row %ld, col %ld): kept %d, want %d",
                      i, i / width, i % width, x[i] != 0, mask[i] != 0);
    CHECK_R("dropout out", x, rd(NULL, "layers/dropout/out"), nx);
}
END_TEST

START_TEST(test_softmax)
{
    pool_reset();
    for (int c = 0; c < 4; c++) {
        long n, ny;
        fc_real *scores = rd_real(&n, "layers/softmax/case%d/scores", c);
        const double *yd = rd(&ny, "layers/softmax/case%d/y", c);
        const int32_t *labels = to_labels(yd, ny);
        const int64_t gb = (int64_t)rd(NULL, "layers/softmax/case%d/global_batch", c)[0];
        const double want_loss = rd(NULL, "layers/softmax/case%d/loss", c)[0];
        const double *want_d = rd(NULL, "layers/softmax/case%d/dscores", c);
        const int batch = (int)ny, classes = (int)(n / ny);
        fc_real *dscores = pool_alloc((size_t)n * sizeof *dscores);
        double loss = fc_softmax_loss(dscores, scores, labels, batch, classes, gb);
        char label[64];
        snprintf(label, sizeof label, "softmax case%d loss", c);
        ck_assert_msg(fct_close_d(label, &loss, &want_loss, 1, ATOL, RTOL), "%s differs", label);
        snprintf(label, sizeof label, "softmax case%d dscores", c);
        CHECK_R(label, dscores, want_d, n);
        /* dscores may alias scores (the net does that). */
        loss = fc_softmax_loss(scores, scores, labels, batch, classes, gb);
        snprintf(label, sizeof label, "softmax case%d loss (aliased)", c);
        ck_assert_msg(fct_close_d(label, &loss, &want_loss, 1, ATOL, RTOL), "%s differs", label);
        snprintf(label, sizeof label, "softmax case%d dscores (aliased)", c);
        CHECK_R(label, scores, want_d, n);
    }
}
END_TEST

START_TEST(test_moments)
{
    pool_reset();
    long nx, n;
    const fc_real *x = rd_real(&nx, "layers/moments/x");
    rd(&n, "layers/moments/mean");
    const int batch = (int)(nx / n), width = (int)n, split = (int)rd(NULL, "layers/moments/split")[0];
    double *mean = pool_alloc((size_t)n * sizeof *mean), *m2 = pool_alloc((size_t)n * sizeof *m2);
    double *mean_b = pool_alloc((size_t)n * sizeof *mean_b), *m2_b = pool_alloc((size_t)n * sizeof *m2_b);
    fc_moments_columns(mean, m2, x, batch, width);
    CHECK_D("moments mean", mean, rd(NULL, "layers/moments/mean"), n);
    CHECK_D("moments m2", m2, rd(NULL, "layers/moments/m2"), n);
    /* Two "ranks": rows [0, split) and [split, batch), merged in order. */
    fc_moments_columns(mean, m2, x, split, width);
    CHECK_D("moments mean_a", mean, rd(NULL, "layers/moments/mean_a"), n);
    CHECK_D("moments m2_a", m2, rd(NULL, "layers/moments/m2_a"), n);
    fc_moments_columns(mean_b, m2_b, x + (size_t)split * (size_t)width, batch - split, width);
    CHECK_D("moments mean_b", mean_b, rd(NULL, "layers/moments/mean_b"), n);
    CHECK_D("moments m2_b", m2_b, rd(NULL, "layers/moments/m2_b"), n);
    int64_t na = split;
    fc_moments_merge(&na, mean, m2, batch - split, mean_b, m2_b, width);
    ck_assert_int_eq(na, batch);
    CHECK_D("moments merged mean", mean, rd(NULL, "layers/moments/mean_merged"), n);
    CHECK_D("moments merged m2", m2, rd(NULL, "layers/moments/m2_merged"), n);
}
END_TEST


/* ---------------------------------------------------------------------------------------------- */
/* Whole nets. */

typedef struct net_case {
    char prefix[32];
    fc_net_config cfg;
    int hidden[8];
    uint64_t step;
    int batch;
    const fc_real *x; /* (batch, D), pooled */
    const int32_t *y; /* (batch), pooled */
    double loss;
} net_case;

/* config: (D, C, n_hidden, norm 0/1/2, keep, reg, seed_lo, seed_hi, step, bn_momentum) */
static void load_case(net_case *nc, int k)
{
    memset(nc, 0, sizeof *nc);
    snprintf(nc->prefix, sizeof nc->prefix, "net/case%02d", k);
    const double *c = rd(NULL, "%s/config", nc->prefix);
    nc->cfg.n_input = (int)c[0];
    nc->cfg.n_classes = (int)c[1];
    nc->cfg.n_hidden = (int)c[2];
    ck_assert_int_le(nc->cfg.n_hidden, 8);
    if (nc->cfg.n_hidden > 0) {
        const double *h = rd(NULL, "%s/hidden", nc->prefix);
        for (int i = 0; i < nc->cfg.n_hidden; i++) nc->hidden[i] = (int)h[i];
    }
    nc->cfg.hidden = nc->hidden;
    nc->cfg.norm = (fc_norm)(int)c[3];
    nc->cfg.keep = c[4];
    nc->cfg.reg = c[5];
    nc->cfg.seed = seed_of(c[6], c[7]);
    nc->step = (uint64_t)c[8];
    nc->cfg.bn_momentum = c[9];
    nc->cfg.weight_scale = 1e-3; /* unused: the fixture's parameters replace the seeded ones */
    nc->cfg.init = FC_INIT_NORMAL;
    long ny;
    nc->x = rd_real(NULL, "%s/x", nc->prefix);
    const double *yd = rd(&ny, "%s/y", nc->prefix);
    nc->y = to_labels(yd, ny);
    nc->batch = (int)ny;
    nc->loss = rd(NULL, "%s/loss", nc->prefix)[0];
}

/* Copies <prefix>/<group>/<view> into every view of layout in values; each must have the view's size. */
static void load_views(const fc_layout *layout, fc_real *values, const char *prefix, const char *group)
{
    for (int i = 0; i < layout->n_views; i++) {
        const fc_view *v = &layout->views[i];
        long n;
        const double *p = rd(&n, "%s/%s/%s", prefix, group, v->name);
        ck_assert_msg((size_t)n == fc_view_size(v), "%s: %s/%s has %ld elements, layout %zu", prefix, group,
                      v->name, n, fc_view_size(v));
        for (long j = 0; j < n; j++) values[v->offset + (size_t)j] = (fc_real)p[j];
    }
}

/* Copies <prefix>/params/<view> into every view of net->params; the fixture must name exactly the
 * layout's views (W, b, and gamma/beta for normalised hidden layers). */
static void load_params(fc_net *net, const char *prefix)
{
    const int L = net->n_layers;
    const int expect = 2 * L + (net->cfg.norm != FC_NORM_NONE ? 2 * (L - 1) : 0);
    ck_assert_msg(net->layout.n_views == expect, "%s: layout has %d views, want %d", prefix,
                  net->layout.n_views, expect);
    load_views(&net->layout, net->params, prefix, "params");
}

/* Compares every view of layout in values with <prefix>/<group>/<view>, each reported on stderr as
 * "<prefix><mark><view>" when it differs; returns whether all were close. */
static int close_views(const fc_layout *layout, const fc_real *values, const char *prefix, const char *group,
                       const char *mark)
{
    int ok = 1;
    for (int i = 0; i < layout->n_views; i++) {
        const fc_view *v = &layout->views[i];
        char label[96];
        snprintf(label, sizeof label, "%s%s%s", prefix, mark, v->name);
        ok &= close_r(label, values + v->offset, rd(NULL, "%s/%s/%s", prefix, group, v->name),
                      (long)fc_view_size(v));
    }
    return ok;
}

static int n_net_cases(void) { return (int)rd(NULL, "net/n_cases")[0]; }

/* One train step's loss and gradients (the whole batch in one process) from the fixture's parameters
 * and running statistics, the running statistics it leaves, then test-mode scores with those. */
START_TEST(test_net_cases)
{
    pool_reset();
    const int n_cases = n_net_cases();
    ck_assert_int_gt(n_cases, 0);
    for (int k = 0; k < n_cases; k++) {
        net_case nc;
        load_case(&nc, k);
        fc_net net;
        ck_assert_int_eq(fc_net_init(&net, &nc.cfg, nc.batch, NULL), FC_OK);
        load_params(&net, nc.prefix);
        /* Nonzero starting running statistics: the momentum update and a well-conditioned test mode. */
        load_views(&net.bn_layout, net.bn_stats, nc.prefix, "running0");
        const fc_batch_info info = {.step = nc.step, .row0 = 0, .global_batch = nc.batch};
        /* Backward overwrites every gradient: start from garbage to prove it. */
        for (size_t i = 0; i < net.layout.n_total; i++) net.grads[i] = (fc_real)1e30;
        fc_net_forward(&net, nc.x, nc.batch, FC_MODE_TRAIN, &info);
        double loss = fc_net_loss(&net, nc.y, &info);
        fc_net_backward(&net);
        loss += fc_net_add_reg(&net);
        char label[96];
        snprintf(label, sizeof label, "%s loss", nc.prefix);
        int ok = fct_close_d(label, &loss, &nc.loss, 1, ATOL, RTOL);
        ok &= close_views(&net.layout, net.grads, nc.prefix, "grads", " d");
        ok &= close_views(&net.bn_layout, net.bn_stats, nc.prefix, "running", " ");
        long ns;
        const double *want_scores = rd(&ns, "%s/scores_test", nc.prefix);
        const fc_real *scores = fc_net_forward(&net, nc.x, nc.batch, FC_MODE_TEST, NULL);
        snprintf(label, sizeof label, "%s test-mode scores", nc.prefix);
        ok &= close_r(label, scores, want_scores, ns);
        fc_net_free(&net);
        ck_assert_msg(ok, "%s differs from the reference (see stderr)", nc.prefix);
    }
}
END_TEST

/* Data parallelism without MPI: the batch as two local slices (row0 and global_batch set as a rank
 * would), gradients summed over both, reg added once, must equal the whole-batch fixture.
 * Batchnorm needs the cross-rank statistics and is covered by the MPI tests instead. */
START_TEST(test_net_split)
{
    pool_reset();
    const int n_cases = n_net_cases();
    int checked = 0;
    for (int k = 0; k < n_cases; k++) {
        net_case nc;
        load_case(&nc, k);
        if (nc.cfg.norm == FC_NORM_BATCH) continue;
        fc_net net;
        ck_assert_int_eq(fc_net_init(&net, &nc.cfg, nc.batch, NULL), FC_OK);
        load_params(&net, nc.prefix);
        const int split = 3;
        double loss = 0;
        fc_real *first = pool_alloc(net.layout.n_total * sizeof *first);
        for (int part = 0; part < 2; part++) {
            const int row0 = part ? split : 0, rows = part ? nc.batch - split : split;
            const fc_batch_info info = {.step = nc.step, .row0 = row0, .global_batch = nc.batch};
            fc_net_forward(&net, nc.x + (size_t)row0 * (size_t)nc.cfg.n_input, rows, FC_MODE_TRAIN, &info);
            loss += fc_net_loss(&net, nc.y + row0, &info);
            fc_net_backward(&net);
            if (part == 0) memcpy(first, net.grads, net.layout.n_total * sizeof *first);
        }
        for (size_t i = 0; i < net.layout.n_total; i++) net.grads[i] += first[i];
        loss += fc_net_add_reg(&net);
        char label[96];
        snprintf(label, sizeof label, "%s split loss", nc.prefix);
        int ok = fct_close_d(label, &loss, &nc.loss, 1, ATOL, RTOL);
        ok &= close_views(&net.layout, net.grads, nc.prefix, "grads", " split d");
        fc_net_free(&net);
        ck_assert_msg(ok, "%s (split in two) differs from the reference (see stderr)", nc.prefix);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
}
END_TEST

/* config: (D, C, n_hidden, norm 0/1/2, weight_scale, init 0 normal / 1 he, seed_lo, seed_hi) */
START_TEST(test_net_init)
{
    pool_reset();
    const int n_cases = (int)rd(NULL, "init/n_cases")[0];
    ck_assert_int_gt(n_cases, 0);
    for (int k = 0; k < n_cases; k++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "init/case%d", k);
        const double *c = rd(NULL, "%s/config", prefix);
        int hidden[8] = {0};
        const int n_hidden = (int)c[2];
        ck_assert_int_le(n_hidden, 8);
        const double *h = rd(NULL, "%s/hidden", prefix);
        for (int i = 0; i < n_hidden; i++) hidden[i] = (int)h[i];
        const fc_net_config cfg = {.n_input = (int)c[0], .n_classes = (int)c[1], .n_hidden = n_hidden,
                                   .hidden = hidden, .norm = (fc_norm)(int)c[3], .keep = 1, .reg = 0,
                                   .weight_scale = c[4], .init = (fc_init)(int)c[5], .bn_momentum = 0.9,
                                   .seed = seed_of(c[6], c[7])};
        fc_net net;
        ck_assert_int_eq(fc_net_init(&net, &cfg, 4, NULL), FC_OK);
        int ok = close_views(&net.layout, net.params, prefix, "params", " ");
        /* Running statistics start at 0. */
        for (size_t i = 0; net.bn_stats && i < net.bn_layout.n_total; i++) ok &= net.bn_stats[i] == 0;
        /* fc_net_init_params re-draws and resets whatever the arenas hold, not only fresh zeroed ones. */
        for (size_t i = 0; i < net.layout.n_total; i++) net.params[i] = 3;
        for (size_t i = 0; net.bn_stats && i < net.bn_layout.n_total; i++) net.bn_stats[i] = 3;
        fc_net_init_params(&net);
        ok &= close_views(&net.layout, net.params, prefix, "params", " (re-drawn) ");
        for (size_t i = 0; net.bn_stats && i < net.bn_layout.n_total; i++) ok &= net.bn_stats[i] == 0;
        fc_net_free(&net);
        ck_assert_msg(ok, "%s: seeded initialisation differs from the reference", prefix);
    }
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Optimizers: five steps from w0 with given gradients; w, the slots and t after every step. */

START_TEST(test_optim_trajectories)
{
    pool_reset();
    static const char *const names[] = {"sgd", "sgd_momentum", "rmsprop", "adam"};
    for (int k = 0; k < 4; k++) {
        for (int custom = 0; custom < 2; custom++) {
            char prefix[48];
            snprintf(prefix, sizeof prefix, "optim/%s%s", names[k], custom ? "_custom" : "");
            /* config: (kind, lr, lr_decay, momentum, decay_rate, beta1, beta2, eps) */
            const double *c = rd(NULL, "%s/config", prefix);
            const fc_optim_kind kind = (fc_optim_kind)(int)c[0];
            ck_assert_int_eq(fc_optim_parse(names[k]), kind);
            ck_assert_str_eq(fc_optim_name(kind), names[k]);
            const fc_optim_config cfg = {.kind = kind, .lr = c[1], .lr_decay = c[2], .momentum = c[3],
                                         .decay_rate = c[4], .beta1 = c[5], .beta2 = c[6], .eps = c[7]};
            if (!custom) {
                /* The fixture's plain cases use cs231n's defaults: fcnet's must be the same numbers. */
                const fc_optim_config d = fc_optim_defaults(kind);
                ck_assert_msg(d.kind == kind && d.lr == cfg.lr && d.lr_decay == cfg.lr_decay &&
                                  d.momentum == cfg.momentum && d.decay_rate == cfg.decay_rate &&
                                  d.beta1 == cfg.beta1 && d.beta2 == cfg.beta2 && d.eps == cfg.eps,
                              "%s: fc_optim_defaults differs from cs231n's defaults", names[k]);
            }
            long n, n_steps_x_n;
            fc_real *w = rd_real(&n, "%s/w0", prefix);
            const fc_real *dw = rd_real(&n_steps_x_n, "%s/dw", prefix);
            const double *want_w = rd(NULL, "%s/w", prefix), *want_t = rd(NULL, "%s/t", prefix);
            const double *epoch_end = rd(NULL, "%s/epoch_end", prefix);
            const int n_steps = (int)(n_steps_x_n / n);
            fc_optim opt;
            fc_optim_init(&opt, &cfg, (size_t)n);
            int ok = 1;
            for (int s = 0; s < n_steps && ok; s++) {
                char label[96];
                fc_optim_step(&opt, w, dw + (size_t)s * (size_t)n);
                snprintf(label, sizeof label, "%s step %d w", prefix, s + 1);
                ok &= close_r(label, w, want_w + (size_t)s * (size_t)n, n);
                for (int i = 0; i < opt.n_slots; i++) {
                    const char *slot = fc_optim_slot_name(kind, i);
                    ck_assert_ptr_nonnull(slot);
                    snprintf(label, sizeof label, "%s step %d %s", prefix, s + 1, slot);
                    const double *want_slot = rd(NULL, "%s/%s", prefix, slot) + (size_t)s * (size_t)n;
                    ok &= close_r(label, opt.slot[i], want_slot, n);
                }
                if (kind == FC_OPTIM_ADAM && opt.t != (int64_t)want_t[s]) {
                    fprintf(stderr, "%s step %d: t = %lld, want %.0f\n", prefix, s + 1, (long long)opt.t,
                            want_t[s]);
                    ok = 0;
                }
                if (epoch_end[s] != 0) fc_optim_end_epoch(&opt);
            }
            fc_optim_free(&opt);
            ck_assert_msg(ok, "%s: trajectory differs from the reference (see stderr)", prefix);
        }
    }
}
END_TEST

static Suite *ref_suite(void)
{
    Suite *s = suite_create("ref_" FC_REAL_NAME);
    TCase *rng = tcase_create("rng");
    tcase_add_test(rng, test_philox_kat);
    tcase_add_test(rng, test_rng_block);
    tcase_add_test(rng, test_rng_normal);
    tcase_add_test(rng, test_rng_perm);
    tcase_add_test(rng, test_dropout_mask);
    suite_add_tcase(s, rng);
    TCase *layers = tcase_create("layers");
    tcase_add_test(layers, test_affine);
    tcase_add_test(layers, test_relu);
    tcase_add_test(layers, test_batchnorm);
    tcase_add_test(layers, test_layernorm);
    tcase_add_test(layers, test_dropout_forward);
    tcase_add_test(layers, test_softmax);
    tcase_add_test(layers, test_moments);
    suite_add_tcase(s, layers);
    TCase *net = tcase_create("net");
    tcase_add_test(net, test_net_cases);
    tcase_add_test(net, test_net_split);
    tcase_add_test(net, test_net_init);
    suite_add_tcase(s, net);
    TCase *optim = tcase_create("optim");
    tcase_add_test(optim, test_optim_trajectories);
    suite_add_tcase(s, optim);
    return s;
}

int main(int argc, char **argv)
{
    int rc = fct_run(ref_suite(), argc, argv);
    pool_reset();
    free(pool);
    return rc;
}
