#include "fcnet/optim.h"

#include <math.h>
#include <string.h>

static const char *const optim_names[] = {"sgd", "sgd_momentum", "rmsprop", "adam"};

fc_optim_config fc_optim_defaults(fc_optim_kind kind)
{
    fc_optim_config c = {kind, kind == FC_OPTIM_ADAM ? 1e-3 : 1e-2, 1.0, 0.9, 0.99, 0.9, 0.999, 1e-8};
    return c;
}

const char *fc_optim_name(fc_optim_kind kind) { return optim_names[kind]; }

int fc_optim_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, optim_names[i]) == 0) return i;
    return -1;
}

const char *fc_optim_slot_name(fc_optim_kind kind, int i)
{
    switch (kind) {
    case FC_OPTIM_SGD_MOMENTUM: return i == 0 ? "velocity" : NULL;
    case FC_OPTIM_RMSPROP: return i == 0 ? "cache" : NULL;
    case FC_OPTIM_ADAM: return i == 0 ? "m" : i == 1 ? "v" : NULL;
    default: return NULL;
    }
}

void fc_optim_init(fc_optim *opt, const fc_optim_config *cfg, size_t n)
{
    memset(opt, 0, sizeof *opt);
    opt->cfg = *cfg;
    opt->lr = cfg->lr;
    opt->n = n;
    opt->n_slots = cfg->kind == FC_OPTIM_ADAM ? 2 : cfg->kind == FC_OPTIM_SGD ? 0 : 1;
    for (int i = 0; i < opt->n_slots; i++) opt->slot[i] = fc_alloc((n ? n : 1) * sizeof(fc_real));
}

void fc_optim_free(fc_optim *opt)
{
    if (!opt) return;
    fc_free(opt->slot[0]);
    fc_free(opt->slot[1]);
    memset(opt, 0, sizeof *opt);
}

#ifdef FC_REAL_DOUBLE
#define SQRT sqrt
#else
#define SQRT sqrtf
#endif

int fc_optim_step(fc_optim *opt, fc_real *w, const fc_real *dw) { return fc_optim_step_range(opt, w, dw, 0, opt->n); }

FC_VECTOR_CLONES
int fc_optim_step_range(fc_optim *opt, fc_real *w, const fc_real *dw, size_t begin, size_t n)
{
    FC_ASSERT(begin + n <= opt->n);
    w += begin;
    dw += begin;
    /* 0 * finite = 0, 0 * Inf = 0 * NaN = NaN: one multiply-add per element finds any non-finite dw
     * inside the sweep the update makes anyway. The sum is only ever 0 or NaN, so its order is free and
     * `omp simd reduction` (-fopenmp-simd, no OpenMP runtime) lets each loop vectorise. */
    fc_real bad = 0;
    const fc_real lr = (fc_real)opt->lr;
    switch (opt->cfg.kind) {
    case FC_OPTIM_SGD:
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            bad += dw[i] * 0;
            w[i] -= lr * dw[i];
        }
        break;
    case FC_OPTIM_SGD_MOMENTUM: {
        const fc_real mu = (fc_real)opt->cfg.momentum;
        fc_real *v = opt->slot[0] + begin;
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            bad += dw[i] * 0;
            v[i] = mu * v[i] - lr * dw[i];
            w[i] += v[i];
        }
        break;
    }
    case FC_OPTIM_RMSPROP: {
        const fc_real dr = (fc_real)opt->cfg.decay_rate, one_m = (fc_real)(1 - opt->cfg.decay_rate);
        const fc_real eps = (fc_real)opt->cfg.eps;
        fc_real *c = opt->slot[0] + begin;
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            bad += dw[i] * 0;
            c[i] = dr * c[i] + one_m * dw[i] * dw[i];
            w[i] -= lr * dw[i] / (SQRT(c[i]) + eps);
        }
        break;
    }
    case FC_OPTIM_ADAM: {
        opt->t += 1; /* cs231n increments t before using it */
        const double b1 = opt->cfg.beta1, b2 = opt->cfg.beta2;
        /* Bias corrections in double once per step; the per-element work stays in the real type. */
        const fc_real inv_c1 = (fc_real)(1.0 / (1.0 - pow(b1, (double)opt->t)));
        const fc_real inv_c2 = (fc_real)(1.0 / (1.0 - pow(b2, (double)opt->t)));
        const fc_real fb1 = (fc_real)b1, fb2 = (fc_real)b2, one_m1 = (fc_real)(1 - b1), one_m2 = (fc_real)(1 - b2);
        const fc_real eps = (fc_real)opt->cfg.eps;
        fc_real *m = opt->slot[0] + begin, *v = opt->slot[1] + begin;
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            bad += dw[i] * 0;
            m[i] = fb1 * m[i] + one_m1 * dw[i];
            v[i] = fb2 * v[i] + one_m2 * dw[i] * dw[i];
            w[i] -= lr * (m[i] * inv_c1) / (SQRT(v[i] * inv_c2) + eps);
        }
        break;
    }
    }
    return bad == 0;
}

void fc_optim_end_epoch(fc_optim *opt) { opt->lr *= opt->cfg.lr_decay; }
