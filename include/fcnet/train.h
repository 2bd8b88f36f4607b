/* The Solver loop (cs231n semantics) over MPI ranks: data order, sharding, the step, histories,
 * evaluation, best parameters, checkpoints and stopping. */
#ifndef FCNET_TRAIN_H
#define FCNET_TRAIN_H

#include "fcnet/common.h"
#include "fcnet/config.h"
#include "fcnet/data.h"
#include "fcnet/data_node.h"
#include "fcnet/dist.h"
#include "fcnet/net.h"
#include "fcnet/optim.h"
#include "fcnet/out_dir.h"
#include "fcnet/store_choice.h"

#define FC_TRAIN_ACC_ROWS 1000 /* fixed training subsample for train accuracy */

/* Exit code when the loss or gradients become NaN/Inf (agreed by every rank). */
#define FC_EXIT_DIVERGED 3

typedef struct fc_history {
    double *loss;       /* owned, cap_loss entries: loss per step (global step order) */
    int64_t n_loss, cap_loss;
    double *train_acc;  /* owned, cap_checks entries: at step 0 and every epoch end */
    double *val_acc;
    double *lr;         /* learning rate in force at each check */
    int64_t *check_step;/* global step of each check */
    int64_t n_checks, cap_checks;
} fc_history;

/* Phases timed by --profile (seconds, this rank). */
typedef enum fc_phase {
    FC_PHASE_DATA, FC_PHASE_FORWARD, FC_PHASE_BACKWARD, FC_PHASE_REDUCE, FC_PHASE_UPDATE, FC_PHASE_EVAL,
    FC_PHASE_CHECKPOINT, FC_PHASE_GEMM /* inside forward and backward, not a phase of its own */, FC_PHASE_COUNT
} fc_phase;

typedef struct fc_trainer {
    const fc_config *cfg; /* not owned */
    fc_dist *dist;        /* not owned */
    fc_dataset data;      /* owned; preprocessed */
    fc_data_node data_node; /* where data's rows live: one copy for the node, or this rank's own */
    fc_preprocess pp;     /* owned */
    fc_net net;           /* owned */
    fc_optim opt;         /* owned */

    /* schedule: epochs of steps_per_epoch steps of global batch cfg->batch_size */
    int64_t steps_per_epoch;
    int64_t total_steps;  /* epochs * steps_per_epoch */
    int64_t epoch;        /* current epoch, 0-based */
    int64_t epoch_step;   /* steps done inside the current epoch */
    int64_t step;         /* global steps done; the next step has this index (dropout key) */

    int64_t *perm;        /* owned: order of the current epoch */
    int64_t *sub_idx;     /* owned: fixed train-accuracy subsample */
    int64_t n_sub;
    int local_max;        /* most rows this rank ever holds in one batch */
    fc_real *xb;          /* owned (local_max, D) */
    int32_t *yb;          /* owned (local_max) */

    fc_history hist;
    fc_real *best_params; /* owned copy of net.params at the best validation accuracy */
    fc_real *best_bn;     /* owned copy of net.bn_stats (NULL without batchnorm) */
    double best_val_acc;  /* -1 before the first check */
    int64_t best_step;

    int finished;         /* all epochs done */
    int stop_agreed;      /* a stop signal reached some rank; every rank agreed at the last step */
    int save_due_agreed;  /* --checkpoint-minutes passed on some rank since the last save; agreed likewise */
    double last_save_wtime; /* MPI_Wtime of this rank's last save (or of the run's start) */
    double phase_seconds[FC_PHASE_COUNT]; /* --profile accumulators */
    double step_gather_seconds;           /* --profile: the steps' batchnorm and loss gathers */
    double step_gather_bytes;             /* --profile: what they handed to MPI messages on this rank */
    size_t step_gather_n; /* doubles per rank of the step's largest batchnorm or loss gather (the area is sized for it) */
    int64_t profiled_steps;
    int64_t world_size_at_save; /* from a resumed checkpoint (informational) */
    uint64_t run_id;      /* hash of the hyperparameters and data shape at a fresh start, kept across resumes:
                           * --keep-last removes only copies carrying it */
    uint64_t data_hash;   /* fc_data_fingerprint of the rows this rank trains on, as read; kept in the checkpoint */
    uint64_t test_hash;   /* fc_split_fingerprint of the test rows, as read; compared across ranks only */
    int64_t resumed_step;    /* the step --resume started from; -1 for a fresh run */
    int pruned_out_dir;      /* the numbered copies this run replaces are gone (--overwrite: other runs' and an
                              * earlier same-id run's; going back: its own later steps'); done at the first save */
    fc_out_dir_hold out_hold; /* rank 0: --out's lock, and what the run created there */
    int64_t resume_file[5];  /* rank 0: --resume's device, inode, size and change time (s, ns) when it was read;
                              * resume_file[0] = -1: unknown */
    fc_store_choice stores;  /* how the update writes the node's shared parameters (measured on the first steps) */
} fc_trainer;

