/* fcnet_dist gradcheck: analytic gradients of the configured model against central differences, with
 * cs231n's relative error, on rank 0 (the others only agree on the outcome).
 *
 * What is checked is the function training differentiates: mean softmax cross-entropy over the batch
 * plus 0.5 * reg * sum(W^2), in train mode. Batchnorm therefore uses batch statistics (its running
 * statistics move on every evaluation but never enter the loss), and dropout draws its masks from one
 * fixed step key, so every evaluation sees the same masks and the function is deterministic. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/commands.h"
#include "fcnet/config.h"
#include "fcnet/data.h"
#include "fcnet/dist.h"
#include "fcnet/memory_limits.h"
#include "fcnet/net.h"
#include "fcnet/rng.h"

/* Defaults when no --data gives the shapes: small, so a full check takes a fraction of a second. */
#define GC_INPUTS 10
#define GC_CLASSES 5
/* Models with more parameters than this are checked on a sample of each tensor (cs231n's
 * grad_check_sparse): two forward passes per checked element make a full check of, say, a CIFAR-10
 * first layer (3072 x 100) take minutes. */
#define GC_FULL_LIMIT 20000
#define GC_SAMPLES 20
/* RNG tensor ids of the random batch, far above the parameter indices fc_net_init_params uses. */
#define GC_RNG_X (1u << 20)
#define GC_RNG_Y ((1u << 20) + 1)

/* Step size and pass thresholds per build. An element fails only when its relative error is above the
 * threshold AND its absolute error is above the error bar of its numerical derivative (gc_numeric), and
 * elements whose step crosses a ReLU kink are re-stepped or left out, so a threshold only has to hold
 * where the numerics can resolve it.
 * double: h = 1e-5 balances truncation (O(h^2)) against rounding (eps / h ~ 1e-11); correct code shows
 * ~1e-7..1e-10 on well-scaled models (cs231n's levels), 1e-6 is the pass mark, and W1, whose gradients
 * sum the most paths, gets 1e-5, cs231n's own bound for it.
 * float: rounding noise in a float forward pass is ~1e-7 of the loss, so h must be large (1e-2) and,
 * even after extrapolation, errors land around 1e-4..1e-2; 2e-2 (W1: 5e-2) sits above that range.
 * Tested on a grid of 612 models per build (depth 1-4, widths up to 100, every norm, keep 1 and 0.7,
 * reg 0 and 0.5, weight scales 0.01-0.5, batches 8 and 64) and 300 random ones (also batch 2, weight
 * scale 1, He init): none failed; the closest element stayed at 1/2 (double) and 1/1.45 (float) of
 * the failing line. */
#ifdef FC_REAL_DOUBLE
#define GC_H 1e-5
#define GC_ROUNDING 1 /* rounding error of the reported derivative, in units of noise / h */
#define GC_TOL 1e-6
#define GC_TOL_W1 1e-5
#else
#define GC_H 1e-2
#define GC_ROUNDING 3 /* (4 * noise / (h/2) + noise / h) / 3: the extrapolation's rounding */
#define GC_TOL 2e-2
#define GC_TOL_W1 5e-2
#endif

typedef struct gc_state {
    fc_net net;
    int n_input, n_classes, batch;
    fc_real *x;      /* owned (batch, D) */
    int32_t *y;      /* owned (batch) */
    double *analytic; /* owned copy of the analytic gradient (layout.n_total) */
    fc_split data;   /* --data's training split, preprocessed with statistics fitted on all of /train */
    fc_preprocess pp;
    int from_data;
    unsigned char *pattern; /* owned: ReLU on/off of every hidden unit and row at the checked point */
    size_t n_pattern;
    double noise;    /* rounding error of one loss value (absolute), see gc_run */
    long n_smaller;  /* elements re-evaluated with a smaller step because of a kink */
} gc_state;

typedef struct gc_result {
    size_t checked, size, skipped;
    double max_rel, max_abs, tol;
    int ok;
    int within_error; /* some relative error above tol, but every such error within the error bar */
    size_t resolved;  /* elements whose numerical derivative is larger than its own error bar */
} gc_result;

