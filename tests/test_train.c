/* The trainer under mpirun: -n N computes what -n 1 computes on the same global batches (within float
 * rounding), replicas stay bitwise identical, and training learns. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/ckpt.h"
#include "fcnet/rng.h"
#include "fcnet/train.h"
#include "testutil.h"
#include "trainutil.h"

static char data_path[512];

/* cfg.out named after cfg's dataset and suffix: each test that writes a checkpoint gets a directory of its own. */
static void set_out_beside_data(fc_config *cfg, const char *suffix)
{
    const int len = snprintf(cfg->out, sizeof cfg->out, "%s.%s", cfg->data, suffix);
    ck_assert(len < (int)sizeof cfg->out);
}

/* Initialises dist on MPI_COMM_WORLD and sets t up on it with cfg; the setup must succeed. */
static void setup_on_world(fc_trainer *t, const fc_config *cfg, fc_dist *dist)
{
    fc_dist_init_comm(dist, MPI_COMM_WORLD);
    ck_assert_int_eq(fc_train_setup(t, cfg, dist), FC_OK);
}

static void free_trainer_and_dist(fc_trainer *t, fc_dist *dist)
{
    fc_train_free(t);
    fc_dist_free(dist);
}

/* The environment variable var set to value on every rank: the setup with cfg is an input error on every rank,
 * and its message names var. */
static void assert_setting_refused(const fc_config *cfg, const char *var, const char *value)
{
    setenv(var, value, 1);
    fc_dist dist;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_trainer t;
    ck_assert_int_eq(fc_train_setup(&t, cfg, &dist), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), var) != NULL, "%s", fc_error_message());
    free_trainer_and_dist(&t, &dist);
    unsetenv(var);
}

/* Trains steps steps with cfg on comm; returns the loss history and final params (malloc'ed). */
static void train_on(MPI_Comm comm, const fc_config *cfg, int steps, double **loss, fc_real **params, size_t *n_params)
{
    fc_dist dist;
    fc_dist_init_comm(&dist, comm);
    fc_trainer t;
    ck_assert_int_eq(fc_train_setup(&t, cfg, &dist), FC_OK);
    *loss = malloc((size_t)steps * sizeof **loss);
    for (int s = 0; s < steps; s++) {
        (*loss)[s] = fc_train_step(&t);
        if (t.epoch_step == t.steps_per_epoch) {
            t.epoch++;
            t.epoch_step = 0;
            fc_optim_end_epoch(&t.opt);
            fc_data_epoch_order(t.perm, t.data.train.n, cfg->seed, t.epoch, cfg->shuffle);
        }
    }
    *n_params = t.net.layout.n_total;
    *params = malloc(*n_params * sizeof **params);
    memcpy(*params, t.net.params, *n_params * sizeof **params);
    free_trainer_and_dist(&t, &dist);
}

static void check_equivalence(fc_norm norm, double keep)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fc_config cfg;
    fct_small_config(&cfg, data_path, norm, keep, FC_OPTIM_SGD_MOMENTUM);
    enum { STEPS = 20 };
    double *loss_n;
    fc_real *params_n;
    size_t n;
    train_on(MPI_COMM_WORLD, &cfg, STEPS, &loss_n, &params_n, &n);
    /* rank 0 alone: the -n 1 run */
    MPI_Comm self;
    MPI_Comm_split(MPI_COMM_WORLD, rank == 0 ? 0 : MPI_UNDEFINED, 0, &self);
    int ok = 1;
    if (rank == 0) {
        double *loss_1;
        fc_real *params_1;
        size_t n1;
        train_on(self, &cfg, STEPS, &loss_1, &params_1, &n1);
        char label[96];
        snprintf(label, sizeof label, "norm %d keep %.2f loss history", (int)norm, keep);
        ok &= fct_close_d(label, loss_n, loss_1, STEPS, 1e-6, 1e-5);
        double *p1 = malloc(n * sizeof *p1);
        for (size_t i = 0; i < n; i++) p1[i] = (double)params_1[i];
        snprintf(label, sizeof label, "norm %d keep %.2f final params", (int)norm, keep);
        ok &= fct_close_mixed(label, params_n, sizeof(fc_real), p1, n, 1e-6, 1e-5);
        free(p1);
        free(loss_1);
        free(params_1);
        MPI_Comm_free(&self);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ck_assert(ok);
    free(loss_n);
    free(params_n);
}

START_TEST(test_equivalence_batchnorm) { check_equivalence(FC_NORM_BATCH, 1.0); }
END_TEST
START_TEST(test_equivalence_layernorm) { check_equivalence(FC_NORM_LAYER, 1.0); }
END_TEST
START_TEST(test_equivalence_dropout) { check_equivalence(FC_NORM_BATCH, 0.6); }
END_TEST

/* steps steps of t, the epoch order renewed at each epoch end as fc_train_run does (not its lr decay: these configs keep the default lr_decay of 1). */
static void train_steps(fc_trainer *t, const fc_config *cfg, int steps)
{
    for (int s = 0; s < steps; s++) {
        ck_assert(isfinite(fc_train_step(t)));
        if (t->epoch_step == t->steps_per_epoch) {
            t->epoch++;
            t->epoch_step = 0;
            fc_data_epoch_order(t->perm, t->data.train.n, cfg->seed, t->epoch, cfg->shuffle);
        }
    }
}

/* 50 steps with dropout and batchnorm (adam: every slot in use); then params, running statistics and
 * the gathered (sharded) optimizer state must be bitwise identical on all ranks. */
START_TEST(test_replicas_bitwise)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 0.7, FC_OPTIM_ADAM);
    cfg.epochs = 6;
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    train_steps(&t, &cfg, 50);
    fc_train_gather_optimizer_state(&t);
    fc_tensor_ref refs[4] = {{"params", t.net.params, t.net.layout.n_total * sizeof(fc_real)},
                             {"adam m", t.opt.slot[0], t.net.layout.n_total * sizeof(fc_real)},
                             {"adam v", t.opt.slot[1], t.net.layout.n_total * sizeof(fc_real)},
                             {"bn", t.net.bn_stats, t.net.bn_layout.n_total * sizeof(fc_real)}};
    fc_status st = fc_dist_check_replicas(&dist, refs, 4, t.step);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* Trains 30 steps of cfg with FCNET_EXCHANGE=exchange; returns params, the gathered optimizer slots and
 * the BN statistics in one malloc'ed buffer, and whether the arenas were shared. */
