/* Update rules: cs231n's published first-step values (worked by hand from the formulas), defaults,
 * lr decay, slot names. Multi-step trajectories are compared with the numpy reference in test_ref. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fcnet/net.h"
#include "fcnet/optim.h"
#include "testutil.h"

enum { N = 20 };

/* numpy's linspace(from, from + rise, N), the way cs231n's checks build every input; rise rather than the end
 * point so that each element is computed as the checks below work it out by hand. */
static void fill_linspace(fc_real *a, double from, double rise)
{
    for (int i = 0; i < N; i++) a[i] = (fc_real)(from + rise * i / (N - 1));
}

/* cs231n's check inputs: w = linspace(-0.4, 0.6, 20), dw = linspace(-0.6, 0.4, 20). */
static void inputs(fc_real *w, fc_real *dw)
{
    fill_linspace(w, -0.4, 1.0);
    fill_linspace(dw, -0.6, 1.0);
}

START_TEST(test_sgd_momentum_first_step)
{
    fc_real w[N], dw[N];
    inputs(w, dw);
    fc_optim_config c = fc_optim_defaults(FC_OPTIM_SGD_MOMENTUM);
    c.lr = 1e-3;
    fc_optim o;
    fc_optim_init(&o, &c, N);
    fill_linspace(o.slot[0], 0.6, 0.3); /* v = linspace(0.6, 0.9) */
    fc_optim_step(&o, w, dw);
    /* v' = 0.9 * 0.6 - 1e-3 * (-0.6) = 0.5406, w' = -0.4 + 0.5406 = 0.1406 (cs231n: 0.1406) */
    ck_assert(fabs((double)o.slot[0][0] - 0.5406) < 1e-6);
    ck_assert(fabs((double)w[0] - 0.1406) < 1e-6);
    /* last element: v' = 0.9 * 0.9 - 1e-3 * 0.4 = 0.8096, w' = 0.6 + 0.8096 = 1.4096 */
    ck_assert(fabs((double)w[N - 1] - 1.4096) < 1e-6);
    fc_optim_free(&o);
}
END_TEST

START_TEST(test_rmsprop_first_step)
{
    fc_real w[N], dw[N];
    inputs(w, dw);
    fc_optim_config c = fc_optim_defaults(FC_OPTIM_RMSPROP);
    fc_optim o;
    fc_optim_init(&o, &c, N);
    fill_linspace(o.slot[0], 0.6, 0.3); /* cache = linspace(0.6, 0.9) */
    fc_optim_step(&o, w, dw);
    /* c' = 0.99 * 0.6 + 0.01 * 0.36 = 0.5976; w' = -0.4 - 1e-2 * (-0.6) / (sqrt(0.5976) + 1e-8) */
    double c0 = 0.99 * 0.6 + 0.01 * 0.36, w0 = -0.4 + 1e-2 * 0.6 / (sqrt(c0) + 1e-8);
    ck_assert(fabs((double)o.slot[0][0] - c0) < 1e-6);
    ck_assert(fabs((double)w[0] - w0) < 1e-6);
    ck_assert(fabs(w0 - (-0.39223849)) < 1e-7); /* cs231n's expected_next_w[0][0] */
    fc_optim_free(&o);
}
END_TEST

START_TEST(test_adam_first_steps)
{
    fc_real w[N], dw[N];
    inputs(w, dw);
    fc_optim_config c = fc_optim_defaults(FC_OPTIM_ADAM);
    ck_assert(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8);
    c.lr = 1e-2;
    fc_optim o;
    fc_optim_init(&o, &c, N);
    fill_linspace(o.slot[0], 0.6, 0.3);  /* m = linspace(0.6, 0.9) */
    fill_linspace(o.slot[1], 0.7, -0.2); /* v = linspace(0.7, 0.5) */
    o.t = 5;
    fc_optim_step(&o, w, dw);
    ck_assert_int_eq(o.t, 6);
    double m = 0.9 * 0.6 + 0.1 * -0.6, v = 0.999 * 0.7 + 0.001 * 0.36;
    double mt = m / (1 - pow(0.9, 6)), vt = v / (1 - pow(0.999, 6));
    double want = -0.4 - 1e-2 * mt / (sqrt(vt) + 1e-8);
    ck_assert_msg(fabs((double)w[0] - want) < 1e-6, "adam w0 %g want %g", (double)w[0], want);
    ck_assert(fabs(want - (-0.40094747)) < 1e-7); /* cs231n's expected_next_w[0][0] */
    fc_optim_free(&o);
}
END_TEST