/* The objective training differentiates (train mode, fixed dropout key), in double. */
static double gc_loss(gc_state *s, const fc_batch_info *info)
{
    fc_net_forward(&s->net, s->x, s->batch, FC_MODE_TRAIN, info);
    double loss = fc_net_loss(&s->net, s->y, info);
    /* add_reg also adds reg * W into net.grads: harmless, the analytic gradient was copied out. */
    return loss + fc_net_add_reg(&s->net);
}

/* The batch: the first rows of --data's training split (preprocessed as --preprocess says, fitted on the
 * whole /train: training fits on /train less its hold-out when the file has no /val), or a
 * random batch from the seed (x ~ N(0, 1), labels uniform over the classes). */
static fc_status gc_batch(gc_state *s, const fc_config *cfg)
{
    s->batch = FC_GRADCHECK_BATCH;
    if (cfg->opt_set[FC_OPT_BATCH_SIZE])
        s->batch = cfg->batch_size < FC_GRADCHECK_MAX_BATCH ? (int)cfg->batch_size : FC_GRADCHECK_MAX_BATCH;
    s->n_input = GC_INPUTS;
    s->n_classes = GC_CLASSES;
    if (cfg->data[0]) {
        int n_classes = 0;
        fc_status st = fc_data_load_split(&s->data, &n_classes, cfg->data, "train");
        if (st != FC_OK) return st;
        s->from_data = 1;
        s->n_input = s->data.d;
        s->n_classes = n_classes;
        if ((st = fc_data_require_classes(cfg->data, n_classes)) != FC_OK) return st;
        fc_preprocess_fit(&s->pp, cfg->preprocess, &s->data);
        fc_preprocess_apply(&s->pp, &s->data);
        if (s->data.n < s->batch) s->batch = (int)s->data.n;
    }
    s->x = fc_alloc((size_t)s->batch * (size_t)s->n_input * sizeof(fc_real));
    s->y = fc_alloc((size_t)s->batch * sizeof(int32_t));
    if (s->from_data) {
        memcpy(s->x, s->data.x, (size_t)s->batch * (size_t)s->n_input * sizeof(fc_real));
        memcpy(s->y, s->data.y, (size_t)s->batch * sizeof(int32_t));
        return FC_OK;
    }
    size_t n = (size_t)s->batch * (size_t)s->n_input;
    double *tmp = fc_alloc(n * sizeof *tmp);
    fc_rng_normal_fill(tmp, n, cfg->seed, GC_RNG_X, 1.0);
    for (size_t i = 0; i < n; i++) s->x[i] = (fc_real)tmp[i];
    fc_free(tmp);
    for (int i = 0; i < s->batch; i++) {
        uint32_t w[4];
        fc_rng_block(w, cfg->seed, FC_RNG_TEST, GC_RNG_Y, 0, 0, (uint32_t)i);
        s->y[i] = (int32_t)(w[0] % (uint32_t)s->n_classes);
    }
    return FC_OK;
}

/* A row in which every unit of hidden layer l (< the last hidden layer) is 0 (ReLU off or dropped) gives the
 * next hidden layer its bias alone (0 at the start), or under layernorm a constant row that it normalises to 0:
 * that layer's units sit on their ReLU's kink for that row at any weight scale (the on/off pattern of normal
 * and He initialisation does not depend on the scale). Returns the first such l and its row in *row, or 0.
 * Batchnorm normalises over the batch, so such a row is not on the kink there. */
static int gc_zero_row_layer(const gc_state *s, const fc_config *cfg, int *row)
{
    if (cfg->norm == FC_NORM_BATCH) return 0;
    for (int l = 1; l + 1 < s->net.n_layers; l++) {
        /* a layer 0 in every row is weights so small that the activations underflowed: the scale's advice holds */
        const size_t n = (size_t)s->batch * (size_t)s->net.dims[l];
        size_t nonzero = 0;
        for (size_t k = 0; k < n; k++) nonzero += s->net.h[l][k] != 0;
        if (nonzero == 0) continue;
        for (int i = 0; i < s->batch; i++) {
            const fc_real *h = s->net.h[l] + (size_t)i * (size_t)s->net.dims[l];
            int zero = 1;
            for (int j = 0; j < s->net.dims[l] && zero; j++) zero = h[j] == 0;
            if (zero) {
                *row = i;
                return l;
            }
        }
    }
    return 0;
}

