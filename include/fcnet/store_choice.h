/* How the sharded update (fc_net_update_range, fc_optim_apply) writes the node's shared parameter array: with
 * non-temporal stores, which need not win each line back from the peers' caches first, or with ordinary ones,
 * which leave the new weights in a cache the peers' next forward pass reads from. Which is faster depends on the machine
 * (measured on `fmnist` -n 2: non-temporal 5% faster on an AMD EPYC VM, ordinary 4% faster on an Intel Xeon
 * VM), so by default a run measures both on its first steps and keeps the faster. The arithmetic is the same
 * either way: the choice changes the timing, never a bit. FCNET_PARAM_STORES=streaming|ordinary fixes it. */
#ifndef FCNET_STORE_CHOICE_H
#define FCNET_STORE_CHOICE_H

#include <stddef.h>
#include <stdint.h>

#include "fcnet/common.h"
#include "fcnet/dist.h"

/* The trial: after FC_STORES_WARMUP steps, FC_STORES_BLOCKS blocks of `block` steps written either way in the
 * order S O O S S O O S (a steady drift of the machine's speed cancels); the first step of each block is not
 * counted, since its forward pass reads weights the previous block wrote the other way. A block lasts about
 * FC_STORES_BLOCK_MS of training, from the warm-up steps' time, within [FC_STORES_BLOCK_MIN, _MAX] steps: 32
 * steps of a 1 ms step, 4 of a 40 ms one, whose run would otherwise spend 10 s measuring. */
enum { FC_STORES_WARMUP = 2, FC_STORES_BLOCKS = 8, FC_STORES_BLOCK_MIN = 4, FC_STORES_BLOCK_MAX = 32 };
#define FC_STORES_BLOCK_MS 32.0

typedef struct fc_store_choice {
    int streaming;      /* how the next step's update writes: 1 non-temporal, 0 ordinary (or nothing shared) */
    int trial;          /* 1 while measuring */
    int forced;         /* 1 when FCNET_PARAM_STORES fixed the way */
    int shared;         /* 1 when the ranks share one parameter array (else nothing to choose) */
    int64_t seen;       /* steps recorded */
    int block;          /* steps per block, set at the end of the warm-up (0 before) */
    double warm_min;    /* this rank's fastest warm-up step, seconds */
    double seconds[2];  /* per way (0 ordinary, 1 non-temporal): time of the counted steps, this rank */
    int64_t counted[2]; /* per way: counted steps */
    double mean_ms[2];  /* after the trial: ms per step, averaged over the ranks */
} fc_store_choice;

/* Reads FCNET_PARAM_STORES (auto, the default; streaming; ordinary): an unknown value on any rank is an input
 * error on every rank; rank 0's value holds for all. shared: the ranks share one parameter array (the same
 * on every rank). Collective; the agreed status. */
fc_status fc_store_choice_init(fc_store_choice *c, const fc_dist *dist, int shared);

/* After every training step, on every rank alike: counts step_seconds towards the way the step used, sets
 * c->streaming for the next step; after the warm-up sets the block length, and after the trial's last step
 * decides (one collective sum each, hence the same on every rank). No allocation. */
void fc_store_choice_record(fc_store_choice *c, const fc_dist *dist, double step_seconds);

/* One line for --profile, e.g. "ordinary (trial, 8 blocks of 32 steps: 0.9800 ms per step, non-temporal
 * 1.0200 ms)". */
void fc_store_choice_describe(const fc_store_choice *c, char *text, size_t size);

#endif
