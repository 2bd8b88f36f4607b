/* Update rules (cs231n formulas and defaults) as flat loops over the parameter arena. */
#ifndef FCNET_OPTIM_H
#define FCNET_OPTIM_H

#include "fcnet/common.h"

typedef enum fc_optim_kind {
    FC_OPTIM_SGD = 0,
    FC_OPTIM_SGD_MOMENTUM = 1,
    FC_OPTIM_RMSPROP = 2,
    FC_OPTIM_ADAM = 3
} fc_optim_kind;

typedef struct fc_optim_config {
    fc_optim_kind kind;
    double lr;         /* sgd/momentum/rmsprop 1e-2, adam 1e-3 */
    double lr_decay;   /* lr *= lr_decay at every epoch end; 1 */
    double momentum;   /* sgd_momentum mu; 0.9 */
    double decay_rate; /* rmsprop; 0.99 */
    double beta1;      /* adam; 0.9 */
    double beta2;      /* adam; 0.999 */
    double eps;        /* rmsprop and adam; 1e-8 */
} fc_optim_config;

/* The per-step constants of a rule, computed once per step in double and rounded to the real type. */
typedef struct fc_rule_coefs {
    fc_real lr, mu, dr, one_m, eps, inv_c1, inv_c2, b1, b2, one_m1, one_m2;
} fc_rule_coefs;

typedef struct fc_optim {
    fc_optim_config cfg;
    double lr;          /* current learning rate (decayed) */
    int64_t t;          /* adam step count; incremented before each update */
    size_t n;           /* arena elements */
    int n_slots;        /* 0, 1 (velocity | cache) or 2 (m, v) */
    fc_real *slot[2];   /* owned arenas, same layout as the parameters */
    int stream_params;  /* 1: write the weights with non-temporal stores (w is shared with other ranks
                           that read it every step); same results, 0 by default */
    fc_rule_coefs k;    /* this step's constants (fc_optim_begin_step) */
} fc_optim;

/* cs231n defaults for kind (lr depends on the kind). */
fc_optim_config fc_optim_defaults(fc_optim_kind kind);
/* Names used on the command line and in checkpoints, indexed by kind. */
#define FC_OPTIM_KINDS 4
extern const char *const fc_optim_names[FC_OPTIM_KINDS];
/* fc_optim_names[kind]: "sgd", "sgd_momentum", "rmsprop" or "adam". */
const char *fc_optim_name(fc_optim_kind kind);
/* Parses a name; returns -1 when unknown. */
int fc_optim_parse(const char *name);
/* Slot name i for kind ("velocity", "cache", "m", "v"). */
const char *fc_optim_slot_name(fc_optim_kind kind, int i);

void fc_optim_init(fc_optim *opt, const fc_optim_config *cfg, size_t n);
/* How many parameter-sized arrays of state kind keeps (0 for sgd, 2 for adam). */
int fc_optim_slot_count(fc_optim_kind kind);
void fc_optim_free(fc_optim *opt);
/* One update of w (n elements) from dw with the current lr. Returns 1 when every new weight and optimizer
 * state is finite, 0 when some is NaN or Inf: a dw was, or the update overflowed (w is then spoiled: the
 * caller stops without saving it). */
int fc_optim_step(fc_optim *opt, fc_real *w, const fc_real *dw);
/* The same update restricted to elements [begin, begin + len) of w, dw and the slots, counted as one
 * step (adam's t advances once): the sharded update, where each rank updates its own chunk. Every
 * element gets exactly the arithmetic of fc_optim_step. */
int fc_optim_step_range(fc_optim *opt, fc_real *w, const fc_real *dw, size_t begin, size_t len);
/* fc_optim_step_range in parts: begin_step once (adam's t advances, the step's constants), apply over any
 * disjoint ranges (each returns 1 when all it wrote is finite), end_step once (completes non-temporal stores
 * before the caller's next synchronisation). fc_net_update_range uses it to fold the L2 term into the
 * update's sweep. */
void fc_optim_begin_step(fc_optim *opt);
int fc_optim_apply(fc_optim *opt, fc_real *w, const fc_real *dw, size_t begin, size_t len);
void fc_optim_end_step(const fc_optim *opt);
/* The learning rate after one more epoch end: lr * lr_decay. The one statement of the decay rule, also for the
 * checks of a resumed checkpoint's lr and lr history, which must match it bit for bit. */
double fc_optim_decayed_lr(const fc_optim_config *c, double lr);

/* opt->lr = fc_optim_decayed_lr(&opt->cfg, opt->lr). */
void fc_optim_end_epoch(fc_optim *opt);

#endif