/* A bias in front of batchnorm: batchnorm subtracts it again, so its gradient is 0 and its numerical derivative
 * rounding alone, at any scale; nothing to resolve there. */
static int gc_zero_by_design(const gc_state *s, const fc_config *cfg, int iv)
{
    if (cfg->norm != FC_NORM_BATCH) return 0;
    for (int l = 1; l < s->net.n_layers; l++)
        if (s->net.ib[l] == iv) return 1;
    return 0;
}

static int batch_is_zero(const gc_state *s)
{
    for (size_t i = 0; i < (size_t)s->batch * (size_t)s->n_input; i++)
        if (s->x[i] != 0) return 0;
    return 1;
}

/* Records (record = 1) or compares (record = 0) the on/off pattern of every ReLU of the last forward:
 * net.h[l] > 0 exactly where the unit is active (dropout masks are fixed, so a dropped unit is 0 in
 * every evaluation). Returns 1 when the pattern differs from the recorded one. */
static int gc_relu_pattern(gc_state *s, int record)
{
    size_t k = 0;
    int differs = 0;
    for (int l = 1; l < s->net.n_layers; l++) {
        const size_t n = (size_t)s->batch * (size_t)s->net.dims[l];
        const fc_real *h = s->net.h[l];
        for (size_t i = 0; i < n; i++, k++) {
            const unsigned char on = h[i] > 0;
            if (record)
                s->pattern[k] = on;
            else
                differs |= on != s->pattern[k];
        }
    }
    return differs;
}

/* Central difference quotient of the loss in element p over [v - h, v + h]. The steps actually taken
 * are measured, because in float v + h is rounded: dividing by the nominal 2h would add an error of up
 * to eps|v|/h. *kink is set when either evaluation switched a ReLU on or off. */
static double gc_quotient(gc_state *s, fc_real *p, double h, const fc_batch_info *info, int *kink)
{
    const fc_real v = *p;
    const fc_real up = (fc_real)((double)v + h), down = (fc_real)((double)v - h);
    *p = up;
    double f_up = gc_loss(s, info);
    *kink |= gc_relu_pattern(s, 0);
    *p = down;
    double f_down = gc_loss(s, info);
    *kink |= gc_relu_pattern(s, 0);
    *p = v;
    return (f_up - f_down) / ((double)up - (double)down);
}

/* Numerical derivative of the loss in element p with an error bar, or NAN when every step tried
 * crosses a ReLU kink.
 * Central differences at h and h/2. In the float build they are combined by Richardson extrapolation,
 * (4 D(h/2) - D(h)) / 3, which cancels the O(h^2) truncation term: its large h (forced by rounding)
 * can be a sizeable fraction of the scale on which the loss curves (batchnorm over a few rows of small
 * pre-activations). |D(h) - D(h/2)| measures the truncation, and each quotient carries up to
 * noise / step of rounding. *err_bar receives both: a disagreement with the analytic value below it
 * cannot be told from the numerics.
 * A step that switches a ReLU measures the slope across the kink, not the derivative at the point, and
 * its "error" says nothing about the code (cs231n's notes: track the winners of every max and discard
 * the check when one changes). Such an element is retried with 10x and 100x smaller steps, then left
 * out. */
static double gc_numeric(gc_state *s, fc_real *p, const fc_batch_info *info, double *err_bar)
{
    double h = GC_H;
    for (int attempt = 0; attempt < 3; attempt++, h /= 10) {
        int kink = 0;
        const double d1 = gc_quotient(s, p, h, info, &kink);
        const double d2 = kink ? 0 : gc_quotient(s, p, h / 2, info, &kink);
        if (kink) continue;
        if (attempt > 0) s->n_smaller++;
        /* The truncation estimates below are exact only where the h^2 term dominates; twice them
         * covers the curvier cases (batchnorm over 2 rows, tiny weight scales) seen in a sweep. */
#ifdef FC_REAL_DOUBLE
        /* At h = 1e-5 truncation is usually far below the tolerance and extrapolating would triple the
         * rounding error: report D(h) itself (cs231n's estimate); its truncation is 4/3 |D(h) - D(h/2)|. */
        *err_bar = 2 * (4.0 / 3.0) * fabs(d1 - d2) + GC_ROUNDING * s->noise / h;
        return d1;
#else
        /* What extrapolation leaves is O(h^4); |D(h) - D(h/2)| (3/4 of D(h)'s truncation) bounds it
         * generously where the expansion holds. */
        *err_bar = 2 * fabs(d1 - d2) + GC_ROUNDING * s->noise / h;
        return (4 * d2 - d1) / 3;
#endif
    }
    return (double)NAN;
}