/* eps is added after the square root (cs231n, PyTorch): with the squared averages near 1e-16 that is a step
 * ~300x larger than sqrt(v + eps) would give, which the values above (v ~ 0.6) cannot tell apart. */
START_TEST(test_eps_outside_the_square_root)
{
    fc_optim_config c = fc_optim_defaults(FC_OPTIM_ADAM);
    c.lr = 1e-2;
    fc_optim o;
    fc_optim_init(&o, &c, 1);
    fc_real w = 1, dw = 0;
    o.slot[0][0] = (fc_real)1e-9; /* m */
    o.slot[1][0] = (fc_real)1e-16; /* v */
    fc_optim_step(&o, &w, &dw);
    const double mt = 0.9 * 1e-9 / (1 - 0.9), vt = 0.999 * (double)(fc_real)1e-16 / (1 - 0.999);
    double want = 1 - 1e-2 * mt / (sqrt(vt) + 1e-8); /* 1 - 2.8e-4; eps inside the root: 1 - 9e-7 */
    ck_assert_msg(fabs((double)w - want) < 1e-6, "adam w %.9g want %.9g", (double)w, want);
    fc_optim_free(&o);

    c = fc_optim_defaults(FC_OPTIM_RMSPROP);
    fc_optim_init(&o, &c, 1);
    w = 1, dw = (fc_real)1e-9;
    o.slot[0][0] = (fc_real)1e-16; /* cache */
    fc_optim_step(&o, &w, &dw);
    const double cache = 0.99 * (double)(fc_real)1e-16 + 0.01 * (double)dw * (double)dw;
    want = 1 - 1e-2 * (double)dw / (sqrt(cache) + 1e-8); /* 1 - 5e-4; eps inside the root: 1 - 1e-7 */
    ck_assert_msg(fabs((double)w - want) < 1e-6, "rmsprop w %.9g want %.9g", (double)w, want);
    fc_optim_free(&o);
}
END_TEST

START_TEST(test_defaults_and_decay)
{
    ck_assert(fc_optim_defaults(FC_OPTIM_SGD).lr == 1e-2);
    ck_assert(fc_optim_defaults(FC_OPTIM_SGD_MOMENTUM).momentum == 0.9);
    ck_assert(fc_optim_defaults(FC_OPTIM_RMSPROP).decay_rate == 0.99);
    /* cs231n's optim.py: rmsprop eps 1e-8; adam lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8; no decay. */
    ck_assert(fc_optim_defaults(FC_OPTIM_RMSPROP).lr == 1e-2);
    const fc_optim_config adam = fc_optim_defaults(FC_OPTIM_ADAM);
    ck_assert(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8);
    ck_assert(adam.lr_decay == 1.0 && fc_optim_defaults(FC_OPTIM_SGD).lr_decay == 1.0);
    ck_assert_int_eq(fc_optim_parse("adam"), FC_OPTIM_ADAM);
    ck_assert_int_eq(fc_optim_parse("Adam"), -1);
    ck_assert_str_eq(fc_optim_slot_name(FC_OPTIM_ADAM, 1), "v");
    ck_assert_str_eq(fc_optim_slot_name(FC_OPTIM_SGD_MOMENTUM, 0), "velocity");
    ck_assert_str_eq(fc_optim_slot_name(FC_OPTIM_RMSPROP, 0), "cache");
    ck_assert(fc_optim_slot_name(FC_OPTIM_SGD, 0) == NULL);
    fc_optim_config c = fc_optim_defaults(FC_OPTIM_SGD);
    c.lr_decay = 0.5;
    fc_optim o;
    fc_optim_init(&o, &c, 4);
    fc_real w[4] = {1, 1, 1, 1}, dw[4] = {1, 2, 3, 4};
    fc_optim_step(&o, w, dw);
    ck_assert(fabs((double)w[3] - (1 - 0.04)) < 1e-7);
    fc_optim_end_epoch(&o);
    fc_optim_end_epoch(&o);
    ck_assert(fabs(o.lr - 0.0025) < 1e-15);
    fc_optim_free(&o);
}
END_TEST