static fc_real *train_with_exchange(const char *exchange, const fc_config *cfg, int *shared, size_t *n_out)
{
    setenv("FCNET_EXCHANGE", exchange, 1);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, cfg, &dist);
    *shared = t.net.arenas_borrowed;
    train_steps(&t, cfg, 30);
    fc_train_gather_optimizer_state(&t);
    const size_t n = t.net.layout.n_total, nb = t.net.bn_layout.n_total;
    fc_real *out = malloc((3 * n + nb) * sizeof *out);
    memcpy(out, t.net.params, n * sizeof *out);
    memcpy(out + n, t.opt.slot[0], n * sizeof *out);
    memcpy(out + 2 * n, t.opt.slot[1], n * sizeof *out);
    memcpy(out + 3 * n, t.net.bn_stats, nb * sizeof *out);
    *n_out = 3 * n + nb;
    free_trainer_and_dist(&t, &dist);
    unsetenv("FCNET_EXCHANGE");
    return out;
}

/* The one-node shared-memory exchange (the default where it applies), the exchange between nodes and the
 * message path compute the same bits; an unknown FCNET_EXCHANGE is an input error on every rank. */
START_TEST(test_exchange_paths_bitwise)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 0.7, FC_OPTIM_ADAM);
    cfg.epochs = 6;
    int size, shared_p2p, shared_auto;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t n_p2p, n_auto;
    fc_real *p2p = train_with_exchange("p2p", &cfg, &shared_p2p, &n_p2p);
    fc_real *shm = train_with_exchange("auto", &cfg, &shared_auto, &n_auto);
    ck_assert_int_eq(shared_p2p, 0);
    ck_assert_int_eq(shared_auto, size > 1); /* the test runs on one node */
    ck_assert(n_p2p == n_auto);
    ck_assert_msg(memcmp(p2p, shm, n_p2p * sizeof *p2p) == 0, "shared-memory and message exchange differ");
    /* Consecutive pairs of ranks taken as nodes (at an even rank count from 4): shared memory within each, the
     * running sums from node to node; the same bits again. */
    if (size >= 4 && size % 2 == 0) {
        setenv("FCNET_TEST_RANKS_PER_NODE", "2", 1);
        int shared_nodes;
        size_t n_nodes;
        fc_real *nodes = train_with_exchange("auto", &cfg, &shared_nodes, &n_nodes);
        unsetenv("FCNET_TEST_RANKS_PER_NODE");
        ck_assert_int_eq(shared_nodes, 1);
        ck_assert(n_nodes == n_p2p);
        ck_assert_msg(memcmp(p2p, nodes, n_p2p * sizeof *p2p) == 0, "the exchange between nodes differs");
        free(nodes);
    }
    free(p2p);
    free(shm);

    assert_setting_refused(&cfg, "FCNET_EXCHANGE", "shared");
}
END_TEST

/* The synchronisation area is sized for the step's largest gather on several nodes: a hidden batchnorm layer's
 * 2n + 1 moments, not the input's width (9000 features here gather nothing; sized from them it took 16 MiB of
 * /dev/shm per rank where the input was wide, and --profile said the gathers went by messages when they did not);
 * with layernorm, only the loss's 4. Consecutive pairs of ranks as nodes (at an even rank count from 4). */
START_TEST(test_gather_area_from_hidden_layers)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 4 || size % 2) return;
    char wide_input[512];
    fct_make_dataset(wide_input, sizeof wide_input, MPI_COMM_WORLD, 24, 0, 9000, 3, 4);
    for (int norm = 0; norm < 2; norm++) {
        fc_config cfg;
        fct_small_config(&cfg, wide_input, norm ? FC_NORM_LAYER : FC_NORM_BATCH, 1.0, FC_OPTIM_SGD);
        cfg.batch_size = 8;
        setenv("FCNET_TEST_RANKS_PER_NODE", "2", 1);
        fc_dist dist;
        fc_trainer t;
        setup_on_world(&t, &cfg, &dist);
        unsetenv("FCNET_TEST_RANKS_PER_NODE");
        const size_t want = norm ? 4 : 2 * 20 + 1; /* the widest hidden layer: 20 units */
        const size_t step_gather_n = t.step_gather_n, cap = dist.sync_cap;
        const int n_nodes = dist.n_nodes;
        free_trainer_and_dist(&t, &dist);
        ck_assert_int_eq(n_nodes, size / 2);
        ck_assert_msg(step_gather_n == want, "norm %d: the area sized for %zu doubles per rank, want %zu", norm,
                      step_gather_n, want);
        ck_assert_msg(cap == 8192, "norm %d: a payload buffer of %zu doubles, want the smallest (8192)", norm, cap);
    }
}
END_TEST

/* FCNET_DATA_COPIES: the node's one shared copy of the rows (the default from 2 ranks on one node) and private
 * copies hold the same preprocessed rows (standardisation applied once, not once per rank) and train the same
 * bits. With the shared copy the ranks' rows are one memory (a write by the last rank is seen by rank 0) and
 * only the node's first rank writes it. FCNET_DATA_COPIES=private on one rank keeps every copy private; an unknown
 * value is refused on every rank. */
