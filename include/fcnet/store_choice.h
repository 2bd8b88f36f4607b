/* How the sharded update (fc_net_update_range, fc_optim_apply) writes the node's shared parameter array: with
 * non-temporal stores, which need not win each line back from the peers' caches first, or with ordinary ones,
 * which leave the new weights in a cache the peers' next forward pass reads from. Which is faster depends on the machine
 * (measured on `fmnist` -n 2: non-temporal 5% faster on an AMD EPYC VM, ordinary 4% faster on an Intel Xeon
 * VM), so by default a run measures both on its first steps and keeps the faster, and leaves ordinary stores
 * for non-temporal ones when their update slows later (the watch, below). The arithmetic is the same either
 * way: the choice changes the timing, never a bit. FCNET_PARAM_STORES=streaming|ordinary fixes it. */
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

/* The watch, after a trial that chose ordinary stores: what ordinary stores cost depends on the moment. Measured
 * on 2-core AMD EPYC guests (fmnist -n 2): the update took 0.09 ms per step with ordinary stores in some runs
 * and 0.50 ms in others minutes apart, sometimes from one part of a run to the next, while non-temporal stores
 * took 0.07-0.11 ms throughout; a trial at the start can meet the good moment and keep ordinary stores through
 * the bad one. So the run goes on timing the update, a block of steps at a time: the first block whose median
 * update time, averaged over the ranks, exceeds the trial's ordinary update by more than ordinary's whole
 * advantage in the trial switches the rest of the run to non-temporal stores (which never stall that way, and
 * lose about 5% where ordinary stores win). */
typedef struct fc_store_choice {
    int streaming;      /* how the next step's update writes: 1 non-temporal, 0 ordinary (or nothing shared) */
    int trial;          /* 1 while measuring */
    int watch;          /* 1 while ordinary stores, chosen by the trial, are watched */
    int forced;         /* 1 when FCNET_PARAM_STORES fixed the way */
    int shared;         /* 1 when the ranks share one parameter array (else nothing to choose) */
    int64_t seen;       /* steps recorded */
    int block;          /* steps per block, set at the end of the warm-up (0 before) */
    double warm_min;    /* this rank's fastest warm-up step, seconds */
    double seconds[2];  /* per way (0 ordinary, 1 non-temporal): time of the counted steps, this rank */
    int64_t counted[2]; /* per way: counted steps */
    double mean_ms[2];  /* after the trial: ms per step, averaged over the ranks */
    double update_seconds[2];               /* per way: time of the counted steps' update phase, this rank */
    double update_ms[2];                    /* after the trial: the update's ms per step, averaged over the ranks */
    double window[FC_STORES_BLOCK_MAX];     /* the watch: this rank's update times of the current block, seconds */
    int in_window;                          /* the watch: how many of them */
    int64_t switched_after;                 /* steps recorded when the watch switched to non-temporal; 0: never */
    double switched_ms;                     /* the median update time (ms, mean over ranks) that switched */
    int fault;                              /* test hook FCNET_FAULT_STORES=slow-ordinary (store_choice.c) */
} fc_store_choice;

/* Reads FCNET_PARAM_STORES (auto, the default; streaming; ordinary): an unknown value on any rank is an input
 * error on every rank; rank 0's value holds for all. shared: the ranks share one parameter array (the same
 * on every rank). Collective; the agreed status. */
fc_status fc_store_choice_init(fc_store_choice *c, const fc_dist *dist, int shared);

/* After every training step, on every rank alike: counts step_seconds (the whole step) and update_seconds (its
 * update phase) towards the way the step used, sets c->streaming for the next step; after the warm-up sets the
 * block length, after the trial's last step decides, and while watching ends a block every c->block steps (one
 * collective sum each, hence the same on every rank). No allocation. */
void fc_store_choice_record(fc_store_choice *c, const fc_dist *dist, double step_seconds, double update_seconds);

/* A buffer that holds fc_store_choice_describe's longest line (the watch's switch, 183 characters at 0.1-1 ms
 * per step and a few hundred steps; more digits need room too). */
enum { FC_STORES_TEXT_SIZE = 320 };

/* One line for --profile, e.g. "ordinary (trial, 8 blocks of 32 steps: 0.9800 ms per step, non-temporal
 * 1.0200 ms)"; after a switch by the watch, e.g. "non-temporal after 412 steps (trial, 8 blocks of 26 steps:
 * ordinary 1.0140 ms per step, non-temporal 1.0763 ms; then ordinary's update took 0.5083 ms per step,
 * 0.0925 ms in the trial)". */
void fc_store_choice_describe(const fc_store_choice *c, char *text, size_t size);

#endif
