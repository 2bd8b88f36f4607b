#include "fcnet/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/dist.h"
#include "fcnet/layers.h"
#include "fcnet/memory_limits.h"
#include "fcnet/optim.h"
#include "fcnet/rng.h"

static int has_norm(const fc_net *net, int l) { return l < net->n_layers && net->cfg.norm != FC_NORM_NONE; }

fc_status fc_net_init(fc_net *net, const fc_net_config *cfg, int max_batch, const struct fc_dist *dist)
{
    memset(net, 0, sizeof *net);
    FC_ASSERT(cfg->n_input >= 1 && cfg->n_classes >= 1 && cfg->n_hidden >= 0 && max_batch >= 1);
    const int L = cfg->n_hidden + 1;
    net->cfg = *cfg;
    net->n_layers = L;
    net->max_batch = max_batch;
    net->dist = dist;
    net->dims = calloc((size_t)L + 1, sizeof *net->dims);
    FC_ASSERT(net->dims != NULL);
    net->dims[0] = cfg->n_input;
    for (int l = 1; l < L; l++) {
        FC_ASSERT(cfg->hidden[l - 1] >= 1);
        net->dims[l] = cfg->hidden[l - 1];
    }
    net->dims[L] = cfg->n_classes;
    net->cfg.hidden = net->dims + 1;
    net->max_width = 0;
    for (int l = 0; l <= L; l++) net->max_width = net->dims[l] > net->max_width ? net->dims[l] : net->max_width;

    /* Refuse a network that cannot fit before allocating it: the parameters with their gradients, optimizer
     * state and best copy (about 5 arrays), and the activations of one batch (about 3 per unit). */
    double n_params = 0, n_units = 0;
    int widest_hidden = 0;
    for (int l = 1; l <= L; l++) {
        n_params += (double)net->dims[l - 1] * net->dims[l] + 3.0 * net->dims[l];
        n_units += net->dims[l];
        if (l < L && net->dims[l] > widest_hidden) widest_hidden = net->dims[l];
    }
    const double need = (5 * n_params + 3 * (double)max_batch * (n_units + net->max_width)) * sizeof(fc_real);
    char why[256];
    if (fc_memory_exceeded(need, why, sizeof why)) {
        fc_status st = fc_error_set(FC_ERR_INPUT,
                                    "the network %d -> %d hidden layer(s) of up to %d units -> %d classes needs "
                                    "about %s (%.3g parameters, batch %d), %s",
                                    net->dims[0], L - 1, widest_hidden, net->dims[L],
                                    fc_format_size(need).text, n_params, max_batch, why);
        free(net->dims);
        memset(net, 0, sizeof *net);
        return st;
    }

    int *idx = calloc(6 * ((size_t)L + 1), sizeof *idx);
    FC_ASSERT(idx != NULL);
    net->iw = idx;
    net->ib = idx + (L + 1);
    net->igamma = idx + 2 * (L + 1);
    net->ibeta = idx + 3 * (L + 1);
    net->irmean = idx + 4 * (L + 1);
    net->irvar = idx + 5 * (L + 1);
    fc_layout_init(&net->layout);
    fc_layout_init(&net->bn_layout);
    char name[FC_VIEW_NAME_MAX];
    for (int l = 0; l <= L; l++) net->igamma[l] = net->ibeta[l] = net->irmean[l] = net->irvar[l] = -1;
    for (int l = 1; l <= L; l++) {
        snprintf(name, sizeof name, "W%d", l);
        net->iw[l] = fc_layout_add(&net->layout, name, net->dims[l - 1], net->dims[l], 1);
        snprintf(name, sizeof name, "b%d", l);
        net->ib[l] = fc_layout_add(&net->layout, name, 1, net->dims[l], 0);
        if (has_norm(net, l)) {
            snprintf(name, sizeof name, "gamma%d", l);
            net->igamma[l] = fc_layout_add(&net->layout, name, 1, net->dims[l], 0);
            snprintf(name, sizeof name, "beta%d", l);
            net->ibeta[l] = fc_layout_add(&net->layout, name, 1, net->dims[l], 0);
        }
        if (has_norm(net, l) && cfg->norm == FC_NORM_BATCH) {
            snprintf(name, sizeof name, "running_mean%d", l);
            net->irmean[l] = fc_layout_add(&net->bn_layout, name, 1, net->dims[l], 0);
            snprintf(name, sizeof name, "running_var%d", l);
            net->irvar[l] = fc_layout_add(&net->bn_layout, name, 1, net->dims[l], 0);
        }
    }
    net->params = fc_arena_alloc(&net->layout);
    net->grads = fc_arena_alloc(&net->layout);
    if (net->bn_layout.n_views > 0) net->bn_stats = fc_arena_alloc(&net->bn_layout);

    net->h = calloc((size_t)L + 1, sizeof *net->h);
    net->xhat = calloc((size_t)L + 1, sizeof *net->xhat);
    net->inv_std = calloc((size_t)L + 1, sizeof *net->inv_std);
    FC_ASSERT(net->h && net->xhat && net->inv_std);
    for (int l = 1; l < L; l++) {
        size_t n = (size_t)max_batch * (size_t)net->dims[l];
        net->h[l] = fc_alloc(n * sizeof(fc_real));
        if (has_norm(net, l)) {
            net->xhat[l] = fc_alloc(n * sizeof(fc_real));
            int per = net->dims[l] > max_batch ? net->dims[l] : max_batch;
            net->inv_std[l] = fc_alloc((size_t)per * sizeof(fc_real));
        }
    }
    net->scores = fc_alloc((size_t)max_batch * (size_t)net->dims[L] * sizeof(fc_real));
    for (int k = 0; k < 2; k++) net->dbuf[k] = fc_alloc((size_t)max_batch * (size_t)net->max_width * sizeof(fc_real));
    net->stat_scratch = fc_alloc((2 * (size_t)net->max_width + 1) * sizeof(double));
    fc_net_init_params(net);
    return FC_OK;
}

