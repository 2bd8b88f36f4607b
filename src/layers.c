#include "fcnet/layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "fcnet/dist.h"
#include "fcnet/rng.h"

#ifdef FC_REAL_DOUBLE
#define GEMM cblas_dgemm
#else
#define GEMM cblas_sgemm
#endif

/* Seconds spent inside GEMM calls, for --profile's split of the step into GEMM and everything else
 * (two clock reads per call, ~50 ns against GEMMs of microseconds or more). */
static double gemm_seconds = 0;

double fc_gemm_seconds(void) { return gemm_seconds; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fc_linear_forward(fc_real *out, const fc_real *x, const fc_real *w, int batch, int n_in, int n_out)
{
    if (batch == 0) return;
    const double t0 = now();
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, n_out, n_in, 1, x, n_in, w, n_out, 0, out, n_out);
    gemm_seconds += now() - t0;
}

void fc_affine_forward(fc_real *out, const fc_real *x, const fc_real *w, const fc_real *b, int batch,
                       int n_in, int n_out)
{
    fc_linear_forward(out, x, w, batch, n_in, n_out);
    for (int i = 0; i < batch; i++) {
        fc_real *row = out + (size_t)i * n_out;
        for (int j = 0; j < n_out; j++) row[j] += b[j];
    }
}

static void add_colsum(fc_real *db, const fc_real *d, int batch, int n)
{
    for (int i = 0; i < batch; i++) {
        const fc_real *row = d + (size_t)i * n;
        for (int j = 0; j < n; j++) db[j] += row[j];
    }
}

void fc_affine_backward_params(fc_real *dw, fc_real *db, const fc_real *dout, const fc_real *x, int batch, int n_in,
                               int n_out, int accumulate)
{
    if (!accumulate) {
        if (db) memset(db, 0, (size_t)n_out * sizeof *db);
        if (batch == 0) memset(dw, 0, (size_t)n_in * (size_t)n_out * sizeof *dw);
    }
    if (batch == 0) return;
    const double t0 = now();
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n_in, n_out, batch, 1, x, n_in, dout, n_out, accumulate ? 1 : 0,
         dw, n_out);
    gemm_seconds += now() - t0;
    if (db) add_colsum(db, dout, batch, n_out);
}

void fc_affine_backward_input(fc_real *dx, const fc_real *dout, const fc_real *w, int batch, int n_in, int n_out)
{
    if (batch == 0) return;
    const double t0 = now();
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n_in, n_out, 1, dout, n_out, w, n_out, 0, dx, n_in);
    gemm_seconds += now() - t0;
}

void fc_affine_backward(fc_real *dx, fc_real *dw, fc_real *db, const fc_real *dout, const fc_real *x,
                        const fc_real *w, int batch, int n_in, int n_out, int accumulate)
{
    fc_affine_backward_params(dw, db, dout, x, batch, n_in, n_out, accumulate);
    if (dx) fc_affine_backward_input(dx, dout, w, batch, n_in, n_out);
}

/* ReLU as cs231n's np.maximum(0, x): a NaN passes on (!(x <= 0) holds for it), so that an overflow inside the
 * network reaches the scores and shows, instead of leaving a finite score and a class. Same bits otherwise. */
void fc_relu_forward(fc_real *out, const fc_real *x, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = !(x[i] <= 0) ? x[i] : 0;
}

void fc_relu_backward(fc_real *dx, const fc_real *dout, const fc_real *out, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = out[i] > 0 ? dout[i] : 0;
}

/* Two passes (mean, then squared deviations) in double: the one-pass E[x^2] - E[x]^2 loses every digit
 * when |mean| >> std. */
FC_VECTOR_CLONES
void fc_moments_columns(double *mean, double *m2, const fc_real *x, int batch, int n)
{
    for (int j = 0; j < n; j++) mean[j] = m2[j] = 0;
    if (batch == 0) return;
    for (int i = 0; i < batch; i++) {
        const fc_real *row = x + (size_t)i * n;
        for (int j = 0; j < n; j++) mean[j] += (double)row[j];
    }
    for (int j = 0; j < n; j++) mean[j] /= batch;
    for (int i = 0; i < batch; i++) {
        const fc_real *row = x + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double d = (double)row[j] - mean[j];
            m2[j] += d * d;
        }
    }
}

