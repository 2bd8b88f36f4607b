#include "fcnet/optim.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char *const fc_optim_names[FC_OPTIM_KINDS] = {"sgd", "sgd_momentum", "rmsprop", "adam"};

fc_optim_config fc_optim_defaults(fc_optim_kind kind)
{
    fc_optim_config c = {kind, kind == FC_OPTIM_ADAM ? 1e-3 : 1e-2, 1.0, 0.9, 0.99, 0.9, 0.999, 1e-8};
    return c;
}

const char *fc_optim_name(fc_optim_kind kind) { return fc_optim_names[kind]; }

int fc_optim_parse(const char *name)
{
    for (int i = 0; i < FC_OPTIM_KINDS; i++)
        if (strcmp(name, fc_optim_names[i]) == 0) return i;
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

int fc_optim_slot_count(fc_optim_kind kind) { return kind == FC_OPTIM_ADAM ? 2 : kind == FC_OPTIM_SGD ? 0 : 1; }

void fc_optim_init(fc_optim *opt, const fc_optim_config *cfg, size_t n)
{
    memset(opt, 0, sizeof *opt);
    opt->cfg = *cfg;
    opt->lr = cfg->lr;
    opt->n = n;
    opt->n_slots = fc_optim_slot_count(cfg->kind);
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

/* One rule over [begin, begin + n) of the arenas, writing the new weights to out[0 .. n): out is either
 * w + begin itself or a small buffer. Returns the sum of (every value it wrote) * 0, 0 or NaN:
 * 0 * finite = 0, 0 * Inf = 0 * NaN = NaN, so a multiply-add per value finds, inside the sweep the update
 * makes anyway, a non-finite dw (it makes the new weight or state non-finite) and also a finite dw whose
 * update overflows (lr * dw, momentum's velocity, dw * dw in rmsprop's cache and adam's v, which would
 * otherwise leave finite weights beside an infinite state: a checkpoint that cannot be resumed).
 * That sum is only ever 0 or NaN, so its order is free and
 * `omp simd reduction` (-fopenmp-simd, no OpenMP runtime) lets each loop vectorise. */
FC_VECTOR_CLONES
static fc_real sweep(const fc_optim *opt, const fc_rule_coefs *k, fc_real *out, const fc_real *w_all,
                     const fc_real *dw_all, size_t begin, size_t n)
{
    const fc_real *w = w_all + begin, *dw = dw_all + begin;
    fc_real bad = 0;
    const fc_real lr = k->lr;
    switch (opt->cfg.kind) {
    case FC_OPTIM_SGD:
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            out[i] = w[i] - lr * dw[i];
            bad += out[i] * 0;
        }
        break;
    case FC_OPTIM_SGD_MOMENTUM: {
        const fc_real mu = k->mu;
        fc_real *v = opt->slot[0] + begin;
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            v[i] = mu * v[i] - lr * dw[i];
            out[i] = w[i] + v[i];
            bad += v[i] * 0 + out[i] * 0;
        }
        break;
    }
    case FC_OPTIM_RMSPROP: {
        const fc_real dr = k->dr, one_m = k->one_m, eps = k->eps;
        fc_real *c = opt->slot[0] + begin;
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            c[i] = dr * c[i] + one_m * dw[i] * dw[i];
            out[i] = w[i] - lr * dw[i] / (SQRT(c[i]) + eps);
            bad += c[i] * 0 + out[i] * 0;
        }
        break;
    }
    case FC_OPTIM_ADAM: {
        const fc_real fb1 = k->b1, fb2 = k->b2, one_m1 = k->one_m1, one_m2 = k->one_m2, eps = k->eps;
        const fc_real inv_c1 = k->inv_c1, inv_c2 = k->inv_c2;
        fc_real *m = opt->slot[0] + begin, *v = opt->slot[1] + begin;
#pragma omp simd reduction(+ : bad)
        for (size_t i = 0; i < n; i++) {
            m[i] = fb1 * m[i] + one_m1 * dw[i];
            v[i] = fb2 * v[i] + one_m2 * dw[i] * dw[i];
            out[i] = w[i] - lr * (m[i] * inv_c1) / (SQRT(v[i] * inv_c2) + eps);
            bad += m[i] * 0 + v[i] * 0 + out[i] * 0;
        }
        break;
    }
    }
    return bad;
}