void fc_net_borrow_arenas(fc_net *net, fc_real *params, fc_real *grads, size_t begin, size_t len)
{
    FC_ASSERT(!net->arenas_borrowed && begin + len <= net->layout.n_total);
    memcpy(params + begin, net->params + begin, len * sizeof(fc_real));
    memcpy(grads, net->grads, net->layout.n_total * sizeof(fc_real));
    fc_free(net->params);
    fc_free(net->grads);
    net->params = params;
    net->grads = grads;
    net->arenas_borrowed = 1;
}

fc_status fc_net_too_big_for_data(const char *data, int n_input, int n_classes)
{
    char why[1024];
    snprintf(why, sizeof why, "%s", fc_error_message());
    return fc_error_set(FC_ERR_INPUT, "%s (%d features, %d classes): %s: --hidden, --batch-size, or the class count "
                        "of the data", data, n_input, n_classes, why);
}

void fc_net_free(fc_net *net)
{
    if (!net) return;
    for (int l = 0; net->h && l <= net->n_layers; l++) {
        fc_free(net->h[l]);
        fc_free(net->xhat[l]);
        fc_free(net->inv_std[l]);
    }
    free(net->h);
    free(net->xhat);
    free(net->inv_std);
    fc_free(net->scores);
    fc_free(net->dbuf[0]);
    fc_free(net->dbuf[1]);
    fc_free(net->stat_scratch);
    if (!net->arenas_borrowed) {
        fc_free(net->params);
        fc_free(net->grads);
    }
    fc_free(net->bn_stats);
    fc_layout_free(&net->layout);
    fc_layout_free(&net->bn_layout);
    free(net->iw);
    free(net->dims);
    memset(net, 0, sizeof *net);
}

static fc_real *view_ptr(fc_real *arena, const fc_layout *layout, int index)
{
    return arena + layout->views[index].offset;
}