START_TEST(test_data_shared_per_node)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 0.7, FC_OPTIM_ADAM);
    cfg.preprocess = FC_PRE_STANDARDIZE; /* applied twice in place, the rows would differ */
    cfg.val_size = 40;                   /* a held-out split too, placed after the training rows */
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    fc_dist dist;
    fc_trainer t;

    setenv("FCNET_DATA_COPIES", "private", 1);
    setup_on_world(&t, &cfg, &dist);
    ck_assert(!t.data_node.shared && t.data_node.writer && !t.data.train.borrowed);
    const int64_t n = t.data.train.n, n_val = t.data.val.n, d = t.data.n_features;
    ck_assert_int_eq(n_val, 40);
    fc_real *rows = malloc((size_t)(n + n_val) * (size_t)d * sizeof *rows);
    memcpy(rows, t.data.train.x, (size_t)(n * d) * sizeof *rows);
    memcpy(rows + n * d, t.data.val.x, (size_t)(n_val * d) * sizeof *rows);
    train_steps(&t, &cfg, 20);
    const size_t n_params = t.net.layout.n_total;
    fc_real *params = malloc(n_params * sizeof *params);
    memcpy(params, t.net.params, n_params * sizeof *params);
    free_trainer_and_dist(&t, &dist);
    unsetenv("FCNET_DATA_COPIES");

    setup_on_world(&t, &cfg, &dist);
    ck_assert_int_eq(t.data_node.shared, size > 1); /* the test runs on one node */
    ck_assert_int_eq(t.data_node.writer, rank == 0 || size == 1);
    ck_assert_int_eq(t.data.train.borrowed, size > 1);
    ck_assert_int_eq(t.data.val.borrowed, size > 1);
    ck_assert(t.data.train.n == n && t.data.val.n == n_val && t.data.n_features == d);
    ck_assert_msg(memcmp(t.data.train.x, rows, (size_t)(n * d) * sizeof *rows) == 0 &&
                      memcmp(t.data.val.x, rows + n * d, (size_t)(n_val * d) * sizeof *rows) == 0,
                  "rank %d: the shared rows differ from a private load's", rank);
    if (size > 1) {
        const fc_real kept = t.data.train.x[5];
        MPI_Barrier(MPI_COMM_WORLD); /* every rank has compared the rows above */
        if (rank == size - 1) t.data.train.x[5] = (fc_real)12345;
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) ck_assert_msg(t.data.train.x[5] == (fc_real)12345, "rank 0 did not see the last rank's write");
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == size - 1) t.data.train.x[5] = kept;
        MPI_Barrier(MPI_COMM_WORLD);
    }
    train_steps(&t, &cfg, 20);
    ck_assert_msg(memcmp(t.net.params, params, n_params * sizeof *params) == 0,
                  "shared and private rows trained different parameters");
    free_trainer_and_dist(&t, &dist);

    if (rank == size - 1) setenv("FCNET_DATA_COPIES", "private", 1);
    setup_on_world(&t, &cfg, &dist);
    int shared = t.data_node.shared, any_shared = 0;
    MPI_Allreduce(&shared, &any_shared, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    ck_assert_msg(!any_shared, "a rank shared the rows that another rank wanted private");
    free_trainer_and_dist(&t, &dist);
    unsetenv("FCNET_DATA_COPIES");

    assert_setting_refused(&cfg, "FCNET_DATA_COPIES", "once");
    free(rows);
    free(params);
}
END_TEST

/* FCNET_EXCHANGE set on one rank only (a launcher that exports it to some ranks): the ranks agree on one
 * path, the message path since one asked for it, instead of some creating the shared windows alone. */
START_TEST(test_exchange_setting_on_one_rank)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == size - 1) setenv("FCNET_EXCHANGE", "p2p", 1);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    int borrowed = t.net.arenas_borrowed, any_borrowed = 0;
    MPI_Allreduce(&borrowed, &any_borrowed, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    ck_assert_msg(!any_borrowed, "a rank took the shared-memory exchange that another rank declined");
    for (int s = 0; s < 5; s++) ck_assert(isfinite(fc_train_step(&t)));
    fc_tensor_ref refs[1] = {{"params", t.net.params, t.net.layout.n_total * sizeof(fc_real)}};
    ck_assert_int_eq(fc_dist_check_replicas(&dist, refs, 1, t.step), FC_OK);
    free_trainer_and_dist(&t, &dist);
    unsetenv("FCNET_EXCHANGE");
}
END_TEST

/* One step of t, which must return NaN (divergence) on every rank: none, or only some, is a failure (a rank
 * that stopped alone would leave the others waiting in the next step). */
static void assert_step_stops_on_every_rank(fc_trainer *t, const char *cause)
{
    const int nan_here = isnan(fc_train_step(t));
    int all = 0, any = 0;
    MPI_Allreduce(&nan_here, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    MPI_Allreduce(&nan_here, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    ck_assert_msg(any, "no rank saw %s", cause);
    ck_assert_msg(all, "only some ranks stopped on %s", cause);
}

/* Non-finite gradients in one rank's chunk only, with a finite loss: the verdict is agreed, every rank's
 * step returns NaN (a rank that stopped alone would leave the others waiting in the next step). Feature 0
 * is -Inf in every row and W1's row 0 is positive, so every first-layer pre-activation is -Inf and the ReLU
 * outputs 0 (the scores, and the loss, stay finite), while dW1's row 0 is -Inf * 0 = NaN: in the first
 * elements of the fused buffer, i.e. rank 0's chunk. */
START_TEST(test_divergence_in_one_chunk_agreed)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    const int w1 = fc_layout_find(&t.net.layout, "W1");
    ck_assert_int_ge(w1, 0);
    const fc_view *v = &t.net.layout.views[w1];
    size_t own, own_len;
    fc_dist_own_chunk(&dist, t.net.layout.n_total, &own, &own_len);
    if (dist.rank == 0) ck_assert(v->offset + (size_t)v->cols <= own + own_len);
    if (!t.net.arenas_borrowed || dist.rank == 0) /* the node's one shared array: rank 0 writes it */
        for (int j = 0; j < v->cols; j++) t.net.params[v->offset + (size_t)j] = 1;
    MPI_Barrier(MPI_COMM_WORLD);
    for (int64_t i = 0; i < t.data.train.n; i++) t.data.train.x[(size_t)i * (size_t)t.data.train.d] = -INFINITY;
    assert_step_stops_on_every_rank(&t, "the NaN gradients");
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* A batch variance beyond float's range, with a finite loss and finite gradients: batchnorm computes the
 * batch statistics in double and normalises with them, so only the running variance, cast to float, is Inf.
 * Every rank's step returns NaN (before, the run went on and saved a checkpoint that --resume and eval
 * refused as non-finite). Rows of +-1e30 in every feature: first-layer pre-activations of about 1e30. */
START_TEST(test_batchnorm_statistics_overflow_agreed)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_SGD);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    const size_t d = (size_t)t.data.train.d;
    for (int64_t i = 0; i < t.data.train.n; i++)
        for (size_t j = 0; j < d; j++) t.data.train.x[(size_t)i * d + j] = (fc_real)(i % 2 ? 1e30 : -1e30);
    MPI_Barrier(MPI_COMM_WORLD); /* the node's one shared copy: every rank wrote the same values */
    assert_step_stops_on_every_rank(&t, "the Inf running variance");
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* --checkpoint-minutes: each rank reads its own clock and the step's gather makes one verdict of them. The
 * last rank alone 61 s past its last save (the limit is 1 minute): the save is due on every rank. Every rank
 * 30 s past it: due nowhere (minutes, not seconds). The limit 0 (off) with a save long ago: nowhere. */
