/* Pure kernels of the network. They cannot fail and never allocate or print.
 * Layout is row-major: x is (batch, n) with row stride n.
 * Parameter gradients ACCUMULATE (+=) into their buffers; activation gradients OVERWRITE.
 * Statistics are accumulated in double. */
#ifndef FCNET_LAYERS_H
#define FCNET_LAYERS_H

#include "fcnet/common.h"

struct fc_dist;

#define FC_BN_EPS 1e-5
#define FC_LN_EPS 1e-5

/* What follows a hidden layer's normalisation: ReLU, then inverted dropout keyed as fc_dropout_forward.
 * A NULL act (or relu == 0) leaves the normalised output as it is (the plain kernels below). */
typedef struct fc_act {
    int relu;
    double keep;   /* >= 1: no dropout */
    uint64_t seed;
    uint64_t step;
    int layer;
    int64_t row0;  /* global index of the first row within the global minibatch */
} fc_act;

/* out = x w (no bias).  x: (batch, n_in)  w: (n_in, n_out)  out: (batch, n_out) */
void fc_linear_forward(fc_real *out, const fc_real *x, const fc_real *w, int batch, int n_in, int n_out);
/* Seconds this process has spent inside the GEMMs of fc_linear_forward and fc_affine_backward (or its halves). */
double fc_gemm_seconds(void);
/* out = x w + b.  x: (batch, n_in)  w: (n_in, n_out)  b: (n_out)  out: (batch, n_out) */
void fc_affine_forward(fc_real *out, const fc_real *x, const fc_real *w, const fc_real *b, int batch,
                       int n_in, int n_out);
/* dw += x^T dout, db += colsum(dout), dx = dout w^T (dx may be NULL: skipped, e.g. layer 1; db may be NULL
 * when a fused kernel below has accumulated it already). With accumulate == 0, dw and db are
 * overwritten instead (the training step writes each weight gradient once, so it never zeroes them). */
void fc_affine_backward(fc_real *dx, fc_real *dw, fc_real *db, const fc_real *dout, const fc_real *x,
                        const fc_real *w, int batch, int n_in, int n_out, int accumulate);
/* Its two halves: the parameter gradients (dw, and db unless NULL), and the input gradient dx. */
void fc_affine_backward_params(fc_real *dw, fc_real *db, const fc_real *dout, const fc_real *x, int batch, int n_in,
                               int n_out, int accumulate);
void fc_affine_backward_input(fc_real *dx, const fc_real *dout, const fc_real *w, int batch, int n_in, int n_out);

/* out = max(x, 0) (in place allowed). */
void fc_relu_forward(fc_real *out, const fc_real *x, size_t n);
/* dx = dout where out > 0, else 0 (in place allowed). */
void fc_relu_backward(fc_real *dx, const fc_real *dout, const fc_real *out, size_t n);

/* Per-feature partial moments of x: n rows, mean[j], m2[j] = sum_i (x_ij - mean_j)^2 (two passes). */
void fc_moments_columns(double *mean, double *m2, const fc_real *x, int batch, int n);
/* Chan's pairwise merge of (n_b, mean_b, m2_b) into (n_a, mean_a, m2_a), per feature; n_b = 0 is a no-op.
 * *n_a is updated. Order matters for the bits: callers merge in rank order. */
void fc_moments_merge(int64_t *n_a, double *mean_a, double *m2_a, int64_t n_b, const double *mean_b,
                      const double *m2_b, int n);

/* Batchnorm, train mode (cs231n): mean and biased variance over the GLOBAL batch (every rank's rows,
 * merged through dist; dist NULL means this process holds the whole batch).
 * xhat = (x - mu) / sqrt(var + eps); out = gamma * xhat + beta.
 * Updates running = momentum * running + (1 - momentum) * batch (mean and biased var).
 * Stores xhat (batch, n) and inv_std (n) for backward. stat_scratch: 2n + 1 doubles.
 * Collective when dist has more than one rank: every rank must call, also with batch 0. */
void fc_batchnorm_forward_train(fc_real *out, fc_real *xhat, fc_real *inv_std, fc_real *running_mean,
                                fc_real *running_var, const fc_real *x, const fc_real *gamma,
                                const fc_real *beta, double momentum, int batch, int n,
                                double *stat_scratch, const struct fc_dist *dist);
/* Test mode: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta. */
void fc_batchnorm_forward_test(fc_real *out, const fc_real *x, const fc_real *gamma, const fc_real *beta,
                               const fc_real *running_mean, const fc_real *running_var, int batch, int n);
/* dgamma += sum_local(dout * xhat), dbeta += sum_local(dout);
 * dx = gamma * inv_std / N * (N dout - sum(dout) - xhat sum(dout * xhat)) with N and the sums over the
 * global batch (gathered through dist). stat_scratch: 2n + 1 doubles. Collective like the forward. */
