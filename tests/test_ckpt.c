/* Checkpoints: bitwise round trip of every field (and the edges of its ranges), the h5py-visible layout,
 * durability (fsync of the file, rename, fsync of the directory, in that order), atomic replacement under a
 * simulated write failure, detection of corrupted and truncated files, readable error messages, import
 * of parameter-only files (--init-from), the --resume hyperparameter check and --keep-last (also where hard
 * links fail and the numbered copy is a copy). */

#define _GNU_SOURCE /* syscall() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fcnet/ckpt.h"
#include "fcnet/ckpt_files.h"
#include "fcnet/config.h"
#include "fcnet/train.h"
#include "testutil.h"

enum { D = 6, C = 4, CAP_LOSS = 50, CAP_CHECKS = 12, N_LOSS = 37, N_CHECKS = 4 };

static char tmp_dir[256];

/* A file name inside this run's scratch directory (a static buffer per slot). */
static const char *scratch(const char *name)
{
    static char bufs[4][512];
    static int next = 0;
    char *b = bufs[next++ % 4];
    if (!tmp_dir[0]) {
        fct_tmp_template(tmp_dir, sizeof tmp_dir, "fcnet_test_ckpt_");
        ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    }
    snprintf(b, 512, "%s/%s", tmp_dir, name);
    return b;
}

static void remove_scratch(void)
{
    if (!tmp_dir[0]) return;
    DIR *d = opendir(tmp_dir);
    if (d) {
        char path[600];
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
            if (unlink(path) != 0) { /* the keep-last test makes one subdirectory */
                DIR *sub = opendir(path);
                if (sub) {
                    char inner[900];
                    for (struct dirent *f; (f = readdir(sub)) != NULL;) {
                        snprintf(inner, sizeof inner, "%s/%s", path, f->d_name);
                        unlink(inner);
                    }
                    closedir(sub);
                }
                rmdir(path);
            }
        }
        closedir(d);
    }
    rmdir(tmp_dir);
}

/* Distinct, reproducible values: a splitmix64 hash of (seed, stream, index) mapped to [-1, 1). */
static double value(uint64_t seed, uint64_t stream, uint64_t i)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xBF58476D1CE4E5B9ull + i + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-52 - 1.0;
}

static void fill_real(fc_real *a, size_t n, uint64_t seed, uint64_t stream)
{
    for (size_t i = 0; i < n; i++) a[i] = (fc_real)value(seed, stream, i);
}

typedef struct fixture {
    fc_config cfg;
    fc_trainer t;
} fixture;

/* A trainer built by hand (no dataset): two hidden layers with batchnorm and adam unless changed by
 * the caller through hidden/norm/kind; everything filled with values derived from seed. */
static void build(fixture *f, int n_hidden, const int *hidden, fc_norm norm, fc_optim_kind kind, int d,
                  int64_t cap_loss, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    fc_config *cfg = &f->cfg;
    fc_config_defaults(cfg);
    cfg->n_hidden = n_hidden;
    for (int l = 0; l < n_hidden; l++) cfg->hidden[l] = hidden[l];
    cfg->norm = norm;
    cfg->keep = 0.75;
    cfg->reg = 2.5e-4;
    cfg->weight_scale = 3e-2;
    cfg->init = FC_INIT_HE;
    cfg->bn_momentum = 0.85;
    cfg->optim = fc_optim_defaults(kind);
    cfg->optim.lr = 3e-3;
    cfg->optim.lr_decay = 0.95;
    cfg->optim.momentum = 0.8;
    cfg->optim.decay_rate = 0.98;
    cfg->optim.beta1 = 0.85;
    cfg->optim.beta2 = 0.995;
    cfg->optim.eps = 1e-7;
    snprintf(cfg->data, sizeof cfg->data, "datasets/some data.h5");
    cfg->batch_size = 32;
    cfg->epochs = 4;
    cfg->seed = 18446744073709551557ull; /* above INT64_MAX: the attribute must be unsigned */
    cfg->val_size = 0.125;
    cfg->preprocess = FC_PRE_STANDARDIZE;
    cfg->shuffle = 0;

    fc_trainer *t = &f->t;
    t->cfg = cfg;
    fc_net_config ncfg = fc_config_net(cfg, d, C);
    ck_assert_int_eq(fc_net_init(&t->net, &ncfg, 4, NULL), FC_OK);
    fc_optim_init(&t->opt, &cfg->optim, t->net.layout.n_total);
    fc_net *net = &t->net;
    /* Views only: the arena padding stays zero, as in the trainer. */
    for (int i = 0; i < net->layout.n_views; i++) {
        const fc_view *v = &net->layout.views[i];
        fill_real(net->params + v->offset, fc_view_size(v), seed, 10 + (uint64_t)i);
        for (int s = 0; s < t->opt.n_slots; s++) {
            fc_real *slot = t->opt.slot[s] + v->offset;
            fill_real(slot, fc_view_size(v), seed, 100 + 10 * (uint64_t)s + (uint64_t)i);
            /* rmsprop's cache and adam's v average squares: a loaded one must not be negative */
            if ((kind == FC_OPTIM_ADAM && s == 1) || kind == FC_OPTIM_RMSPROP)
                for (size_t k = 0; k < fc_view_size(v); k++) slot[k] = (fc_real)fabs((double)slot[k]);
        }
    }
    t->best_params = fc_arena_alloc(&net->layout);
    for (int i = 0; i < net->layout.n_views; i++) {
        const fc_view *v = &net->layout.views[i];
        fill_real(t->best_params + v->offset, fc_view_size(v), seed, 300 + (uint64_t)i);
    }
    if (net->bn_stats) {
        t->best_bn = fc_arena_alloc(&net->bn_layout);
        for (int i = 0; i < net->bn_layout.n_views; i++) {
            const fc_view *v = &net->bn_layout.views[i];
            fill_real(net->bn_stats + v->offset, fc_view_size(v), seed, 400 + (uint64_t)i);
            fill_real(t->best_bn + v->offset, fc_view_size(v), seed, 500 + (uint64_t)i);
            if (strncmp(v->name, "running_var", 11) == 0) /* a loaded variance must not be negative */
                for (size_t k = 0; k < fc_view_size(v); k++) {
                    net->bn_stats[v->offset + k] = (fc_real)fabs((double)net->bn_stats[v->offset + k]);
                    t->best_bn[v->offset + k] = (fc_real)fabs((double)t->best_bn[v->offset + k]);
                }
        }
    }
    t->opt.t = 1234 + (int64_t)(seed % 7);
    t->opt.lr = value(seed, 1, 0) * 1e-3;

    fc_history *h = &t->hist;
    h->cap_loss = cap_loss;
    h->cap_checks = CAP_CHECKS;
    h->loss = fc_alloc((size_t)cap_loss * sizeof(double));
    h->train_acc = fc_alloc(CAP_CHECKS * sizeof(double));
    h->val_acc = fc_alloc(CAP_CHECKS * sizeof(double));
    h->lr = fc_alloc(CAP_CHECKS * sizeof(double));
    h->check_step = fc_alloc(CAP_CHECKS * sizeof(int64_t));
    h->n_loss = N_LOSS < cap_loss ? N_LOSS : cap_loss;
    h->n_checks = N_CHECKS;
    /* Random, but states training can reach (the load refuses others): losses >= 0, accuracies in [0, 1],
     * the configured learning rate decayed once per check after the first, checks at increasing steps already
     * made. */
    for (int64_t i = 0; i < h->n_loss; i++) h->loss[i] = 3 * fabs(value(seed, 2, (uint64_t)i));
    for (int i = 0; i < CAP_CHECKS; i++) { /* the whole room: test_edge_states_load fills it */
        h->train_acc[i] = (1 + value(seed, 3, (uint64_t)i)) / 2;
        h->val_acc[i] = (1 + value(seed, 4, (uint64_t)i)) / 2;
        h->lr[i] = i == 0 ? cfg->optim.lr : h->lr[i - 1] * cfg->optim.lr_decay;
        h->check_step[i] = i + (int64_t)(seed % 5); /* below the step: 31 or more */
    }
    t->best_val_acc = (1 + value(seed, 6, 0)) / 2;
    t->best_step = 77 + (int64_t)(seed % 5);
    t->steps_per_epoch = 9;
    t->epoch = 3 + (int64_t)(seed % 3);
    t->epoch_step = 5;
    t->step = 31 + (int64_t)(seed % 11);
    t->finished = (int)(seed % 2);
    t->world_size_at_save = -1;

    fc_preprocess *pp = &t->pp;
    pp->kind = FC_PRE_STANDARDIZE;
    pp->d = d;
    pp->mean = fc_alloc((size_t)d * sizeof(double));
    pp->std = fc_alloc((size_t)d * sizeof(double));
    for (int j = 0; j < d; j++) {
        pp->mean[j] = value(seed, 7, (uint64_t)j);
        pp->std[j] = 1.5 + value(seed, 8, (uint64_t)j);
    }
}

static const int hidden2[2] = {7, 5};

static void build_default(fixture *f, uint64_t seed)
{
    build(f, 2, hidden2, FC_NORM_BATCH, FC_OPTIM_ADAM, D, CAP_LOSS, seed);
}

static void destroy(fixture *f)
{
    fc_trainer *t = &f->t;
    fc_net_free(&t->net);
    fc_optim_free(&t->opt);
    fc_free(t->best_params);
    fc_free(t->best_bn);
    fc_free(t->hist.loss);
    fc_free(t->hist.train_acc);
    fc_free(t->hist.val_acc);
    fc_free(t->hist.lr);
    fc_free(t->hist.check_step);
    fc_preprocess_free(&t->pp);
}

/* A fixture on the heap (it holds a whole fc_config and trainer), built by build_default. */
static fixture *new_default_fixture(uint64_t seed)
{
    fixture *f = malloc(sizeof *f);
    ck_assert_ptr_nonnull(f);
    build_default(f, seed);
    return f;
}

/* destroy, then free: for every fixture on the heap, however it was built. */
static void free_fixture(fixture *f)
{
    destroy(f);
    free(f);
}

static int same_bits(const void *a, const void *b, size_t n_bytes) { return memcmp(a, b, n_bytes) == 0; }

