/* The model: {affine - [batchnorm|layernorm] - ReLU - [dropout]} x (L-1) - affine - softmax.
 * Parameters W1..WL (fan_in, fan_out), b1..bL, gamma/beta per normalised hidden layer (cs231n names).
 * Every buffer is sized at init for max_batch rows; forward, backward and the loss allocate nothing. */
#ifndef FCNET_NET_H
#define FCNET_NET_H

#include "fcnet/common.h"
#include "fcnet/optim.h"
#include "fcnet/params.h"

struct fc_dist;

typedef enum fc_norm { FC_NORM_NONE = 0, FC_NORM_BATCH = 1, FC_NORM_LAYER = 2 } fc_norm;
typedef enum fc_mode { FC_MODE_TRAIN = 0, FC_MODE_TEST = 1 } fc_mode;
typedef enum fc_init { FC_INIT_NORMAL = 0, FC_INIT_HE = 1 } fc_init;

typedef struct fc_net_config {
    int n_input;        /* D */
    int n_classes;      /* C */
    int n_hidden;       /* L - 1, may be 0 */
    const int *hidden;  /* n_hidden widths; copied by fc_net_init */
    fc_norm norm;
    double keep;        /* dropout keep probability, 1 = off */
    double reg;         /* L2 strength: loss += 0.5 * reg * sum(W^2) */
    double weight_scale;
    fc_init init;
    double bn_momentum; /* cs231n meaning: running = m * running + (1 - m) * batch; default 0.9 */
    uint64_t seed;
} fc_net_config;

/* Where a local batch sits in the global one: keys dropout masks and scales the loss. */
typedef struct fc_batch_info {
    uint64_t step;        /* global optimizer step (dropout key) */
    int64_t row0;         /* global index of this rank's first row within the global minibatch */
    int64_t global_batch; /* B: rows over all ranks */
} fc_batch_info;

typedef struct fc_net {
    fc_net_config cfg; /* cfg.hidden points at dims + 1 */
    int n_layers;      /* L = n_hidden + 1 */
    int *dims;         /* owned, L + 1 entries: dims[0] = D, dims[L] = C */
    int max_batch;
    int max_width;     /* widest of dims */

    fc_layout layout;    /* trainable parameters */
    fc_layout bn_layout; /* running_mean/var per batchnorm layer (empty otherwise) */
    fc_real *params;     /* arena (layout); owned unless arenas_borrowed */
    fc_real *grads;      /* arena (layout); owned unless arenas_borrowed */
    int arenas_borrowed; /* params and grads live in memory the net does not free (fc_net_borrow_arenas) */
    fc_real *bn_stats;   /* owned arena (bn_layout); NULL when there are no batchnorm layers */

    int *iw, *ib, *igamma, *ibeta; /* owned: view index per layer 1..L (gamma/beta -1 when absent) */
    int *irmean, *irvar;           /* owned: bn_layout view index per layer (-1 when absent)       */

    /* Caches, all owned, sized for max_batch. Index l = 1..L-1 for hidden layers. */
    fc_real **h;       /* h[l]: output of hidden layer l after ReLU and dropout (batch, dims[l]) */
    fc_real **xhat;    /* xhat[l]: normalised pre-activation (norm layers only) */
    fc_real **inv_std; /* inv_std[l]: per feature (batchnorm, dims[l]) or per row (layernorm, max_batch) */
    fc_real *scores;   /* (batch, C) */
    fc_real *dbuf[2];  /* ping-pong activation gradients (batch, max_width) */
    double *stat_scratch; /* 2 * max_width + 1 doubles */

    const fc_real *x;  /* input of the last forward (not owned) */
    int batch;         /* rows of the last forward */
    const struct fc_dist *dist; /* not owned; NULL = single process */
} fc_net;

/* Builds the layout and allocates everything for up to max_batch local rows; parameters are
 * initialised from cfg->seed (identical on every process). dist may be NULL. */
fc_status fc_net_init(fc_net *net, const fc_net_config *cfg, int max_batch, const struct fc_dist *dist);
/* After fc_net_init refused a network too big for the machine (FC_ERR_INPUT): the same refusal naming the
 * dataset whose shape set its input and output sizes, and the options that size the rest. */
fc_status fc_net_too_big_for_data(const char *data, int n_input, int n_classes);
/* Accepts a half-initialised or zeroed struct. */
void fc_net_free(fc_net *net);
/* Re-draws parameters from the seed (weights N(0, weight_scale) or He, biases 0, gamma 1, beta 0) and
 * resets running statistics to 0. */
void fc_net_init_params(fc_net *net);
/* Moves params and grads into caller-owned memory of layout.n_total elements each (the net's own arenas
 * freed); the caller keeps that memory alive until fc_net_free. grads gets all of the net's gradients, params
 * only elements [begin, begin + len): it is one array that several processes fill, each its own part. */
void fc_net_borrow_arenas(fc_net *net, fc_real *params, fc_real *grads, size_t begin, size_t len);

/* Forward pass over batch rows of x (batch, D); returns the scores (batch, C), owned by net.
 * Train mode: batch statistics (collective through dist for batchnorm: every rank must call, also
 * with batch 0), running statistics updated, dropout applied. Test mode: running statistics, no dropout. */
const fc_real *fc_net_forward(fc_net *net, const fc_real *x, int batch, fc_mode mode,
                              const fc_batch_info *info);
/* Softmax loss of the last forward against y: sum over local rows of CE / global_batch (no reg term);
 * replaces the scores with their gradient. */
double fc_net_loss(fc_net *net, const int32_t *y, const fc_batch_info *info);
/* Backward of the last train-mode forward: WRITES the data gradients into net->grads (every element,
 * no reg term; no zeroing needed before). Collective like the forward for batchnorm. */
void fc_net_backward(fc_net *net);
/* grads += reg * W for every weight; returns 0.5 * reg * sum(W^2) in double. */
double fc_net_add_reg(fc_net *net);
/* The same for the weight elements among [begin, begin + len) of the fused buffer (a rank's chunk). */
double fc_net_add_reg_range(fc_net *net, size_t begin, size_t len);
/* fc_net_add_reg_range then fc_optim_step_range over [begin, begin + len), in one sweep and with the same
 * bits: returns the reg loss of the range; *finite = 0 when some gradient was NaN or Inf, or the update
 * overflowed. */
double fc_net_update_range(fc_net *net, fc_optim *opt, size_t begin, size_t len, int *finite);
/* 1 when every batchnorm running statistic is finite (always without batchnorm). A batch variance beyond
 * fc_real's range (computed in double) overflows the running variance to Inf while the batch's own output,
 * normalised in double, stays finite: no other check sees it. */
int fc_net_bn_stats_finite(const fc_net *net);
/* fc_net_predict's answer for a row with a NaN or infinite score: no class, so never a correct one. */
#define FC_NET_NO_CLASS (-1)
/* The class of row of the last forward: its argmax score, the first maximum on a tie, or FC_NET_NO_CLASS
 * when any of its scores is NaN or infinite (training's accuracy checks and eval count with this one rule). */
int fc_net_predict(const fc_net *net, int row);
/* Number of rows of the last forward whose class equals y (test-mode forward first); adds the rows without
 * a class to *no_class. */
int64_t fc_net_count_correct(const fc_net *net, const int32_t *y, int64_t *no_class);

#endif