START_TEST(test_reports_non_finite_gradients)
{
    for (int kind = 0; kind < 4; kind++) {
        fc_optim_config c = fc_optim_defaults((fc_optim_kind)kind);
        fc_optim o;
        fc_optim_init(&o, &c, 8);
        fc_real w[8] = {0}, dw[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        ck_assert_int_eq(fc_optim_step(&o, w, dw), 1);
        dw[5] = (fc_real)NAN;
        ck_assert_int_eq(fc_optim_step(&o, w, dw), 0);
        dw[5] = (fc_real)INFINITY;
        ck_assert_int_eq(fc_optim_step(&o, w, dw), 0);
        fc_optim_free(&o);
    }
}
END_TEST

/* A finite gradient whose update overflows is reported too: lr * dw beyond the largest real (sgd, and
 * sgd_momentum's velocity), dw * dw beyond it (rmsprop's cache, adam's v), where the new weight stays finite
 * and only the optimizer state holds the Inf (a checkpoint of it could not be resumed). */
START_TEST(test_reports_overflowing_updates)
{
    const double largest = sizeof(fc_real) == sizeof(float) ? (double)FLT_MAX : DBL_MAX;
    for (int kind = 0; kind < 4; kind++) {
        fc_optim_config c = fc_optim_defaults((fc_optim_kind)kind);
        const int squares = kind == FC_OPTIM_RMSPROP || kind == FC_OPTIM_ADAM;
        if (!squares) c.lr = largest / 2;
        fc_optim o;
        fc_optim_init(&o, &c, 8);
        fc_real w[8] = {0}, dw[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        if (squares) dw[3] = (fc_real)(1000 * sqrt(largest)); /* (1 - beta) * dw * dw > largest */
        ck_assert_msg(isfinite(dw[3]) && isfinite(c.lr), "the inputs themselves are finite");
        ck_assert_msg(fc_optim_step(&o, w, dw) == 0, "%s: overflow not reported", fc_optim_name(o.cfg.kind));
        if (squares)
            ck_assert_msg(isfinite(w[3]), "%s: the weight stays finite, only the state is Inf",
                          fc_optim_name(o.cfg.kind));
        fc_optim_free(&o);
    }
}
END_TEST

/* The sharded update: three ranks' chunks updated by three optimizers (each holding the whole state,
 * as every rank does) and stitched together must equal one whole update bit for bit, over several
 * steps; a NaN is reported only by the chunk that holds it. The same with the weights written by
 * non-temporal stores (node-shared parameters): chunks that start off the 16-byte grid and span
 * several of its 512-element blocks. */
START_TEST(test_range_update_equals_whole)
{
    enum { M = 2500, STEPS = 4 };
    static fc_real w[M], part_w[M], dw[M];
    const size_t cut[4] = {0, 333, 1667, M};
    const int kind = _i / 2, stream = _i % 2;
    fc_optim_config c = fc_optim_defaults((fc_optim_kind)kind);
    fc_optim whole, parts[3];
    fc_optim_init(&whole, &c, M);
    for (int q = 0; q < 3; q++) {
        fc_optim_init(&parts[q], &c, M);
        parts[q].stream_params = stream;
    }
    for (int i = 0; i < M; i++) w[i] = part_w[i] = (fc_real)sin(0.1 * i);
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < M; i++) dw[i] = (fc_real)cos(0.37 * i + s);
        ck_assert_int_eq(fc_optim_step(&whole, w, dw), 1);
        for (int q = 0; q < 3; q++)
            ck_assert_int_eq(fc_optim_step_range(&parts[q], part_w, dw, cut[q], cut[q + 1] - cut[q]), 1);
        fc_optim_end_epoch(&whole);
        for (int q = 0; q < 3; q++) fc_optim_end_epoch(&parts[q]);
    }
    ck_assert_msg(memcmp(w, part_w, sizeof w) == 0, "%s (streaming %d): chunked update differs",
                  fc_optim_name(kind), stream);
    for (int k = 0; k < whole.n_slots; k++)
        for (int q = 0; q < 3; q++)
            ck_assert_msg(memcmp(whole.slot[k] + cut[q], parts[q].slot[k] + cut[q],
                                 (cut[q + 1] - cut[q]) * sizeof(fc_real)) == 0,
                          "%s (streaming %d): slot %d of chunk %d differs", fc_optim_name(kind), stream, k, q);
    dw[1500] = (fc_real)NAN;
    ck_assert_int_eq(fc_optim_step_range(&parts[0], part_w, dw, cut[0], cut[1] - cut[0]), 1);
    ck_assert_int_eq(fc_optim_step_range(&parts[1], part_w, dw, cut[1], cut[2] - cut[1]), 0);
    fc_optim_free(&whole);
    for (int q = 0; q < 3; q++) fc_optim_free(&parts[q]);
}
END_TEST

/* A non-finite gradient anywhere in a range is reported, also with the non-temporal stores, where the
 * range goes through the stack buffer a 512-element block at a time: in the first block, a middle one and
 * the last (the range starts off the 16-byte grid), each alone in a fresh optimizer. */
