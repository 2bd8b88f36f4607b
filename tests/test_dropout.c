/* Dropout: kept fraction, inverted scaling, test mode is the identity, masks keyed only by
 * (seed, step, layer, global row, unit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/layers.h"
#include "fcnet/net.h"
#include "fcnet/rng.h"
#include "testutil.h"

START_TEST(test_kept_fraction_and_mean)
{
    enum { ROWS = 500, UNITS = 500 }; /* 250k units */
    const double keeps[] = {0.25, 0.5, 0.9};
    fc_real *x = malloc(ROWS * UNITS * sizeof *x);
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < ROWS * UNITS; i++) x[i] = 1;
        fc_dropout_forward(x, keeps[k], 17, 5, 1, 0, ROWS, UNITS);
        double kept = 0, sum = 0;
        for (int i = 0; i < ROWS * UNITS; i++) {
            kept += x[i] != 0;
            sum += (double)x[i];
            ck_assert(x[i] == 0 || fabs((double)x[i] - 1.0 / keeps[k]) < 1e-6);
        }
        double frac = kept / (ROWS * UNITS), mean = sum / (ROWS * UNITS);
        ck_assert_msg(fabs(frac - keeps[k]) <= 0.01, "keep %g: kept fraction %g", keeps[k], frac);
        ck_assert_msg(fabs(mean - 1.0) <= 0.01 / keeps[k], "keep %g: mean %g", keeps[k], mean);
    }
    free(x);
}
END_TEST

START_TEST(test_masks_keyed_by_global_row)
{
    enum { ROWS = 12, UNITS = 37 };
    fc_real all[ROWS * UNITS], part[5 * UNITS];
    for (int i = 0; i < ROWS * UNITS; i++) all[i] = 1;
    fc_dropout_forward(all, 0.5, 3, 8, 2, 0, ROWS, UNITS);
    /* rows 4..8 processed alone (as rank 1 of a split batch would) draw the same masks */
    for (int i = 0; i < 5 * UNITS; i++) part[i] = 1;
    fc_dropout_forward(part, 0.5, 3, 8, 2, 4, 5, UNITS);
    ck_assert(memcmp(part, all + 4 * UNITS, sizeof part) == 0);
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < UNITS; j++) ck_assert(all[i * UNITS + j] == fc_dropout_mask(0.5, 3, 8, 2, i, j));
    /* any other key (seed, step, layer) changes the masks */
    const uint64_t seeds[] = {4, 3, 3}, steps[] = {8, 9, 8};
    const int layers[] = {2, 2, 3};
    for (int k = 0; k < 3; k++) {
        int differ = 0;
        for (int i = 0; i < ROWS; i++)
            for (int j = 0; j < UNITS; j++)
                differ += all[i * UNITS + j] != fc_dropout_mask(0.5, seeds[k], steps[k], layers[k], i, j);
        ck_assert_int_gt(differ, ROWS * UNITS / 4);
    }
}
END_TEST

START_TEST(test_test_mode_is_identity)
{
    static const int widths[] = {64};
    fc_net_config on = {.n_input = 8, .n_classes = 3, .n_hidden = 1, .hidden = widths, .keep = 0.5,
                        .weight_scale = 0.3, .bn_momentum = 0.9, .seed = 1};
    fc_net_config off = on;
    off.keep = 1;
    fc_net a, b;
    fc_net_init(&a, &on, 4, NULL);
    fc_net_init(&b, &off, 4, NULL);
    fc_real x[32];
    for (int i = 0; i < 32; i++) x[i] = (fc_real)sin(i);
    const fc_real *sa = fc_net_forward(&a, x, 4, FC_MODE_TEST, NULL);
    const fc_real *sb = fc_net_forward(&b, x, 4, FC_MODE_TEST, NULL);
    ck_assert(memcmp(sa, sb, 12 * sizeof(fc_real)) == 0);
    /* and train mode with keep 0.5 does differ */
    fc_batch_info info = {.step = 0, .row0 = 0, .global_batch = 4};
    fc_real test_scores[12];
    memcpy(test_scores, sa, sizeof test_scores);
    const fc_real *st = fc_net_forward(&a, x, 4, FC_MODE_TRAIN, &info);
    ck_assert(memcmp(st, test_scores, sizeof test_scores) != 0);
    fc_net_free(&a);
    fc_net_free(&b);
}
END_TEST