/* Checks one tensor: all of its elements, or GC_SAMPLES of them chosen from the seed when sparse.
 * An element counts as wrong only when its relative error is above the tolerance AND its absolute
 * error is above the error bar of the numerical derivative: a gradient that is zero analytically (a
 * bias in front of batchnorm), or too small for the build's precision, has a numerical value that is
 * pure rounding noise, whose relative error is ~1 however right the code is. */
static gc_result gc_check_view(gc_state *s, int iv, int sparse, uint64_t seed, const fc_batch_info *info)
{
    const fc_view *v = &s->net.layout.views[iv];
    gc_result r = {.size = fc_view_size(v), .ok = 1};
    r.tol = strcmp(v->name, "W1") == 0 ? GC_TOL_W1 : GC_TOL;
    int64_t *order = NULL;
    size_t n_try = r.size;
    if (sparse && r.size > GC_SAMPLES) {
        order = fc_alloc(r.size * sizeof *order);
        fc_rng_permutation(order, (int64_t)r.size, seed, FC_RNG_TEST, (uint64_t)iv);
        n_try = GC_SAMPLES;
    }
    for (size_t k = 0; k < n_try; k++) {
        size_t j = order ? (size_t)order[k] : k;
        double err_bar = 0;
        double num = gc_numeric(s, &s->net.params[v->offset + j], info, &err_bar);
        if (isnan(num)) {
            r.skipped++;
            continue;
        }
        r.checked++;
        if (fabs(num) > err_bar) r.resolved++;
        double a = s->analytic[v->offset + j];
        /* cs231n's rel_error, element by element. */
        double abs_err = fabs(a - num), rel = abs_err / fmax(1e-8, fabs(a) + fabs(num));
        if (rel > r.max_rel) r.max_rel = rel;
        if (abs_err > r.max_abs) r.max_abs = abs_err;
        if (rel > r.tol) {
            if (abs_err > err_bar)
                r.ok = 0;
            else
                r.within_error = 1;
        }
    }
    fc_free(order);
    return r;
}

static void gc_print_header(const gc_state *s, const fc_config *cfg, int sparse)
{
    char dims[256] = "", keep[32], reg[32], scale[32];
    size_t len = 0;
    for (int l = 0; l <= s->net.n_layers && len + 16 < sizeof dims; l++)
        len += (size_t)snprintf(dims + len, sizeof dims - len, "%s%d", l ? " -> " : "", s->net.dims[l]);
    const char *norm = cfg->norm == FC_NORM_BATCH ? "batchnorm" : cfg->norm == FC_NORM_LAYER ? "layernorm" : "none";
    fc_print("gradcheck (%s build): %s, norm %s, keep %s, reg %s, weight_scale %s, init %s, seed %llu\n",
             FC_REAL_NAME, dims, norm, fc_config_value(cfg, FC_OPT_KEEP, keep, sizeof keep),
             fc_config_value(cfg, FC_OPT_REG, reg, sizeof reg),
             fc_config_value(cfg, FC_OPT_WEIGHT_SCALE, scale, sizeof scale), cfg->init == FC_INIT_HE ? "he" : "normal",
             (unsigned long long)cfg->seed);
    if (s->from_data)
        fc_print("batch: the first %d training rows of %s (preprocess %s)\n", s->batch, cfg->data,
                 fc_preprocess_name(cfg->preprocess));
    else
        fc_print("batch: %d random rows from the seed (x ~ N(0, 1), uniform labels)\n", s->batch);
    fc_print("loss: mean softmax cross-entropy + 0.5 * reg * sum(W^2); central differences, h = %g\n", GC_H);
    if (cfg->norm == FC_NORM_BATCH) fc_print("batchnorm is checked in train mode (batch statistics)\n");
    if (cfg->keep < 1) fc_print("dropout masks are held fixed (one step key for every evaluation)\n");
    if (sparse)
        fc_print("the model has %zu parameters (> %d): checking %d random elements per tensor (seed %llu), as "
                 "cs231n's grad_check_sparse\n",
                 s->net.layout.n_total, GC_FULL_LIMIT, GC_SAMPLES, (unsigned long long)cfg->seed);
    fc_print("\n  %-8s %-11s %11s  %13s  %13s  %9s  %s\n", "param", "shape", "checked", "max rel error",
             "max abs error", "threshold", "verdict");
}