/* Reads a whole file; *n receives its size. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *n = (size_t)size;
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, n, fp), n);
    fclose(fp);
}

static void expect_error(fc_status st, fc_status want, const char *needle1, const char *needle2)
{
    const char *msg = fc_error_message();
    if (st != want || (needle1 && !strstr(msg, needle1)) || (needle2 && !strstr(msg, needle2)))
        fprintf(stderr, "unexpected status %d or message: %s (wanted '%s' and '%s')\n", (int)st, msg,
                needle1 ? needle1 : "", needle2 ? needle2 : "");
    ck_assert_int_eq(st, want);
    if (needle1) ck_assert_ptr_nonnull(strstr(msg, needle1));
    if (needle2) ck_assert_ptr_nonnull(strstr(msg, needle2));
    ck_assert_ptr_null(strchr(msg, '\n'));
}

START_TEST(test_round_trip)
{
    const char *path = scratch("round_trip.h5");
    fixture *a = new_default_fixture(1), *b = new_default_fixture(2);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    ck_assert_int_eq(fc_ckpt_load(&b->t, path), FC_OK);

    const fc_trainer *x = &a->t, *y = &b->t;
    const size_t np = x->net.layout.n_total * sizeof(fc_real), nb = x->net.bn_layout.n_total * sizeof(fc_real);
    ck_assert(same_bits(x->net.params, y->net.params, np));
    ck_assert(same_bits(x->net.bn_stats, y->net.bn_stats, nb));
    ck_assert_int_eq(y->opt.n_slots, 2);
    ck_assert(same_bits(x->opt.slot[0], y->opt.slot[0], np));
    ck_assert(same_bits(x->opt.slot[1], y->opt.slot[1], np));
    ck_assert_int_eq(x->opt.t, y->opt.t);
    ck_assert(same_bits(&x->opt.lr, &y->opt.lr, sizeof(double)));
    ck_assert_int_eq(y->hist.n_loss, N_LOSS);
    ck_assert_int_eq(y->hist.n_checks, N_CHECKS);
    ck_assert(same_bits(x->hist.loss, y->hist.loss, N_LOSS * sizeof(double)));
    ck_assert(same_bits(x->hist.train_acc, y->hist.train_acc, N_CHECKS * sizeof(double)));
    ck_assert(same_bits(x->hist.val_acc, y->hist.val_acc, N_CHECKS * sizeof(double)));
    ck_assert(same_bits(x->hist.lr, y->hist.lr, N_CHECKS * sizeof(double)));
    ck_assert(same_bits(x->hist.check_step, y->hist.check_step, N_CHECKS * sizeof(int64_t)));
    ck_assert(same_bits(x->best_params, y->best_params, np));
    ck_assert(same_bits(x->best_bn, y->best_bn, nb));
    ck_assert(same_bits(&x->best_val_acc, &y->best_val_acc, sizeof(double)));
    ck_assert_int_eq(x->best_step, y->best_step);
    ck_assert_int_eq(x->epoch, y->epoch);
    ck_assert_int_eq(x->epoch_step, y->epoch_step);
    ck_assert_int_eq(x->step, y->step);
    ck_assert_int_eq(x->finished, y->finished);
    ck_assert_int_eq(y->world_size_at_save, 1);

    /* Preprocessing is loaded separately (before the net exists). */
    fc_preprocess pp;
    memset(&pp, 0, sizeof pp);
    ck_assert_int_eq(fc_ckpt_load_preprocess(&pp, path, D), FC_OK);
    ck_assert_int_eq(pp.kind, FC_PRE_STANDARDIZE);
    ck_assert_int_eq(pp.d, D);
    ck_assert(same_bits(pp.mean, x->pp.mean, D * sizeof(double)));
    ck_assert(same_bits(pp.std, x->pp.std, D * sizeof(double)));
    fc_preprocess_free(&pp);
    expect_error(fc_ckpt_load_preprocess(&pp, path, D + 1), FC_ERR_INPUT, "/preprocess/mean", "(7,) expected");

    /* Hyperparameters come back into a default config; run control stays as it was. */
    fc_config *cfg = malloc(sizeof *cfg);
    fc_config_defaults(cfg);
    snprintf(cfg->out, sizeof cfg->out, "runs/keep-me");
    cfg->max_steps = 99;
    int n_input = 0, n_classes = 0;
    ck_assert_int_eq(fc_ckpt_read_config(path, cfg, &n_input, &n_classes), FC_OK);
    const fc_config *want = &a->cfg;
    ck_assert_int_eq(n_input, D);
    ck_assert_int_eq(n_classes, C);
    ck_assert_int_eq(cfg->n_hidden, 2);
    ck_assert_int_eq(cfg->hidden[0], 7);
    ck_assert_int_eq(cfg->hidden[1], 5);
    ck_assert_int_eq(cfg->norm, want->norm);
    ck_assert(cfg->keep == want->keep && cfg->reg == want->reg && cfg->weight_scale == want->weight_scale);
    ck_assert_int_eq(cfg->init, want->init);
    ck_assert(cfg->bn_momentum == want->bn_momentum);
    ck_assert_int_eq(cfg->optim.kind, want->optim.kind);
    ck_assert(cfg->optim.lr == want->optim.lr && cfg->optim.lr_decay == want->optim.lr_decay);
    ck_assert(cfg->optim.momentum == want->optim.momentum && cfg->optim.decay_rate == want->optim.decay_rate);
    ck_assert(cfg->optim.beta1 == want->optim.beta1 && cfg->optim.beta2 == want->optim.beta2);
    ck_assert(cfg->optim.eps == want->optim.eps);
    ck_assert_str_eq(cfg->data, want->data);
    ck_assert_int_eq(cfg->batch_size, want->batch_size);
    ck_assert_int_eq(cfg->epochs, want->epochs);
    ck_assert(cfg->seed == want->seed);
    ck_assert(cfg->val_size == want->val_size);
    ck_assert_int_eq(cfg->preprocess, want->preprocess);
    ck_assert_int_eq(cfg->shuffle, want->shuffle);
    ck_assert_str_eq(cfg->out, "runs/keep-me");
    ck_assert_int_eq(cfg->max_steps, 99);
    free(cfg);
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0); /* nothing left open */
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* H5Lvisit callback: counts the file's datasets and names the first one that is not chunked with Fletcher32 as
 * its only filter. */
typedef struct checksum_walk {
    int n_datasets;
    char bad[256];
} checksum_walk;

static herr_t each_dataset_checksummed(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    checksum_walk *w = data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) return -1;
    if (H5Iget_type(obj) == H5I_DATASET) {
        w->n_datasets++;
        hid_t dcpl = H5Dget_create_plist(obj);
        unsigned flags, config;
        size_t n_values = 0;
        char fname[64];
        const int ok = H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_nfilters(dcpl) == 1 &&
                       H5Pget_filter2(dcpl, 0, &flags, &n_values, NULL, sizeof fname, fname, &config) ==
                           H5Z_FILTER_FLETCHER32;
        if (!ok && !w->bad[0]) snprintf(w->bad, sizeof w->bad, "/%s", name);
        H5Pclose(dcpl);
    }
    H5Oclose(obj);
    return 0;
}

/* What h5py sees: cs231n shapes, float32 values, 1-D vectors, histories. */
/* The room a run asks for before training (fc_out_dir_check_room) must never exceed what a save really writes
 * (a false "no room" would refuse a run that fits), and must be most of it (or a full disk goes unnoticed).
 * Expected from the arrays' sizes worked out here, and against the file's real size, for each optimizer's
 * slots and both norms. */
START_TEST(test_min_bytes_bounds_the_file)
{
    static const int wide[2] = {300, 100};
    static const fc_optim_kind kinds[4] = {FC_OPTIM_SGD, FC_OPTIM_SGD_MOMENTUM, FC_OPTIM_RMSPROP, FC_OPTIM_ADAM};
    static const int slots[4] = {0, 1, 1, 2};
    const double n_params = D * 300 + 300 + 300 * 100 + 100 + 100 * C + C;
    for (int k = 0; k < 4; k++)
        for (int bn = 0; bn < 2; bn++) {
            const char *path = scratch("min_bytes.h5");
            fixture *a = malloc(sizeof *a);
            build(a, 2, wide, bn ? FC_NORM_BATCH : FC_NORM_NONE, kinds[k], D, CAP_LOSS, 7);
            /* batchnorm: gamma and beta are parameters, running mean and variance are statistics */
            const double params = n_params + (bn ? 2.0 * (300 + 100) : 0), stats = bn ? 2.0 * (300 + 100) : 0;
            /* + the best copy; + 8 KiB of HDF5's own structures */
            const double want = sizeof(fc_real) * ((2 + slots[k]) * params + 2 * stats) + 8192;
            const double got = fc_ckpt_min_bytes(&a->t);
            ck_assert_double_eq(got, want);
            ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
            struct stat sb;
            ck_assert_int_eq(stat(path, &sb), 0);
            if (!(got <= (double)sb.st_size && got >= 0.9 * (double)sb.st_size))
                fprintf(stderr, "%s %s: min bytes %.0f, file %lld\n", fc_optim_name(kinds[k]), bn ? "bn" : "none",
                        got, (long long)sb.st_size);
            ck_assert(got <= (double)sb.st_size);
            ck_assert(got >= 0.9 * (double)sb.st_size);
            free_fixture(a);
        }
}
END_TEST

START_TEST(test_layout)
{
    const char *path = scratch("layout.h5");
    fixture *a = new_default_fixture(3);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    const fc_net *net = &a->t.net;
    double *v = NULL;
    int rank = 0;
    long dims[4];
    ck_assert_int_eq(fct_h5_read(path, "/params/W1", &v, &rank, dims), D * 7);
    ck_assert_int_eq(rank, 2);
    ck_assert_int_eq(dims[0], D);
    ck_assert_int_eq(dims[1], 7);
    const fc_real *w1 = net->params + net->layout.views[net->iw[1]].offset;
    for (int i = 0; i < D * 7; i++) ck_assert(v[i] == (double)w1[i]); /* row-major (fan_in, fan_out) */
    free(v);
    ck_assert_int_eq(fct_h5_read(path, "/params/W3", &v, &rank, dims), 5 * C);
    ck_assert(rank == 2 && dims[0] == 5 && dims[1] == C);
    free(v);
    const char *vectors[] = {"/params/b1", "/params/gamma2", "/params/beta1", "/bn/running_mean1",
                             "/bn/running_var2", "/best/params/b3", "/best/bn/running_var1"};
    const long lengths[] = {7, 5, 7, 7, 5, C, 7};
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(fct_h5_read(path, vectors[i], &v, &rank, dims), lengths[i]);
        ck_assert_int_eq(rank, 1);
        free(v);
    }
    ck_assert_int_eq(fct_h5_read(path, "/optim/W2/m", &v, &rank, dims), 7 * 5);
    ck_assert_int_eq(rank, 2);
    free(v);
    ck_assert_int_eq(fct_h5_read(path, "/optim/b3/v", &v, &rank, dims), C);
    free(v);
    ck_assert_int_eq(fct_h5_read(path, "/history/loss", &v, &rank, dims), N_LOSS);
    ck_assert(v[5] == a->t.hist.loss[5]);
    free(v);
    ck_assert_int_eq(fct_h5_read(path, "/history/check_step", &v, &rank, dims), N_CHECKS);
    free(v);
    ck_assert_int_eq(fct_h5_read(path, "/preprocess/std", &v, &rank, dims), D);
    free(v);
    ck_assert_int_eq(fct_h5_read(path, "/params/gamma3", &v, &rank, dims), -1); /* output layer: no norm */

    /* Every dataset is chunked with Fletcher32; arrays are float32 in the file. All of them, not /params/W2's
     * alone: biases, batchnorm statistics, the optimizer's slots, the histories and /preprocess too (a flipped
     * bit there is as silent). The file is closed before the asserts (a failure must not leave it open). */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(file >= 0);
    checksum_walk walk = {0, ""};
    const herr_t visited = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, each_dataset_checksummed, &walk);
    H5Fclose(file);
    ck_assert(visited >= 0);
    ck_assert_msg(walk.bad[0] == '\0', "%s: not chunked with Fletcher32 as its only filter", walk.bad);
    ck_assert_msg(walk.n_datasets >= 30, "only %d datasets visited", walk.n_datasets);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(file >= 0);
    hid_t d = H5Dopen2(file, "/params/W2", H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    ck_assert_int_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    ck_assert_int_eq(H5Pget_nfilters(dcpl), 1);
    unsigned flags;
    size_t n_values = 0;
    char fname[64];
    unsigned config;
    ck_assert_int_eq(H5Pget_filter2(dcpl, 0, &flags, &n_values, NULL, sizeof fname, fname, &config), H5Z_FILTER_FLETCHER32);
    hid_t type = H5Dget_type(d);
    ck_assert(H5Tequal(type, H5T_IEEE_F32LE) > 0);
    H5Tclose(type);
    H5Pclose(dcpl);
    H5Dclose(d);
    /* The finished flag job scripts read with h5dump. */
    hid_t attr = H5Aopen(file, "finished", H5P_DEFAULT);
    int64_t finished = -1;
    ck_assert(H5Aread(attr, H5T_NATIVE_INT64, &finished) >= 0);
    ck_assert_int_eq(finished, a->t.finished);
    H5Aclose(attr);
    H5Fclose(file);
    free_fixture(a);
}
END_TEST