/* Chan, Golub & LeVeque: mean = mean_a + delta n_b / n; m2 = m2_a + m2_b + delta^2 n_a n_b / n. */
void fc_moments_merge(int64_t *n_a, double *mean_a, double *m2_a, int64_t n_b, const double *mean_b,
                      const double *m2_b, int n)
{
    if (n_b == 0) return;
    if (*n_a == 0) {
        memcpy(mean_a, mean_b, (size_t)n * sizeof *mean_a);
        memcpy(m2_a, m2_b, (size_t)n * sizeof *m2_a);
        *n_a = n_b;
        return;
    }
    double na = (double)*n_a, nb = (double)n_b, nt = na + nb;
    for (int j = 0; j < n; j++) {
        double delta = mean_b[j] - mean_a[j];
        mean_a[j] += delta * (nb / nt);
        m2_a[j] += m2_b[j] + delta * delta * (na * nb / nt);
    }
    *n_a += n_b;
}

/* One row of a hidden layer's output: out = y, or with act->relu: relu(y) * dropout mask, where
 * y[j] = gamma[j] * xhat[j] + beta[j] (gamma NULL: y = xhat). The mask comes from one Philox block per
 * four units of the row, drawn only when keep < 1. */
FC_VECTOR_CLONES
static void emit_row(fc_real *out, const fc_real *xhat, const fc_real *gamma, const fc_real *beta,
                     const fc_act *act, int64_t row, int n)
{
    /* Straight loops without branches so each one vectorises. */
    if (gamma)
        for (int j = 0; j < n; j++) out[j] = gamma[j] * xhat[j] + beta[j];
    else if (out != xhat)
        memcpy(out, xhat, (size_t)n * sizeof *out);
    if (!act || !act->relu) return;
    if (act->keep >= 1) {
        for (int j = 0; j < n; j++) out[j] = !(out[j] <= 0) ? out[j] : 0; /* NaN passes: fc_relu_forward */
        return;
    }
    const fc_real scale = (fc_real)(1.0 / act->keep);
    const uint32_t c = (uint32_t)(act->row0 + row);
    /* Keep unit j when its 24-bit uniform is below keep: compare integers, u24 < ceil(keep * 2^24). */
    const int32_t limit = (int32_t)ceil(act->keep * 16777216.0);
    enum { CHUNK = 1024 }; /* units per batch of random words (4 KiB on the stack) */
    uint32_t words[CHUNK];
    for (int j0 = 0; j0 < n; j0 += CHUNK) {
        int m = n - j0 < CHUNK ? n - j0 : CHUNK;
        fc_rng_blocks(words, (m + 3) / 4, act->seed, FC_RNG_DROPOUT, act->step, (uint32_t)act->layer, c,
                      (uint32_t)(j0 >> 2));
        fc_real *o = out + j0;
        /* Signed 32-bit lanes and a select, no branch: at keep 0.5 a branch mispredicts every other unit. */
        for (int k = 0; k < m; k++) {
            const int32_t u24 = (int32_t)(words[k] >> 8);
            const fc_real kept = o[k] * scale;
            o[k] = ((u24 < limit) & !(kept <= 0)) ? kept : 0; /* a kept NaN passes: fc_relu_forward */
        }
    }
}

FC_VECTOR_CLONES
void fc_bias_act_forward(fc_real *out, const fc_real *z, const fc_real *b, const fc_act *act, int batch, int n)
{
    for (int i = 0; i < batch; i++) {
        fc_real *or = out + (size_t)i * n;
        const fc_real *zr = z + (size_t)i * n;
        for (int j = 0; j < n; j++) or[j] = zr[j] + b[j];
        emit_row(or, or, NULL, NULL, act, i, n);
    }
}

FC_VECTOR_CLONES
void fc_batchnorm_act_forward_train(fc_real *out, fc_real *xhat, fc_real *inv_std, fc_real *running_mean,
                                    fc_real *running_var, const fc_real *z, const fc_real *b,
                                    const fc_real *gamma, const fc_real *beta, double momentum,
                                    const fc_act *act, int batch, int n, double *stat_scratch,
                                    const struct fc_dist *dist)
{
    double *mean = stat_scratch, *m2 = stat_scratch + n;
    fc_moments_columns(mean, m2, z, batch, n);
    stat_scratch[2 * n] = batch;
    int64_t n_total = fc_dist_merge_moments(dist, stat_scratch, n);
    FC_ASSERT(n_total > 0);
    for (int j = 0; j < n; j++) {
        double var = m2[j] / (double)n_total; /* biased, as cs231n (and PyTorch's normalisation) */
        inv_std[j] = (fc_real)(1.0 / sqrt(var + FC_BN_EPS));
        /* A bias before batchnorm cancels in xhat; it only shifts the mean the running statistic sees. */
        double batch_mean = mean[j] + (b ? (double)b[j] : 0.0);
        running_mean[j] = (fc_real)(momentum * (double)running_mean[j] + (1 - momentum) * batch_mean);
        running_var[j] = (fc_real)(momentum * (double)running_var[j] + (1 - momentum) * var);
    }
    for (int i = 0; i < batch; i++) {
        const fc_real *zr = z + (size_t)i * n;
        fc_real *hr = xhat + (size_t)i * n;
        for (int j = 0; j < n; j++) hr[j] = (zr[j] - (fc_real)mean[j]) * inv_std[j];
        emit_row(out + (size_t)i * n, hr, gamma, beta, act, i, n);
    }
}