START_TEST(test_streamed_update_reports_every_block)
{
    enum { M = 2500, BEGIN = 333, LEN = 1667 - 333 };
    static fc_real w[M], dw[M];
    const int kind = _i / 2, stream = _i % 2;
    const size_t where[] = {BEGIN, BEGIN + 100, BEGIN + 600, BEGIN + 1100, BEGIN + LEN - 1};
    for (size_t p = 0; p < sizeof where / sizeof *where; p++) {
        fc_optim_config c = fc_optim_defaults((fc_optim_kind)kind);
        fc_optim o;
        fc_optim_init(&o, &c, M);
        o.stream_params = stream;
        for (int i = 0; i < M; i++) {
            w[i] = (fc_real)sin(0.1 * i);
            dw[i] = (fc_real)cos(0.37 * i);
        }
        ck_assert_int_eq(fc_optim_step_range(&o, w, dw, BEGIN, LEN), 1);
        dw[where[p]] = (fc_real)NAN;
        ck_assert_msg(fc_optim_step_range(&o, w, dw, BEGIN, LEN) == 0,
                      "%s (streaming %d): a NaN gradient at element %zu of the range not reported",
                      fc_optim_name(kind), stream, where[p] - BEGIN);
        fc_optim_free(&o);
    }
}
END_TEST

/* The L2 term folded into the update (fc_net_update_range) against the two sweeps it replaces
 * (fc_net_add_reg_range, then fc_optim_step_range), chunk by chunk as the ranks do: the same parameters,
 * gradients (reg * W included), slots and reg loss, bit for bit, over several steps; chunks cut inside the
 * weight views at odd offsets, views whose sizes are not multiples of 8 (the L2 lanes' tail), in place and
 * with non-temporal stores; a NaN reported only by the chunk that holds it. */
START_TEST(test_update_range_folds_reg)
{
    static const int widths[] = {301, 29};
    const int kind = _i / 2, stream = _i % 2;
    fc_net_config nc = {.n_input = 37, .n_classes = 7, .n_hidden = 2, .hidden = widths, .norm = FC_NORM_BATCH,
                        .keep = 1, .reg = 0.05, .weight_scale = 0.1, .init = FC_INIT_NORMAL, .bn_momentum = 0.9,
                        .seed = 9};
    fc_net a, b;
    ck_assert_int_eq(fc_net_init(&a, &nc, 4, NULL), FC_OK);
    ck_assert_int_eq(fc_net_init(&b, &nc, 4, NULL), FC_OK);
    const size_t n = a.layout.n_total;
    ck_assert_int_eq(fc_view_size(&a.layout.views[a.iw[1]]) % 8, 1); /* 37 x 301 */
    const size_t cut[4] = {0, 5001, 11150, n};
    fc_optim_config c = fc_optim_defaults((fc_optim_kind)kind);
    fc_optim oa[3], ob[3];
    for (int q = 0; q < 3; q++) {
        fc_optim_init(&oa[q], &c, n);
        fc_optim_init(&ob[q], &c, n);
        oa[q].stream_params = ob[q].stream_params = stream;
    }
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < n; i++) a.grads[i] = b.grads[i] = (fc_real)(0.01 * cos(0.37 * (double)i + step));
        for (int q = 0; q < 3; q++) {
            const size_t len = cut[q + 1] - cut[q];
            const double reg_a = fc_net_add_reg_range(&a, cut[q], len);
            ck_assert_int_eq(fc_optim_step_range(&oa[q], a.params, a.grads, cut[q], len), 1);
            int finite = -1;
            const double reg_b = fc_net_update_range(&b, &ob[q], cut[q], len, &finite);
            ck_assert_int_eq(finite, 1);
            ck_assert_msg(memcmp(&reg_a, &reg_b, sizeof reg_a) == 0, "chunk %d: reg loss %.17g vs %.17g", q, reg_a,
                          reg_b);
            ck_assert(reg_a > 0);
        }
    }
    ck_assert_msg(memcmp(a.params, b.params, n * sizeof(fc_real)) == 0, "%s (streaming %d): parameters differ",
                  fc_optim_name(kind), stream);
    ck_assert_msg(memcmp(a.grads, b.grads, n * sizeof(fc_real)) == 0, "%s (streaming %d): gradients differ",
                  fc_optim_name(kind), stream);
    for (int k = 0; k < oa[0].n_slots; k++)
        for (int q = 0; q < 3; q++)
            ck_assert_msg(memcmp(oa[q].slot[k] + cut[q], ob[q].slot[k] + cut[q],
                                 (cut[q + 1] - cut[q]) * sizeof(fc_real)) == 0,
                          "%s (streaming %d): slot %d of chunk %d differs", fc_optim_name(kind), stream, k, q);
    b.grads[6000] = (fc_real)NAN; /* in W1 (37 x 301 from 0), inside chunk 1 */
    int finite[3];
    for (int q = 0; q < 3; q++) fc_net_update_range(&b, &ob[q], cut[q], cut[q + 1] - cut[q], &finite[q]);
    ck_assert_msg(finite[0] == 1 && finite[1] == 0 && finite[2] == 1, "finite %d %d %d", finite[0], finite[1], finite[2]);
    for (int q = 0; q < 3; q++) {
        fc_optim_free(&oa[q]);
        fc_optim_free(&ob[q]);
    }
    fc_net_free(&a);
    fc_net_free(&b);
}
END_TEST