/* Loads the data, builds the net and optimizer, initialises (or --init-from / --resume) and broadcasts
 * rank 0's state. Collective; returns an agreed status (the failing rank has printed nothing yet: the
 * caller prints through fc_dist_agree). */
fc_status fc_train_setup(fc_trainer *t, const fc_config *cfg, fc_dist *dist);
/* Rank 0 creates --out (mkdir -p) and writes and removes a probe file in it, so that a directory the run
 * cannot write is an input error (one line, exit 2) before the first step rather than a failure at the first
 * checkpoint; then takes --out's lock (.fcnet-lock, held until fc_train_free), so that a second run on the
 * same --out is refused while this one runs instead of overwriting its checkpoints. Collective; the agreed
 * status. */
fc_status fc_train_check_out_dir(fc_trainer *t);
/* Runs until the end of training, --max-steps, or an agreed stop request. Collective. Returns FC_OK,
 * FC_ERR_FAIL (I/O) or FC_EXIT_DIVERGED as a status value. */
int fc_train_run(fc_trainer *t);
void fc_train_free(fc_trainer *t);

/* One optimizer step on the global minibatch perm[k*B, (k+1)*B) of the current epoch: this rank's slice,
 * forward, loss, backward, reduce-scatter of the fused gradient buffer, reg and update of this rank's
 * chunk, allgather of the parameters. Returns the global loss (identical on every
 * rank), or NaN when any rank saw a non-finite loss or gradient (agreed). Allocates nothing. Collective. */
double fc_train_step(fc_trainer *t);
/* The update is sharded: between steps each rank's optimizer slots are current only in its own chunk of
 * the fused buffer (fc_dist_own_chunk). Collective: gathers the owners' chunks so every rank holds the
 * whole, identical state (done before every checkpoint). */
void fc_train_gather_optimizer_state(fc_trainer *t);

/* Accuracy of the current parameters (test mode) on split, rows divided among ranks; a row with a NaN or
 * infinite score counts as wrong, and *no_class (NULL: not wanted) is how many there were, over every rank.
 * Collective. */
double fc_train_accuracy(fc_trainer *t, const fc_split *split, const int64_t *rows, int64_t n_rows,
                         double *no_class);

/* Request a stop at the next step boundary (async-signal-safe: sets a flag, and sets standard output aside where
 * fc_output_aside_arm asked for it, until the stop's checkpoint is written). */
void fc_train_request_stop(int signal_number);
/* The signal of a stop requested and not yet acted on by a training run (0: none). */
int fc_train_stop_requested(void);
/* The signal on which the last fc_train_run stopped before the end, its checkpoint written (0: it did not,
 * or another rank's signal stopped it): main then re-raises SIGINT. */
int fc_train_stop_signal(void);

#endif