START_TEST(test_time_based_save_agreed)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    cfg.checkpoint_minutes = 1;
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    t.last_save_wtime = MPI_Wtime() - (dist.rank == dist.size - 1 ? 61 : 0);
    ck_assert(isfinite(fc_train_step(&t)));
    ck_assert_msg(t.save_due_agreed == 1, "rank %d: the last rank's due save was not agreed", dist.rank);
    t.last_save_wtime = MPI_Wtime() - 30;
    ck_assert(isfinite(fc_train_step(&t)));
    ck_assert_msg(t.save_due_agreed == 0, "rank %d: a save due after 30 s of a 1-minute limit", dist.rank);
    cfg.checkpoint_minutes = 0; /* the trainer reads its configuration through t.cfg */
    t.last_save_wtime = MPI_Wtime() - 1e9;
    ck_assert(isfinite(fc_train_step(&t)));
    ck_assert_msg(t.save_due_agreed == 0, "rank %d: a time-based save with --checkpoint-minutes 0", dist.rank);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* Ranks resuming from checkpoints that differ in the optimizer state alone (same position, parameters and
 * learning rate; adam's second moment on the last rank): refused before the first step, naming the
 * optimizer state, on every rank. The second moment is the last tensor compared. */
START_TEST(test_resume_optimizer_state_differs)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_ADAM);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    for (int s = 0; s < 3; s++) ck_assert(isfinite(fc_train_step(&t)));
    fc_train_gather_optimizer_state(&t);
    char good[600], other[600];
    snprintf(good, sizeof good, "%s.opt_good.h5", data_path);
    snprintf(other, sizeof other, "%s.opt_other.h5", data_path);
    fc_status st = FC_OK;
    if (dist.rank == 0) {
        st = fc_ckpt_save(&t, good);
        t.opt.slot[1][0] *= 2; /* this rank's own copy of the gathered slot */
        if (st == FC_OK) st = fc_ckpt_save(&t, other);
    }
    ck_assert_int_eq(fc_dist_agree(&dist, st, 1), FC_OK);
    fc_train_free(&t);

    fc_config more = cfg;
    snprintf(more.resume, sizeof more.resume, "%s", dist.rank == dist.size - 1 && dist.size > 1 ? other : good);
    st = fc_train_setup(&t, &more, &dist);
    if (dist.size > 1) {
        ck_assert_int_eq(st, FC_ERR_INPUT);
        ck_assert_msg(strstr(fc_error_message(), "the optimizer state") != NULL, "%s", fc_error_message());
    } else {
        ck_assert_int_eq(st, FC_OK);
    }
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* The last save (here after --max-steps) failing on rank 0, the only rank that writes: every rank's run
 * returns the failure, not only the writer's. */
START_TEST(test_final_save_failure_agreed)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD);
    cfg.max_steps = 2;
    set_out_beside_data(&cfg, "final_save_fails");
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    setenv("FCNET_FAULT_CKPT", "fail-write", 1);
    const int rc = fc_train_run(&t);
    unsetenv("FCNET_FAULT_CKPT");
    int all_failed = 0;
    const int failed = rc == FC_ERR_FAIL;
    MPI_Allreduce(&failed, &all_failed, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    ck_assert_msg(all_failed, "rank %d: fc_train_run returned %d after the failed save", dist.rank, rc);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* Learning: the loss falls and the training accuracy rises well above chance (4 classes). */
START_TEST(test_learns)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    cfg.optim.lr = 1e-2;
    cfg.epochs = 6;
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    double acc0 = fc_train_accuracy(&t, &t.data.train, NULL, t.data.train.n, NULL);
    double first = 0, last = 0;
    for (int s = 0; s < 60; s++) {
        double loss = fc_train_step(&t);
        if (s < 5) first += loss / 5;
        if (s >= 55) last += loss / 5;
        if (t.epoch_step == t.steps_per_epoch) t.epoch_step = 0;
    }
    double acc1 = fc_train_accuracy(&t, &t.data.train, NULL, t.data.train.n, NULL);
    ck_assert_msg(last < 0.6 * first, "loss %g -> %g", first, last);
    ck_assert_msg(acc1 > 0.8 && acc1 > acc0 + 0.3, "train accuracy %g -> %g", acc0, acc1);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* --no-shuffle keeps the file's row order in every epoch (in setup and at each epoch end); --init-from starts
 * a fresh run (step 0, zeroed optimizer) from another run's parameters and batchnorm running statistics. */
START_TEST(test_no_shuffle_and_init_from)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    cfg.epochs = 2;
    cfg.shuffle = 0;
    set_out_beside_data(&cfg, "init_src");
    fc_dist dist;
    fc_trainer a;
    setup_on_world(&a, &cfg, &dist);
    for (int64_t i = 0; i < a.data.train.n; i++) ck_assert_int_eq(a.perm[i], i);
    ck_assert_int_eq(fc_train_run(&a), 0);
    ck_assert_int_eq(a.epoch, 2);
    for (int64_t i = 0; i < a.data.train.n; i++) ck_assert_int_eq(a.perm[i], i);
    const size_t n = a.net.layout.n_total, n_bn = a.net.bn_layout.n_total;
    ck_assert(n_bn > 0);
    fc_real *params = malloc(n * sizeof *params), *bn = malloc(n_bn * sizeof *bn);
    memcpy(params, a.net.params, n * sizeof *params);
    memcpy(bn, a.net.bn_stats, n_bn * sizeof *bn);
    free_trainer_and_dist(&a, &dist);

    fc_config from = cfg;
    from.seed = 99; /* another initialisation, which the file must replace */
    const int len = snprintf(from.init_from, sizeof from.init_from, "%s/checkpoint.h5", cfg.out);
    ck_assert(len < (int)sizeof from.init_from);
    set_out_beside_data(&from, "init_dst");
    fc_trainer b;
    setup_on_world(&b, &from, &dist);
    ck_assert_int_eq(b.step, 0);
    ck_assert_int_eq(b.opt.t, 0);
    ck_assert_msg(memcmp(b.net.params, params, n * sizeof *params) == 0, "--init-from: parameters differ");
    ck_assert_msg(memcmp(b.net.bn_stats, bn, n_bn * sizeof *bn) == 0, "--init-from: running statistics differ");
    for (int k = 0; k < b.opt.n_slots; k++)
        for (size_t i = 0; i < n; i++) ck_assert(b.opt.slot[k][i] == 0);
    free_trainer_and_dist(&b, &dist);
    free(params);
    free(bn);
}
END_TEST