/* Weights of layer l are drawn from tensor id l, so adding norm layers never changes them. */
void fc_net_init_params(fc_net *net)
{
    memset(net->params, 0, net->layout.n_total * sizeof(fc_real));
    if (net->bn_stats) memset(net->bn_stats, 0, net->bn_layout.n_total * sizeof(fc_real));
    for (int l = 1; l <= net->n_layers; l++) {
        const fc_view *v = &net->layout.views[net->iw[l]];
        size_t n = fc_view_size(v);
        double std = net->cfg.init == FC_INIT_HE ? sqrt(2.0 / net->dims[l - 1]) : net->cfg.weight_scale;
        double *tmp = malloc(n * sizeof *tmp);
        FC_ASSERT(tmp != NULL);
        fc_rng_normal_fill(tmp, n, net->cfg.seed, (uint32_t)l, std);
        fc_real *w = net->params + v->offset;
        for (size_t i = 0; i < n; i++) w[i] = (fc_real)tmp[i];
        free(tmp);
        if (net->igamma[l] >= 0) {
            fc_real *g = view_ptr(net->params, &net->layout, net->igamma[l]);
            for (int j = 0; j < net->dims[l]; j++) g[j] = 1;
        }
    }
}

#define P(idx) view_ptr(net->params, &net->layout, (idx))
#define G(idx) view_ptr(net->grads, &net->layout, (idx))
#define S(idx) view_ptr(net->bn_stats, &net->bn_layout, (idx))

const fc_real *fc_net_forward(fc_net *net, const fc_real *x, int batch, fc_mode mode,
                              const fc_batch_info *info)
{
    FC_ASSERT(batch >= 0 && batch <= net->max_batch);
    FC_ASSERT(mode == FC_MODE_TEST || info != NULL);
    net->x = x;
    net->batch = batch;
    const int L = net->n_layers;
    const fc_real *in = x;
    for (int l = 1; l < L; l++) {
        const int n_in = net->dims[l - 1], n = net->dims[l];
        fc_real *h = net->h[l];
        const int train = mode == FC_MODE_TRAIN;
        const fc_act act = {.relu = 1, .keep = train ? net->cfg.keep : 1.0, .seed = net->cfg.seed,
                            .step = train ? info->step : 0, .layer = l, .row0 = train ? info->row0 : 0};
        /* GEMM without bias, then one fused kernel: bias, normalisation, ReLU and dropout. */
        fc_linear_forward(h, in, P(net->iw[l]), batch, n_in, n);
        if (net->cfg.norm == FC_NORM_BATCH) {
            if (train)
                fc_batchnorm_act_forward_train(h, net->xhat[l], net->inv_std[l], S(net->irmean[l]), S(net->irvar[l]),
                                               h, P(net->ib[l]), P(net->igamma[l]), P(net->ibeta[l]),
                                               net->cfg.bn_momentum, &act, batch, n, net->stat_scratch, net->dist);
            else
                fc_batchnorm_act_forward_test(h, h, P(net->ib[l]), P(net->igamma[l]), P(net->ibeta[l]),
                                              S(net->irmean[l]), S(net->irvar[l]), &act, batch, n);
        } else if (net->cfg.norm == FC_NORM_LAYER) {
            fc_layernorm_act_forward(h, net->xhat[l], net->inv_std[l], h, P(net->ib[l]), P(net->igamma[l]),
                                     P(net->ibeta[l]), &act, batch, n);
        } else {
            fc_bias_act_forward(h, h, P(net->ib[l]), &act, batch, n);
        }
        in = h;
    }
    fc_affine_forward(net->scores, in, P(net->iw[L]), P(net->ib[L]), batch, net->dims[L - 1], net->dims[L]);
    return net->scores;
}

double fc_net_loss(fc_net *net, const int32_t *y, const fc_batch_info *info)
{
    return fc_softmax_loss(net->scores, net->scores, y, net->batch, net->dims[net->n_layers], info->global_batch);
}