void fc_batchnorm_forward_train(fc_real *out, fc_real *xhat, fc_real *inv_std, fc_real *running_mean,
                                fc_real *running_var, const fc_real *x, const fc_real *gamma,
                                const fc_real *beta, double momentum, int batch, int n,
                                double *stat_scratch, const struct fc_dist *dist)
{
    fc_batchnorm_act_forward_train(out, xhat, inv_std, running_mean, running_var, x, NULL, gamma, beta, momentum,
                                   NULL, batch, n, stat_scratch, dist);
}

FC_VECTOR_CLONES
void fc_batchnorm_act_forward_test(fc_real *out, const fc_real *z, const fc_real *b, const fc_real *gamma,
                                   const fc_real *beta, const fc_real *running_mean, const fc_real *running_var,
                                   const fc_act *act, int batch, int n)
{
    for (int i = 0; i < batch; i++) {
        const fc_real *zr = z + (size_t)i * n;
        fc_real *or = out + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            fc_real s = (fc_real)(1.0 / sqrt((double)running_var[j] + FC_BN_EPS)); /* eps inside the sqrt */
            or[j] = (zr[j] + (b ? b[j] : 0) - running_mean[j]) * s;
        }
        emit_row(or, or, gamma, beta, act, i, n);
    }
}

void fc_batchnorm_forward_test(fc_real *out, const fc_real *x, const fc_real *gamma, const fc_real *beta,
                               const fc_real *running_mean, const fc_real *running_var, int batch, int n)
{
    fc_batchnorm_act_forward_test(out, x, NULL, gamma, beta, running_mean, running_var, NULL, batch, n);
}

/* One row of dy = dout masked by ReLU and dropout, recovered from the stored output h = relu(y) * mask:
 * h > 0 exactly where the unit was positive and kept, and there the local derivative is the mask value
 * 1/keep. h NULL: no activation, dy = dout. dy may alias dout (the network works in place). The mask is
 * random, so a select rather than a branch; and in place, as a pointer pair that overlaps exactly would
 * send the compiler's alias check to its scalar fallback. */
static void act_grad_row(fc_real *dy, const fc_real *dout, const fc_real *h, fc_real scale, int n)
{
    if (dy != dout) memmove(dy, dout, (size_t)n * sizeof *dy);
    if (!h) return;
    for (int j = 0; j < n; j++) {
        const fc_real g = dy[j] * scale;
        dy[j] = h[j] > 0 ? g : 0;
    }
}

FC_VECTOR_CLONES
void fc_bias_act_backward(fc_real *dz, fc_real *db, const fc_real *dout, const fc_real *h, double keep, int batch,
                          int n)
{
    const fc_real scale = (fc_real)(keep < 1 ? 1.0 / keep : 1.0);
    for (int i = 0; i < batch; i++) {
        const size_t at = (size_t)i * n;
        act_grad_row(dz + at, dout + at, h + at, scale, n);
        for (int j = 0; j < n; j++) db[j] += dz[at + j];
    }
}

FC_VECTOR_CLONES
void fc_batchnorm_act_backward_begin(fc_real *dz, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                                     const fc_real *h, double keep, const fc_real *xhat, int batch, int n,
                                     double *stat_scratch, const struct fc_dist *dist)
{
    /* Sweep 1: dy (ReLU/dropout applied, stored in dz) and sums[0..n) = sum(dy), sums[n..2n) =
     * sum(dy * xhat), sums[2n] = rows: local first (they are also the local parameter gradients), then
     * over the global batch for dx -- one gather. */
    const fc_real scale = (fc_real)(keep < 1 ? 1.0 / keep : 1.0);
    double *sums = stat_scratch;
    for (int j = 0; j < 2 * n; j++) sums[j] = 0;
    sums[2 * n] = batch;
    for (int i = 0; i < batch; i++) {
        const size_t at = (size_t)i * n;
        const fc_real *hr = xhat + at, *gr = dz + at;
        act_grad_row(dz + at, dout + at, h ? h + at : NULL, scale, n);
        for (int j = 0; j < n; j++) {
            sums[j] += (double)gr[j];
            sums[n + j] += (double)gr[j] * (double)hr[j];
        }
    }
    for (int j = 0; j < n; j++) {
        dbeta[j] += (fc_real)sums[j];
        dgamma[j] += (fc_real)sums[n + j];
    }
    fc_dist_sum_doubles_begin(dist, sums, 2 * n + 1);
}

