/* The parameter stores' trial (fc_store_choice), fed made-up step times: the block length follows the
 * warm-up's step time (agreed over the ranks), the ways run S O O S S O O S block by block, the first step
 * of a block is not counted, and the faster way wins on every rank. After a trial that chose ordinary stores,
 * the watch leaves them when their update slows beyond the trial's advantage, on every rank alike, and not for
 * a few slow steps. Run at 1, 2 and 3 ranks. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/store_choice.h"
#include "testutil.h"

static const int ways[FC_STORES_BLOCKS] = {1, 0, 0, 1, 1, 0, 0, 1};

/* A trial whose steps take ms_streaming / ms_ordinary milliseconds, of which their update phase takes
 * upd_streaming / upd_ordinary ms, except the first step of every block, which takes `odd` ms (it must not
 * count). The warm-up steps take warm_ms[rank % 3] (and the first one 10x that: one-time costs). Returns the
 * number of steps until the decision; checks the way of every step. */
static int run_trial_updates(fc_store_choice *c, const fc_dist *dist, const double warm_ms[3], double ms_streaming,
                             double ms_ordinary, double odd, int want_block, double upd_streaming,
                             double upd_ordinary)
{
    ck_assert_int_eq(fc_store_choice_init(c, dist, 1), FC_OK);
    ck_assert_int_eq(c->trial, 1);
    const double warm = warm_ms[fc_dist_rank(dist) % 3];
    int steps = 0;
    for (; steps < FC_STORES_WARMUP; steps++) {
        ck_assert_int_eq(c->streaming, 1); /* the warm-up writes non-temporal, as before the choice existed */
        fc_store_choice_record(c, dist, 1e-3 * (steps == 0 ? 10 * warm : warm), 1e-4);
    }
    ck_assert_int_eq(c->block, want_block);
    for (int k = 0; c->trial; k++, steps++) {
        ck_assert_int_lt(k, FC_STORES_BLOCKS * want_block);
        ck_assert_int_eq(c->streaming, ways[k / want_block]);
        const double ms = k % want_block == 0 ? odd : c->streaming ? ms_streaming : ms_ordinary;
        const double upd = k % want_block == 0 ? odd : c->streaming ? upd_streaming : upd_ordinary;
        fc_store_choice_record(c, dist, 1e-3 * ms, 1e-3 * upd);
    }
    ck_assert_int_eq(steps, FC_STORES_WARMUP + FC_STORES_BLOCKS * want_block);
    ck_assert_int_eq(c->counted[0], 4 * (want_block - 1));
    ck_assert_int_eq(c->counted[1], 4 * (want_block - 1));
    return steps;
}

static int run_trial(fc_store_choice *c, const fc_dist *dist, const double warm_ms[3], double ms_streaming,
                     double ms_ordinary, double odd, int want_block)
{
    return run_trial_updates(c, dist, warm_ms, ms_streaming, ms_ordinary, odd, want_block, 0.1, 0.1);
}

static fc_dist world(void)
{
    fc_dist d;
    ck_assert_int_eq(fc_dist_init_comm(&d, MPI_COMM_WORLD), FC_OK);
    fc_dist_reserve(&d, 1, 4); /* the trial's sums: 1 and 4 doubles */
    return d;
}

START_TEST(test_block_follows_step_time)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_dist dist = world();
    fc_store_choice c;
    /* Fast steps: the longest blocks. Slow steps (40 ms): the shortest. In between: 32 ms / step time. */
    const double fast[3] = {0.5, 0.5, 0.5}, slow[3] = {40, 40, 40}, mid[3] = {2, 2, 2}, odd_mid[3] = {3.2, 3.2, 3.2};
    run_trial(&c, &dist, fast, 0.5, 0.6, 9, FC_STORES_BLOCK_MAX);
    run_trial(&c, &dist, slow, 40, 41, 90, FC_STORES_BLOCK_MIN);
    run_trial(&c, &dist, mid, 2, 2.1, 9, 16);
    run_trial(&c, &dist, odd_mid, 3.2, 3.3, 9, 10);
    fc_dist_free(&dist);
}
END_TEST