/* Lists scratch entries whose name contains needle. */
static int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

/* fsync and rename, interposed (the executable's definitions win over libc's) and passed on to the kernel,
 * so that a test can see in which order fc_ckpt_save makes a checkpoint durable. */
enum { MAX_EVENTS = 32 };
typedef struct fs_event {
    char what[8];
    char a[600], b[600]; /* fsync: the file's path (from /proc/self/fd); rename: from, to */
} fs_event;
static int recording, n_events;
static fs_event events[MAX_EVENTS];
static int dir_fsync_errno; /* nonzero: fsync of a directory fails with it */
static int temp_fsync_errno; /* nonzero: fsync of a file whose name holds ".tmp." fails with it */

static fs_event *record(const char *what)
{
    if (!recording || n_events == MAX_EVENTS) return NULL;
    fs_event *e = &events[n_events++];
    memset(e, 0, sizeof *e);
    snprintf(e->what, sizeof e->what, "%s", what);
    return e;
}

int fsync(int fd)
{
    fs_event *e = record("fsync");
    if (e) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        const ssize_t n = readlink(link, e->a, sizeof e->a - 1);
        e->a[n > 0 ? n : 0] = '\0';
    }
    struct stat sb;
    if (dir_fsync_errno && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        errno = dir_fsync_errno;
        return -1;
    }
    char link[64], name[600];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = temp_fsync_errno ? readlink(link, name, sizeof name - 1) : -1;
    name[n > 0 ? n : 0] = '\0';
    if (strstr(name, ".tmp.")) {
        errno = temp_fsync_errno;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

/* Writes, interposed as fsync is (HDF5's sec2 driver calls write and pwrite through the PLT, which resolve to
 * these): while recording, the last one's file and its place among the events, so that a test can see that
 * no byte reaches the temporary after its fsync (an fsync before HDF5's flush and close leaves those out). */
static int n_writes, last_write_at; /* last_write_at: n_events when the last write was made */
static char last_write_path[600];

static void record_write(int fd)
{
    if (!recording) return;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, last_write_path, sizeof last_write_path - 1);
    last_write_path[n > 0 ? n : 0] = '\0';
    n_writes++;
    last_write_at = n_events;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    record_write(fd);
    return (ssize_t)syscall(SYS_write, fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    record_write(fd);
    return (ssize_t)syscall(SYS_pwrite64, fd, buf, count, offset);
}

int rename(const char *from, const char *to)
{
    fs_event *e = record("rename");
    if (e) {
        snprintf(e->a, sizeof e->a, "%s", from);
        snprintf(e->b, sizeof e->b, "%s", to);
    }
    return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

/* The temporary file is on disk before the rename makes it the checkpoint, and the directory (the rename)
 * on disk before the save reports success. */
START_TEST(test_save_is_durable)
{
    const char *path = scratch("durable.h5");
    fixture *a = new_default_fixture(4);
    n_events = 0;
    n_writes = 0;
    recording = 1;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    recording = 0;
    char dir[600], tmp[600] = "";
    ck_assert_ptr_nonnull(realpath(tmp_dir, dir));
    int i_rename = -1, i_sync_tmp = -1, i_sync_dir = -1;
    for (int i = 0; i < n_events; i++)
        if (strcmp(events[i].what, "rename") == 0 && strcmp(events[i].b, path) == 0) {
            i_rename = i;
            ck_assert_ptr_nonnull(realpath(tmp_dir, tmp)); /* the temporary's directory, resolved like /proc's */
            snprintf(tmp + strlen(tmp), sizeof tmp - strlen(tmp), "%s", strrchr(events[i].a, '/'));
        }
    ck_assert_msg(i_rename >= 0, "no rename onto %s among %d calls", path, n_events);
    for (int i = 0; i < n_events; i++) {
        if (strcmp(events[i].what, "fsync") != 0) continue;
        if (strcmp(events[i].a, tmp) == 0 && i < i_rename) i_sync_tmp = i;
        if (strcmp(events[i].a, dir) == 0 && i > i_rename) i_sync_dir = i;
    }
    ck_assert_msg(i_sync_tmp >= 0, "%s not fsynced before its rename", tmp);
    /* ... and fsynced once written: HDF5's last write to it (its flush and close) comes before that fsync. */
    ck_assert_msg(n_writes > 0 && strcmp(last_write_path, tmp) == 0, "%d writes seen, the last to '%s', not %s",
                  n_writes, last_write_path, tmp);
    ck_assert_msg(last_write_at <= i_sync_tmp, "%s written after its fsync (the last write after event %d, the fsync "
                  "is event %d)", tmp, last_write_at, i_sync_tmp);
    ck_assert_msg(i_sync_dir >= 0, "directory %s not fsynced after the rename", dir);
    /* A directory whose sync fails (EIO) fails the save: the rename may not survive a crash. A file system
     * that cannot sync directories at all (EINVAL, or ENOTSUP) does not. */
    dir_fsync_errno = EIO;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_ERR_FAIL);
    ck_assert_msg(strstr(fc_error_message(), "syncing its directory") && strstr(fc_error_message(), strerror(EIO)),
                  "%s", fc_error_message());
    dir_fsync_errno = EINVAL;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    dir_fsync_errno = ENOTSUP;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    dir_fsync_errno = 0;
    free_fixture(a);
}
END_TEST

START_TEST(test_atomic_failure_keeps_previous)
{
    const char *path = scratch("atomic.h5");
    fixture *a = new_default_fixture(4), *b = new_default_fixture(5);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    size_t n_before, n_after;
    unsigned char *before = slurp(path, &n_before);

    setenv("FCNET_FAULT_CKPT", "fail-write", 1);
    fc_status st = fc_ckpt_save(&b->t, path);
    unsetenv("FCNET_FAULT_CKPT");
    expect_error(st, FC_ERR_FAIL, path, "fail-write");
    unsigned char *after = slurp(path, &n_after);
    ck_assert_uint_eq(n_before, n_after);
    ck_assert(memcmp(before, after, n_before) == 0);
    ck_assert_int_eq(count_entries(tmp_dir, ".tmp."), 0);

    /* And the untouched file still loads as A. */
    ck_assert_int_eq(fc_ckpt_load(&b->t, path), FC_OK);
    ck_assert(same_bits(a->t.net.params, b->t.net.params, a->t.net.layout.n_total * sizeof(fc_real)));

    /* A successful save replaces it, again without leftovers. */
    b->t.step = 999;
    ck_assert_int_eq(fc_ckpt_save(&b->t, path), FC_OK);
    ck_assert_int_eq(count_entries(tmp_dir, ".tmp."), 0);
    ck_assert_int_eq(fc_ckpt_load(&a->t, path), FC_OK);
    ck_assert_int_eq(a->t.step, 999);

    /* A directory that does not exist: error, nothing created. */
    expect_error(fc_ckpt_save(&b->t, scratch("no-such-dir/ck.h5")), FC_ERR_FAIL, "no-such-dir/ck.h5", NULL);
    free(before);
    free(after);
    free_fixture(a);
    free_fixture(b);
}
END_TEST

START_TEST(test_corrupt_byte_detected)
{
    const char *path = scratch("corrupt.h5");
    static const int wide[1] = {300};
    fixture *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    build(a, 1, wide, FC_NORM_NONE, FC_OPTIM_SGD, 256, CAP_LOSS, 6);
    build(b, 1, wide, FC_NORM_NONE, FC_OPTIM_SGD, 256, CAP_LOSS, 7);
    /* A W1 whose bytes are easy to find: 1000 + i is exact in float32. */
    fc_net *net = &a->t.net;
    const fc_view *w1 = &net->layout.views[net->iw[1]];
    fc_real *w = net->params + w1->offset;
    for (size_t i = 0; i < fc_view_size(w1); i++) w[i] = (fc_real)(1000 + i);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);

    size_t n;
    unsigned char *bytes = slurp(path, &n);
    float pattern[2] = {1000.0f + 40000.0f, 1000.0f + 40001.0f};
    unsigned char *hit = NULL;
    for (size_t off = 0; off + sizeof pattern <= n && !hit; off++)
        if (memcmp(bytes + off, pattern, sizeof pattern) == 0) hit = bytes + off;
    ck_assert_ptr_nonnull(hit);
    hit[2] ^= 0x10; /* a mantissa bit of W1[40000]: still a finite, plausible value */
    spit(path, bytes, n);
    free(bytes);

    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "/params/W1", "checksum mismatch (file corrupted)");
    ck_assert_ptr_nonnull(strstr(fc_error_message(), path));
    expect_error(fc_ckpt_load_params(&b->t.net, path, 0), FC_ERR_INPUT, "/params/W1", "checksum mismatch");
    /* The best copy is a separate dataset and still intact. */
    ck_assert_int_eq(fc_ckpt_load_params(&b->t.net, path, 1), FC_OK);
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* Stands for whatever HDF5 error handler the caller had: counts the reports that reach it. */
static int caller_handler_calls;
static herr_t caller_handler(hid_t stack, void *data)
{
    (void)stack;
    (void)data;
    caller_handler_calls++;
    return 0;
}

