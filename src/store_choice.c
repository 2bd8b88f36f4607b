#include "fcnet/store_choice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/config.h"

/* The way of each block of the trial: S O O S S O O S (1 = non-temporal). */
static const int block_way[FC_STORES_BLOCKS] = {1, 0, 0, 1, 1, 0, 0, 1};

/* FCNET_PARAM_STORES: 0 auto, 1 streaming, 2 ordinary. */
static const char *const stores_words[] = {"auto", "streaming", "ordinary"};

fc_status fc_store_choice_init(fc_store_choice *c, const fc_dist *dist, int shared)
{
    memset(c, 0, sizeof *c);
    c->shared = shared;
    int setting;
    fc_status st = fc_config_env_word("FCNET_PARAM_STORES", stores_words, 3, &setting);
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    fc_dist_bcast_bytes(dist, &setting, sizeof setting); /* rank 0's choice holds for every rank */
    c->forced = setting != 0;
    /* Non-temporal unless told otherwise: the way before this choice existed, and the trial's first block's.
     * Without a shared array there is nothing to stream to. */
    c->streaming = shared && setting != 2;
    c->trial = shared && !c->forced;
    /* Test hook: FCNET_FAULT_STORES=slow-ordinary makes the trial see non-temporal steps 1 ms slower (ordinary
     * wins) and the watch see ordinary updates 1 s slower (it switches at its first block), so that a real run
     * takes the watch's whole path. The decisions stay collective: a rank without the hook still agrees. */
    const char *fault = getenv("FCNET_FAULT_STORES");
    c->fault = fault && strcmp(fault, "slow-ordinary") == 0;
    return FC_OK;
}

/* Steps per block: FC_STORES_BLOCK_MS over the warm-up's step time: each rank's fastest warm-up step (the
 * first may include one-time costs), averaged over the ranks, so that every rank gets the same block. */
static int block_length(const fc_dist *dist, double warm_min)
{
    double sum = warm_min;
    fc_dist_sum_doubles(dist, &sum, 1);
    const double step_ms = 1e3 * sum / (double)fc_dist_size(dist);
    const double steps = step_ms > 0 ? FC_STORES_BLOCK_MS / step_ms : FC_STORES_BLOCK_MAX;
    return steps >= FC_STORES_BLOCK_MAX ? FC_STORES_BLOCK_MAX
           : steps <= FC_STORES_BLOCK_MIN ? FC_STORES_BLOCK_MIN
                                          : (int)(steps + 0.5);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0 .. n), n >= 1, reordering v. The median, not the mean: one step that the host delayed by
 * a timer tick must not decide. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One step of the watch (store_choice.h): at the end of each block the ranks' medians are averaged (one
 * collective sum, the same on every rank) and compared with what ordinary stores may cost before the trial's
 * verdict turns: the trial's ordinary update plus ordinary's whole advantage per step. */
static void watch_step(fc_store_choice *c, const fc_dist *dist, double update_seconds)
{
    c->seen++;
    c->window[c->in_window++] = update_seconds;
    if (c->in_window < c->block) return;
    c->in_window = 0;
    double ms = 1e3 * median(c->window, c->block);
    fc_dist_sum_doubles(dist, &ms, 1);
    ms /= (double)fc_dist_size(dist);
    if (ms <= c->update_ms[0] + (c->mean_ms[1] - c->mean_ms[0])) return;
    c->streaming = 1;
    c->watch = 0;
    c->switched_after = c->seen;
    c->switched_ms = ms;
}

void fc_store_choice_record(fc_store_choice *c, const fc_dist *dist, double step_seconds, double update_seconds)
{
    if (c->fault && c->watch) update_seconds += 1.0;
    if (c->fault && c->trial && c->block > 0 && c->streaming) step_seconds += 1e-3;
    if (c->watch) {
        watch_step(c, dist, update_seconds);
        return;
    }
    if (!c->trial) return;
    const int64_t k = c->seen++ - FC_STORES_WARMUP; /* this step's index in the trial */
    if (k < 0 && (c->seen == 1 || step_seconds < c->warm_min)) c->warm_min = step_seconds;
    if (k >= 0 && k % c->block != 0) {
        c->seconds[c->streaming] += step_seconds;
        c->update_seconds[c->streaming] += update_seconds;
        c->counted[c->streaming]++;
    }
    const int64_t next = k + 1;
    if (next < 0) return;
    if (next == 0) c->block = block_length(dist, c->warm_min);
    if (next < (int64_t)c->block * FC_STORES_BLOCKS) {
        c->streaming = block_way[next / c->block];
        return;
    }
    /* The ranks step in lockstep, so their sums differ only by noise; summing them is one collective, the
     * same numbers on every rank, hence the same decision. */
    double sums[4] = {c->seconds[0], c->seconds[1], c->update_seconds[0], c->update_seconds[1]};
    fc_dist_sum_doubles(dist, sums, 4);
    const double ranks = (double)fc_dist_size(dist);
    for (int w = 0; w < 2; w++) {
        c->mean_ms[w] = 1e3 * sums[w] / (ranks * (double)c->counted[w]);
        c->update_ms[w] = 1e3 * sums[2 + w] / (ranks * (double)c->counted[w]);
    }
    c->streaming = c->mean_ms[1] <= c->mean_ms[0];
    c->trial = 0;
    c->watch = !c->streaming;
}

void fc_store_choice_describe(const fc_store_choice *c, char *text, size_t size)
{
    const char *way = c->streaming ? "non-temporal" : "ordinary";
    if (!c->shared)
        snprintf(text, size, "none shared (each rank updates its own parameters)");
    else if (c->forced)
        snprintf(text, size, "%s (FCNET_PARAM_STORES)", way);
    else if (c->trial && c->block == 0)
        snprintf(text, size, "%s (the trial of both ways starts after %d steps; this run made %lld)", way,
                 FC_STORES_WARMUP, (long long)c->seen);
    else if (c->trial)
        snprintf(text, size, "%s (the trial of both ways needs %d steps; this run made %lld)", way,
                 FC_STORES_WARMUP + c->block * FC_STORES_BLOCKS, (long long)c->seen);
    else if (c->switched_after)
        snprintf(text, size, "non-temporal after %lld steps (trial, %d blocks of %d steps: ordinary %.4f ms per step, "
                 "non-temporal %.4f ms; then ordinary's update took %.4f ms per step, %.4f ms in the trial)",
                 (long long)c->switched_after, FC_STORES_BLOCKS, c->block, c->mean_ms[0], c->mean_ms[1],
                 c->switched_ms, c->update_ms[0]);
    else
        snprintf(text, size, "%s (trial, %d blocks of %d steps: %.4f ms per step, %s %.4f ms)", way,
                 FC_STORES_BLOCKS, c->block, c->mean_ms[c->streaming], c->streaming ? "ordinary" : "non-temporal",
                 c->mean_ms[!c->streaming]);
}