/* Train accuracy is taken on a fixed subsample of FC_TRAIN_ACC_ROWS rows, the first of the seeded
 * FC_RNG_SUBSAMPLE permutation, whatever the rank count: recounted here one row at a time with the final
 * parameters, and checked to differ from the count over every row and over the first rows of the file (so a
 * trainer that used either would fail). */
static char big_path[512];

START_TEST(test_train_accuracy_subsample)
{
    fc_config cfg;
    fct_small_config(&cfg, big_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    cfg.epochs = 1;
    set_out_beside_data(&cfg, "acc");
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    const int64_t n = t.data.train.n, d = t.data.train.d;
    ck_assert(n > 2 * FC_TRAIN_ACC_ROWS);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert_int_eq(t.hist.n_checks, 2); /* before the first step and at the epoch's end */
    const double reported = t.hist.train_acc[t.hist.n_checks - 1];

    int64_t *perm = malloc((size_t)n * sizeof *perm);
    fc_rng_permutation(perm, n, cfg.seed, FC_RNG_SUBSAMPLE, 0);
    int64_t sub_correct = 0, all_correct = 0, head_correct = 0;
    char *in_sub = calloc((size_t)n, 1);
    for (int i = 0; i < FC_TRAIN_ACC_ROWS; i++) in_sub[perm[i]] = 1;
    for (int64_t r = 0; r < n; r++) {
        const fc_real *scores = fc_net_forward(&t.net, t.data.train.x + r * d, 1, FC_MODE_TEST, NULL);
        int best = 0;
        for (int c = 1; c < t.data.n_classes; c++)
            if (scores[c] > scores[best]) best = c;
        const int correct = best == t.data.train.y[r];
        all_correct += correct;
        sub_correct += correct && in_sub[r];
        head_correct += correct && r < FC_TRAIN_ACC_ROWS;
    }
    const double expected = (double)sub_correct / FC_TRAIN_ACC_ROWS;
    ck_assert_msg(reported == expected, "train acc %.6f, recounted on the subsample %.6f", reported, expected);
    ck_assert_msg(expected != (double)all_correct / (double)n && expected != (double)head_correct / FC_TRAIN_ACC_ROWS,
                  "the subsample's accuracy equals another row set's: this test could not tell them apart");
    free(in_sub);
    free(perm);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* Best-parameter tracking. Without a validation split the final state is the best one: the best copy must
 * hold the final parameters and the final batchnorm running statistics, once the run finishes; a run stopped
 * before that (--max-steps) keeps the initial ones there, at step 0 (the README's --best). With one, a later check that only
 * ties the best validation accuracy keeps the earlier parameters (lr 0: every check gives the same accuracy,
 * so the best step stays 0, the check before the first step). */
START_TEST(test_best_copy)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    cfg.epochs = 2;
    set_out_beside_data(&cfg, "best_noval");
    fc_dist dist;
    fc_trainer t;
    fc_config stop = cfg;
    stop.max_steps = 3;
    set_out_beside_data(&stop, "best_noval_stopped");
    setup_on_world(&t, &stop, &dist);
    ck_assert_int_eq(t.data.val.n, 0);
    const size_t param_bytes = t.net.layout.n_total * sizeof(fc_real);
    fc_real *initial = malloc(param_bytes);
    memcpy(initial, t.net.params, param_bytes);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert(!t.finished);
    ck_assert_int_eq(t.step, 3);
    ck_assert_int_eq(t.best_step, 0);
    ck_assert_msg(memcmp(t.best_params, initial, param_bytes) == 0 && memcmp(t.net.params, initial, param_bytes) != 0,
                  "no validation split, stopped before the end: the best parameters are not the initial ones");
    free(initial);
    fc_train_free(&t);

    ck_assert_int_eq(fc_train_setup(&t, &cfg, &dist), FC_OK);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert(t.finished);
    ck_assert_int_eq(t.best_step, t.step);
    ck_assert_msg(memcmp(t.best_params, t.net.params, t.net.layout.n_total * sizeof(fc_real)) == 0,
                  "no validation split: the best parameters are not the final ones");
    ck_assert(t.net.bn_layout.n_total > 0);
    ck_assert_msg(memcmp(t.best_bn, t.net.bn_stats, t.net.bn_layout.n_total * sizeof(fc_real)) == 0,
                  "no validation split: the best running statistics are not the final ones");
    fc_train_free(&t);
    /* Its checkpoint, best step = step, is one training leaves: a resume takes it. */
    fc_config again = cfg;
    const int len = snprintf(again.resume, sizeof again.resume, "%s/checkpoint.h5", cfg.out);
    ck_assert(len < (int)sizeof again.resume);
    ck_assert_msg(fc_train_setup(&t, &again, &dist) == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(t.best_step, t.step);
    fc_train_free(&t);

    fc_config tie = cfg;
    tie.norm = FC_NORM_NONE; /* nothing but the optimizer changes the model */
    tie.optim = fc_optim_defaults(FC_OPTIM_SGD);
    tie.optim.lr = 0;
    tie.val_size = 0.2;
    set_out_beside_data(&tie, "best_tie");
    ck_assert_int_eq(fc_train_setup(&t, &tie, &dist), FC_OK);
    ck_assert(t.data.val.n > 0);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert_int_eq(t.hist.n_checks, 3);
    for (int i = 1; i < 3; i++) ck_assert(t.hist.val_acc[i] == t.hist.val_acc[0]);
    ck_assert(t.best_val_acc == t.hist.val_acc[0]);
    ck_assert_int_eq(t.best_step, 0);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* The learning rate decays at the end of every epoch, the last one included (as cs231n's Solver does):
 * the history records lr0 * decay^e at the check after epoch e, and the final state holds lr0 * decay^epochs. */
START_TEST(test_lr_decays_every_epoch)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD_MOMENTUM);
    cfg.epochs = 2;
    cfg.optim.lr_decay = 0.5;
    set_out_beside_data(&cfg, "lr_decay");
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert_int_eq(t.epoch, 2);
    ck_assert_int_eq(t.hist.n_checks, 3);
    for (int e = 0; e < 3; e++)
        ck_assert_msg(t.hist.lr[e] == cfg.optim.lr * pow(0.5, e), "check %d: lr %g, want %g", e, t.hist.lr[e],
                      cfg.optim.lr * pow(0.5, e));
    ck_assert_msg(t.opt.lr == cfg.optim.lr * 0.25, "final lr %g, want %g", t.opt.lr, cfg.optim.lr * 0.25);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* --max-steps ending exactly on an epoch's last step still closes the epoch before it stops (epoch count,
 * accuracy check, lr decay, next order): the checkpoint then holds a position a resume can step from, not
 * epoch_step == steps_per_epoch; and the resumed run continues at the next epoch. */
START_TEST(test_max_steps_at_epoch_end)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD);
    cfg.epochs = 2;
    cfg.optim.lr_decay = 0.5;
    cfg.max_steps = 10; /* 300 rows in batches of 30: one epoch */
    set_out_beside_data(&cfg, "max_steps_epoch");
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    ck_assert_int_eq(t.steps_per_epoch, 10);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert(!t.finished);
    ck_assert_int_eq(t.step, t.steps_per_epoch);
    ck_assert_int_eq(t.epoch, 1);
    ck_assert_int_eq(t.epoch_step, 0);
    ck_assert_int_eq(t.hist.n_checks, 2);
    ck_assert(t.opt.lr == cfg.optim.lr * 0.5);
    fc_train_free(&t);

    fc_config more = cfg;
    more.max_steps = 0;
    const int len = snprintf(more.resume, sizeof more.resume, "%s/checkpoint.h5", cfg.out);
    ck_assert(len < (int)sizeof more.resume);
    ck_assert_int_eq(fc_train_setup(&t, &more, &dist), FC_OK);
    ck_assert_int_eq(t.epoch, 1);
    ck_assert_int_eq(t.epoch_step, 0);
    ck_assert_int_eq(fc_train_run(&t), FC_OK);
    ck_assert(t.finished);
    ck_assert_int_eq(t.hist.n_checks, 3);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* An accuracy over fewer rows than ranks: the ranks without rows must still take part in the sum (a rank
 * that returned early would leave the others waiting, or hand them another gather's numbers). Two rows the
 * model gets right, so the answer is 1 on every rank. alarm: a rank left waiting fails the test instead of
 * hanging it. */
START_TEST(test_accuracy_fewer_rows_than_ranks)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_ADAM);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    const int64_t d = t.data.train.d;
    int64_t rows[2];
    int found = 0;
    for (int64_t r = 0; r < t.data.train.n && found < 2; r++) {
        const fc_real *scores = fc_net_forward(&t.net, t.data.train.x + r * d, 1, FC_MODE_TEST, NULL);
        int best = 0;
        for (int c = 1; c < t.data.n_classes; c++)
            if (scores[c] > scores[best]) best = c;
        if (best == t.data.train.y[r]) rows[found++] = r;
    }
    ck_assert_int_eq(found, 2);
    alarm(60);
    const double one = fc_train_accuracy(&t, &t.data.train, rows, 1, NULL);
    const double two = fc_train_accuracy(&t, &t.data.train, rows, 2, NULL);
    double both[2] = {one, two};
    fc_dist_sum_doubles(&dist, both, 2); /* one more gather behind them, as the trainer's next step would be */
    alarm(0);
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ck_assert_msg(one == 1 && two == 1, "accuracy over 1 and 2 correct rows: %g and %g", one, two);
    ck_assert(both[0] == size && both[1] == size);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* Rows with a NaN score have no class: the accuracy counts them as wrong and hands every rank their number over
 * all ranks' rows (the training accuracy's warning reports it). A NaN in b3's first element makes class 0's
 * score NaN in every row. */
START_TEST(test_accuracy_counts_rows_without_class)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD);
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, &cfg, &dist);
    const int b3 = fc_layout_find(&t.net.layout, "b3");
    ck_assert_int_ge(b3, 0);
    if (!t.net.arenas_borrowed || dist.rank == 0) /* the node's one shared array: rank 0 writes it */
        t.net.params[t.net.layout.views[b3].offset] = (fc_real)NAN;
    MPI_Barrier(MPI_COMM_WORLD);
    double no_class = -1;
    const double acc = fc_train_accuracy(&t, &t.data.train, NULL, t.data.train.n, &no_class);
    ck_assert_msg(acc == 0 && no_class == (double)t.data.train.n, "accuracy %g, %g of %lld rows without a class",
                  acc, no_class, (long long)t.data.train.n);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* fc_train_setup with this rank's stderr in a temporary file, whose text it leaves in err. */