START_TEST(test_truncated_and_foreign_files)
{
    /* Failed reads and saves print nothing through HDF5 and give the caller's handler back afterwards. */
    H5Eset_auto2(H5E_DEFAULT, caller_handler, NULL);
    caller_handler_calls = 0;
    const char *path = scratch("truncated.h5");
    fixture *a = new_default_fixture(8);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(truncate(path, sb.st_size / 2), 0);
    expect_error(fc_ckpt_load(&a->t, path), FC_ERR_INPUT, path, "truncated");
    expect_error(fc_ckpt_read_config(path, &a->cfg, NULL, NULL), FC_ERR_INPUT, path, "truncated");

    const char *text = scratch("not_hdf5.h5");
    spit(text, (const unsigned char *)"hello, world\n", 13);
    expect_error(fc_ckpt_load_params(&a->t.net, text, 0), FC_ERR_INPUT, text, "not an HDF5 file");
    expect_error(fc_ckpt_load(&a->t, scratch("missing.h5")), FC_ERR_INPUT, "missing.h5", "No such file");

    /* A valid HDF5 file that is not a checkpoint. */
    const char *other = scratch("other.h5");
    hid_t f = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_error(fc_ckpt_load(&a->t, other), FC_ERR_INPUT, "/: not an fcnet checkpoint (no attribute 'format')", NULL);
    /* A dataset given as a checkpoint (--resume data.h5): said so. */
    const char *data_like = scratch("data_like.h5");
    f = H5Fcreate(data_like, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(f);
    expect_error(fc_ckpt_load(&a->t, data_like), FC_ERR_INPUT, "not an fcnet checkpoint",
                 "looks like a dataset, which --data takes");
    expect_error(fc_ckpt_load_params(&a->t.net, other, 0), FC_ERR_INPUT, "/params", "missing");
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0); /* failures close what they opened */
    uint64_t run_id;
    ck_assert_int_eq(fc_ckpt_read_run_id(path, &run_id), 0);
    ck_assert_int_ne(fc_ckpt_save(&a->t, scratch("no/such/dir/ckpt.h5")), FC_OK);

    ck_assert_int_eq(caller_handler_calls, 0);
    H5E_auto2_t func = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    ck_assert(func == caller_handler);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    free_fixture(a);
}
END_TEST

/* Rewrites the existing 64-bit integer attribute attr of the root of path. */
static void set_root_attr_i64(const char *path, const char *attr, int64_t v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t a = H5Aopen_by_name(f, "/", attr, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0);
    ck_assert(H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    H5Fclose(f);
}

/* Replaces the root string attribute attr of path by a fixed-length one of width bytes, space-padded (as
 * Fortran and MATLAB writers store strings). */
static void set_root_attr_spacepad(const char *path, const char *attr, const char *v, size_t width)
{
    char buf[64];
    ck_assert(strlen(v) <= width && width < sizeof buf);
    memset(buf, ' ', width);
    memcpy(buf, v, strlen(v));
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert(H5Adelete(f, attr) >= 0);
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
    ck_assert(H5Tset_size(type, width) >= 0 && H5Tset_strpad(type, H5T_STR_SPACEPAD) >= 0);
    hid_t a = H5Acreate2(f, attr, type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0);
    ck_assert(H5Awrite(a, type, buf) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(f);
}

/* Replaces /params/W1 of path by a float32 dataset of shape dims that is never written: chunked (one chunk) or
 * contiguous (its storage is allocated on the first write, so it has none). */
static void unwritten_w1(const char *path, const hsize_t dims[2], int chunked)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert(H5Ldelete(f, "/params/W1", H5P_DEFAULT) >= 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = H5Screate_simple(2, dims, NULL);
    if (chunked) ck_assert(H5Pset_chunk(dcpl, 2, dims) >= 0);
    hid_t d = H5Dcreate2(f, "/params/W1", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Fclose(f);
}

/* A tensor never written reads as the fill value: refused when its storage is contiguous too (test_bad_inputs'
 * w1-unwritten is chunked). One declared with another shape is named by its shape, the more telling reason. */
START_TEST(test_never_written_tensors)
{
    const char *path = scratch("unwritten.h5");
    fixture *a = new_default_fixture(8);
    const fc_view *w1 = &a->t.net.layout.views[a->t.net.iw[1]];
    hsize_t dims[2] = {(hsize_t)w1->rows, (hsize_t)w1->cols};
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    unwritten_w1(path, dims, 0);
    expect_error(fc_ckpt_load(&a->t, path), FC_ERR_INPUT, "/params/W1", "part of its data was never written");
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    dims[1]++;
    unwritten_w1(path, dims, 1);
    expect_error(fc_ckpt_load(&a->t, path), FC_ERR_INPUT, "/params/W1: shape (", "expected");
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    free_fixture(a);
}
END_TEST

/* format_version: versions 1 .. FC_CKPT_FORMAT_VERSION are read; 0 and the next one are refused, as is a
 * format attribute that names another format. */
START_TEST(test_format_version_range)
{
    const char *path = scratch("version.h5");
    fixture *a = new_default_fixture(22);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    set_root_attr_i64(path, "format_version", 1);
    ck_assert_int_eq(fc_ckpt_load(&a->t, path), FC_OK);
    const int64_t bad[] = {0, -1, FC_CKPT_FORMAT_VERSION + 1};
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "version %lld; this program reads versions 1 to", (long long)bad[i]);
        set_root_attr_i64(path, "format_version", bad[i]);
        expect_error(fc_ckpt_load(&a->t, path), FC_ERR_INPUT, "attribute 'format_version' of /", want);
        expect_error(fc_ckpt_read_config(path, &a->cfg, NULL, NULL), FC_ERR_INPUT, path, want);
    }
    /* Another format's name (as long as fcnet's, written over it in place) is refused too, by name. */
    set_root_attr_i64(path, "format_version", 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t fa = H5Aopen_by_name(f, "/", "format", H5P_DEFAULT, H5P_DEFAULT), type = H5Aget_type(fa);
    char other[] = FC_CKPT_FORMAT;
    other[0] = 'X';
    ck_assert(fa >= 0 && H5Tget_size(type) == strlen(other) && H5Awrite(fa, type, other) >= 0);
    H5Tclose(type);
    H5Aclose(fa);
    H5Fclose(f);
    char want[96];
    snprintf(want, sizeof want, "'%s', not an fcnet checkpoint", other);
    expect_error(fc_ckpt_load(&a->t, path), FC_ERR_INPUT, "attribute 'format' of /", want);
    expect_error(fc_ckpt_read_config(path, &a->cfg, NULL, NULL), FC_ERR_INPUT, path, want);
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    free_fixture(a);
}
END_TEST

START_TEST(test_mismatch_messages)
{
    const char *path = scratch("mismatch.h5");
    static const int other_hidden[2] = {7, 6};
    fixture *a = new_default_fixture(9), *b = malloc(sizeof *b);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);

    build(b, 2, other_hidden, FC_NORM_BATCH, FC_OPTIM_ADAM, D, CAP_LOSS, 10);
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "/params/W2: shape (7, 5) in the checkpoint, (7, 6) expected",
                 path);
    destroy(b);

    /* Checkpoint with batchnorm into a net without: beta1 (first by name) is a tensor this model lacks. */
    build(b, 2, hidden2, FC_NORM_NONE, FC_OPTIM_ADAM, D, CAP_LOSS, 10);
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "/params/beta1", "not a tensor of this model");
    destroy(b);

    build(b, 2, hidden2, FC_NORM_BATCH, FC_OPTIM_SGD_MOMENTUM, D, CAP_LOSS, 10);
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "/optim", "optimizer adam in the checkpoint, sgd_momentum expected");
    destroy(b);

    /* The run's history arrays are too short for the checkpoint's. */
    build(b, 2, hidden2, FC_NORM_BATCH, FC_OPTIM_ADAM, D, 10, 10);
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "/history/loss",
                 "37 steps in the checkpoint, room for 10 in this run");
    free_fixture(b);
    free_fixture(a);
}
END_TEST

/* Writes a parameter-only file as numpy/h5py would: float64, contiguous, no attributes. skip names a
 * tensor to leave out, nan_in one to poison, extra adds a tensor the model lacks. */