FC_VECTOR_CLONES
void fc_batchnorm_act_backward_end(fc_real *dz, fc_real *db, const fc_real *xhat, const fc_real *inv_std,
                                   const fc_real *gamma, int batch, int n, double *stat_scratch,
                                   const struct fc_dist *dist)
{
    double *sums = stat_scratch;
    fc_dist_sum_doubles_end(dist, sums, 2 * n + 1);
    const double n_total = sums[2 * n]; /* exact: an integer below 2^53 */
    for (int j = 0; j < n; j++) {
        sums[j] /= n_total;
        sums[n + j] /= n_total;
    }
    /* Sweep 2: dz = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat)), and the bias gradient of the
     * affine layer before it accumulated on the way. */
    for (int i = 0; i < batch; i++) {
        const size_t at = (size_t)i * n;
        const fc_real *hr = xhat + at;
        fc_real *zr = dz + at;
        for (int j = 0; j < n; j++) {
            double g = (double)zr[j] - sums[j] - (double)hr[j] * sums[n + j];
            zr[j] = (fc_real)(g * (double)(gamma[j] * inv_std[j]));
        }
        if (db)
            for (int j = 0; j < n; j++) db[j] += zr[j];
    }
}

void fc_batchnorm_act_backward(fc_real *dz, fc_real *db, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                               const fc_real *h, double keep, const fc_real *xhat, const fc_real *inv_std,
                               const fc_real *gamma, int batch, int n, double *stat_scratch,
                               const struct fc_dist *dist)
{
    fc_batchnorm_act_backward_begin(dz, dgamma, dbeta, dout, h, keep, xhat, batch, n, stat_scratch, dist);
    fc_batchnorm_act_backward_end(dz, db, xhat, inv_std, gamma, batch, n, stat_scratch, dist);
}

void fc_batchnorm_backward(fc_real *dx, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                           const fc_real *xhat, const fc_real *inv_std, const fc_real *gamma, int batch,
                           int n, double *stat_scratch, const struct fc_dist *dist)
{
    fc_batchnorm_act_backward(dx, NULL, dgamma, dbeta, dout, NULL, 1.0, xhat, inv_std, gamma, batch, n,
                              stat_scratch, dist);
}

FC_VECTOR_CLONES
void fc_layernorm_act_forward(fc_real *out, fc_real *xhat, fc_real *inv_std, const fc_real *z, const fc_real *b,
                              const fc_real *gamma, const fc_real *beta, const fc_act *act, int batch, int n)
{
    for (int i = 0; i < batch; i++) {
        const fc_real *zr = z + (size_t)i * n;
        /* The bias does not cancel here (statistics run over features): add it on the fly. */
        double mean = 0, m2 = 0;
        for (int j = 0; j < n; j++) mean += (double)(zr[j] + (b ? b[j] : 0));
        mean /= n;
        for (int j = 0; j < n; j++) {
            double d = (double)(zr[j] + (b ? b[j] : 0)) - mean;
            m2 += d * d;
        }
        double s = 1.0 / sqrt(m2 / n + FC_LN_EPS);
        inv_std[i] = (fc_real)s;
        fc_real *hr = xhat + (size_t)i * n;
        for (int j = 0; j < n; j++) hr[j] = (fc_real)(((double)(zr[j] + (b ? b[j] : 0)) - mean) * s);
        emit_row(out + (size_t)i * n, hr, gamma, beta, act, i, n);
    }
}

void fc_layernorm_forward(fc_real *out, fc_real *xhat, fc_real *inv_std, const fc_real *x,
                          const fc_real *gamma, const fc_real *beta, int batch, int n)
{
    fc_layernorm_act_forward(out, xhat, inv_std, x, NULL, gamma, beta, NULL, batch, n);
}