/* A loss as %.6f, or as %.6e from 1e6 on: at an absurd weight scale (1e30: ~1e61 on one hidden layer of 5) %f
 * prints a wall of 60 and more digits. */
static const char *loss_text(char *buf, size_t size, double v)
{
    if (fabs(v) < 1e6)
        snprintf(buf, size, "%.6f", v);
    else
        snprintf(buf, size, "%.6e", v);
    return buf;
}

/* Test hook: FCNET_FAULT_GRADCHECK=skew multiplies the largest analytic gradient element of the last
 * weight tensor W_L by 1.5, as a wrong backward pass would, so the tests can see the check fail;
 * skew:FACTOR by FACTOR (a factor near 1 tells whether the error bars stay tight). */
static void gc_fault_hook(gc_state *s)
{
    const char *fault = getenv("FCNET_FAULT_GRADCHECK");
    double factor = 1.5;
    if (!fault || (strcmp(fault, "skew") != 0 && sscanf(fault, "skew:%lf", &factor) != 1)) return;
    const fc_view *v = &s->net.layout.views[s->net.iw[s->net.n_layers]];
    size_t big = v->offset;
    for (size_t j = v->offset; j < v->offset + fc_view_size(v); j++)
        if (fabs(s->analytic[j]) > fabs(s->analytic[big])) big = j;
    s->analytic[big] *= factor;
}

/* Rank 0's work: returns FC_OK (all pass), FC_ERR_FAIL (some tensor fails, message recorded) or
 * FC_ERR_INPUT (--data could not be used, the loss is not finite, or nothing was checked: a tensor with no
 * element checked, or every tensor passed only on the numerical error bar). */