void fc_net_backward(fc_net *net)
{
    const int L = net->n_layers, batch = net->batch;
    const fc_real *dout = net->scores; /* holds dscores after fc_net_loss */
    /* The weight GEMMs overwrite their gradients; the small vectors (biases, gamma, beta) are summed
     * row by row inside the fused kernels, so they start from zero. */
    for (int i = 0; i < net->layout.n_views; i++) {
        const fc_view *v = &net->layout.views[i];
        if (!v->decay) memset(net->grads + v->offset, 0, fc_view_size(v) * sizeof(fc_real));
    }
    int k = 0;
    for (int l = L; l >= 1; l--) {
        const fc_real *in = l > 1 ? net->h[l - 1] : net->x;
        const int n_in = net->dims[l - 1], n_out = net->dims[l];
        /* Hidden layers' bias gradients were accumulated by the fused kernel below. */
        fc_real *dw = G(net->iw[l]), *db = l == L ? G(net->ib[l]) : NULL;
        /* Nobody needs the gradient of the input data: no dx for layer 1 (~25-30% of GEMM work). */
        if (l == 1) {
            fc_affine_backward_params(dw, db, dout, in, batch, n_in, n_out, 0);
            break;
        }
        fc_real *dx = net->dbuf[k];
        fc_affine_backward_input(dx, dout, P(net->iw[l]), batch, n_in, n_out);
        const int hl = l - 1, n = n_in;
        const double keep = net->cfg.keep;
        /* In place: dx holds the gradient of h[hl] and becomes the gradient of its GEMM output. */
        if (net->cfg.norm == FC_NORM_BATCH) {
            /* The weight gradient GEMM between the halves, while the ranks' batchnorm sums travel: a rank that
             * got there first works instead of waiting, and one delayed by its core (an interrupt, another
             * process) loses less to the lockstep. It reads dout and in, which the halves do not write. */
            fc_batchnorm_act_backward_begin(dx, G(net->igamma[hl]), G(net->ibeta[hl]), dx, net->h[hl], keep,
                                            net->xhat[hl], batch, n, net->stat_scratch, net->dist);
            fc_affine_backward_params(dw, db, dout, in, batch, n_in, n_out, 0);
            fc_batchnorm_act_backward_end(dx, G(net->ib[hl]), net->xhat[hl], net->inv_std[hl], P(net->igamma[hl]),
                                          batch, n, net->stat_scratch, net->dist);
        } else {
            fc_affine_backward_params(dw, db, dout, in, batch, n_in, n_out, 0);
            if (net->cfg.norm == FC_NORM_LAYER)
                fc_layernorm_act_backward(dx, G(net->ib[hl]), G(net->igamma[hl]), G(net->ibeta[hl]), dx, net->h[hl],
                                          keep, net->xhat[hl], net->inv_std[hl], P(net->igamma[hl]), batch, n);
            else
                fc_bias_act_backward(dx, G(net->ib[hl]), dx, net->h[hl], keep, batch, n);
        }
        dout = dx;
        k ^= 1;
    }
}

double fc_net_add_reg(fc_net *net) { return fc_net_add_reg_range(net, 0, net->layout.n_total); }

/* sum(W^2) in eight interleaved partial sums, added in a fixed order at the end: one running sum is a chain
 * of dependent adds; eight lanes vectorise, and since the lanes are fixed, not the vector width, every clone
 * and CPU gets the same bits. */
enum { REG_LANES = 8 };