FC_VECTOR_CLONES
void fc_layernorm_act_backward(fc_real *dz, fc_real *db, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                               const fc_real *h, double keep, const fc_real *xhat, const fc_real *inv_std,
                               const fc_real *gamma, int batch, int n)
{
    const fc_real scale = (fc_real)(keep < 1 ? 1.0 / keep : 1.0);
    for (int i = 0; i < batch; i++) {
        const size_t at = (size_t)i * n;
        const fc_real *hr = xhat + at;
        fc_real *zr = dz + at;
        double sum_g = 0, sum_gh = 0; /* over features of dxhat and dxhat * xhat */
        act_grad_row(zr, dout + at, h ? h + at : NULL, scale, n);
        for (int j = 0; j < n; j++) {
            const fc_real dy = zr[j];
            double g = (double)dy * (double)gamma[j];
            sum_g += g;
            sum_gh += g * (double)hr[j];
            dbeta[j] += dy;
            dgamma[j] += dy * hr[j];
        }
        sum_g /= n;
        sum_gh /= n;
        double s = (double)inv_std[i];
        for (int j = 0; j < n; j++) {
            double g = (double)zr[j] * (double)gamma[j];
            zr[j] = (fc_real)(s * (g - sum_g - (double)hr[j] * sum_gh));
        }
        if (db)
            for (int j = 0; j < n; j++) db[j] += zr[j];
    }
}

void fc_layernorm_backward(fc_real *dx, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                           const fc_real *xhat, const fc_real *inv_std, const fc_real *gamma, int batch,
                           int n)
{
    fc_layernorm_act_backward(dx, NULL, dgamma, dbeta, dout, NULL, 1.0, xhat, inv_std, gamma, batch, n);
}

void fc_dropout_forward(fc_real *x, double keep, uint64_t seed, uint64_t step, int layer, int64_t row0,
                        int batch, int n)
{
    if (keep >= 1) return;
    const fc_real scale = (fc_real)(1.0 / keep);
    for (int i = 0; i < batch; i++) {
        fc_real *row = x + (size_t)i * n;
        uint32_t c = (uint32_t)(row0 + i);
        for (int j0 = 0; j0 < n; j0 += 4) {
            uint32_t w[4];
            fc_rng_block(w, seed, FC_RNG_DROPOUT, step, (uint32_t)layer, c, (uint32_t)(j0 >> 2));
            int m = n - j0 < 4 ? n - j0 : 4;
            for (int k = 0; k < m; k++)
                row[j0 + k] = ((double)fc_rng_unit_float(w[k]) < keep) ? row[j0 + k] * scale : 0;
        }
    }
}

fc_real fc_dropout_mask(double keep, uint64_t seed, uint64_t step, int layer, int64_t row, int unit)
{
    if (keep >= 1) return 1;
    uint32_t w[4];
    fc_rng_block(w, seed, FC_RNG_DROPOUT, step, (uint32_t)layer, (uint32_t)row, (uint32_t)(unit >> 2));
    return ((double)fc_rng_unit_float(w[unit & 3]) < keep) ? (fc_real)(1.0 / keep) : 0;
}

double fc_softmax_loss(fc_real *dscores, const fc_real *scores, const int32_t *y, int batch,
                       int n_classes, int64_t global_batch)
{
    double loss = 0;
    const double inv_b = 1.0 / (double)global_batch;
    /* The first SOFTMAX_KEEP exponentials of a row are kept for the probabilities (exp is most of this
     * function's time); classes beyond them are exponentiated again. */
    enum { SOFTMAX_KEEP = 64 };
    double e[SOFTMAX_KEEP];
    for (int i = 0; i < batch; i++) {
        const fc_real *s = scores + (size_t)i * n_classes;
        fc_real *d = dscores + (size_t)i * n_classes;
        fc_real mx = s[0];
        for (int k = 1; k < n_classes; k++) mx = s[k] > mx ? s[k] : mx;
        double z = 0;
        for (int k = 0; k < n_classes; k++) {
            const double ek = exp((double)(s[k] - mx));
            if (k < SOFTMAX_KEEP) e[k] = ek;
            z += ek;
        }
        const double inv_z = 1.0 / z;
        int label = y[i];
        FC_ASSERT(label >= 0 && label < n_classes);
        /* The label's score less the max in double: in float, scores of +-2e38 differ by an Inf, a loss
         * that looks like divergence where numpy's (and the double build's) is finite. */
        loss += log(z) - ((double)s[label] - (double)mx);
        for (int k = 0; k < n_classes; k++) {
            const double p = (k < SOFTMAX_KEEP ? e[k] : exp((double)(s[k] - mx))) * inv_z;
            d[k] = (fc_real)((p - (k == label)) * inv_b);
        }
    }
    return loss * inv_b;
}