void fc_batchnorm_backward(fc_real *dx, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                           const fc_real *xhat, const fc_real *inv_std, const fc_real *gamma, int batch,
                           int n, double *stat_scratch, const struct fc_dist *dist);

/* Layernorm: the same per row over features; no running statistics, no communication.
 * Stores xhat (batch, n) and inv_std (batch). */
void fc_layernorm_forward(fc_real *out, fc_real *xhat, fc_real *inv_std, const fc_real *x,
                          const fc_real *gamma, const fc_real *beta, int batch, int n);
void fc_layernorm_backward(fc_real *dx, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                           const fc_real *xhat, const fc_real *inv_std, const fc_real *gamma, int batch,
                           int n);

/* ---- Fused hidden-layer kernels: bias, normalisation, ReLU and dropout in as few sweeps over the
 * activations as the statistics allow. z is the GEMM output without bias (out may alias z); the plain
 * kernels above are these with b = NULL and act = NULL. Backward: dout is the gradient of the layer's
 * output h (after ReLU and dropout), h the stored output (NULL: no ReLU/dropout), dz receives the
 * gradient of z (may alias dout), and db (may be NULL) accumulates the bias gradient on the way. ---- */

/* out = act(z + b); b, h and db are required here (the NULL cases above are the normalised kernels'). */
void fc_bias_act_forward(fc_real *out, const fc_real *z, const fc_real *b, const fc_act *act, int batch, int n);
void fc_bias_act_backward(fc_real *dz, fc_real *db, const fc_real *dout, const fc_real *h, double keep, int batch,
                          int n);
/* Batchnorm of z + b: the bias cancels in xhat and is added to the mean the running statistic sees. */
void fc_batchnorm_act_forward_train(fc_real *out, fc_real *xhat, fc_real *inv_std, fc_real *running_mean,
                                    fc_real *running_var, const fc_real *z, const fc_real *b,
                                    const fc_real *gamma, const fc_real *beta, double momentum,
                                    const fc_act *act, int batch, int n, double *stat_scratch,
                                    const struct fc_dist *dist);
void fc_batchnorm_act_forward_test(fc_real *out, const fc_real *z, const fc_real *b, const fc_real *gamma,
                                   const fc_real *beta, const fc_real *running_mean, const fc_real *running_var,
                                   const fc_act *act, int batch, int n);
void fc_batchnorm_act_backward(fc_real *dz, fc_real *db, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                               const fc_real *h, double keep, const fc_real *xhat, const fc_real *inv_std,
                               const fc_real *gamma, int batch, int n, double *stat_scratch,
                               const struct fc_dist *dist);
/* Its two halves around the ranks' sum of the two column sums it needs (fc_dist_sum_doubles_begin and _end),
 * so that the caller can compute while the ranks' sums travel: _begin leaves dy in dz and adds this rank's
 * sums to dgamma and dbeta; _end turns dz into the gradient of z (db += its column sums unless NULL). Nothing
 * else may use dist or stat_scratch between them. */
void fc_batchnorm_act_backward_begin(fc_real *dz, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                                     const fc_real *h, double keep, const fc_real *xhat, int batch, int n,
                                     double *stat_scratch, const struct fc_dist *dist);
void fc_batchnorm_act_backward_end(fc_real *dz, fc_real *db, const fc_real *xhat, const fc_real *inv_std,
                                   const fc_real *gamma, int batch, int n, double *stat_scratch,
                                   const struct fc_dist *dist);
void fc_layernorm_act_forward(fc_real *out, fc_real *xhat, fc_real *inv_std, const fc_real *z, const fc_real *b,
                              const fc_real *gamma, const fc_real *beta, const fc_act *act, int batch, int n);
void fc_layernorm_act_backward(fc_real *dz, fc_real *db, fc_real *dgamma, fc_real *dbeta, const fc_real *dout,
                               const fc_real *h, double keep, const fc_real *xhat, const fc_real *inv_std,
                               const fc_real *gamma, int batch, int n);

/* Inverted dropout with keep probability keep: x *= (u < keep) / keep, u from
 * (seed, FC_RNG_DROPOUT, step, layer, global row, unit). row0 is the global index of x's first row
 * inside the global minibatch, so every rank count draws the same masks. keep >= 1: identity. */
void fc_dropout_forward(fc_real *x, double keep, uint64_t seed, uint64_t step, int layer, int64_t row0,
                        int batch, int n);
/* The mask value (0 or 1/keep) of one unit, for tests and references. */
fc_real fc_dropout_mask(double keep, uint64_t seed, uint64_t step, int layer, int64_t row, int unit);

/* Softmax cross-entropy with max subtraction. Returns sum over the local rows of -log p[y] divided by
 * global_batch (in double); dscores = (softmax - onehot) / global_batch (dscores may alias scores).
 * y values must lie in [0, n_classes). */
double fc_softmax_loss(fc_real *dscores, const fc_real *scores, const int32_t *y, int batch,
                       int n_classes, int64_t global_batch);

#endif