static fc_status gc_run(gc_state *s, const fc_config *cfg)
{
    fc_status st = gc_batch(s, cfg);
    if (st != FC_OK) return st;
    fc_net_config ncfg = fc_config_net(cfg, s->n_input, s->n_classes);
    /* dist NULL: the whole batch lives on this process, so batchnorm needs no communication. */
    if ((st = fc_net_init(&s->net, &ncfg, s->batch, NULL)) == FC_ERR_INPUT) { /* a network too big */
        if (s->from_data) return fc_net_too_big_for_data(cfg->data, s->n_input, s->n_classes); /* as train does */
        char why[1024];
        snprintf(why, sizeof why, "%s", fc_error_message());
        return fc_error_set(FC_ERR_INPUT, "%s: --hidden or --batch-size", why);
    }
    if (st != FC_OK) return st;
    /* What the check allocates beside the network, weighed before the first forward pass maps OpenBLAS's buffer:
     * the analytic gradient in double (n_total), a sampled tensor's permutation (int64 per element of the largest
     * tensor) and the ReLU pattern (a byte per hidden unit and row). fc_net_init's estimate left them out: in the
     * float build `gradcheck --hidden 4000,4000` under ulimit -v 725000..775000 KB aborted allocating the
     * permutation (exit 134, a backtrace). */
    {
        const size_t n_all = s->net.layout.n_total;
        size_t largest = 0, n_units = 0;
        for (int v = 0; v < s->net.layout.n_views; v++)
            if (fc_view_size(&s->net.layout.views[v]) > largest) largest = fc_view_size(&s->net.layout.views[v]);
        for (int l = 1; l < s->net.n_layers; l++) n_units += (size_t)s->net.dims[l];
        const double extra = (double)n_all * sizeof(double) +
                             (n_all > GC_FULL_LIMIT && largest > GC_SAMPLES ? (double)largest * sizeof(int64_t) : 0) +
                             (double)s->batch * (double)n_units + 1;
        char why[256];
        if (fc_memory_exceeded(extra, why, sizeof why))
            return fc_error_set(FC_ERR_INPUT, "gradcheck: the network of %zu parameters needs %s more for the analytic "
                                "gradient and the sampling order, %s: --hidden or --batch-size", n_all,
                                fc_format_size(extra).text, why);
    }

    /* One step key for every evaluation: the same dropout masks throughout. */
    const fc_batch_info info = {.step = 0, .row0 = 0, .global_batch = s->batch};
    fc_net_forward(&s->net, s->x, s->batch, FC_MODE_TRAIN, &info);
    for (int l = 1; l < s->net.n_layers; l++) s->n_pattern += (size_t)s->batch * (size_t)s->net.dims[l];
    s->pattern = fc_alloc(s->n_pattern + 1);
    gc_relu_pattern(s, 1);
    int zero_row = 0;
    const int zero_layer = gc_zero_row_layer(s, cfg, &zero_row);
    const double loss = fc_net_loss(&s->net, s->y, &info);
    fc_net_backward(&s->net);
    const double reg_loss = fc_net_add_reg(&s->net);
    /* A non-finite loss makes every difference quotient NaN: nothing could be checked, and a table of
     * "0/N checked ... ok" would read as a pass. */
    if (!isfinite(loss + reg_loss))
        return fc_error_set(FC_ERR_INPUT, "gradcheck: the loss is %s at --weight-scale %g (--reg %g): nothing can be "
                            "checked; use a smaller --weight-scale",
                            isnan(loss + reg_loss) ? "NaN" : "infinite", cfg->weight_scale, cfg->reg);
    const size_t n_total = s->net.layout.n_total;
    s->analytic = fc_alloc(n_total * sizeof *s->analytic);
    for (size_t i = 0; i < n_total; i++) s->analytic[i] = (double)s->net.grads[i];
    gc_fault_hook(s);

    /* Rounding error of one loss value: a relative error of a few eps of fc_real (the forward pass runs
     * in fc_real, the sums in double); 16 eps covers the accumulation through the layers. A difference
     * quotient over a step 2h then carries up to noise / h of pure rounding. */
    const double eps = sizeof(fc_real) == sizeof(double) ? DBL_EPSILON : (double)FLT_EPSILON;
    s->noise = 16 * eps * fmax(1.0, fabs(loss + reg_loss));

    const int sparse = n_total > GC_FULL_LIMIT;
    gc_print_header(s, cfg, sparse);

    int n_fail = 0, n_noise = 0, n_unchecked = 0, n_ok = 0, n_unresolved = 0;
    char unchecked[256] = ""; /* names of the tensors of which no element could be checked */
    char unresolved[256] = ""; /* names of the tensors that passed on the error bar alone, nothing resolved */
    /* Layernorm normalises a 1-unit layer to 0 in every row: that layer outputs its beta on its ReLU's kink at
     * any scale, and the layers after it get the same input in every row (train refuses such a layer;
     * gradcheck checks the other tensors). Which tensors went unchecked, that beta and those of later layers
     * (the views after it: the layout holds them layer by layer) or others too, decides the advice below. */
    const int constant = fc_config_constant_layernorm_layer(cfg);
    const int constant_beta = constant > 0 ? s->net.ibeta[constant] : -1; /* its view index */
    int constant_unchecked = 0, others_unchecked = 0;
    size_t n_skipped = 0;
    const char *worst = NULL;
    double worst_rel = 0;
    for (int iv = 0; iv < s->net.layout.n_views; iv++) {
        const fc_view *v = &s->net.layout.views[iv];
        gc_result r = gc_check_view(s, iv, sparse, cfg->seed, &info);
        char shape[32], checked[48];
        if (fc_view_is_vector(v)) /* as the checkpoint stores it */
            snprintf(shape, sizeof shape, "(%d,)", v->cols);
        else
            snprintf(shape, sizeof shape, "(%d, %d)", v->rows, v->cols);
        snprintf(checked, sizeof checked, "%zu/%zu", r.checked, r.size);
        n_skipped += r.skipped;
        const char *verdict = "ok";
        if (r.checked == 0 && r.size > 0) { /* every element left out: nothing says the gradient is right */
            verdict = "unchecked";
            if (iv == constant_beta)
                constant_unchecked = 1;
            else if (iv < constant_beta || constant_beta < 0)
                others_unchecked = 1;
            if (n_unchecked++ < 8)
                snprintf(unchecked + strlen(unchecked), sizeof unchecked - strlen(unchecked), "%s%s",
                         n_unchecked > 1 ? ", " : "", v->name);
        } else if (!r.ok) {
            verdict = "FAIL";
            n_fail++;
            if (r.max_rel > worst_rel || !worst) worst = v->name, worst_rel = r.max_rel;
        } else if (r.within_error && r.resolved == 0 && !gc_zero_by_design(s, cfg, iv)) {
            /* Passed on the error bar, and no element's numerical derivative stands out of its own error bar:
             * nothing in this tensor told a right gradient from a wrong one (the float build's W3 at
             * --weight-scale 1e-2 passed a 50% error so). */
            verdict = "unresolved";
            if (n_unresolved++ < 8)
                snprintf(unresolved + strlen(unresolved), sizeof unresolved - strlen(unresolved), "%s%s",
                         n_unresolved > 1 ? ", " : "", v->name);
        } else if (r.within_error) {
            verdict = "ok*";
            n_noise++;
        } else {
            n_ok++;
        }
        fc_print("  %-8s %-11s %11s  %13.2e  %13.2e  %9.0e  %s\n", v->name, shape, checked, r.max_rel, r.max_abs,
                 r.tol, verdict);
    }
    char total[40], data[40], reg[40];
    fc_print("\nloss %s (data %s, reg %s)\n", loss_text(total, sizeof total, loss + reg_loss),
             loss_text(data, sizeof data, loss), loss_text(reg, sizeof reg, reg_loss));
    if (n_noise)
        fc_print("ok*: the relative error exceeds the threshold, but only where |analytic - numerical| is within the\n"
                 "     estimated error of the numerical derivative (rounding, about %.1e at h = %g, plus truncation,\n"
                 "     measured by repeating the difference at h/2): a gradient that is 0 (a bias in front of\n"
                 "     batchnorm) or too small or too curved to resolve at this precision\n",
                 GC_ROUNDING * s->noise / GC_H, GC_H);
    if (s->n_smaller || n_skipped)
        fc_print("kinks: %ld element(s) re-evaluated with a smaller step and %zu left out because the step switched a "
                 "ReLU on or off\n",
                 s->n_smaller, n_skipped);
#ifndef FC_REAL_DOUBLE
    fc_print("note: this is the float build, whose numerical gradients are coarse (relative errors ~1e-4..1e-2);\n"
             "      the double build (fcnet_dist_f64, or cmake -DFCNET_DOUBLE=ON) reaches ~1e-7 or better.\n");
#endif
    if (n_fail) {
        fc_print("result: FAIL (%d tensor%s above the threshold)\n", n_fail, n_fail == 1 ? "" : "s");
        return fc_error_set(FC_ERR_FAIL, "gradcheck: %d tensor%s failed (worst: %s, max relative error %.2e)",
                            n_fail, n_fail == 1 ? "" : "s", worst, worst_rel);
    }
    if (n_unchecked) {
        fc_print("result: not checked (%d tensor%s with no element checked)\n", n_unchecked,
                 n_unchecked == 1 ? "" : "s");
        /* Inputs that are all 0 (one row, or identical rows, centred) put every first-layer unit exactly on
         * its ReLU's kink at any weight scale: the usual advice would not help. */
        if (s->from_data && batch_is_zero(s))
            return fc_error_set(FC_ERR_INPUT, "gradcheck: no element of %s%s could be checked: --data %s gives "
                                "inputs that are all 0 after --preprocess %s (%d row%s), so every first-layer unit "
                                "sits on its ReLU's kink; use data with more rows that differ",
                                unchecked, n_unchecked > 8 ? ", ..." : "", cfg->data,
                                fc_preprocess_name(cfg->preprocess), s->batch, s->batch == 1 ? "" : "s");
        /* Batchnorm over a batch of 1 row normalises every unit to 0: each layer outputs its beta (0 at the
         * start), on its ReLU's kink, at any weight scale: no --weight-scale advice would help. */
        if (cfg->norm == FC_NORM_BATCH && s->batch == 1)
            return fc_error_set(FC_ERR_INPUT, "gradcheck: no element of %s%s could be checked: --norm batchnorm "
                                "over a batch of 1 row normalises every unit to 0, so each layer outputs its beta, on "
                                "its ReLU's kink, at any --weight-scale; use a --batch-size (and --data) of 2 or more "
                                "rows", unchecked, n_unchecked > 8 ? ", ..." : "");
        /* A 1-unit layernorm layer (above) leaves its beta, and what comes after it, unchecked at any scale: no
         * --weight-scale advice would help until the layer is wider. Anything else unchecked: the scale is (also)
         * to blame, advice below. */
        if (constant_unchecked && !others_unchecked)
            return fc_error_set(FC_ERR_INPUT, "gradcheck: no element of %s%s could be checked: --norm layernorm "
                                "normalises the 1 unit of hidden layer %d to 0 in every row, so it outputs its beta, "
                                "on its ReLU's kink, at any --weight-scale%s; give the layer 2 or more units",
                                unchecked, n_unchecked > 8 ? ", ..." : "", constant,
                                constant < cfg->n_hidden ? ", and the layers after it get the same input in every row"
                                                         : "");
        if (zero_layer > 0)
            return fc_error_set(FC_ERR_INPUT, "gradcheck: no element of %s%s could be checked: in row %d of the batch "
                                "every unit of hidden layer %d is 0 (ReLU off or dropped), so hidden layer %d gets a "
                                "constant input and sits on its ReLU's kink there at any --weight-scale; use another "
                                "--seed, wider layers or fewer rows",
                                unchecked, n_unchecked > 8 ? ", ..." : "", zero_row, zero_layer, zero_layer + 1);
        /* Weights below the step put every pre-activation (~ scale * |x|) within the step's reach of its kink
         * (--weight-scale 1e-30), and weights up to ten steps shrink the activations layer by layer until the
         * deeper ones are (training's 1e-2 = h on --hidden 100,100,100,100 in the float build): only larger ones
         * help. Large ones switch ReLUs downstream. */
        const int too_small = cfg->init == FC_INIT_NORMAL && cfg->weight_scale < 10 * GC_H;
        return fc_error_set(FC_ERR_INPUT, "gradcheck: no element of %s%s could be checked (every step switched a "
                            "ReLU on or off, also 100x smaller); use a %s --weight-scale",
                            unchecked, n_unchecked > 8 ? ", ..." : "", too_small ? "larger" : "smaller");
    }
    if (n_unresolved) {
        fc_print("result: not checked (%d tensor%s whose numerical gradient is within its own error bar "
                 "everywhere)\n", n_unresolved, n_unresolved == 1 ? "" : "s");
        return fc_error_set(FC_ERR_INPUT, "gradcheck: every numerical derivative of %s%s is within its own error bar "
                            "at --weight-scale %g, so a wrong gradient there would pass as well as a right one; check "
                            "at a --weight-scale near 5e-2 (the default), or with the double build (fcnet_dist_f64)",
                            unresolved, n_unresolved > 8 ? ", ..." : "", cfg->weight_scale);
    }
    /* ok* alone passes a tensor on the numerical derivative's error bar; when that is all there is, the
     * scale of the check hid every gradient (--weight-scale 1e10: rounding of ~1e11 against gradients of
     * ~1e9) and nothing was told apart from it. */
    if (n_ok == 0) {
        fc_print("result: not checked (no tensor within the threshold; every one passed only on the numerical "
                 "error bar)\n");
        return fc_error_set(FC_ERR_INPUT, "gradcheck: at --weight-scale %g no tensor's gradient could be told apart "
                            "from the numerical derivative's error (every tensor ok*); check at a weight scale "
                            "near 5e-2", cfg->weight_scale);
    }
    fc_print("result: ok\n");
    return FC_OK;
}

static void gc_free(gc_state *s)
{
    fc_net_free(&s->net);
    fc_free(s->x);
    fc_free(s->y);
    fc_free(s->analytic);
    fc_free(s->pattern);
    fc_split_free(&s->data);
    fc_preprocess_free(&s->pp);
}

int fc_cmd_gradcheck(const fc_config *cfg, fc_dist *dist)
{
    fc_status st = FC_OK;
    if (fc_dist_rank(dist) == 0) {
        fc_set_node_ranks(1); /* only this rank holds the data and the model: it may use the node's memory */
        gc_state s;
        memset(&s, 0, sizeof s);
        st = gc_run(&s, cfg);
        fc_flush_stdout();
        gc_free(&s);
    }
    /* The other ranks wait here for rank 0's verdict, so every rank exits with the same code. */
    return fc_dist_agree(dist, st, 1);
}