START_TEST(test_ranks_agree_on_block_and_way)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_dist dist = world();
    fc_store_choice c;
    /* Ranks see different warm-up times (1, 2 and 4 ms): the block comes from their mean (1.5 ms at 2 ranks,
     * 7/3 ms at 3), the same on every rank. */
    const double warm[3] = {1, 2, 4};
    const int size = fc_dist_size(&dist);
    const int want = size == 1 ? 32 : size == 2 ? 21 : 14; /* 32 / 1, 32 / 1.5, 32 / 2.333 */
    run_trial(&c, &dist, warm, 1.0, 1.1, 50, want);
    ck_assert_int_eq(c.streaming, 1); /* non-temporal was faster, and the slow first steps did not count */
    ck_assert(c.mean_ms[1] > 0.99 && c.mean_ms[1] < 1.01);
    run_trial(&c, &dist, warm, 1.2, 1.1, 0.01, want);
    ck_assert_int_eq(c.streaming, 0);
    char text[200];
    fc_store_choice_describe(&c, text, sizeof text);
    char want_text[200];
    snprintf(want_text, sizeof want_text,
             "ordinary (trial, 8 blocks of %d steps: 1.1000 ms per step, non-temporal 1.2000 ms)", want);
    ck_assert_str_eq(text, want_text);
    fc_dist_free(&dist);
}
END_TEST

/* Ranks that time the two ways differently still decide alike, on the means over all ranks: rank 0 alone
 * would take non-temporal (1.0 vs 1.1 ms), but rank 1's slow non-temporal steps (3.0 ms) outweigh it. */
START_TEST(test_ranks_decide_on_the_mean_over_ranks)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_dist dist = world();
    fc_store_choice c;
    const double warm[3] = {1, 1, 1}, streaming[3] = {1.0, 3.0, 1.0}, ordinary[3] = {1.1, 1.1, 1.2};
    const int size = fc_dist_size(&dist), r = fc_dist_rank(&dist) % 3;
    run_trial(&c, &dist, warm, streaming[r], ordinary[r], 50, 32);
    double sum_s = 0, sum_o = 0;
    for (int i = 0; i < size; i++) {
        sum_s += streaming[i % 3];
        sum_o += ordinary[i % 3];
    }
    ck_assert_int_eq(c.streaming, size == 1 ? 1 : 0);
    ck_assert_msg(fabs(c.mean_ms[1] - sum_s / size) < 1e-9 && fabs(c.mean_ms[0] - sum_o / size) < 1e-9,
                  "rank %d: means %.6f (ordinary) %.6f (non-temporal), want %.6f %.6f", r, c.mean_ms[0],
                  c.mean_ms[1], sum_o / size, sum_s / size);
    fc_dist_free(&dist);
}
END_TEST

/* FCNET_PARAM_STORES as rank 0 sees it holds on every rank: one set only on rank 0 forces every rank, and
 * one set on the other ranks only forces none (a rank left on the trial alone would wait in its sums). */
START_TEST(test_rank0_setting_holds_everywhere)
{
    fc_dist dist = world();
    fc_store_choice c;
    const int rank = fc_dist_rank(&dist);
    if (rank == 0) setenv("FCNET_PARAM_STORES", "ordinary", 1);
    else unsetenv("FCNET_PARAM_STORES");
    ck_assert_int_eq(fc_store_choice_init(&c, &dist, 1), FC_OK);
    const int forced_everywhere = c.forced == 1 && c.trial == 0 && c.streaming == 0;

    if (rank == 0) unsetenv("FCNET_PARAM_STORES");
    else setenv("FCNET_PARAM_STORES", "streaming", 1);
    ck_assert_int_eq(fc_store_choice_init(&c, &dist, 1), FC_OK);
    const int trial_everywhere = c.forced == 0 && c.trial == 1 && c.streaming == 1;
    unsetenv("FCNET_PARAM_STORES");
    fc_dist_free(&dist);
    /* asserted after both collectives, so a failing rank does not leave the others waiting */
    ck_assert_msg(forced_everywhere, "rank %d: not forced by rank 0's FCNET_PARAM_STORES=ordinary", rank);
    ck_assert_msg(trial_everywhere, "rank %d: forced by its own FCNET_PARAM_STORES, not rank 0's (unset)", rank);
}
END_TEST