/* dst[0 .. n) = src[0 .. n) with non-temporal stores where the target allows them (SSE2: every x86-64). */
static void store_streaming(fc_real *dst, const fc_real *src, size_t n)
{
#if defined(__SSE2__)
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 15) != 0; i++) dst[i] = src[i];
#ifdef FC_REAL_DOUBLE
    for (; i + 2 <= n; i += 2) _mm_stream_pd(dst + i, _mm_loadu_pd(src + i));
#else
    for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
#endif
    for (; i < n; i++) dst[i] = src[i];
#else
    memcpy(dst, src, n * sizeof *dst);
#endif
}

int fc_optim_step(fc_optim *opt, fc_real *w, const fc_real *dw) { return fc_optim_step_range(opt, w, dw, 0, opt->n); }

int fc_optim_step_range(fc_optim *opt, fc_real *w, const fc_real *dw, size_t begin, size_t n)
{
    fc_optim_begin_step(opt);
    const int finite = fc_optim_apply(opt, w, dw, begin, n);
    fc_optim_end_step(opt);
    return finite;
}

void fc_optim_begin_step(fc_optim *opt)
{
    const fc_optim_config *c = &opt->cfg;
    fc_rule_coefs k = {.lr = (fc_real)opt->lr, .mu = (fc_real)c->momentum, .dr = (fc_real)c->decay_rate,
                       .one_m = (fc_real)(1 - c->decay_rate), .eps = (fc_real)c->eps, .b1 = (fc_real)c->beta1,
                       .b2 = (fc_real)c->beta2, .one_m1 = (fc_real)(1 - c->beta1), .one_m2 = (fc_real)(1 - c->beta2)};
    if (c->kind == FC_OPTIM_ADAM) {
        opt->t += 1; /* cs231n increments t before using it */
        /* Bias corrections in double once per step; the per-element work stays in the real type. */
        k.inv_c1 = (fc_real)(1.0 / (1.0 - pow(c->beta1, (double)opt->t)));
        k.inv_c2 = (fc_real)(1.0 / (1.0 - pow(c->beta2, (double)opt->t)));
    }
    opt->k = k;
}

int fc_optim_apply(fc_optim *opt, fc_real *w, const fc_real *dw, size_t begin, size_t n)
{
    FC_ASSERT(begin + n <= opt->n);
    const fc_rule_coefs *k = &opt->k;
    fc_real bad = 0;
    if (!opt->stream_params) {
        bad = sweep(opt, k, w + begin, w, dw, begin, n);
    } else {
        /* The new weights go through a buffer on the stack and reach w with non-temporal stores. Why: w is
         * then a node-shared array that the other ranks read in every forward pass, so its lines sit in
         * their caches; ordinary stores must win each line back first and stall the update (measured with
         * two processes on an AMD EPYC VM: 130 us for 124k adam updates in place, 47 us this way, 34 us when
         * nobody else reads w). On other machines the peers' forward pass, which then reads w from memory,
         * loses more than this saves: fc_store_choice measures both ways at run time and sets
         * stream_params. Each element gets the same arithmetic either way. */
        enum { BLOCK = 512 };
        fc_real out[BLOCK];
        for (size_t at = 0; at < n; at += BLOCK) {
            const size_t len = n - at < BLOCK ? n - at : BLOCK;
            bad += sweep(opt, k, out, w, dw, begin + at, len);
            store_streaming(w + begin + at, out, len);
        }
    }
    return bad == 0;
}

void fc_optim_end_step(const fc_optim *opt)
{
#if defined(__SSE2__)
    if (opt->stream_params) _mm_sfence(); /* non-temporal stores are weakly ordered: complete them before any barrier */
#else
    (void)opt;
#endif
}

double fc_optim_decayed_lr(const fc_optim_config *c, double lr) { return lr * c->lr_decay; }

void fc_optim_end_epoch(fc_optim *opt) { opt->lr = fc_optim_decayed_lr(&opt->cfg, opt->lr); }