static fc_status setup_capturing_stderr(fc_trainer *t, const fc_config *cfg, fc_dist *dist, char *err, size_t size)
{
    fct_stderr c;
    fct_stderr_begin(&c);
    const fc_status st = fc_train_setup(t, cfg, dist);
    fct_stderr_end(&c, err, size);
    return st;
}

/* Batchnorm over 1-row batches (300 training rows): every batch of 1 row (--batch-size 1) is refused on every
 * rank with one line from rank 0; only the last batch of each epoch (300 = 1 x 299 + 1) trains, with one warning
 * from rank 0; 300 = 10 x 30 trains silently. */
START_TEST(test_batchnorm_one_row_batches)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, FC_NORM_BATCH, 1.0, FC_OPTIM_SGD);
    fc_dist dist;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_trainer t;
    char err[4096];
    const char *const last_one =
        "warning: --batch-size 299: the last batch of every epoch is 1 row (300 training rows = 1 x 299 + 1), which "
        "--norm batchnorm normalises to 0: that step passes no gradient through its layers";
    cfg.batch_size = 299;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_OK);
    if (dist.rank == 0)
        ck_assert_msg(strstr(err, last_one) && strchr(err, '\n') == err + strlen(err) - 1, "rank 0: '%s'", err);
    else
        ck_assert_msg(err[0] == '\0', "rank %d: '%s'", dist.rank, err);
    fc_train_free(&t);

    cfg.batch_size = 30;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_OK);
    ck_assert_msg(err[0] == '\0', "rank %d: '%s'", dist.rank, err);
    fc_train_free(&t);

    cfg.batch_size = 1;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_ERR_INPUT);
    const char *const every_one = "--batch-size 1 with 300 training rows: every batch is 1 row, which --norm "
                                  "batchnorm normalises to 0";
    ck_assert_msg(strstr(fc_error_message(), every_one), "%s", fc_error_message());
    if (dist.rank == 0) ck_assert_msg(strstr(err, every_one) && strstr(err, "error: "), "rank 0: '%s'", err);
    else ck_assert_msg(err[0] == '\0', "rank %d: '%s'", dist.rank, err);
    fc_train_free(&t);

    /* A training split of 1 row makes every batch 1 row whatever --batch-size (not a last-batch warning). */
    char one_row[512];
    fct_make_dataset(one_row, sizeof one_row, MPI_COMM_WORLD, 1, 0, 12, 4, 6);
    snprintf(cfg.data, sizeof cfg.data, "%s", one_row);
    cfg.batch_size = 30;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "--batch-size 30 with 1 training row: every batch is 1 row"), "%s",
                  fc_error_message());
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* --val-size given for a file with its own /val is not used: rank 0 says so once (also for 0, which would
 * otherwise be taken for "no validation"); not given, or on a file without /val, nothing is said. */