START_TEST(test_describe_before_and_during_trial)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_store_choice c;
    char text[200];
    ck_assert_int_eq(fc_store_choice_init(&c, NULL, 1), FC_OK);
    fc_store_choice_describe(&c, text, sizeof text);
    ck_assert_str_eq(text, "non-temporal (the trial of both ways starts after 2 steps; this run made 0)");
    for (int i = 0; i < 5; i++) fc_store_choice_record(&c, NULL, 0.040, 0.001);
    fc_store_choice_describe(&c, text, sizeof text);
    ck_assert_str_eq(text, "non-temporal (the trial of both ways needs 34 steps; this run made 5)");
    /* Nothing shared: nothing to try. */
    ck_assert_int_eq(fc_store_choice_init(&c, NULL, 0), FC_OK);
    ck_assert_int_eq(c.trial, 0);
    ck_assert_int_eq(c.streaming, 0);
}
END_TEST

/* The trial the watch tests start from: ordinary stores chosen (1.0 against 1.1 ms per step), their update
 * 0.1 ms against non-temporal's 0.05, blocks of 32 steps. Returns the steps it took. */
static const double watch_warm[3] = {0.5, 0.5, 0.5};
static int trial_keeping_ordinary(fc_store_choice *c, const fc_dist *dist)
{
    return run_trial_updates(c, dist, watch_warm, 1.1, 1.0, 9, 32, 0.05, 0.1);
}

/* n steps of 1 ms whose update phase takes update_ms. */
static void record_updates(fc_store_choice *c, const fc_dist *dist, int n, double update_ms)
{
    for (int i = 0; i < n; i++) fc_store_choice_record(c, dist, 1e-3, 1e-3 * update_ms);
}

/* The watch: a trial that chose ordinary stores (1.0 against 1.1 ms per step, their update 0.1 ms against
 * non-temporal's 0.05) keeps them while their update stays under 0.1 + 0.1 ms: a block of ordinary steps at
 * 0.19 ms, and one with three steps of 5 ms among 32 (the median decides, not the mean). A block at 0.5 ms
 * switches every rank to non-temporal, for good, and --profile's line says when and why. */