static double sum_lanes(const double part[REG_LANES])
{
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/* g[0 .. n) += r * w[0 .. n); part[k] += w[j]^2 for j = k (mod 8), the last n % 8 elements into part[0].
 * Spans cut at multiples of 8 and fed in order give the bits of one call over the whole. */
FC_VECTOR_CLONES
static void add_reg_span(fc_real *g, const fc_real *w, size_t n, fc_real r, double *part_io)
{
    double part[REG_LANES];
    memcpy(part, part_io, sizeof part);
    size_t j = 0;
    for (; j + REG_LANES <= n; j += REG_LANES)
        for (int k = 0; k < REG_LANES; k++) {
            part[k] += (double)w[j + k] * (double)w[j + k];
            g[j + k] += r * w[j + k];
        }
    for (; j < n; j++) {
        part[0] += (double)w[j] * (double)w[j];
        g[j] += r * w[j];
    }
    memcpy(part_io, part, sizeof part);
}

/* The part [*lo, *hi) of weight view v inside [begin, end); 0 when there is none. */
static int decay_span(const fc_view *v, size_t begin, size_t end, size_t *lo, size_t *hi)
{
    if (!v->decay) return 0;
    *lo = v->offset > begin ? v->offset : begin;
    *hi = v->offset + fc_view_size(v) < end ? v->offset + fc_view_size(v) : end;
    return *lo < *hi;
}

double fc_net_add_reg_range(fc_net *net, size_t begin, size_t len)
{
    const double reg = net->cfg.reg;
    if (reg == 0) return 0;
    double part[REG_LANES] = {0};
    size_t lo, hi;
    for (int i = 0; i < net->layout.n_views; i++)
        if (decay_span(&net->layout.views[i], begin, begin + len, &lo, &hi))
            add_reg_span(net->grads + lo, net->params + lo, hi - lo, (fc_real)reg, part);
    return 0.5 * reg * sum_lanes(part);
}

double fc_net_update_range(fc_net *net, fc_optim *opt, size_t begin, size_t len, int *finite)
{
    const double reg = net->cfg.reg;
    fc_real *w = net->params, *g = net->grads;
    fc_optim_begin_step(opt);
    if (reg == 0) {
        *finite = fc_optim_apply(opt, w, g, begin, len);
        fc_optim_end_step(opt);
        return 0;
    }
    /* The L2 term and the update of a block while its weights and gradients are in L1, instead of two
     * sweeps over the chunk (wide -n 1 with --reg 0.01: 5.0-5.5 -> 4.0-4.2 ms per step); the same arithmetic
     * in the same order as fc_net_add_reg_range then fc_optim_step_range, so the same bits. */
    enum { BLOCK = 512 };
    double part[REG_LANES] = {0};
    const size_t end = begin + len;
    size_t at = begin, lo, hi;
    int ok = 1;
    for (int i = 0; i < net->layout.n_views; i++) {
        if (!decay_span(&net->layout.views[i], begin, end, &lo, &hi)) continue;
        if (at < lo) ok &= fc_optim_apply(opt, w, g, at, lo - at);
        for (size_t b = lo; b < hi; b += BLOCK) {
            const size_t n = hi - b < BLOCK ? hi - b : BLOCK;
            add_reg_span(g + b, w + b, n, (fc_real)reg, part);
            ok &= fc_optim_apply(opt, w, g, b, n);
        }
        at = hi;
    }
    if (at < end) ok &= fc_optim_apply(opt, w, g, at, end - at);
    fc_optim_end_step(opt);
    *finite = ok;
    return 0.5 * reg * sum_lanes(part);
}

int fc_net_bn_stats_finite(const fc_net *net)
{
    for (size_t i = 0; i < net->bn_layout.n_total; i++)
        if (!isfinite(net->bn_stats[i])) return 0;
    return 1;
}

int fc_net_predict(const fc_net *net, int row)
{
    const int C = net->dims[net->n_layers];
    const fc_real *s = net->scores + (size_t)row * (size_t)C;
    /* A NaN compares false (the argmax would depend on where it sits) and an Inf is an overflowed forward
     * whose softmax is NaN: neither row has a class to count. */
    int best = 0;
    for (int k = 0; k < C; k++) {
        if (!isfinite(s[k])) return FC_NET_NO_CLASS;
        if (s[k] > s[best]) best = k;
    }
    return best;
}

int64_t fc_net_count_correct(const fc_net *net, const int32_t *y, int64_t *no_class)
{
    int64_t correct = 0;
    for (int i = 0; i < net->batch; i++) {
        const int predicted = fc_net_predict(net, i);
        correct += predicted == y[i];
        *no_class += predicted == FC_NET_NO_CLASS;
    }
    return correct;
}