static void write_params_only(const char *path, const fc_net *net, const double *values, const char *skip,
                              const char *nan_in, const char *extra)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t g = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < net->layout.n_views; i++) {
        const fc_view *v = &net->layout.views[i];
        if (skip && strcmp(v->name, skip) == 0) continue;
        hsize_t dims[2] = {(hsize_t)v->rows, (hsize_t)v->cols};
        int rank = v->decay ? 2 : 1;
        if (rank == 1) dims[0] = (hsize_t)v->cols;
        size_t n = fc_view_size(v);
        double *buf = malloc(n * sizeof *buf);
        memcpy(buf, values + v->offset, n * sizeof *buf);
        if (nan_in && strcmp(v->name, nan_in) == 0) buf[n / 2] = (double)NAN;
        hid_t s = H5Screate_simple(rank, dims, NULL);
        hid_t d = H5Dcreate2(g, v->name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        H5Dclose(d);
        H5Sclose(s);
        free(buf);
    }
    if (extra) {
        hsize_t dim = 3;
        double z[3] = {0, 0, 0};
        hid_t s = H5Screate_simple(1, &dim, NULL);
        hid_t d = H5Dcreate2(g, extra, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
        H5Dclose(d);
        H5Sclose(s);
    }
    H5Gclose(g);
    H5Fclose(f);
}

START_TEST(test_init_from_params_only)
{
    static const int hidden[2] = {9, 8};
    fixture *a = malloc(sizeof *a);
    build(a, 2, hidden, FC_NORM_NONE, FC_OPTIM_SGD, D, CAP_LOSS, 11);
    fc_net *net = &a->t.net;
    double *values = calloc(net->layout.n_total, sizeof *values);
    for (size_t i = 0; i < net->layout.n_total; i++) values[i] = value(12, 0, i);
    const char *path = scratch("params_only.h5");
    write_params_only(path, net, values, NULL, NULL, NULL);
    ck_assert_int_eq(fc_ckpt_load_params(net, path, 0), FC_OK);
    for (int i = 0; i < net->layout.n_views; i++) {
        const fc_view *v = &net->layout.views[i];
        for (size_t k = 0; k < fc_view_size(v); k++)
            ck_assert(net->params[v->offset + k] == (fc_real)values[v->offset + k]);
    }
    expect_error(fc_ckpt_load_params(net, path, 1), FC_ERR_INPUT, "/best/params", "missing in the file");

    write_params_only(path, net, values, "b3", NULL, NULL);
    expect_error(fc_ckpt_load_params(net, path, 0), FC_ERR_INPUT, "/params/b3", "missing in the file");
    write_params_only(path, net, values, NULL, "W2", NULL);
    expect_error(fc_ckpt_load_params(net, path, 0), FC_ERR_INPUT, "/params/W2", "non-finite");
    write_params_only(path, net, values, NULL, NULL, "W4");
    expect_error(fc_ckpt_load_params(net, path, 0), FC_ERR_INPUT, "/params/W4", "not a tensor of this model");

    /* The same file into a wider net: both shapes named. */
    static const int wider[2] = {9, 10};
    fixture *b = malloc(sizeof *b);
    build(b, 2, wider, FC_NORM_NONE, FC_OPTIM_SGD, D, CAP_LOSS, 13);
    write_params_only(path, net, values, NULL, NULL, NULL);
    expect_error(fc_ckpt_load_params(&b->t.net, path, 0), FC_ERR_INPUT,
                 "/params/W2: shape (9, 8) in the file, (9, 10) expected", NULL);
    destroy(b);

    /* A batchnorm net accepts a file without /bn (running statistics keep their values) ... */
    build(b, 2, hidden, FC_NORM_BATCH, FC_OPTIM_SGD, D, CAP_LOSS, 14);
    size_t nb = b->t.net.bn_layout.n_total * sizeof(fc_real);
    fc_real *bn_before = malloc(nb);
    memcpy(bn_before, b->t.net.bn_stats, nb);
    double *bvalues = calloc(b->t.net.layout.n_total, sizeof *bvalues);
    for (size_t i = 0; i < b->t.net.layout.n_total; i++) bvalues[i] = value(15, 0, i);
    write_params_only(path, &b->t.net, bvalues, NULL, NULL, NULL);
    ck_assert_int_eq(fc_ckpt_load_params(&b->t.net, path, 0), FC_OK);
    ck_assert(same_bits(bn_before, b->t.net.bn_stats, nb));
    /* ... also one whose root attribute norm is not a string (h5py's writer may use the name for anything) */
    hid_t pf = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), ps = H5Screate(H5S_SCALAR);
    const int64_t one = 1;
    hid_t pa = H5Acreate2(pf, "norm", H5T_STD_I64LE, ps, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(pf >= 0 && pa >= 0 && H5Awrite(pa, H5T_NATIVE_INT64, &one) >= 0);
    H5Aclose(pa);
    H5Sclose(ps);
    H5Fclose(pf);
    ck_assert_int_eq(fc_ckpt_load_params(&b->t.net, path, 0), FC_OK);
    ck_assert(same_bits(bn_before, b->t.net.bn_stats, nb));
    /* ... and a checkpoint whose root says another norm (layernorm: gamma and beta, no /bn): only one of a
     * batchnorm run must hold /bn. */
    const char *ln = scratch("ln_source.h5");
    fixture *l = malloc(sizeof *l);
    build(l, 2, hidden, FC_NORM_LAYER, FC_OPTIM_ADAM, D, CAP_LOSS, 17);
    ck_assert_int_eq(fc_ckpt_save(&l->t, ln), FC_OK);
    ck_assert_int_eq(fc_ckpt_load_params(&b->t.net, ln, 0), FC_OK);
    ck_assert(same_bits(bn_before, b->t.net.bn_stats, nb));
    free_fixture(l);
    /* ... and takes /bn from a checkpoint that has it, and /best with best = 1. */
    const char *ck = scratch("bn_source.h5");
    fixture *c = malloc(sizeof *c);
    build(c, 2, hidden, FC_NORM_BATCH, FC_OPTIM_ADAM, D, CAP_LOSS, 16);
    ck_assert_int_eq(fc_ckpt_save(&c->t, ck), FC_OK);
    ck_assert_int_eq(fc_ckpt_load_params(&b->t.net, ck, 0), FC_OK);
    ck_assert(same_bits(c->t.net.bn_stats, b->t.net.bn_stats, nb));
    ck_assert(same_bits(c->t.net.params, b->t.net.params, b->t.net.layout.n_total * sizeof(fc_real)));
    ck_assert_int_eq(fc_ckpt_load_params(&b->t.net, ck, 1), FC_OK);
    ck_assert(same_bits(c->t.best_bn, b->t.net.bn_stats, nb));
    ck_assert(same_bits(c->t.best_params, b->t.net.params, b->t.net.layout.n_total * sizeof(fc_real)));
    free_fixture(c);
    free_fixture(b);
    free_fixture(a);
    free(bn_before);
    free(bvalues);
    free(values);
}
END_TEST

START_TEST(test_check_resume)
{
    const char *path = scratch("resume.h5");
    fixture *a = new_default_fixture(17);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    fc_config *given = malloc(sizeof *given);
    fc_config_defaults(given);
    given->optim.lr = 0.01;
    given->epochs = 40;
    snprintf(given->data, sizeof given->data, "/elsewhere/data.h5");
    /* Nothing given explicitly: nothing to disagree with. */
    ck_assert_int_eq(fc_ckpt_check_resume(path, given), FC_OK);
    /* Run control and --data may differ. */
    given->opt_set[FC_OPT_EPOCHS] = 1;
    given->opt_set[FC_OPT_DATA] = 1;
    ck_assert_int_eq(fc_ckpt_check_resume(path, given), FC_OK);
    given->opt_set[FC_OPT_LR] = 1;
    char msg[512];
    snprintf(msg, sizeof msg, "--lr: 0.01 given but the checkpoint %s has 0.003", path);
    expect_error(fc_ckpt_check_resume(path, given), FC_ERR_INPUT, msg, NULL);
    given->optim.lr = 3e-3; /* equal: fine */
    ck_assert_int_eq(fc_ckpt_check_resume(path, given), FC_OK);
    given->n_hidden = 1;
    given->hidden[0] = 7;
    given->opt_set[FC_OPT_HIDDEN] = 1;
    expect_error(fc_ckpt_check_resume(path, given), FC_ERR_INPUT, "--hidden: 7 given", "has 7,5");
    given->n_hidden = 2;
    given->hidden[1] = 5;
    given->shuffle = 1;
    given->opt_set[FC_OPT_NO_SHUFFLE] = 1;
    expect_error(fc_ckpt_check_resume(path, given), FC_ERR_INPUT, "--no-shuffle: false given", "has true");
    given->shuffle = 0;
    given->seed = a->cfg.seed;
    given->opt_set[FC_OPT_SEED] = 1;
    given->norm = FC_NORM_BATCH;
    given->opt_set[FC_OPT_NORM] = 1;
    ck_assert_int_eq(fc_ckpt_check_resume(path, given), FC_OK);
    /* A writer's space padding is not part of a name: 'adam      ' is adam. */
    const char *padded = scratch("resume-padded.h5");
    ck_assert_int_eq(fc_ckpt_save(&a->t, padded), FC_OK);
    set_root_attr_spacepad(padded, "optimizer", "adam", 10);
    set_root_attr_spacepad(padded, "norm", "batchnorm", 16);
    given->optim.kind = FC_OPTIM_SGD;
    given->norm = FC_NORM_NONE;
    const fc_status padded_st = fc_ckpt_read_config(padded, given, NULL, NULL);
    ck_assert_msg(padded_st == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(given->optim.kind, FC_OPTIM_ADAM);
    ck_assert_int_eq(given->norm, FC_NORM_BATCH);
    /* As many hidden layers as --hidden takes (FC_MAX_HIDDEN) are read back. */
    const char *deep_path = scratch("resume-deep.h5");
    ck_assert_int_eq(fc_ckpt_save(&a->t, deep_path), FC_OK);
    set_root_attr_i64(deep_path, "n_hidden", FC_MAX_HIDDEN);
    int widths[FC_MAX_HIDDEN];
    for (int i = 0; i < FC_MAX_HIDDEN; i++) widths[i] = 3;
    hid_t f = H5Fopen(deep_path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0 && H5Adelete(f, "hidden") >= 0);
    const hsize_t n_widths = FC_MAX_HIDDEN;
    hid_t space = H5Screate_simple(1, &n_widths, NULL);
    hid_t attr = H5Acreate2(f, "hidden", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(attr >= 0 && H5Awrite(attr, H5T_NATIVE_INT, widths) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Fclose(f);
    fc_config *deep = malloc(sizeof *deep);
    *deep = *given;
    const fc_status deep_st = fc_ckpt_read_config(deep_path, deep, NULL, NULL);
    ck_assert_msg(deep_st == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(deep->n_hidden, FC_MAX_HIDDEN);
    ck_assert_int_eq(deep->hidden[FC_MAX_HIDDEN - 1], 3);
    free(deep);
    /* Every option given, all equal to the checkpoint's values: no complaint. read_config keeps the
     * explicitly given epochs and data and takes the rest from the checkpoint. */
    for (int o = 0; o < FC_OPT_COUNT; o++) given->opt_set[o] = 1;
    ck_assert_int_eq(fc_ckpt_read_config(path, given, NULL, NULL), FC_OK);
    ck_assert_int_eq(given->epochs, 40);
    ck_assert_str_eq(given->data, "/elsewhere/data.h5");
    ck_assert(given->optim.beta2 == a->cfg.optim.beta2);
    ck_assert_int_eq(fc_ckpt_check_resume(path, given), FC_OK);
    given->optim.beta2 = 0.999;
    expect_error(fc_ckpt_check_resume(path, given), FC_ERR_INPUT, "--beta2: 0.999 given", "has 0.995");
    given->optim.beta2 = a->cfg.optim.beta2;
    ck_assert_int_eq(fc_ckpt_check_resume(path, given), FC_OK);
    /* Each option that defines the model, the optimizer or the data order, changed alone, is refused by
     * name: read_config would otherwise replace the given value with the checkpoint's without a word. */
    fc_config *changed = malloc(sizeof *changed);
    for (int k = 0; k < 17; k++) {
        *changed = *given;
        fc_config *c = changed;
        const char *need = NULL;
        switch (k) {
        case 0: c->keep = 0.5, need = "--keep: 0.5 given"; break;
        case 1: c->reg = 0.125, need = "--reg: 0.125 given"; break;
        case 2: c->weight_scale = 0.5, need = "--weight-scale: 0.5 given"; break;
        case 3: c->init = FC_INIT_NORMAL, need = "--init: normal given"; break;
        case 4: c->bn_momentum = 0.5, need = "--bn-momentum: 0.5 given"; break;
        case 5: c->optim.kind = FC_OPTIM_RMSPROP, need = "--optim: rmsprop given"; break;
        case 6: c->optim.lr_decay = 0.5, need = "--lr-decay: 0.5 given"; break;
        case 7: c->optim.momentum = 0.5, need = "--momentum: 0.5 given"; break;
        case 8: c->optim.decay_rate = 0.5, need = "--decay-rate: 0.5 given"; break;
        case 9: c->optim.beta1 = 0.5, need = "--beta1: 0.5 given"; break;
        case 10: c->optim.eps = 0.5, need = "--eps: 0.5 given"; break;
        case 11: c->batch_size = 33, need = "--batch-size: 33 given"; break;
        case 12: c->seed = 5, need = "--seed: 5 given"; break;
        case 13: c->val_size = 0.5, need = "--val-size: 0.5 given"; break;
        case 14: c->preprocess = FC_PRE_CENTER, need = "--preprocess: center given"; break;
        case 15: c->norm = FC_NORM_LAYER, need = "--norm: layernorm given"; break;
        case 16: c->hidden[1] = 6, need = "--hidden: 7,6 given"; break;
        }
        expect_error(fc_ckpt_check_resume(path, changed), FC_ERR_INPUT, need, "only run-control options");
    }
    free(changed);
    free(given);
    free_fixture(a);
}
END_TEST

/* --lr-decay D in a fixture's configuration (and its optimizer's copy), its lr history recomputed as training
 * makes it. */
static void set_lr_decay(fixture *f, double decay)
{
    f->cfg.optim.lr_decay = decay;
    f->t.opt.cfg.lr_decay = decay;
    for (int64_t i = 1; i < f->t.hist.cap_checks; i++) f->t.hist.lr[i] = f->t.hist.lr[i - 1] * decay;
}

/* States at the edges of what training writes load: an accuracy of exactly 1 (a small problem learned), a best
 * accuracy of 1, a learning rate decayed to 0 (3e-3 decayed by 1e-30, above the smallest normal float, at 11
 * epoch ends underflows), a running variance of 0 (a unit whose input is constant), histories as long as the run's
 * room for them; and
 * --best takes the copy of an unfinished run whose best accuracy is 0 (it has a validation split, nothing right
 * yet), refused only at -1 (no split). Each was refused by a '<' for a '<=' that no other case reached. */
START_TEST(test_edge_states_load)
{
    const char *path = scratch("edges.h5");
    fixture *a = new_default_fixture(6), *b = new_default_fixture(7);
    fc_trainer *t = &a->t;
    t->hist.n_checks = CAP_CHECKS;
    set_lr_decay(a, 1e-30);
    set_lr_decay(b, 1e-30);
    t->hist.train_acc[0] = 1;
    t->hist.val_acc[1] = 1;
    ck_assert(t->hist.lr[10] > 0 && t->hist.lr[11] == 0);
    t->best_val_acc = 1;
    const int var = fc_layout_find(&t->net.bn_layout, "running_var1");
    ck_assert_int_ge(var, 0);
    const size_t at = t->net.bn_layout.views[var].offset + 1;
    t->net.bn_stats[at] = 0;
    ck_assert_int_eq(fc_ckpt_save(t, path), FC_OK);
    /* Histories that fill the resuming run's room exactly (a run stopped after its last step, resumed with the
     * same --epochs). */
    b->t.hist.cap_loss = t->hist.n_loss;
    b->t.hist.cap_checks = t->hist.n_checks;
    fc_status st = fc_ckpt_load(&b->t, path);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    ck_assert(b->t.hist.n_loss == t->hist.n_loss && b->t.hist.n_checks == t->hist.n_checks);
    b->t.hist.cap_checks = t->hist.n_checks - 1; /* one check more than the room: refused, not read past it */
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "/history/train_acc", "checks in the checkpoint, room for");
    b->t.hist.cap_checks = t->hist.n_checks;
    ck_assert(b->t.hist.train_acc[0] == 1 && b->t.hist.val_acc[1] == 1 && b->t.hist.lr[11] == 0);
    ck_assert(b->t.best_val_acc == 1 && b->t.net.bn_stats[at] == 0);
    t->best_val_acc = 0;
    t->finished = 0;
    ck_assert_int_eq(fc_ckpt_save(t, path), FC_OK);
    st = fc_ckpt_load_params(&b->t.net, path, 1);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* Saves a's state, whose one history or best accuracy the caller changed, and expects b's load to refuse it
 * naming object and reason; then restores a from a fresh fixture's values. */
static void expect_state_refused(fixture *a, fixture *b, const char *path, const char *object, const char *reason)
{
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, object, reason);
    fixture *fresh = new_default_fixture(12);
    fc_history *h = &a->t.hist;
    const fc_history *g = &fresh->t.hist;
    memcpy(h->loss, g->loss, (size_t)h->n_loss * sizeof(double));
    memcpy(h->train_acc, g->train_acc, (size_t)h->n_checks * sizeof(double));
    memcpy(h->val_acc, g->val_acc, (size_t)h->n_checks * sizeof(double));
    memcpy(h->lr, g->lr, (size_t)h->n_checks * sizeof(double));
    memcpy(h->check_step, g->check_step, (size_t)h->n_checks * sizeof(int64_t));
    a->t.best_val_acc = fresh->t.best_val_acc;
    free_fixture(fresh);
}

/* Histories no run writes are refused on --resume, each with one line naming the array, the element and the rule:
 * a check at a repeated or earlier step (checks are made at step 0 and at each epoch's end; the first two
 * compared too); a learning rate other
 * than the configured one decayed at each epoch's end (0 before it underflows, negative, NaN, 1e300, or one bit
 * off); a NaN validation accuracy beside accuracies (a run validates at every check or at none); a NaN loss or
 * train accuracy; a NaN best accuracy. A run without validation (NaN at every check, best accuracy -1) whose last
 * check is at the step made loads. */
START_TEST(test_impossible_histories_refused)
{
    const char *path = scratch("histories.h5");
    fixture *a = new_default_fixture(12), *b = new_default_fixture(13);
    fc_history *h = &a->t.hist;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    fc_status st = fc_ckpt_load(&b->t, path);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());

    h->check_step[1] = h->check_step[0]; /* the first pair too: element 1 is compared with element 0 */
    expect_state_refused(a, b, path, "/history/check_step", "at element 1 after");
    h->check_step[2] = h->check_step[1];
    expect_state_refused(a, b, path, "/history/check_step", "at element 2 after");
    h->check_step[3] = h->check_step[1] - 1;
    expect_state_refused(a, b, path, "/history/check_step", "accuracy is checked at increasing steps");
    const double wrong_lr[] = {0, -3e-3, (double)NAN, 1e300, nextafter(h->lr[1], 1)};
    for (size_t k = 0; k < sizeof wrong_lr / sizeof wrong_lr[0]; k++) {
        h->lr[1] = wrong_lr[k];
        expect_state_refused(a, b, path, "/history/lr", "at element 1, but lr 0.003 decayed by 0.95 after each of 1");
    }
    h->lr[0] = 1e-3; /* within the flag's range, but not the run's --lr */
    expect_state_refused(a, b, path, "/history/lr", "at element 0, but lr 0.003");
    h->val_acc[2] = (double)NAN;
    expect_state_refused(a, b, path, "/history/val_acc", "nan at element 2, ");
    h->val_acc[0] = (double)NAN;
    expect_state_refused(a, b, path, "/history/val_acc", "at element 1, nan at element 0: a run validates");
    h->loss[5] = (double)NAN;
    expect_state_refused(a, b, path, "/history/loss", "nan at element 5");
    h->train_acc[3] = (double)NAN;
    expect_state_refused(a, b, path, "/history/train_acc", "nan at element 3");
    a->t.best_val_acc = (double)NAN;
    expect_state_refused(a, b, path, "attribute 'best_val_acc' of /best", "nan: an accuracy in [0, 1]");

    for (int64_t i = 0; i < h->n_checks; i++) h->val_acc[i] = (double)NAN;
    a->t.best_val_acc = -1;
    h->check_step[h->n_checks - 1] = a->t.step; /* the last check at the step made (an epoch's end): taken */
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    st = fc_ckpt_load(&b->t, path);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* eval --best holds the best accuracy to what training writes, as --resume does: NaN, 1e300, 1.5 and -0.5 are
 * refused naming the attribute (only a negative one of an unfinished run was looked at, and a finished run's NaN
 * or 1e300 was evaluated as the best copy with exit 0); -1 of a finished run and 0.75 are taken. */
START_TEST(test_eval_best_accuracy_checked)
{
    const char *path = scratch("best_acc.h5");
    fixture *a = new_default_fixture(14), *b = new_default_fixture(15);
    a->t.finished = 1;
    const double wrong[] = {(double)NAN, 1e300, 1.5, -0.5};
    for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
        a->t.best_val_acc = wrong[k];
        ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
        expect_error(fc_ckpt_load_params(&b->t.net, path, 1), FC_ERR_INPUT, "attribute 'best_val_acc' of /best",
                     "an accuracy in [0, 1], or -1 before the first one");
        /* without --best the accuracy is not read */
        const fc_status st = fc_ckpt_load_params(&b->t.net, path, 0);
        ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    }
    const double right[] = {-1, 0.75};
    for (size_t k = 0; k < sizeof right / sizeof right[0]; k++) {
        a->t.best_val_acc = right[k];
        ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
        const fc_status st = fc_ckpt_load_params(&b->t.net, path, 1);
        ck_assert_msg(st == FC_OK, "best_val_acc %g: %s", right[k], fc_error_message());
    }
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* A checkpoint written before run_id existed keeps the identity the resuming run computed: taken as 0, the run's
 * saves would carry run_id 0, which the next resume reads as none, and its --keep-last and --overwrite would then
 * take those numbered copies for another run's. */
START_TEST(test_no_run_id_keeps_computed)
{
    const char *path = scratch("no_run_id.h5");
    fixture *a = new_default_fixture(8), *b = new_default_fixture(9);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert(H5Adelete(f, "run_id") >= 0);
    H5Fclose(f);
    b->t.run_id = 0xc0ffee;
    ck_assert_int_eq(fc_ckpt_load(&b->t, path), FC_OK);
    ck_assert_msg(b->t.run_id == 0xc0ffee, "run_id %llx after loading a checkpoint without one",
                  (unsigned long long)b->t.run_id);
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* Replaces the root attribute attr of path by a scalar of file type ftype holding *v (memory type mtype). */
static void replace_root_attr(const char *path, const char *attr, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0 && H5Adelete(f, attr) >= 0);
    hid_t space = H5Screate(H5S_SCALAR), a = H5Acreate2(f, attr, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0 && H5Awrite(a, mtype, v) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Fclose(f);
}

/* Counts of another writer's types that do not fit fcnet's are refused, not converted: a signed -5 as the
 * unsigned seed (it would become 2^64 - 5), a float 2^63 as the signed step (one past INT64_MAX: converting it
 * is undefined); 2^63 - 1024, the largest double below it, is a count (the file checks read no further). */
START_TEST(test_counts_out_of_range)
{
    const char *path = scratch("counts.h5");
    fixture *a = new_default_fixture(10), *b = new_default_fixture(11);
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    const int64_t minus5 = -5;
    replace_root_attr(path, "seed", H5T_STD_I64LE, H5T_NATIVE_INT64, &minus5);
    expect_error(fc_ckpt_read_config(path, &b->cfg, NULL, NULL), FC_ERR_INPUT, "attribute 'seed' of /",
                 "-5 is negative");
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    const double two63 = 0x1p63, below = 0x1p63 - 1024;
    replace_root_attr(path, "step", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &two63);
    expect_error(fc_ckpt_load(&b->t, path), FC_ERR_INPUT, "attribute 'step' of /", "beyond a 64-bit signed count");
    replace_root_attr(path, "step", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &below);
    const fc_status st = fc_ckpt_load(&b->t, path);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(b->t.step, INT64_MAX - 1023);
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* The names --keep-last, --overwrite and --resume count as numbered copies: checkpoint-step<N>.h5 with N as %lld
 * prints it. Another spelling of a step (a leading zero, a sign, a suffix, a number past int64) is a file of
 * the user's: read as that step, the same copy was listed twice and --keep-last kept one copy fewer. */
START_TEST(test_numbered_names)
{
    ck_assert_int_eq(fc_ckpt_numbered_step("checkpoint-step10.h5"), 10);
    ck_assert_int_eq(fc_ckpt_numbered_step("checkpoint-step0.h5"), 0);
    ck_assert_int_eq(fc_ckpt_numbered_step("checkpoint-step922337203685477579.h5"), 922337203685477579LL);
    const char *not_copies[] = {"checkpoint-step010.h5", "checkpoint-step00.h5", "checkpoint-step.h5",
                                "checkpoint-step-1.h5", "checkpoint-step+1.h5", "checkpoint-step10.h5.bak",
                                "checkpoint-step10.h5x", "checkpoint-step10.h", "checkpoint-step1a.h5",
                                "checkpoint.h5", "checkpoint-step99999999999999999999.h5",
                                "checkpoint-step18446744073709551626.h5"};
    for (size_t i = 0; i < sizeof not_copies / sizeof not_copies[0]; i++)
        ck_assert_msg(fc_ckpt_numbered_step(not_copies[i]) == -1, "%s read as step %lld", not_copies[i],
                      (long long)fc_ckpt_numbered_step(not_copies[i]));
}
END_TEST

/* What a fresh run into --out finds there to refuse (fc_ckpt_find_in_dir): checkpoint.h5, else the latest
 * numbered copy, also when it is the only one (work too: a run killed before it saved checkpoint.h5 again, or
 * checkpoint.h5 deleted by hand) and of step 0, and among more copies than the listing's first allocation holds. */
START_TEST(test_find_in_dir)
{
    char out[600], name[800], found[64] = "";
    snprintf(out, sizeof out, "%s", scratch("find"));
    ck_assert_int_eq(mkdir(out, 0777), 0);
    ck_assert_int_eq(fc_ckpt_find_in_dir(out, found, sizeof found), 0);
    snprintf(name, sizeof name, "%s/checkpoint-step0.h5", out); /* a run stopped before its first step */
    spit(name, (const unsigned char *)"x", 1);
    ck_assert_int_eq(fc_ckpt_find_in_dir(out, found, sizeof found), 1);
    ck_assert_str_eq(found, "checkpoint-step0.h5");
    for (int i = 1; i <= 40; i++) { /* steps 7, 14, ..., 280 in no order the listing keeps */
        snprintf(name, sizeof name, "%s/checkpoint-step%d.h5", out, 7 * (i * 17 % 41));
        spit(name, (const unsigned char *)"x", 1);
    }
    ck_assert_int_eq(fc_ckpt_find_in_dir(out, found, sizeof found), 1);
    ck_assert_str_eq(found, "checkpoint-step280.h5");
    snprintf(name, sizeof name, "%s/checkpoint.h5", out);
    spit(name, (const unsigned char *)"x", 1);
    ck_assert_int_eq(fc_ckpt_find_in_dir(out, found, sizeof found), 1);
    ck_assert_str_eq(found, "checkpoint.h5");
}
END_TEST

/* The stale temporaries a run removes from --out (fc_ckpt_remove_stale_temps): <stem>.tmp.<pid>, the stem one of
 * the names saves write, as a file or a symbolic link (never its target). Look-alikes stay: another stem, no
 * pid, or more after it (a user's "<...>.tmp.4242.bak"), and a directory under the name. */
START_TEST(test_stale_temps)
{
    char out[600], name[800];
    snprintf(out, sizeof out, "%s", scratch("temps"));
    ck_assert_int_eq(mkdir(out, 0777), 0);
    const char *stale[] = {".checkpoint.h5.tmp.4242", "checkpoint-step10.h5.tmp.4243", "checkpoint-step0.h5.tmp.1"};
    const char *kept[] = {".checkpoint.h5.tmp.4242.bak", ".checkpoint.h5.tmp.42x", ".checkpoint.h5.tmp.x12",
                          ".checkpoint.h5.tmp.", "checkpoint.h5.tmp.4242", "checkpoint-step010.h5.tmp.4242",
                          "checkpoint-step10.h5.tmp.4243~", "data.h5.tmp.4242", "notes.tmp.1"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s/%s", out, stale[i]);
        spit(name, (const unsigned char *)"0123456789", 10);
    }
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        snprintf(name, sizeof name, "%s/%s", out, kept[i]);
        spit(name, (const unsigned char *)"x", 1);
    }
    char target[700];
    snprintf(target, sizeof target, "%s/target.h5", out);
    spit(target, (const unsigned char *)"precious", 8);
    snprintf(name, sizeof name, "%s/.checkpoint.h5.tmp.4244", out);
    ck_assert_int_eq(symlink("target.h5", name), 0);
    double bytes = -1;
    ck_assert_int_eq(fc_ckpt_remove_stale_temps(out, &bytes), 4);
    ck_assert(bytes == 30); /* the files' bytes, not the link's */
    struct stat sb;
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s/%s", out, stale[i]);
        ck_assert_msg(lstat(name, &sb) != 0, "%s not removed", stale[i]);
    }
    snprintf(name, sizeof name, "%s/.checkpoint.h5.tmp.4244", out); /* the link (name held the last stale file) */
    ck_assert_msg(lstat(name, &sb) != 0, "the stale link not removed");
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        snprintf(name, sizeof name, "%s/%s", out, kept[i]);
        ck_assert_msg(lstat(name, &sb) == 0, "%s removed", kept[i]);
        unlink(name);
    }
    ck_assert_int_eq(stat(target, &sb), 0);
    ck_assert_int_eq(sb.st_size, 8);
    unlink(target);
}
END_TEST

START_TEST(test_keep_last)
{
    char out[600];
    snprintf(out, sizeof out, "%s", scratch("keep"));
    ck_assert_int_eq(mkdir(out, 0777), 0);
    char path[700];
    snprintf(path, sizeof path, "%s/checkpoint.h5", out);
    fixture *a = new_default_fixture(18), *b = new_default_fixture(19);
    a->t.run_id = 0xa11ce;
    b->t.run_id = 0xb0b;
    /* Files this run did not write, under names it would use: another run's copies (below, at and above
     * this run's steps, one of them step 20, which this run also reaches) and a text file. All must survive. */
    char name[800];
    const int64_t foreign_steps[] = {2, 20, 100};
    b->t.hist.n_checks = 1; /* at step 2, of the first epoch: the one check made at step 0 */
    b->t.hist.check_step[0] = 0;
    for (int i = 0; i < 3; i++) {
        b->t.step = foreign_steps[i];
        snprintf(name, sizeof name, "%s/checkpoint-step%lld.h5", out, (long long)foreign_steps[i]);
        ck_assert_int_eq(fc_ckpt_save(&b->t, name), FC_OK);
    }
    snprintf(name, sizeof name, "%s/checkpoint-step1.h5", out);
    spit(name, (const unsigned char *)"precious", 8);
    for (int64_t step = 10; step <= 40; step += 10) {
        a->t.step = step;
        ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
        ck_assert_int_eq(fc_ckpt_keep_last(out, path, step, 2, a->t.run_id), FC_OK);
    }
    /* A hard link to checkpoint.h5 (no space until the next save replaces it), where the file system has them. */
    struct stat s_ckpt, s_copy;
    snprintf(name, sizeof name, "%s/checkpoint-step40.h5", out);
    ck_assert_int_eq(stat(path, &s_ckpt), 0);
    ck_assert_int_eq(stat(name, &s_copy), 0);
    ck_assert_msg(s_copy.st_ino == s_ckpt.st_ino && s_copy.st_dev == s_ckpt.st_dev, "a copy, not a hard link");
    /* Step 40 saved again (an earlier attempt of this run, stopped after its save, redone): this run's own
     * copy of that step is replaced by the new checkpoint. */
    const fc_real first_weight = a->t.net.params[0];
    a->t.net.params[0] = first_weight + 1;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    ck_assert_int_eq(fc_ckpt_keep_last(out, path, 40, 2, a->t.run_id), FC_OK);
    snprintf(name, sizeof name, "%s/checkpoint-step40.h5", out);
    ck_assert_int_eq(fc_ckpt_load(&b->t, name), FC_OK);
    ck_assert_msg(b->t.net.params[0] == first_weight + 1, "the step-40 copy is the earlier attempt's");
    a->t.net.params[0] = first_weight;
    /* An unrelated file survives. */
    snprintf(name, sizeof name, "%s/checkpoint-step7.h5.bak", out);
    spit(name, (const unsigned char *)"x", 1);
    ck_assert_int_eq(fc_ckpt_keep_last(out, path, 40, 2, a->t.run_id), FC_OK);
    struct stat sb;
    for (int step = 10; step <= 40; step += 10) {
        snprintf(name, sizeof name, "%s/checkpoint-step%d.h5", out, step);
        ck_assert_msg((stat(name, &sb) == 0) == (step >= 20), "step %d", step); /* 20: the other run's */
    }
    for (int i = 0; i < 3; i++) { /* the other run's copies are untouched: still its steps */
        snprintf(name, sizeof name, "%s/checkpoint-step%lld.h5", out, (long long)foreign_steps[i]);
        ck_assert_int_eq(fc_ckpt_load(&b->t, name), FC_OK);
        ck_assert_int_eq(b->t.step, foreign_steps[i]);
        ck_assert(b->t.run_id == 0xb0b);
    }
    snprintf(name, sizeof name, "%s/checkpoint-step1.h5", out);
    ck_assert_int_eq(stat(name, &sb), 0);
    snprintf(name, sizeof name, "%s/checkpoint-step7.h5.bak", out);
    ck_assert_int_eq(stat(name, &sb), 0);
    /* The step-30 copy still holds step 30 after checkpoint.h5 moved on (rename, not overwrite). */
    snprintf(name, sizeof name, "%s/checkpoint-step30.h5", out);
    ck_assert_int_eq(fc_ckpt_load(&b->t, name), FC_OK);
    ck_assert_int_eq(b->t.step, 30);
    ck_assert(b->t.run_id == 0xa11ce); /* a resume inherits the run's identity */
    /* Resumed from the step-30 copy and saving step 35 with --keep-last 1: this run's step-30 copy goes, its
     * step-40 copy, ahead of the current step (the abandoned continuation), stays as it was. */
    a->t.step = 35;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    ck_assert_int_eq(fc_ckpt_keep_last(out, path, 35, 1, a->t.run_id), FC_OK);
    for (int step = 30; step <= 40; step += 5) {
        snprintf(name, sizeof name, "%s/checkpoint-step%d.h5", out, step);
        ck_assert_msg((stat(name, &sb) == 0) == (step >= 35), "after the rewind, step %d", step);
    }
    ck_assert_int_eq(fc_ckpt_load(&b->t, name), FC_OK); /* the step-40 copy */
    ck_assert_int_eq(b->t.step, 40);
    ck_assert_int_eq(fc_ckpt_keep_last(out, path, 50, 0, a->t.run_id), FC_OK); /* off: nothing happens */
    snprintf(name, sizeof name, "%s/checkpoint-step50.h5", out);
    ck_assert(stat(name, &sb) != 0);
    /* That abandoned continuation is what a run going back removes at its first save: this run's copies after
     * step 30 other than its own 35 (here 40, as the run will have saved 35 by then), never another run's (100)
     * or a text file. */
    int64_t last = 0;
    ck_assert_int_eq(fc_ckpt_later_copies(out, a->t.run_id, 30, &last), 2);
    ck_assert_int_eq(last, 40);
    ck_assert_int_eq(fc_ckpt_later_copies(out, a->t.run_id, 40, &last), 0);
    ck_assert_int_eq(last, -1);
    ck_assert_int_eq(fc_ckpt_remove_later_copies(out, a->t.run_id, 35), FC_OK);
    const int64_t all_steps[] = {1, 2, 20, 35, 40, 100};
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s/checkpoint-step%lld.h5", out, (long long)all_steps[i]);
        ck_assert_msg((stat(name, &sb) == 0) == (all_steps[i] != 40), "going back: step %lld",
                      (long long)all_steps[i]);
    }
    /* --overwrite of a run resumed at step 40 removes the other run's copies only: this run's (35) and the
     * text file stay. */
    ck_assert_int_eq(fc_ckpt_remove_other_runs(out, a->t.run_id, 40), FC_OK);
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s/checkpoint-step%lld.h5", out, (long long)all_steps[i]);
        const int kept = all_steps[i] == 1 || all_steps[i] == 35;
        ck_assert_msg((stat(name, &sb) == 0) == kept, "--overwrite: step %lld", (long long)all_steps[i]);
    }
    /* A fresh run with this run_id (the same configuration rerun) replaces them too: only the text file stays. */
    ck_assert_int_eq(fc_ckpt_remove_other_runs(out, a->t.run_id, -1), FC_OK);
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s/checkpoint-step%lld.h5", out, (long long)all_steps[i]);
        ck_assert_msg((stat(name, &sb) == 0) == (all_steps[i] == 1), "--overwrite, fresh: step %lld",
                      (long long)all_steps[i]);
    }
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* link, interposed as fsync is: with link_errno set it fails as on a file system without hard links (EPERM:
 * vfat, many FUSE and SMB mounts), which sends --keep-last to its copy of the checkpoint. */
static int link_errno;

int link(const char *from, const char *to)
{
    if (link_errno) {
        errno = link_errno;
        return -1;
    }
    return linkat(AT_FDCWD, from, AT_FDCWD, to, 0);
}

/* --keep-last where hard links fail: the numbered copy holds checkpoint.h5's bytes in a file of its own,
 * written through a temporary that is fsynced before the rename makes it the copy (a crash leaves no
 * half-written copy under the name), and no temporary is left. The temporary is created anew: a symbolic link
 * planted under its name (the PID is predictable) is neither followed nor a reason to fail. A copy that fails
 * (here its fsync) leaves neither the copy nor its temporary. */
START_TEST(test_keep_last_without_links)
{
    char out[600];
    snprintf(out, sizeof out, "%s", scratch("keepcopy"));
    ck_assert_int_eq(mkdir(out, 0777), 0);
    char path[700], copy[800];
    snprintf(path, sizeof path, "%s/checkpoint.h5", out);
    snprintf(copy, sizeof copy, "%s/checkpoint-step10.h5", out);
    fixture *a = new_default_fixture(20), *b = new_default_fixture(21);
    a->t.step = 10;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    char victim[700], planted[900];
    snprintf(victim, sizeof victim, "%s/victim.txt", out);
    spit(victim, (const unsigned char *)"precious", 8);
    snprintf(planted, sizeof planted, "%s.tmp.%ld", copy, (long)getpid());
    ck_assert_int_eq(symlink("victim.txt", planted), 0);
    link_errno = EPERM;
    n_events = 0;
    recording = 1;
    fc_status st = fc_ckpt_keep_last(out, path, 10, 2, a->t.run_id);
    recording = 0;
    link_errno = 0;
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    struct stat s_ckpt, s_copy;
    ck_assert_int_eq(stat(path, &s_ckpt), 0);
    ck_assert_msg(stat(copy, &s_copy) == 0, "no numbered copy %s", copy);
    ck_assert_msg(s_copy.st_ino != s_ckpt.st_ino, "a link, not a copy");
    size_t n_ckpt, n_copy;
    unsigned char *ckpt = slurp(path, &n_ckpt), *bytes = slurp(copy, &n_copy);
    ck_assert_msg(n_copy == n_ckpt && memcmp(bytes, ckpt, n_ckpt) == 0, "the copy is not checkpoint.h5's bytes");
    free(ckpt);
    free(bytes);
    ck_assert_int_eq(fc_ckpt_load(&b->t, copy), FC_OK);
    ck_assert_int_eq(b->t.step, 10);
    ck_assert_int_eq(count_entries(out, ".tmp."), 0);
    int i_rename = -1, i_sync = -1;
    for (int i = 0; i < n_events; i++) {
        if (strcmp(events[i].what, "rename") == 0 && strcmp(events[i].b, copy) == 0) i_rename = i;
        if (strcmp(events[i].what, "fsync") == 0 && strstr(events[i].a, "/checkpoint-step10.h5.tmp.") && i_sync < 0)
            i_sync = i;
    }
    ck_assert_msg(i_rename >= 0, "no rename onto %s among %d calls", copy, n_events);
    ck_assert_msg(i_sync >= 0 && i_sync < i_rename, "the copy's temporary not fsynced before its rename");
    size_t n_victim;
    unsigned char *kept = slurp(victim, &n_victim);
    ck_assert_msg(n_victim == 8 && memcmp(kept, "precious", 8) == 0, "the planted link's target was written");
    free(kept);
    a->t.step = 20;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    link_errno = EPERM;
    temp_fsync_errno = EIO;
    st = fc_ckpt_keep_last(out, path, 20, 2, a->t.run_id);
    temp_fsync_errno = 0;
    link_errno = 0;
    expect_error(st, FC_ERR_FAIL, "--keep-last: cannot copy", strerror(EIO));
    snprintf(copy, sizeof copy, "%s/checkpoint-step20.h5", out);
    ck_assert_msg(stat(copy, &s_copy) != 0, "a failed copy left %s", copy);
    ck_assert_int_eq(count_entries(out, ".tmp."), 0);
    free_fixture(a);
    free_fixture(b);
}
END_TEST

/* No hidden layer, plain sgd, empty histories, no preprocessing: the edge cases of the layout. */
START_TEST(test_minimal_model)
{
    const char *path = scratch("minimal.h5");
    fixture *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    build(a, 0, NULL, FC_NORM_NONE, FC_OPTIM_SGD, 1, CAP_LOSS, 20);
    build(b, 0, NULL, FC_NORM_NONE, FC_OPTIM_SGD, 1, CAP_LOSS, 21);
    a->t.hist.n_loss = 0;
    a->t.hist.n_checks = 0;
    fc_preprocess_free(&a->t.pp);
    a->t.pp.kind = FC_PRE_NONE;
    a->t.pp.d = 1;
    a->cfg.preprocess = FC_PRE_NONE;
    ck_assert_int_eq(fc_ckpt_save(&a->t, path), FC_OK);
    ck_assert_int_eq(fc_ckpt_load(&b->t, path), FC_OK);
    ck_assert(same_bits(a->t.net.params, b->t.net.params, a->t.net.layout.n_total * sizeof(fc_real)));
    ck_assert_int_eq(b->t.hist.n_loss, 0);
    ck_assert_int_eq(b->t.hist.n_checks, 0);
    double *v = NULL;
    int rank = 0;
    long dims[4];
    ck_assert_int_eq(fct_h5_read(path, "/params/W1", &v, &rank, dims), C); /* W1 (1, C) stays 2-D */
    ck_assert_int_eq(rank, 2);
    free(v);
    fc_config *cfg = malloc(sizeof *cfg);
    fc_config_defaults(cfg);
    ck_assert_int_eq(fc_ckpt_read_config(path, cfg, NULL, NULL), FC_OK);
    ck_assert_int_eq(cfg->n_hidden, 0);
    ck_assert_int_eq(cfg->optim.kind, FC_OPTIM_SGD);
    fc_preprocess pp;
    memset(&pp, 0, sizeof pp);
    ck_assert_int_eq(fc_ckpt_load_preprocess(&pp, path, 1), FC_OK);
    ck_assert_int_eq(pp.kind, FC_PRE_NONE);
    ck_assert_ptr_null(pp.mean);
    free(cfg);
    free_fixture(a);
    free_fixture(b);
}
END_TEST

static void teardown(void) { remove_scratch(); }

static Suite *suite(void)
{
    Suite *s = suite_create("ckpt");
    TCase *t = tcase_create("ckpt");
    tcase_add_unchecked_fixture(t, NULL, teardown);
    tcase_add_test(t, test_round_trip);
    tcase_add_test(t, test_layout);
    tcase_add_test(t, test_min_bytes_bounds_the_file);
    tcase_add_test(t, test_save_is_durable);
    tcase_add_test(t, test_atomic_failure_keeps_previous);
    tcase_add_test(t, test_corrupt_byte_detected);
    tcase_add_test(t, test_truncated_and_foreign_files);
    tcase_add_test(t, test_never_written_tensors);
    tcase_add_test(t, test_format_version_range);
    tcase_add_test(t, test_mismatch_messages);
    tcase_add_test(t, test_init_from_params_only);
    tcase_add_test(t, test_check_resume);
    tcase_add_test(t, test_numbered_names);
    tcase_add_test(t, test_edge_states_load);
    tcase_add_test(t, test_impossible_histories_refused);
    tcase_add_test(t, test_eval_best_accuracy_checked);
    tcase_add_test(t, test_no_run_id_keeps_computed);
    tcase_add_test(t, test_counts_out_of_range);
    tcase_add_test(t, test_find_in_dir);
    tcase_add_test(t, test_stale_temps);
    tcase_add_test(t, test_keep_last);
    tcase_add_test(t, test_keep_last_without_links);
    tcase_add_test(t, test_minimal_model);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