START_TEST(test_watch_leaves_ordinary_stores_that_slow)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_dist dist = world();
    fc_store_choice c;
    const int steps = trial_keeping_ordinary(&c, &dist);
    ck_assert_int_eq(c.streaming, 0);
    ck_assert_int_eq(c.watch, 1);
    ck_assert(fabs(c.update_ms[0] - 0.1) < 1e-9 && fabs(c.update_ms[1] - 0.05) < 1e-9);
    record_updates(&c, &dist, 32, 0.19);
    ck_assert_int_eq(c.streaming, 0);
    for (int i = 0; i < 32; i++) fc_store_choice_record(&c, &dist, 1e-3, i % 10 == 3 ? 5e-3 : 0.1e-3);
    ck_assert_int_eq(c.streaming, 0);
    /* A block of an even length: its median is the mean of the two middle steps, 0.175 ms (within the limit),
     * not the upper one's 0.25 ms. */
    for (int i = 0; i < 32; i++) fc_store_choice_record(&c, &dist, 1e-3, i % 2 ? 0.25e-3 : 0.1e-3);
    ck_assert_int_eq(c.streaming, 0);
    ck_assert_int_eq(c.watch, 1);
    record_updates(&c, &dist, 31, 0.5);
    ck_assert_int_eq(c.streaming, 0); /* a block ends after its 32nd step, not before */
    record_updates(&c, &dist, 1, 0.5);
    ck_assert_int_eq(c.streaming, 1);
    ck_assert_int_eq(c.watch, 0);
    ck_assert_int_eq(c.switched_after, steps + 4 * 32);
    record_updates(&c, &dist, 64, 0.01);
    ck_assert_int_eq(c.streaming, 1); /* for good: nothing watches non-temporal stores */
    char text[300], want[300];
    fc_store_choice_describe(&c, text, sizeof text);
    snprintf(want, sizeof want,
             "non-temporal after %d steps (trial, 8 blocks of 32 steps: ordinary 1.0000 ms per step, non-temporal "
             "1.1000 ms; then ordinary's update took 0.5000 ms per step, 0.1000 ms in the trial)",
             steps + 4 * 32);
    ck_assert_str_eq(text, want);
    /* --profile's buffer holds the line whole, even for a long run on a slow machine. */
    fc_store_choice longest = c;
    longest.switched_after = INT64_MAX;
    longest.mean_ms[0] = longest.mean_ms[1] = longest.update_ms[0] = longest.switched_ms = 99999.9999;
    char whole[1024];
    fc_store_choice_describe(&longest, whole, sizeof whole);
    ck_assert_uint_lt(strlen(whole), FC_STORES_TEXT_SIZE);
    /* A trial that chose non-temporal stores watches nothing. */
    run_trial_updates(&c, &dist, watch_warm, 1.0, 1.1, 9, 32, 0.05, 0.1);
    ck_assert_int_eq(c.watch, 0);
    /* Two middle steps of 0.19 and 0.25 ms: a median of 0.22, beyond the limit (not the lower one's 0.19). */
    trial_keeping_ordinary(&c, &dist);
    for (int i = 0; i < 32; i++) fc_store_choice_record(&c, &dist, 1e-3, i % 2 ? 0.25e-3 : 0.19e-3);
    ck_assert_int_eq(c.streaming, 1);
    /* A block exactly at the limit (0.125 + 1.125 - 1.0 ms, all exact in binary) is within it: only one beyond
     * switches. */
    trial_keeping_ordinary(&c, &dist);
    c.update_ms[0] = 0.125, c.mean_ms[0] = 1.0, c.mean_ms[1] = 1.125;
    record_updates(&c, &dist, 32, 0.25);
    ck_assert_int_eq(c.streaming, 0);
    fc_dist_free(&dist);
}
END_TEST

/* The ranks decide the watch on the mean of their medians: at 2 and 3 ranks, rank 0's ordinary update at
 * 0.5 ms and the others' at 0.1 ms average 0.3 and 0.23 ms, beyond the trial's 0.1 + 0.1; rank 0 alone at
 * 0.25 ms averages 0.175 and 0.15, within it. Every rank takes the same way either time. */
START_TEST(test_watch_decides_on_the_mean_over_ranks)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_dist dist = world();
    fc_store_choice c;
    const int rank = fc_dist_rank(&dist), size = fc_dist_size(&dist);
    trial_keeping_ordinary(&c, &dist);
    record_updates(&c, &dist, 32, rank == 0 ? 0.25 : 0.1);
    const int kept = c.streaming == (size == 1 ? 1 : 0);
    record_updates(&c, &dist, 32, rank == 0 ? 0.5 : 0.1);
    const int left = c.streaming == 1;
    fc_dist_free(&dist);
    ck_assert_msg(kept, "rank %d of %d: after rank 0's 0.25 ms: streaming %d", rank, size, c.streaming);
    ck_assert_msg(left, "rank %d of %d: after rank 0's 0.5 ms: still ordinary", rank, size);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_choice");
    TCase *t = tcase_create("store_choice");
    tcase_add_test(t, test_block_follows_step_time);
    tcase_add_test(t, test_ranks_agree_on_block_and_way);
    tcase_add_test(t, test_ranks_decide_on_the_mean_over_ranks);
    tcase_add_test(t, test_rank0_setting_holds_everywhere);
    tcase_add_test(t, test_describe_before_and_during_trial);
    tcase_add_test(t, test_watch_leaves_ordinary_stores_that_slow);
    tcase_add_test(t, test_watch_decides_on_the_mean_over_ranks);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