START_TEST(test_val_size_with_own_val)
{
    char with_val[512];
    fct_make_dataset(with_val, sizeof with_val, MPI_COMM_WORLD, 90, 20, 12, 4, 5);
    fc_config cfg;
    fct_small_config(&cfg, with_val, FC_NORM_NONE, 1.0, FC_OPTIM_SGD);
    fc_dist dist;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_trainer t;
    char err[4096];
    char want[1024];
    /* a row count as given, not "1e+06" */
    cfg.val_size = 1000000;
    cfg.opt_set[FC_OPT_VAL_SIZE] = 1;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_OK);
    snprintf(want, sizeof want, "warning: --val-size 1000000: not used: %s has its own /val", with_val);
    ck_assert_msg(dist.rank != 0 || strstr(err, want), "rank 0: '%s'", err);
    fc_train_free(&t);

    cfg.val_size = 0;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_OK);
    ck_assert_int_eq(t.data.val.n, 20);
    snprintf(want, sizeof want, "warning: --val-size 0: not used: %s has its own /val (20 rows), which is the "
             "validation split; --val-size holds rows out of /train only in a file without /val\n", with_val);
    if (dist.rank == 0)
        ck_assert_msg(strstr(err, want) && strchr(err, '\n') == err + strlen(err) - 1, "rank 0: '%s'", err);
    else
        ck_assert_msg(err[0] == '\0', "rank %d: '%s'", dist.rank, err);
    fc_train_free(&t);

    cfg.opt_set[FC_OPT_VAL_SIZE] = 0; /* the default, not asked for */
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_OK);
    ck_assert_msg(err[0] == '\0', "rank %d: '%s'", dist.rank, err);
    fc_train_free(&t);

    fct_small_config(&cfg, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD); /* no /val: --val-size is used */
    cfg.val_size = 0.1;
    cfg.opt_set[FC_OPT_VAL_SIZE] = 1;
    ck_assert_int_eq(setup_capturing_stderr(&t, &cfg, &dist, err, sizeof err), FC_OK);
    ck_assert_int_eq(t.data.val.n, 30);
    ck_assert_msg(err[0] == '\0', "rank %d: '%s'", dist.rank, err);
    free_trainer_and_dist(&t, &dist);
}
END_TEST

/* A fresh run's identity (which --keep-last, --overwrite and a resume's pruning go by) is the same for a rerun
 * of one configuration and changes with every hyperparameter, with the data and with --init-from's parameters;
 * --out, --max-steps and the files' names, which do not change what the run computes, leave it as it is. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert(in && out);
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;) ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

static uint64_t identity_of(const fc_config *cfg)
{
    fc_dist dist;
    fc_trainer t;
    setup_on_world(&t, cfg, &dist);
    const uint64_t id = t.run_id;
    free_trainer_and_dist(&t, &dist);
    return id;
}

START_TEST(test_run_identity)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fc_config base;
    fct_small_config(&base, data_path, FC_NORM_NONE, 1.0, FC_OPTIM_SGD);
    const uint64_t id = identity_of(&base);
    ck_assert(id != 0);
    ck_assert(identity_of(&base) == id);
    fc_config same = base;
    set_out_beside_data(&same, "elsewhere");
    same.max_steps = 7;
    ck_assert_msg(identity_of(&same) == id, "--out and --max-steps changed the run's identity");
    /* each change on its own; values the setup accepts, all other than base's */
    enum { N_CHANGES = 22 };
    for (int k = 0; k < N_CHANGES; k++) {
        fc_config c = base;
        const char *what[N_CHANGES] = {"hidden (count)", "hidden (width)", "norm", "keep", "reg", "weight_scale",
                                       "init", "bn_momentum", "optim", "lr", "lr_decay", "momentum", "decay_rate",
                                       "beta1", "beta2", "eps", "batch_size", "epochs", "seed", "val_size",
                                       "preprocess", "shuffle"};
        switch (k) {
        case 0: c.n_hidden = base.n_hidden + 1, c.hidden[base.n_hidden] = base.hidden[0]; break;
        case 1: c.hidden[0] = base.hidden[0] + 1; break;
        case 2: c.norm = FC_NORM_LAYER; break;
        case 3: c.keep = base.keep / 2; break;
        case 4: c.reg = base.reg + 0.5; break;
        case 5: c.weight_scale = base.weight_scale * 2; break;
        case 6: c.init = FC_INIT_HE; break;
        case 7: c.bn_momentum = base.bn_momentum / 2; break;
        case 8: c.optim.kind = FC_OPTIM_SGD_MOMENTUM; break;
        case 9: c.optim.lr = base.optim.lr * 2; break;
        case 10: c.optim.lr_decay = base.optim.lr_decay / 2; break;
        case 11: c.optim.momentum = base.optim.momentum / 2; break;
        case 12: c.optim.decay_rate = base.optim.decay_rate / 2; break;
        case 13: c.optim.beta1 = base.optim.beta1 / 2; break;
        case 14: c.optim.beta2 = base.optim.beta2 / 2; break;
        case 15: c.optim.eps = base.optim.eps * 2; break;
        case 16: c.batch_size = base.batch_size + 1; break;
        case 17: c.epochs = base.epochs + 1; break;
        case 18: c.seed = base.seed + 1; break;
        case 19: c.val_size = base.val_size > 0 ? 0 : 0.1; break;
        case 20: c.preprocess = base.preprocess == FC_PRE_NONE ? FC_PRE_CENTER : FC_PRE_NONE; break;
        case 21: c.shuffle = !base.shuffle; break;
        }
        ck_assert_msg(memcmp(&c, &base, sizeof c) != 0, "change %d (%s) changed nothing", k, what[k]);
        ck_assert_msg(identity_of(&c) != id, "a run with another %s has the same identity", what[k]);
    }
    /* the data, not its file's name: a byte copy elsewhere keeps the identity; other rows of the same shape, or
     * more rows, change it */
    char copy[600], same_shape[512], other[512];
    snprintf(copy, sizeof copy, "%s.copy.h5", data_path);
    if (rank == 0) copy_file(data_path, copy);
    MPI_Barrier(MPI_COMM_WORLD);
    fct_make_dataset(same_shape, sizeof same_shape, MPI_COMM_WORLD, 300, 0, 12, 4, 7);
    fct_make_dataset(other, sizeof other, MPI_COMM_WORLD, 310, 0, 12, 4, 3);
    fc_config c = base;
    snprintf(c.data, sizeof c.data, "%s", copy);
    ck_assert_msg(identity_of(&c) == id, "a run on a copy of its data has another identity");
    snprintf(c.data, sizeof c.data, "%s", same_shape);
    ck_assert_msg(identity_of(&c) != id, "a run on other rows of the same shape has the same identity");
    snprintf(c.data, sizeof c.data, "%s", other);
    ck_assert_msg(identity_of(&c) != id, "a run on data of another shape has the same identity");
    /* --init-from: the parameters it starts from (two checkpoints of other seeds; one of them under two names) */
    char init_a[600], init_b[600], init_a_copy[600];
    snprintf(init_a, sizeof init_a, "%s.init_a.h5", data_path);
    snprintf(init_b, sizeof init_b, "%s.init_b.h5", data_path);
    snprintf(init_a_copy, sizeof init_a_copy, "%s.init_a_copy.h5", data_path);
    for (int k = 0; k < 2; k++) {
        fc_config seeded = base;
        seeded.seed = base.seed + 10 + (uint64_t)k;
        fc_dist dist;
        fc_trainer t;
        setup_on_world(&t, &seeded, &dist);
        fc_status st = rank == 0 ? fc_ckpt_save(&t, k == 0 ? init_a : init_b) : FC_OK;
        ck_assert_int_eq(fc_dist_agree(&dist, st, 1), FC_OK);
        free_trainer_and_dist(&t, &dist);
    }
    if (rank == 0) copy_file(init_a, init_a_copy);
    MPI_Barrier(MPI_COMM_WORLD);
    fc_config from_a = base, from_b = base, from_a_copy = base;
    snprintf(from_a.init_from, sizeof from_a.init_from, "%s", init_a);
    snprintf(from_b.init_from, sizeof from_b.init_from, "%s", init_b);
    snprintf(from_a_copy.init_from, sizeof from_a_copy.init_from, "%s", init_a_copy);
    const uint64_t id_a = identity_of(&from_a);
    ck_assert_msg(id_a != id, "a run from --init-from has the identity of one from its seed");
    ck_assert_msg(identity_of(&from_b) != id_a, "runs from other --init-from parameters have one identity");
    ck_assert_msg(identity_of(&from_a_copy) == id_a, "a run from a copy of its --init-from file has another identity");
}
END_TEST