/* The arena layout the optimizer sweeps (params.h): views in order, each starting on an FC_ARENA_ALIGN
 * boundary, never overlapping, the padding counted in n_total; found by exact name. */
START_TEST(test_layout_offsets_aligned)
{
    fc_layout l;
    fc_layout_init(&l);
    const struct {
        const char *name;
        int rows, cols, decay;
    } views[] = {{"W1", 3, 5, 1}, {"b1", 1, 5, 0}, {"gamma1", 1, 5, 0}, {"beta1", 1, 5, 0}, {"W2", 5, 16, 1},
                 {"b2", 1, 16, 0}, {"W3", 16, 17, 1}, {"b3", 1, 1, 0}, {"W10", 2, 2, 1}};
    const int n = (int)(sizeof views / sizeof views[0]);
    for (int i = 0; i < 20; i++) { /* past the first growth of the view array */
        char name[FC_VIEW_NAME_MAX];
        snprintf(name, sizeof name, "%s_%d", views[i % n].name, i / n);
        ck_assert_int_eq(fc_layout_add(&l, name, views[i % n].rows, views[i % n].cols, views[i % n].decay), i);
    }
    ck_assert_int_eq(l.n_views, 20);
    size_t end = 0;
    for (int i = 0; i < 20; i++) {
        const fc_view *v = &l.views[i];
        ck_assert_msg(v->offset % FC_ARENA_ALIGN == 0, "%s at offset %zu", v->name, v->offset);
        ck_assert_msg(v->offset >= end && v->offset < end + FC_ARENA_ALIGN, "%s at %zu after an end at %zu", v->name,
                      v->offset, end);
        ck_assert_uint_eq(fc_view_size(v), (size_t)views[i % n].rows * (size_t)views[i % n].cols);
        ck_assert_int_eq(v->decay, views[i % n].decay);
        end = v->offset + fc_view_size(v);
    }
    ck_assert_uint_eq(l.n_total % FC_ARENA_ALIGN, 0);
    ck_assert(l.n_total >= end && l.n_total < end + FC_ARENA_ALIGN);
    ck_assert_int_eq(fc_layout_find(&l, "W1_0"), 0);
    ck_assert_int_eq(fc_layout_find(&l, "W10_0"), 8);
    ck_assert_int_eq(fc_layout_find(&l, "gamma1_1"), n + 2);
    ck_assert_int_eq(fc_layout_find(&l, "W1"), -1);
    fc_real *arena = fc_arena_alloc(&l);
    ck_assert_uint_eq((uintptr_t)arena % 64, 0);
    for (size_t i = 0; i < l.n_total; i++) ck_assert(arena[i] == 0);
    fc_free(arena);
    fc_layout_free(&l);
    ck_assert_int_eq(l.n_views, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *t = tcase_create("optim");
    tcase_add_test(t, test_sgd_momentum_first_step);
    tcase_add_test(t, test_rmsprop_first_step);
    tcase_add_test(t, test_adam_first_steps);
    tcase_add_test(t, test_eps_outside_the_square_root);
    tcase_add_test(t, test_defaults_and_decay);
    tcase_add_test(t, test_reports_non_finite_gradients);
    tcase_add_test(t, test_reports_overflowing_updates);
    tcase_add_test(t, test_layout_offsets_aligned);
    tcase_add_loop_test(t, test_range_update_equals_whole, 0, 8); /* 4 rules x in place | streaming */
    tcase_add_loop_test(t, test_streamed_update_reports_every_block, 0, 8);
    tcase_add_loop_test(t, test_update_range_folds_reg, 0, 8);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