/* The fused kernel draws a row's mask in chunks of random words: for a row wider than one chunk (1024
 * units) and a width that is no multiple of 4, every unit still gets fc_dropout_mask's value for its
 * (global row, unit), so wide layers drop what the reference drops. */
START_TEST(test_fused_mask_wide_rows)
{
    enum { ROWS = 3, UNITS = 2 * 1024 + 123 };
    fc_real *z = malloc(ROWS * UNITS * sizeof *z), *out = malloc(ROWS * UNITS * sizeof *out);
    fc_real *b = calloc(UNITS, sizeof *b);
    for (int i = 0; i < ROWS * UNITS; i++) z[i] = 1;
    const fc_act act = {.relu = 1, .keep = 0.5, .seed = 11, .step = 6, .layer = 2, .row0 = 40};
    fc_bias_act_forward(out, z, b, &act, ROWS, UNITS);
    int kept = 0;
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < UNITS; j++) {
            const fc_real want = fc_dropout_mask(0.5, 11, 6, 2, 40 + i, j);
            ck_assert_msg(out[i * UNITS + j] == want, "row %d unit %d: fused %g, fc_dropout_mask %g", i, j,
                          (double)out[i * UNITS + j], (double)want);
            kept += want != 0;
        }
    ck_assert(kept > ROWS * UNITS / 4 && kept < 3 * ROWS * UNITS / 4);
    free(z);
    free(out);
    free(b);
}
END_TEST

/* The rule is "keep when u < keep" with u the unit's 24-bit uniform (u24 / 2^24). Every implementation
 * must get the boundary right: with keep just above u the unit is kept, with keep == u it is dropped.
 * A kernel comparing u24 against a truncated keep * 2^24 would drop the first; one using <= would keep
 * the second. Only keeps between two 24-bit steps tell those apart, so keep is built from the draw. */
START_TEST(test_keep_boundary)
{
    enum { UNITS = 8 };
    const uint64_t seed = 29, step = 3;
    const int layer = 1;
    const int64_t row = 5;
    uint32_t w[4];
    fc_rng_block(w, seed, FC_RNG_DROPOUT, step, (uint32_t)layer, (uint32_t)row, 0);
    for (int unit = 0; unit < 4; unit++) {
        const uint32_t u24 = w[unit] >> 8;
        ck_assert(u24 > 0 && u24 < (1u << 24) - 1); /* both keeps below lie strictly inside (0, 1) */
        const double keeps[2] = {((double)u24 + 0.5) / 16777216.0, (double)u24 / 16777216.0};
        for (int k = 0; k < 2; k++) {
            const fc_real want = k == 0 ? (fc_real)(1.0 / keeps[k]) : 0;
            ck_assert_msg(fc_dropout_mask(keeps[k], seed, step, layer, row, unit) == want,
                          "fc_dropout_mask, unit %d, keep %s u", unit, k == 0 ? "just above" : "equal to");
            fc_real x[UNITS];
            for (int j = 0; j < UNITS; j++) x[j] = 1;
            fc_dropout_forward(x, keeps[k], seed, step, layer, row, 1, UNITS);
            ck_assert_msg(x[unit] == want, "fc_dropout_forward, unit %d, keep %s u", unit,
                          k == 0 ? "just above" : "equal to");
            fc_real z[UNITS], out[UNITS], b[UNITS] = {0};
            for (int j = 0; j < UNITS; j++) z[j] = 1;
            const fc_act act = {.relu = 1, .keep = keeps[k], .seed = seed, .step = step, .layer = layer,
                                .row0 = row};
            fc_bias_act_forward(out, z, b, &act, 1, UNITS);
            ck_assert_msg(out[unit] == want, "fc_bias_act_forward, unit %d, keep %s u: %g, want %g", unit,
                          k == 0 ? "just above" : "equal to", (double)out[unit], (double)want);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dropout");
    TCase *t = tcase_create("dropout");
    tcase_add_test(t, test_kept_fraction_and_mean);
    tcase_add_test(t, test_masks_keyed_by_global_row);
    tcase_add_test(t, test_test_mode_is_identity);
    tcase_add_test(t, test_fused_mask_wide_rows);
    tcase_add_test(t, test_keep_boundary);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
