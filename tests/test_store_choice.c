/* The parameter stores' trial (fc_store_choice), fed made-up step times: the block length follows the
 * warm-up's step time (agreed over the ranks), the ways run S O O S S O O S block by block, the first step
 * of a block is not counted, and the faster way wins on every rank. Run at 1, 2 and 3 ranks. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/store_choice.h"
#include "testutil.h"

static const int ways[FC_STORES_BLOCKS] = {1, 0, 0, 1, 1, 0, 0, 1};

/* A trial whose steps take ms_streaming / ms_ordinary milliseconds, except the first step of every block,
 * which takes `odd` ms (it must not count). The warm-up steps take warm_ms[rank % 3] (and the first one 10x
 * that: one-time costs). Returns the number of steps until the decision; checks the way of every step. */
static int run_trial(fc_store_choice *c, const fc_dist *dist, const double warm_ms[3], double ms_streaming,
                     double ms_ordinary, double odd, int want_block)
{
    ck_assert_int_eq(fc_store_choice_init(c, dist, 1), FC_OK);
    ck_assert_int_eq(c->trial, 1);
    const double warm = warm_ms[fc_dist_rank(dist) % 3];
    int steps = 0;
    for (; steps < FC_STORES_WARMUP; steps++) {
        ck_assert_int_eq(c->streaming, 1); /* the warm-up writes non-temporal, as before the choice existed */
        fc_store_choice_record(c, dist, 1e-3 * (steps == 0 ? 10 * warm : warm));
    }
    ck_assert_int_eq(c->block, want_block);
    for (int k = 0; c->trial; k++, steps++) {
        ck_assert_int_lt(k, FC_STORES_BLOCKS * want_block);
        ck_assert_int_eq(c->streaming, ways[k / want_block]);
        const double ms = k % want_block == 0 ? odd : c->streaming ? ms_streaming : ms_ordinary;
        fc_store_choice_record(c, dist, 1e-3 * ms);
    }
    ck_assert_int_eq(steps, FC_STORES_WARMUP + FC_STORES_BLOCKS * want_block);
    ck_assert_int_eq(c->counted[0], 4 * (want_block - 1));
    ck_assert_int_eq(c->counted[1], 4 * (want_block - 1));
    return steps;
}

static fc_dist world(void)
{
    fc_dist d;
    ck_assert_int_eq(fc_dist_init_comm(&d, MPI_COMM_WORLD), FC_OK);
    fc_dist_reserve(&d, 1, 2); /* the trial's sums: 1 and 2 doubles */
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

START_TEST(test_describe_before_and_during_trial)
{
    unsetenv("FCNET_PARAM_STORES");
    fc_store_choice c;
    char text[200];
    ck_assert_int_eq(fc_store_choice_init(&c, NULL, 1), FC_OK);
    fc_store_choice_describe(&c, text, sizeof text);
    ck_assert_str_eq(text, "non-temporal (the trial of both ways starts after 2 steps; this run made 0)");
    for (int i = 0; i < 5; i++) fc_store_choice_record(&c, NULL, 0.040);
    fc_store_choice_describe(&c, text, sizeof text);
    ck_assert_str_eq(text, "non-temporal (the trial of both ways needs 34 steps; this run made 5)");
    /* Nothing shared: nothing to try. */
    ck_assert_int_eq(fc_store_choice_init(&c, NULL, 0), FC_OK);
    ck_assert_int_eq(c.trial, 0);
    ck_assert_int_eq(c.streaming, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_choice");
    TCase *t = tcase_create("store_choice");
    tcase_add_test(t, test_block_follows_step_time);
    tcase_add_test(t, test_ranks_agree_on_block_and_way);
    tcase_add_test(t, test_describe_before_and_during_trial);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