/* The first stop signal decides how the run ends, except that a Ctrl-C (SIGINT) always wins. Each sequence in a
 * child of its own: the requested stop is process-wide and cannot be taken back. (test_signals sends such pairs
 * to real runs, where which handler runs first depends on the kernel's timing.) */
static void request_stops(const void *arg)
{
    for (const int *sig = arg; *sig; sig++) fc_train_request_stop(*sig);
    _exit(fc_train_stop_requested());
}

START_TEST(test_stop_signal_precedence)
{
    static const struct {
        int arrived[4]; /* in this order, 0-terminated */
        int decides;
    } cases[] = {
        {{SIGTERM, SIGINT, 0}, SIGINT},  {{SIGINT, SIGTERM, 0}, SIGINT},          {{SIGTERM, SIGPIPE, 0}, SIGTERM},
        {{SIGUSR1, SIGTERM, 0}, SIGUSR1}, {{SIGPIPE, SIGUSR1, SIGINT, 0}, SIGINT}, {{SIGINT, SIGPIPE, 0}, SIGINT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fct_child r = fct_run_child(request_stops, cases[i].arrived);
        ck_assert_msg(r.exited && r.code == cases[i].decides, "case %zu: stop signal %d (want %d)", i, r.code,
                      cases[i].decides);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train");
    TCase *t = tcase_create("train");
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) { /* at one rank "-n N equals -n 1" and "replicas agree" compare a run with itself */
        tcase_add_test(t, test_equivalence_batchnorm);
        tcase_add_test(t, test_equivalence_layernorm);
        tcase_add_test(t, test_equivalence_dropout);
        tcase_add_test(t, test_replicas_bitwise);
    }
    tcase_add_test(t, test_exchange_paths_bitwise);
    tcase_add_test(t, test_gather_area_from_hidden_layers);
    tcase_add_test(t, test_exchange_setting_on_one_rank);
    tcase_add_test(t, test_data_shared_per_node);
    tcase_add_test(t, test_divergence_in_one_chunk_agreed);
    tcase_add_test(t, test_batchnorm_statistics_overflow_agreed);
    tcase_add_test(t, test_time_based_save_agreed);
    tcase_add_test(t, test_resume_optimizer_state_differs);
    tcase_add_test(t, test_final_save_failure_agreed);
    tcase_add_test(t, test_learns);
    tcase_add_test(t, test_no_shuffle_and_init_from);
    tcase_add_test(t, test_train_accuracy_subsample);
    tcase_add_test(t, test_best_copy);
    tcase_add_test(t, test_lr_decays_every_epoch);
    tcase_add_test(t, test_max_steps_at_epoch_end);
    tcase_add_test(t, test_accuracy_fewer_rows_than_ranks);
    tcase_add_test(t, test_accuracy_counts_rows_without_class);
    tcase_add_test(t, test_batchnorm_one_row_batches);
    tcase_add_test(t, test_val_size_with_own_val);
    tcase_add_test(t, test_run_identity);
    tcase_add_test(t, test_stop_signal_precedence);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    fct_make_dataset(data_path, sizeof data_path, MPI_COMM_WORLD, 300, 0, 12, 4, 3);
    fct_make_dataset(big_path, sizeof big_path, MPI_COMM_WORLD, 2500, 0, 12, 4, 4);
    return fct_run(suite(), argc, argv);
}
