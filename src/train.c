#include "fcnet/train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/ckpt.h"
#include "fcnet/ckpt_files.h"
#include "fcnet/layers.h"
#include "fcnet/memory_limits.h"
#include "fcnet/out_dir.h"
#include "fcnet/output_aside.h"
#include "fcnet/progress.h"
#include "fcnet/read_guard.h"
#include "fcnet/rng.h"

static volatile sig_atomic_t stop_signal = 0;

/* The first stop signal says how the run ends, except that a Ctrl-C always makes it a SIGINT death, as the user
 * asked: a closed output after a `timeout`'s SIGTERM (the stop line to a dead pipe) does not make that stop a
 * SIGPIPE death, and a SIGTERM or SIGUSR1 landing after a Ctrl-C (a batch system's, during the save) does not
 * turn its death by SIGINT into exit 0. */
void fc_train_request_stop(int signal_number)
{
    if (!stop_signal || signal_number == SIGINT) stop_signal = signal_number;
    fc_output_aside_now();
}

int fc_train_stop_requested(void) { return stop_signal; }

static void history_alloc(fc_history *h, int64_t cap_loss, int64_t cap_checks)
{
    h->cap_loss = cap_loss;
    h->cap_checks = cap_checks;
    h->loss = fc_alloc((size_t)(cap_loss ? cap_loss : 1) * sizeof(double));
    h->train_acc = fc_alloc((size_t)cap_checks * sizeof(double));
    h->val_acc = fc_alloc((size_t)cap_checks * sizeof(double));
    h->lr = fc_alloc((size_t)cap_checks * sizeof(double));
    h->check_step = fc_alloc((size_t)cap_checks * sizeof(int64_t));
}

static void history_free(fc_history *h)
{
    fc_free(h->loss);
    fc_free(h->train_acc);
    fc_free(h->val_acc);
    fc_free(h->lr);
    fc_free(h->check_step);
    memset(h, 0, sizeof *h);
}

/* Test hook: FCNET_FAULT_INIT=R makes rank R's freshly made state differ before the broadcast below, as
 * another libm's normals or a bit flipped in memory would: its first parameter and BN running statistic. */
static void fault_init(fc_trainer *t)
{
    const char *fault = getenv("FCNET_FAULT_INIT");
    if (!fault || !fault[0] || atoi(fault) != fc_dist_rank(t->dist)) return;
    t->net.params[0] += 1;
    if (t->net.bn_stats) t->net.bn_stats[0] += 1;
}

/* Every rank must hold rank 0's state bit for bit before training starts. */
static void broadcast_state(fc_trainer *t)
{
    fc_dist_bcast_real(t->dist, t->net.params, t->net.layout.n_total);
    if (t->net.bn_stats) fc_dist_bcast_real(t->dist, t->net.bn_stats, t->net.bn_layout.n_total);
}

/* A real's bits, so that settings are compared and hashed exactly; integers go in as they are (through a
 * double, seeds above 2^53 that differ in their last bits would look alike). */
static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* The run's hyperparameters and its --epochs, in a fixed order: what every rank must agree on. */
enum { N_SCALARS = 21, N_SETTINGS = N_SCALARS + FC_MAX_HIDDEN };
static void run_settings(const fc_config *c, uint64_t v[N_SETTINGS])
{
    const fc_optim_config *o = &c->optim;
    const uint64_t scalars[N_SCALARS] = {
        (uint64_t)c->n_hidden, (uint64_t)c->norm, bits(c->keep), bits(c->reg), bits(c->weight_scale),
        (uint64_t)c->init, bits(c->bn_momentum), (uint64_t)o->kind, bits(o->lr), bits(o->lr_decay),
        bits(o->momentum), bits(o->decay_rate), bits(o->beta1), bits(o->beta2), bits(o->eps),
        (uint64_t)c->batch_size, (uint64_t)c->epochs, c->seed, bits(c->val_size), (uint64_t)c->preprocess,
        (uint64_t)c->shuffle};
    memcpy(v, scalars, sizeof scalars);
    for (int i = 0; i < FC_MAX_HIDDEN; i++) v[N_SCALARS + i] = i < c->n_hidden ? (uint64_t)c->hidden[i] : 0;
}

/* The loaded data's shape: rows per split, features, classes. */
static void data_shape(const fc_trainer *t, int64_t shape[5])
{
    const int64_t s[5] = {t->data.train.n, t->data.val.n, t->data.test.n, t->data.n_features, t->data.n_classes};
    memcpy(shape, s, sizeof s);
}

/* A fresh run's identity: a hash of what decides its computation (its hyperparameters; its data: the shape and the
 * fingerprint of the training and validation rows; with --init-from, the parameters it starts from, as init_hash,
 * else 0), so that reruns of one configuration on one dataset (which write bitwise-identical checkpoints) share it
 * and other runs do not, also the same options on another file of the same shape. The checkpoint keeps it and a
 * resume inherits it; --keep-last removes only copies carrying it. Never 0. */
static uint64_t run_identity(const fc_trainer *t, uint64_t init_hash)
{
    uint64_t settings[N_SETTINGS];
    run_settings(t->cfg, settings);
    int64_t shape[5];
    data_shape(t, shape);
    const uint64_t inputs[3] = {fc_hash_bytes(shape, sizeof shape), t->data_hash, init_hash};
    const uint64_t id = fc_hash_bytes(settings, sizeof settings) ^ (fc_hash_bytes(inputs, sizeof inputs) << 1);
    return id ? id : 1;
}

/* The parameters (and batchnorm statistics) as loaded by --init-from. */
static uint64_t init_fingerprint(const fc_trainer *t)
{
    const uint64_t h = fc_hash_large(t->net.params, t->net.layout.n_total * sizeof(fc_real), 0);
    return t->net.bn_stats ? fc_hash_large(t->net.bn_stats, t->net.bn_layout.n_total * sizeof(fc_real), h) : h;
}

/* Every rank reads its own copy of the inputs (--config file, --resume checkpoint; the dataset once per node).
 * On several nodes those copies can differ — a node-local --out holding an older checkpoint, a stale copy of the data — and
 * ranks that disagree on the schedule would wait for each other forever in the first collective one of them
 * skips. Two agreed comparisons before the first step (check_same_settings, check_same_state) of everything
 * that decides the run: an input error naming the first thing that differs and the lowest rank that read it
 * differently. */

/* One line naming the lowest rank whose inputs[index] differ from rank 0's, and FC_ERR_INPUT on every rank.
 * from_data: what differs was read from --data. */
static fc_status refuse_different_inputs(const fc_trainer *t, const fc_tensor_ref *refs, int n, int rank, int index,
                                         int from_data)
{
    /* The likely cause, by what differs: a stale copy of the dataset on that rank's node, or, for what a --resume
     * checkpoint holds, a node-local --out with an older one (not said of the data: it sent users to --out). */
    const char *what = index < n ? refs[index].name : "the model's structure";
    char hint[96] = "";
    if (from_data) snprintf(hint, sizeof hint, " (a stale copy of --data on rank %d's node?)", rank);
    else if (t->cfg->resume[0]) snprintf(hint, sizeof hint, " (is --out on a node-local disk?)");
    fc_status st = fc_error_set(FC_ERR_INPUT,
                                "rank %d read %s differently from rank 0: every rank must see the same --data, "
                                "--config, --resume and --init-from files%s",
                                rank, what, hint);
    if (fc_dist_rank(t->dist) == 0) fc_log_error("%s", fc_error_message());
    return st;
}

/* First the settings and the data's shape, which fix every buffer's size: compared before the model is
 * built, since building it already takes collectives over buffers of that size. */
static fc_status check_same_settings(const fc_trainer *t)
{
    const fc_config *c = t->cfg;
    /* run control must agree too: the ranks stop, save, check and gather the profile together */
    uint64_t minutes;
    memcpy(&minutes, &c->checkpoint_minutes, sizeof minutes);
    const uint64_t control[] = {(uint64_t)c->max_steps, (uint64_t)c->checkpoint_every,
                                (uint64_t)c->check_replicas, (uint64_t)c->keep_last, (uint64_t)c->profile, minutes};
    uint64_t settings[N_SETTINGS + sizeof control / sizeof control[0]]; /* sized by control: they cannot drift */
    run_settings(c, settings);
    memcpy(settings + N_SETTINGS, control, sizeof control);
    int64_t shape[5];
    data_shape(t, shape);
    /* The contents last: a stale copy of the data on another node has the same shape. From entry 1 on, all
     * is read from --data. */
    const fc_tensor_ref refs[4] = {
        {"the settings (flags, --config file, or the --resume checkpoint's hyperparameters)", settings, sizeof settings},
        {"the dataset's shape (rows per split, features, classes)", shape, sizeof shape},
        {"the dataset's training and validation rows (their fingerprint)", &t->data_hash, sizeof t->data_hash},
        {"the dataset's test rows (their fingerprint)", &t->test_hash, sizeof t->test_hash}};
    int rank, index;
    if (!fc_dist_find_mismatch(t->dist, refs, 4, &rank, &index)) return FC_OK;
    return refuse_different_inputs(t, refs, 4, rank, index, index >= 1 && index < 4);
}

/* --init-from's parameters and running statistics, as each rank read them. */
static fc_status check_same_init(const fc_trainer *t)
{
    fc_tensor_ref refs[2] = {{"the parameters from --init-from", t->net.params, t->net.layout.n_total * sizeof(fc_real)}};
    int n = 1;
    if (t->net.bn_stats)
        refs[n++] = (fc_tensor_ref){"the batchnorm statistics from --init-from", t->net.bn_stats,
                                    t->net.bn_layout.n_total * sizeof(fc_real)};
    int rank, index;
    if (!fc_dist_find_mismatch(t->dist, refs, n, &rank, &index)) return FC_OK;
    return refuse_different_inputs(t, refs, n, rank, index, 0);
}

/* Then, once the state is loaded or initialised, everything it holds (each rank's own copy: the node's
 * shared parameter array is taken only after this check). */
static fc_status check_same_state(const fc_trainer *t)
{
    const int64_t position[] = {t->step, t->epoch, t->epoch_step, t->hist.n_loss, t->hist.n_checks, t->opt.t};
    fc_tensor_ref refs[6] = {
        {"the position in training (step, epoch, history) from --resume", position, sizeof position},
        {"the learning rate from --resume", &t->opt.lr, sizeof t->opt.lr},
        {"the parameters", t->net.params, t->net.layout.n_total * sizeof(fc_real)}};
    int n = 3;
    if (t->net.bn_stats)
        refs[n++] = (fc_tensor_ref){"the batchnorm statistics", t->net.bn_stats, t->net.bn_layout.n_total * sizeof(fc_real)};
    for (int i = 0; i < t->opt.n_slots; i++)
        refs[n++] = (fc_tensor_ref){"the optimizer state from --resume", t->opt.slot[i], t->opt.n * sizeof(fc_real)};
    int rank, index;
    if (!fc_dist_find_mismatch(t->dist, refs, n, &rank, &index)) return FC_OK;
    return refuse_different_inputs(t, refs, n, rank, index, 0);
}

/* The optimizer's position as training leaves it: adam's t counts the steps made (each step advances it once),
 * and the current lr is the configured one decayed once per finished epoch (the slots' values are checked as
 * fc_ckpt_load reads them). A crafted file otherwise resumes into an overflowing t or a negative lr (gradient
 * ascent with exit 0). */
static fc_status check_resumed_optimizer(const fc_trainer *t, const char *path)
{
    const fc_optim *opt = &t->opt;
    if (opt->cfg.kind == FC_OPTIM_ADAM && opt->t != t->step)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute 't' of /optim: %lld, but adam advances it once per step and "
                            "the checkpoint made %lld", path, (long long)opt->t, (long long)t->step);
    /* The decay exactly as training applies it (fc_optim_decayed_lr), once per finished epoch: pow() differs in the
     * last bits, and once lr is subnormal by more than any relative tolerance. epoch <= step, a loss per step. */
    double expected_lr = opt->cfg.lr;
    for (int64_t e = 0; e < t->epoch && expected_lr != 0; e++)
        expected_lr = fc_optim_decayed_lr(&opt->cfg, expected_lr);
    if (opt->lr != expected_lr)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute 'lr' of /optim: %.17g, but lr %g decayed by %g after each of "
                            "%lld epochs is %.17g", path, opt->lr, opt->cfg.lr, opt->cfg.lr_decay,
                            (long long)t->epoch, expected_lr);
    return FC_OK;
}

/* A resumed position as training leaves it; a checkpoint written otherwise (by hand, by another program)
 * would trip the step's invariants later. The epoch's step below the epoch's length, step = epoch *
 * steps_per_epoch + epoch_step, a loss per step, at most one accuracy check at the start and one per epoch,
 * the best step among those made. */
static fc_status check_resumed_position(const fc_trainer *t, const char *path)
{
    const int64_t spe = t->steps_per_epoch, epoch = t->epoch, epoch_step = t->epoch_step, step = t->step;
    if (epoch < 0 || epoch_step < 0 || epoch_step >= spe)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute 'epoch_step' of /: epoch %lld, step %lld of it: not a "
                            "position in epochs of %lld steps", path, (long long)epoch, (long long)epoch_step,
                            (long long)spe);
    if (epoch > (INT64_MAX - epoch_step) / spe)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute 'epoch' of /: %lld epochs of %lld steps are more steps "
                            "than a 64-bit count holds", path, (long long)epoch, (long long)spe);
    if (step != epoch * spe + epoch_step)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute 'step' of /: %lld, but epoch %lld and epoch_step %lld make "
                            "%lld", path, (long long)step, (long long)epoch, (long long)epoch_step,
                            (long long)(epoch * spe + epoch_step));
    if (t->hist.n_loss != step)
        return fc_error_set(FC_ERR_INPUT, "%s: /history/loss: %lld losses for %lld steps", path,
                            (long long)t->hist.n_loss, (long long)step);
    if (t->hist.n_checks > epoch + 1)
        return fc_error_set(FC_ERR_INPUT, "%s: /history/train_acc: %lld accuracy checks after %lld epochs (at most "
                            "one at the start and one per epoch)", path, (long long)t->hist.n_checks,
                            (long long)epoch);
    if (t->best_step < 0 || t->best_step > step)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute 'best_step' of /best: %lld, not among the %lld steps made",
                            path, (long long)t->best_step, (long long)step);
    /* The checkpoint's checks validated (accuracies) or did not (NaN) at every check, as its load verified; this
     * run's data must do the same. data_hash tells other validation rows apart, but a checkpoint written before
     * it existed is held to its data's shape alone: with /val added to or removed from the file, such a resume
     * went on and its next checks wrote a history that the following --resume refused. */
    const int validated = t->hist.n_checks > 0 && !isnan(t->hist.val_acc[0]);
    if (t->hist.n_checks > 0 && validated != (t->data.val.n > 0))
        return fc_error_set(FC_ERR_INPUT, "%s: /history/val_acc: the run %s at each of its %lld checks, and %s has %s: "
                            "resuming needs the data it was written with, its validation split too", path,
                            validated ? "validated" : "had no validation split", (long long)t->hist.n_checks,
                            t->cfg->data,
                            t->data.val.n > 0 ? "a validation split" : "no validation split (no /val, no hold-out)");
    return check_resumed_optimizer(t, path);
}

/* Batchnorm over a batch of 1 row normalises every unit to 0: its layers output their beta, pass no gradient
 * back and pull the running variance towards 0 (PyTorch's BatchNorm1d refuses such a batch in training). When
 * every batch has 1 row, nothing before the last batchnorm layer ever learns and test mode divides by sqrt(eps):
 * refused. When only the last batch of each epoch has (the run is sound but for one step per epoch, and refusing
 * would make the user pick another batch size or split): a warning, once. The same verdict on every rank. */
static fc_status check_batchnorm_batches(const fc_trainer *t)
{
    const int64_t B = t->cfg->batch_size, n_train = t->data.train.n;
    if (t->cfg->norm != FC_NORM_BATCH || n_train == 0) return FC_OK;
    if (B == 1 || n_train == 1) {
        /* A run resumed from a checkpoint written before this rule: its batch size cannot change on --resume, so
         * the message names the checkpoint's attribute and the way on, --init-from. */
        if (t->cfg->resume[0])
            return fc_error_set(FC_ERR_INPUT, "%s: attribute 'batch_size' of / is %lld with %lld training row%s: "
                                "every batch is 1 row, which its --norm batchnorm normalises to 0 (its layers output "
                                "their beta whatever the input); such a run is not resumed: start from its parameters "
                                "with --init-from %s and a --batch-size of 2 or more rows", t->cfg->resume,
                                (long long)B, (long long)n_train, n_train == 1 ? "" : "s", t->cfg->resume);
        return fc_error_set(FC_ERR_INPUT, "--batch-size %lld with %lld training row%s: every batch is 1 row, which "
                            "--norm batchnorm normalises to 0: its layers would output their beta whatever the input "
                            "and drive their running variance to 0; use batches of 2 or more rows, or --norm "
                            "layernorm or none", (long long)B, (long long)n_train, n_train == 1 ? "" : "s");
    }
    if (n_train % B == 1 && fc_dist_rank(t->dist) == 0)
        fc_log_warn("--batch-size %lld: the last batch of every epoch is 1 row (%lld training rows = %lld x %lld + 1), "
                    "which --norm batchnorm normalises to 0: that step passes no gradient through its layers and pulls "
                    "their running variance towards 0; a --batch-size or --val-size that leaves no 1-row batch avoids it",
                    (long long)B, (long long)n_train, (long long)(n_train / B), (long long)B);
    return FC_OK;
}

fc_status fc_train_setup(fc_trainer *t, const fc_config *cfg, fc_dist *dist)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->dist = dist;
    t->best_val_acc = -1;
    t->last_save_wtime = MPI_Wtime(); /* fc_train_run restarts it; steps driven without it count from here */
    fc_status st = fc_data_node_load(&t->data_node, &t->data, cfg->data, cfg->val_size, dist);
    if (st == FC_OK) st = fc_data_require_classes(cfg->data, t->data.n_classes);
    /* Here, on the rows as read: a node's shared copy is preprocessed in place once every rank has fitted (below). */
    if (st == FC_OK) t->data_hash = fc_data_fingerprint(&t->data);
    /* Apart from data_hash, which checkpoints keep for train and val: the test rows decide no step, but each
     * rank counts its part of the final test accuracy on its node's copy, so a stale one would be mixed in. */
    if (st == FC_OK) t->test_hash = fc_split_fingerprint(&t->data.test, 0);
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    /* A user asking for a hold-out (or for none, with 0) on a file that brings its own /val would otherwise
     * get that /val without a word. */
    if (cfg->opt_set[FC_OPT_VAL_SIZE] && t->data.val_from_file && fc_dist_rank(dist) == 0)
        fc_log_warn("--val-size %.15g: not used: %s has its own /val (%lld rows), which is the validation split; "
                    "--val-size holds rows out of /train only in a file without /val",
                    cfg->val_size, cfg->data, (long long)t->data.val.n);

    /* Every rank fits (or loads) the same preprocessing; the agreement after it is also the point after which
     * no rank reads the raw rows, so the node's writer may change its shared copy in place. */
    if (cfg->resume[0]) st = fc_ckpt_load_preprocess(&t->pp, cfg->resume, t->data.n_features);
    else fc_preprocess_fit(&t->pp, cfg->preprocess, &t->data.train);
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    fc_split *splits[3] = {&t->data.train, &t->data.val, &t->data.test};
    for (int i = 0; i < 3 && t->data_node.writer; i++)
        if (splits[i]->n > 0) fc_preprocess_apply(&t->pp, splits[i]);
    fc_data_node_publish(&t->data_node);
    if ((st = check_same_settings(t)) != FC_OK) return st;

    const int size = fc_dist_size(dist);
    const int64_t B = cfg->batch_size, n_train = t->data.train.n;
    const int64_t widest_batch = B < n_train ? B : n_train; /* a --batch-size beyond the data is one batch of it */
    t->local_max = (int)((widest_batch + size - 1) / size);
    if (t->local_max < 1) t->local_max = 1;
    fc_net_config ncfg = fc_config_net(cfg, t->data.n_features, t->data.n_classes);
    st = fc_net_init(&t->net, &ncfg, t->local_max, dist);
    if (st == FC_ERR_INPUT && cfg->resume[0]) { /* a network too big: the widths and the batch size are the
                                                  * checkpoint's, not options to change */
        char why[1024];
        snprintf(why, sizeof why, "%s", fc_error_message());
        st = fc_error_set(FC_ERR_INPUT, "%s: the model it holds, on %s (%d features, %d classes): %s", cfg->resume,
                          cfg->data, t->data.n_features, t->data.n_classes, why);
    } else if (st == FC_ERR_INPUT) { /* its input and output sizes come from the data, so name it */
        st = fc_net_too_big_for_data(cfg->data, t->data.n_features, t->data.n_classes);
    }
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    /* The synchronisation area is sized for the step's largest gather: a hidden batchnorm layer's moments (the
     * input and output widths gather nothing: helper-170 saw 16 MiB per rank taken for a wide input), else the
     * four agreed values. */
    t->step_gather_n = 4;
    if (t->net.cfg.norm == FC_NORM_BATCH)
        for (int l = 1; l < t->net.n_layers; l++)
            if (2 * (size_t)t->net.dims[l] + 1 > t->step_gather_n) t->step_gather_n = 2 * (size_t)t->net.dims[l] + 1;
    fc_real *shared_params, *shared_grads;
    st = fc_dist_share_arenas(dist, t->net.layout.n_total, t->step_gather_n, &shared_params, &shared_grads);
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    /* What the setup allocates from here on, the large parts, weighed against what the process has left now: the
     * gradient exchange's receive buffer, the optimizer's state, the best copy, the epoch permutations and the
     * batch. fc_net_init's estimate missed the buffer (up to two more parameter-sized arrays), and under a ulimit
     * -v between the two a run aborted in an allocation or hung in OpenBLAS's (helper-165). */
    const size_t n_total = t->net.layout.n_total;
    /* allocated after the history check below, which must count them too (it ran against what is left after the
     * exchange's buffer and the optimizer, with these still to come) */
    const double after_history = (double)n_total * sizeof(fc_real) +
                                 (double)t->net.bn_layout.n_total * sizeof(fc_real) +
                                 2.0 * (double)n_train * sizeof(int64_t) +
                                 (double)t->local_max * (double)t->data.n_features * sizeof(fc_real);
    /* gathers: a layer's batchnorm moments (2 * width + 1) and the step's four agreed values */
    const size_t reserve_gather_n = 2 * (size_t)t->net.max_width + 4;
    const double rest = fc_dist_reserve_bytes(dist, n_total, reserve_gather_n) +
                        (double)fc_optim_slot_count(cfg->optim.kind) * (double)n_total * sizeof(fc_real) +
                        after_history;
    char room[256];
    /* a resume cannot change --hidden (the checkpoint's widths): not advised there, as fc_net_init's refusal */
    if (fc_memory_exceeded(rest, room, sizeof room))
        st = fc_error_set(FC_ERR_INPUT, "%s%sthe network of %zu parameters needs %s more for the gradient exchange, "
                          "%s's state and the best copy at %d rank(s), %s: %s", cfg->resume, cfg->resume[0] ? ": " : "",
                          n_total, fc_format_size(rest).text, fc_optim_name(cfg->optim.kind), size, room,
                          cfg->resume[0] ? "fewer ranks per node (its widths are the checkpoint's)"
                                         : "--hidden, or fewer ranks per node");
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    fc_dist_reserve(dist, n_total, reserve_gather_n);
    fc_optim_init(&t->opt, &cfg->optim, n_total);
    st = fc_store_choice_init(&t->stores, dist, shared_params != NULL);
    if (st != FC_OK) return st;

    t->steps_per_epoch = (n_train + B - 1) / B;
    /* The loss history keeps a double per step of the whole run on every rank, allocated here: a run of
     * billions of steps is refused now rather than failing its allocation or swapping later. */
    const double run_steps = (double)cfg->epochs * (double)t->steps_per_epoch;
    const double history_bytes = 8 * (run_steps + 4 * ((double)cfg->epochs + 2));
    char why[256] = "more steps than a 64-bit count holds";
    if (run_steps >= 0x1p62 || fc_memory_exceeded(history_bytes + after_history, why, sizeof why))
        st = fc_error_set(FC_ERR_INPUT, "--epochs %lld: %.4g steps (%lld per epoch at --batch-size %lld); their loss "
                          "history needs %s (beside %s for the best copy, the permutations and the batch), %s",
                          (long long)cfg->epochs, run_steps, (long long)t->steps_per_epoch, (long long)B,
                          fc_format_size(history_bytes).text, fc_format_size(after_history).text, why);
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    if ((st = fc_dist_agree(dist, check_batchnorm_batches(t), 1)) != FC_OK) return st;
    /* --keep refuses such a keep; a checkpoint written before that rule resumes as it trained, said once. */
    if (cfg->resume[0] && cfg->keep < FC_RNG_UNIT_FLOAT_STEP && fc_dist_rank(dist) == 0)
        fc_log_warn("%s: attribute 'keep' of / is %g, below 2^-24, the resolution of dropout's random draws: the "
                    "resumed run keeps 2^-24 of the units, as it did before, not the fraction asked (--keep now "
                    "refuses such a value)", cfg->resume, cfg->keep);
    /* --norm layernorm with a 1-unit hidden layer is refused for new runs (config.c); one written before that
     * rule resumes as it trained (its widths cannot change on --resume), said once: the first such layer. */
    const int constant = cfg->resume[0] ? fc_config_constant_layernorm_layer(cfg) : 0;
    if (constant > 0 && fc_dist_rank(dist) == 0)
        fc_log_warn("%s: hidden layer %d has 1 unit under --norm layernorm, which normalises it to 0 for every row: "
                    "the layer's output does not depend on its input, so neither does the network's; the run "
                    "resumes as it trained (--norm layernorm now refuses such a layer)", cfg->resume, constant);
    t->total_steps = cfg->epochs * t->steps_per_epoch;
    history_alloc(&t->hist, t->total_steps, cfg->epochs + 2);
    t->perm = fc_alloc((size_t)n_train * sizeof(int64_t));
    t->n_sub = n_train < FC_TRAIN_ACC_ROWS ? n_train : FC_TRAIN_ACC_ROWS;
    t->sub_idx = fc_alloc((size_t)n_train * sizeof(int64_t));
    fc_rng_permutation(t->sub_idx, n_train, cfg->seed, FC_RNG_SUBSAMPLE, 0);
    t->xb = fc_alloc((size_t)t->local_max * (size_t)t->data.n_features * sizeof(fc_real));
    t->yb = fc_alloc((size_t)t->local_max * sizeof(int32_t));
    t->best_params = fc_arena_alloc(&t->net.layout);
    if (t->net.bn_stats) t->best_bn = fc_arena_alloc(&t->net.bn_layout);

    st = FC_OK;
    t->run_id = run_identity(t, 0);
    t->resume_file[0] = -1;
    if (cfg->resume[0]) fc_file_identity(cfg->resume, t->resume_file);
    if (cfg->resume[0]) st = fc_ckpt_load(t, cfg->resume);
    else if (cfg->init_from[0] && (st = fc_ckpt_load_params(&t->net, cfg->init_from, 0)) == FC_OK)
        t->run_id = run_identity(t, init_fingerprint(t));
    if (st == FC_OK && cfg->resume[0]) st = check_resumed_position(t, cfg->resume);
    t->resumed_step = cfg->resume[0] ? t->step : -1;
    if ((st = fc_dist_agree(dist, st, 1)) != FC_OK) return st;
    /* --init-from's parameters are compared before the broadcast would make them equal. */
    if (cfg->init_from[0] && (st = check_same_init(t)) != FC_OK) return st;
    if (!cfg->resume[0]) {
        fault_init(t);
        broadcast_state(t);
        memcpy(t->best_params, t->net.params, t->net.layout.n_total * sizeof(fc_real));
        if (t->best_bn) memcpy(t->best_bn, t->net.bn_stats, t->net.bn_layout.n_total * sizeof(fc_real));
    }
    fc_data_epoch_order(t->perm, n_train, cfg->seed, t->epoch, cfg->shuffle);
    if ((st = check_same_state(t)) != FC_OK) return st;
    /* Only now, with every rank's own copy compared, do the parameters move into the node's one array: each
     * rank copies its chunk, and the gather on the array is the barrier after which all chunks are there. */
    if (shared_params) {
        size_t own, own_len;
        fc_dist_own_chunk(dist, t->net.layout.n_total, &own, &own_len);
        fc_net_borrow_arenas(&t->net, shared_params, shared_grads, own, own_len);
        fc_dist_allgather_chunks(dist, t->net.params, t->net.layout.n_total);
    }
    return FC_OK;
}

void fc_train_free(fc_trainer *t)
{
    if (!t) return;
    fc_data_free(&t->data);
    fc_data_node_free(&t->data_node); /* collective over the node, like the arenas below */
    fc_preprocess_free(&t->pp);
    fc_net_free(&t->net);
    /* collective: every rank frees its trainer; the windows exist from fc_train_setup's sharing on, also
     * where it failed before the net borrowed them */
    fc_dist_release_arenas(t->dist);
    fc_optim_free(&t->opt);
    history_free(&t->hist);
    fc_free(t->perm);
    fc_free(t->sub_idx);
    fc_free(t->xb);
    fc_free(t->yb);
    fc_free(t->best_params);
    fc_free(t->best_bn);
    if (t->out_hold.lock) fc_out_dir_release(t->cfg->out, &t->out_hold, 0); /* releases the lock */
    memset(t, 0, sizeof *t);
}

double fc_train_step(fc_trainer *t)
{
    const int64_t B = t->cfg->batch_size, n_train = t->data.train.n;
    FC_ASSERT(t->hist.n_loss < t->hist.cap_loss && t->epoch_step < t->steps_per_epoch);
    const int64_t first = t->epoch_step * B;
    const int64_t global_batch = n_train - first < B ? n_train - first : B; /* the last batch may be short */
    int64_t begin, count;
    fc_dist_slice(global_batch, fc_dist_rank(t->dist), fc_dist_size(t->dist), &begin, &count);
    double *ph = t->phase_seconds, t0 = MPI_Wtime(), t1;
    /* the accuracy checks gather too: count the step's only */
    const double gathered0 = fc_dist_gather_seconds(), gathered_bytes0 = fc_dist_gather_bytes_sent();
    fc_data_gather(t->xb, t->yb, &t->data.train, t->perm + first + begin, count);
    t1 = MPI_Wtime(), ph[FC_PHASE_DATA] += t1 - t0, t0 = t1;

    fc_batch_info info = {.step = (uint64_t)t->step, .row0 = begin, .global_batch = global_batch};
    const double gemm0 = fc_gemm_seconds();
    fc_net_forward(&t->net, t->xb, (int)count, FC_MODE_TRAIN, &info);
    const double data_loss = fc_net_loss(&t->net, t->yb, &info);
    t1 = MPI_Wtime(), ph[FC_PHASE_FORWARD] += t1 - t0, t0 = t1;
    fc_net_backward(&t->net);
    t1 = MPI_Wtime(), ph[FC_PHASE_BACKWARD] += t1 - t0, t0 = t1;
    ph[FC_PHASE_GEMM] += fc_gemm_seconds() - gemm0;
    /* Sharded update: each rank sums, regularises and updates only its own chunk of the fused buffer
     * (1/N of the update's work and memory traffic per rank), then the allgather hands every rank the
     * owners' parameters, so all replicas hold identical bits. The optimizer slots are current only in
     * the own chunk; fc_train_gather_optimizer_state completes them before anything reads them whole. */
    const size_t n_total = t->net.layout.n_total;
    size_t own, own_len;
    fc_dist_own_chunk(t->dist, n_total, &own, &own_len);
    fc_dist_reduce_scatter(t->dist, t->net.grads, n_total);
    t1 = MPI_Wtime(), ph[FC_PHASE_REDUCE] += t1 - t0, t0 = t1;
    int finite;
    t->opt.stream_params = t->stores.streaming; /* how the node's shared weights are written: store_choice.h */
    const double reg_loss = fc_net_update_range(&t->net, &t->opt, own, own_len, &finite);
    t1 = MPI_Wtime(), ph[FC_PHASE_UPDATE] += t1 - t0, t0 = t1;
    /* [loss, stop requested, non-finite gradient or batchnorm statistic, time-based save due]: one ordered
     * gather agrees on all four, and hands every rank the owners' parameters (non-finite ones too: the run
     * then stops without writing them). Each rank reads its own clock; the sum makes one decision of them.
     * An Inf running variance would be saved, and the checkpoint then refused by --resume and eval. */
    const double minutes = t->cfg->checkpoint_minutes;
    const int save_due = minutes > 0 && t0 - t->last_save_wtime >= minutes * 60;
    const int diverged = !finite || !fc_net_bn_stats_finite(&t->net);
    double shared[4] = {data_loss + reg_loss, stop_signal != 0, diverged, save_due};
    fc_dist_sum_doubles_allgather(t->dist, shared, 4, t->net.params, n_total);
    ph[FC_PHASE_REDUCE] += MPI_Wtime() - t0;
    t->stop_agreed = shared[1] > 0;
    t->save_due_agreed = shared[3] > 0;
    const double loss = shared[0];
    if (!isfinite(loss) || shared[2] > 0) return (double)NAN; /* agreed: every rank returns here */
    t->step_gather_seconds += fc_dist_gather_seconds() - gathered0;
    t->step_gather_bytes += fc_dist_gather_bytes_sent() - gathered_bytes0;
    t->profiled_steps++;
    t->hist.loss[t->hist.n_loss++] = loss;
    t->step++;
    t->epoch_step++;
    return loss;
}

double fc_train_accuracy(fc_trainer *t, const fc_split *split, const int64_t *rows, int64_t n_rows, double *no_class)
{
    if (no_class) *no_class = 0;
    if (n_rows == 0) return (double)NAN;
    int64_t begin, count;
    fc_dist_slice(n_rows, fc_dist_rank(t->dist), fc_dist_size(t->dist), &begin, &count);
    double counts[2] = {0, 0}; /* correct, without a class: summed in one call */
    int64_t no_class_here = 0;
    for (int64_t at = 0; at < count; at += t->local_max) {
        int64_t chunk = count - at < t->local_max ? count - at : t->local_max;
        if (rows) {
            fc_data_gather(t->xb, t->yb, split, rows + begin + at, chunk);
        } else {
            memcpy(t->xb, split->x + (size_t)(begin + at) * (size_t)split->d,
                   (size_t)chunk * (size_t)split->d * sizeof(fc_real));
            memcpy(t->yb, split->y + begin + at, (size_t)chunk * sizeof(int32_t));
        }
        fc_net_forward(&t->net, t->xb, (int)chunk, FC_MODE_TEST, NULL);
        counts[0] += (double)fc_net_count_correct(&t->net, t->yb, &no_class_here);
    }
    counts[1] = (double)no_class_here;
    fc_dist_sum_doubles(t->dist, counts, 2);
    if (no_class) *no_class = counts[1];
    return counts[0] / (double)n_rows;
}

/* Rank 0: rows whose scores were NaN or infinite count as wrong, said on stderr rather than silently (the
 * accuracy alone cannot tell an overflowing model from a poor one). Not divergence: the training loss and
 * gradients, checked every step, were finite. */
static void warn_no_class(const fc_trainer *t, double no_class, int64_t rows, const char *what)
{
    if (no_class > 0 && fc_dist_rank(t->dist) == 0)
        fc_log_warn("step %lld: %.0f of %lld %s rows have NaN or infinite scores: no class, counted as wrong",
                    (long long)t->step, no_class, (long long)rows, what);
}

/* Train accuracy on the fixed subsample, validation accuracy, lr; keeps the best parameters. */
static void check_accuracy(fc_trainer *t)
{
    double t0 = MPI_Wtime();
    fc_history *h = &t->hist;
    FC_ASSERT(h->n_checks < h->cap_checks);
    double train_no_class, val_no_class;
    double train_acc = fc_train_accuracy(t, &t->data.train, t->sub_idx, t->n_sub, &train_no_class);
    double val_acc = fc_train_accuracy(t, &t->data.val, NULL, t->data.val.n, &val_no_class);
    warn_no_class(t, train_no_class, t->n_sub, "train accuracy");
    warn_no_class(t, val_no_class, t->data.val.n, "validation");
    int64_t i = h->n_checks++;
    h->train_acc[i] = train_acc;
    h->val_acc[i] = val_acc;
    h->lr[i] = t->opt.lr;
    h->check_step[i] = t->step;
    if (!isnan(val_acc) && val_acc > t->best_val_acc) {
        t->best_val_acc = val_acc;
        t->best_step = t->step;
        memcpy(t->best_params, t->net.params, t->net.layout.n_total * sizeof(fc_real));
        if (t->best_bn) memcpy(t->best_bn, t->net.bn_stats, t->net.bn_layout.n_total * sizeof(fc_real));
    }
    /* Without a validation split (--val-size 0) the history holds NaN; the log says so in words. */
    char val[32];
    if (isnan(val_acc)) snprintf(val, sizeof val, "none (no validation split)");
    else snprintf(val, sizeof val, "%.4f", val_acc);
    fc_log_info("(epoch %lld / %lld) step %lld: train acc %.4f, val acc %s, lr %.3g", (long long)t->epoch,
                (long long)t->cfg->epochs, (long long)t->step, train_acc, val, t->opt.lr);
    t->phase_seconds[FC_PHASE_EVAL] += MPI_Wtime() - t0;
}

void fc_train_gather_optimizer_state(fc_trainer *t)
{
    for (int i = 0; i < t->opt.n_slots; i++) fc_dist_allgather_chunks(t->dist, t->opt.slot[i], t->opt.n);
}

/* Test hook: FCNET_FAULT_REPLICA=R makes rank R's replica differ just before the comparison, as a silent
 * memory fault would: its first BN running statistic (its own copy; the parameters of one node are one
 * shared array), else its first parameter. */
static void fault_replica(fc_trainer *t)
{
    const char *fault = getenv("FCNET_FAULT_REPLICA");
    if (!fault || !fault[0] || atoi(fault) != fc_dist_rank(t->dist)) return;
    fc_real *x = t->net.bn_stats ? t->net.bn_stats : t->net.params;
    x[0] += 1;
}

/* Every K steps: params and BN statistics hashed and compared across ranks. (The optimizer slots are
 * sharded between checkpoints; what the update did to them shows in the params.) */
static fc_status check_replicas(fc_trainer *t)
{
    fault_replica(t);
    fc_tensor_ref refs[2];
    int n = 0;
    const size_t bytes = t->net.layout.n_total * sizeof(fc_real);
    refs[n++] = (fc_tensor_ref){"params", t->net.params, bytes};
    if (t->net.bn_stats)
        refs[n++] = (fc_tensor_ref){"bn running statistics", t->net.bn_stats,
                                    t->net.bn_layout.n_total * sizeof(fc_real)};
    fc_status st = fc_dist_check_replicas(t->dist, refs, n, t->step);
    if (st != FC_OK && fc_dist_rank(t->dist) == 0) fc_log_error("%s", fc_error_message());
    return st;
}

static void print_profile(const fc_trainer *t)
{
    if (!t->cfg->profile) return;
    /* Rank 0 reports the slowest rank's time per phase: that is what the step waits for. */
    double worst[FC_PHASE_COUNT + 1], mine[FC_PHASE_COUNT + 1];
    memcpy(mine, t->phase_seconds, sizeof t->phase_seconds);
    mine[FC_PHASE_COUNT] = t->step_gather_seconds;
    if (fc_dist_size(t->dist) > 1)
        MPI_Allreduce(mine, worst, FC_PHASE_COUNT + 1, MPI_DOUBLE, MPI_MAX, t->dist->comm);
    else
        memcpy(worst, mine, sizeof mine);
    static const char *const names[FC_PHASE_COUNT + 1] = {
        "data gather", "forward+loss", "backward", "gradient reduction", "update (reg, check, optimizer)",
        "evaluation", "checkpoint", "  of which GEMM (OpenBLAS)", "  of which bn sync + loss gathers"};
    double step_total = 0;
    for (int i = FC_PHASE_DATA; i <= FC_PHASE_UPDATE; i++) step_total += worst[i];
    int64_t steps = t->profiled_steps > 0 ? t->profiled_steps : 1;
    fc_log_info("profile over %lld steps (slowest rank per phase; ms per step, share of the step):",
                (long long)t->profiled_steps);
    for (int i = 0; i <= FC_PHASE_COUNT; i++) {
        if (i == FC_PHASE_EVAL || i == FC_PHASE_CHECKPOINT)
            fc_log_info("  %-34s %10.3f s total", names[i], worst[i]);
        else
            fc_log_info("  %-34s %10.4f ms %6.1f%%", names[i], 1e3 * worst[i] / (double)steps,
                        step_total > 0 ? 100 * worst[i] / step_total : 0.0);
    }
    const int size = fc_dist_size(t->dist);
    if (size < 2) return;
    char stores[FC_STORES_TEXT_SIZE];
    fc_store_choice_describe(&t->stores, stores, sizeof stores);
    fc_log_info("  parameter stores: %s", stores);
    const fc_dist *d = t->dist;
    if (d->n_nodes > 1)
        fc_log_info("  gradient exchange: shared memory within each of %d nodes of %d ranks, running sums from node "
                    "to node", d->n_nodes, d->node_size);
    else if (d->shared_n > 0)
        fc_log_info("  gradient exchange: shared memory (%d ranks on one node)", size);
    else
        fc_log_info("  gradient exchange: MPI messages between all %d ranks", size);
    /* Every rank gathers the same counts the same way, so rank 0's bytes are every rank's. */
    const char *gathers_way = fc_dist_describe_gathers(d, (int)t->step_gather_n);
    const double gather_bytes = t->step_gather_bytes / (double)steps;
    if (gather_bytes < 1e3) /* in bytes: the loss gather's 32 between two nodes is not "0.0 KB", as none is */
        fc_log_info("  batchnorm and loss gathers: %s, %.0f bytes per step in messages from each rank", gathers_way,
                    gather_bytes);
    else
        fc_log_info("  batchnorm and loss gathers: %s, %.1f KB per step in messages from each rank", gathers_way,
                    gather_bytes / 1e3);
    /* Each node decides alone (a node of one rank, or one short of /dev/shm, holds private copies), so rank 0's
     * node does not speak for the others: count the ranks that use a node's shared copy. */
    int sharing = t->data_node.shared != 0, all_sharing = 0;
    MPI_Allreduce(&sharing, &all_sharing, 1, MPI_INT, MPI_SUM, d->comm);
    if (all_sharing == size && t->data_node.node_ranks == size)
        fc_log_info("  training data: one copy in shared memory for the %d ranks of rank 0's node",
                    t->data_node.node_ranks);
    else if (all_sharing == size)
        fc_log_info("  training data: one copy in shared memory per node for all %d ranks (%d on rank 0's node)", size,
                    t->data_node.node_ranks);
    else if (all_sharing > 0)
        fc_log_info("  training data: one copy in shared memory per node for %d of the %d ranks, a private copy for "
                    "each of the other %d (on a node of one rank, or short of /dev/shm)",
                    all_sharing, size, size - all_sharing);
    else
        fc_log_info("  training data: each rank holds its own copy");
    /* Load balance: every rank's GEMM, step and gather times reach rank 0, which names the ranks with the
     * fastest and the slowest GEMMs and, up to 8 ranks, prints every rank's line. The ranks step in lockstep,
     * so a faster rank's spare time shows up as waiting in its gathers. */
    double own[3] = {mine[FC_PHASE_GEMM], 0, mine[FC_PHASE_COUNT]};
    for (int i = FC_PHASE_DATA; i <= FC_PHASE_UPDATE; i++) own[1] += mine[i];
    double *each = fc_dist_rank(t->dist) == 0 ? fc_alloc(3 * (size_t)size * sizeof(double)) : NULL;
    MPI_Gather(own, 3, MPI_DOUBLE, each, 3, MPI_DOUBLE, 0, t->dist->comm);
    if (!each) return;
    int fast = 0, slow = 0;
    for (int q = 1; q < size; q++) {
        if (each[3 * q] < each[3 * fast]) fast = q;
        if (each[3 * q] > each[3 * slow]) slow = q;
    }
    const double ms = 1e3 / (double)steps;
    for (int k = 0; k < 2; k++) {
        const int q = k == 0 ? fast : slow;
        fc_log_info("  %s GEMM: rank %d, %.4f ms (its step %.4f ms, of which gathers %.4f ms)",
                    k == 0 ? "fastest" : "slowest", q, ms * each[3 * q], ms * each[3 * q + 1], ms * each[3 * q + 2]);
    }
    if (size <= 8)
        for (int q = 0; q < size; q++)
            fc_log_info("  rank %d: GEMM %.4f ms, step %.4f ms, of which gathers %.4f ms", q, ms * each[3 * q],
                        ms * each[3 * q + 1], ms * each[3 * q + 2]);
    fc_free(each);
}

/* Exchanges the live parameters with the best ones (pointer swap, no copy). */
static void swap_best(fc_trainer *t)
{
    fc_real *p = t->net.params;
    t->net.params = t->best_params;
    t->best_params = p;
    fc_real *b = t->net.bn_stats;
    t->net.bn_stats = t->best_bn;
    t->best_bn = b;
}

fc_status fc_train_check_out_dir(fc_trainer *t)
{
    fc_status st = FC_OK;
    if (fc_dist_rank(t->dist) == 0) {
        st = fc_out_dir_claim(t->cfg, t->resume_file, &t->out_hold);
        /* A full disk or quota is found now, not after the first epoch's work, which its save would lose. */
        if (st == FC_OK) st = fc_out_dir_check_room(t->cfg->out, fc_ckpt_min_bytes(t));
        int64_t last;
        const int later = st == FC_OK && t->resumed_step >= 0 && !t->cfg->overwrite
                              ? fc_ckpt_later_copies(t->cfg->out, t->run_id, t->resumed_step, &last)
                              : 0;
        if (later > 0)
            fc_log_info("going back to step %lld in %s: its %d numbered cop%s of later steps (up to step %lld) "
                        "will be removed at this run's first save, when checkpoint.h5 is replaced",
                        (long long)t->resumed_step, t->cfg->out, later, later == 1 ? "y" : "ies", (long long)last);
    }
    st = fc_dist_agree(t->dist, st, 1);
    /* A refused run leaves the file system as it found it: no lock file or empty directory of its own (only the
     * temporary files of interrupted saves are gone; the line saying so is held with the setup's other messages). */
    if (st != FC_OK && fc_dist_rank(t->dist) == 0) fc_out_dir_release(t->cfg->out, &t->out_hold, 1);
    return st;
}

/* Rank 0 writes; every rank learns the outcome. */
static fc_status save_checkpoint(fc_trainer *t)
{
    char path[FC_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/checkpoint.h5", t->cfg->out);
    fc_status st = FC_OK;
    double t0 = MPI_Wtime();
    fc_train_gather_optimizer_state(t);
    if (fc_dist_rank(t->dist) == 0) {
        st = fc_out_dir_make(t->cfg->out, FC_ERR_FAIL, NULL, NULL);
        if (st == FC_OK) st = fc_ckpt_save(t, path);
        /* Only once the new checkpoint is safely in place: a run that fails before it loses nothing. */
        if (st == FC_OK && !t->pruned_out_dir) {
            if (t->cfg->overwrite)
                st = fc_ckpt_remove_other_runs(t->cfg->out, t->run_id, t->resumed_step);
            else if (t->resumed_step >= 0)
                st = fc_ckpt_remove_later_copies(t->cfg->out, t->run_id, t->resumed_step);
            t->pruned_out_dir = st == FC_OK;
        }
        if (st == FC_OK) st = fc_ckpt_keep_last(t->cfg->out, path, t->step, t->cfg->keep_last, t->run_id);
    }
    st = fc_dist_agree(t->dist, st, 1);
    t->last_save_wtime = MPI_Wtime();
    t->phase_seconds[FC_PHASE_CHECKPOINT] += t->last_save_wtime - t0;
    return st;
}

/* Where a run stands, numbering epochs from 1 as the progress lines do: "end of epoch 2 of 10" on an epoch
 * boundary (unless boundary is 0), else "epoch 3 of 10, 138 of its 400 steps done". */
static void position_text(const fc_trainer *t, int boundary, char *buf, size_t size)
{
    if (boundary && t->epoch_step == 0 && t->epoch > 0)
        snprintf(buf, size, "end of epoch %lld of %lld", (long long)t->epoch, (long long)t->cfg->epochs);
    else
        snprintf(buf, size, "epoch %lld of %lld, %lld of its %lld steps done", (long long)t->epoch + 1,
                 (long long)t->cfg->epochs, (long long)t->epoch_step, (long long)t->steps_per_epoch);
}

/* text as one shell word: as is when it holds only characters no shell treats specially, else in single
 * quotes (each ' written as '\''), so that the printed resume command can be pasted. */
static void shell_word(char *dst, size_t size, const char *text)
{
    int plain = text[0] != '\0';
    for (const char *c = text; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./,:=+@%-", *c)) plain = 0;
    size_t n = 0;
    if (plain) {
        snprintf(dst, size, "%s", text);
        return;
    }
    if (n + 1 < size) dst[n++] = '\'';
    for (const char *c = text; *c && n + 5 < size; c++) {
        if (*c == '\'') {
            memcpy(dst + n, "'\\''", 4);
            n += 4;
        } else {
            dst[n++] = *c;
        }
    }
    if (n + 1 < size) dst[n++] = '\'';
    dst[n < size ? n : size - 1] = '\0';
}

/* The signal that ended fc_train_run before the end of training, once the checkpoint was written; 0 if none. */
static int stopped_by_signal = 0;

int fc_train_stop_signal(void) { return stopped_by_signal; }

static int train_run(fc_trainer *t);

int fc_train_run(fc_trainer *t)
{
    const int rc = train_run(t);
    fc_output_aside_end(); /* also after a stop that ended in an error */
    return rc;
}

static int train_run(fc_trainer *t)
{
    const fc_config *cfg = t->cfg;
    fc_read_guard_training_started();
    fc_progress progress;
    fc_progress_init(&progress, t, fc_dist_rank(t->dist) == 0);
    if (t->hist.n_checks == 0) check_accuracy(t);
    t->last_save_wtime = MPI_Wtime();
    int64_t run_steps = 0;
    int stopped = 0;
    while (t->step < t->total_steps) {
        const double t0 = MPI_Wtime(), update0 = t->phase_seconds[FC_PHASE_UPDATE];
        double loss = fc_train_step(t);
        run_steps++;
        if (isnan(loss)) {
            fc_progress_end(&progress);
            char where[128];
            position_text(t, 0, where, sizeof where);
            if (fc_dist_rank(t->dist) == 0) {
                /* "kept" only when --out's checkpoint is this run's (saved, or resumed from), not another's */
                char ckpt[FC_PATH_MAX + 32];
                snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", cfg->out);
                uint64_t id;
                const int ours = fc_ckpt_read_run_id(ckpt, &id) && id == t->run_id;
                /* A resume takes --lr, --weight-scale and --reg from its checkpoint: advising to change them would
                 * send the user to a refusal (helper-166). */
                char none[2 * FC_PATH_MAX + 200];
                if (cfg->resume[0])
                    snprintf(none, sizeof none, "no checkpoint written in --out, and %s is as it was (a resume keeps "
                             "its --lr and --reg; a new run with --init-from %s may change them)", cfg->resume,
                             cfg->resume);
                else
                    snprintf(none, sizeof none, "no checkpoint written (check --lr, --weight-scale, --reg and the "
                             "data's scale)");
                fc_log_error("training diverged: loss, gradients, updated parameters or batchnorm statistics are "
                             "NaN/Inf at step %lld (%s); %s",
                             (long long)t->step, where, ours ? "the last checkpoint is kept as it was" : none);
            }
            return FC_EXIT_DIVERGED;
        }
        fc_store_choice_record(&t->stores, t->dist, MPI_Wtime() - t0, t->phase_seconds[FC_PHASE_UPDATE] - update0);
        fc_progress_step(&progress, t, loss);
        if (cfg->check_replicas > 0 && t->step % cfg->check_replicas == 0 && check_replicas(t) != FC_OK) {
            fc_progress_end(&progress);
            return FC_ERR_FAIL;
        }
        int save = (cfg->checkpoint_every > 0 && t->step % cfg->checkpoint_every == 0) || t->save_due_agreed;
        if (t->epoch_step == t->steps_per_epoch) {
            t->epoch++;
            t->epoch_step = 0;
            fc_optim_end_epoch(&t->opt);
            fc_data_epoch_order(t->perm, t->data.train.n, cfg->seed, t->epoch, cfg->shuffle);
            fc_progress_epoch(&progress, t);
            check_accuracy(t);
            save = 1;
        }
        if (t->stop_agreed || (cfg->max_steps > 0 && run_steps >= cfg->max_steps)) {
            stopped = 1;
            break;
        }
        if (save && t->step < t->total_steps && save_checkpoint(t) != FC_OK) return FC_ERR_FAIL;
    }
    fc_progress_end(&progress);
    t->finished = t->step >= t->total_steps;
    if (t->finished && t->best_val_acc < 0) {
        /* Without a validation split the final parameters are the best we know. */
        memcpy(t->best_params, t->net.params, t->net.layout.n_total * sizeof(fc_real));
        if (t->best_bn) memcpy(t->best_bn, t->net.bn_stats, t->net.bn_layout.n_total * sizeof(fc_real));
        t->best_step = t->step;
    }
    const fc_status saved = save_checkpoint(t);
    fc_output_aside_end(); /* the stop's checkpoint is written: its line may wait for a slow reader */
    if (saved != FC_OK) return FC_ERR_FAIL;
    char where[128];
    position_text(t, 1, where, sizeof where);
    /* A Ctrl-C or hangup that came after the last step's gather (during the final save of a --max-steps stop)
     * was taken by the handler: the run still dies of it, as one during a finished run's final save does. */
    if (!t->finished && ((stopped && t->stop_agreed) || stop_signal == SIGINT || stop_signal == SIGHUP))
        stopped_by_signal = stop_signal;
    /* "resume with --resume D/checkpoint.h5 --out D", D without trailing slashes, each path one shell word */
    char dir[FC_PATH_MAX], ckpt_path[FC_PATH_MAX + 32], q_ckpt[4 * FC_PATH_MAX + 160], q_out[4 * FC_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s", cfg->out);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/';) dir[--n] = '\0';
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoint.h5", dir);
    shell_word(q_ckpt, sizeof q_ckpt, ckpt_path);
    shell_word(q_out, sizeof q_out, cfg->out);
    if (stopped && t->stop_agreed && !t->finished && stopped_by_signal == SIGPIPE)
        /* Standard output is gone (`| head`): the line goes to stderr, which usually still reaches the user. */
        fc_log_warn("standard output was closed (SIGPIPE): stopped at step %lld (%s); checkpoint "
                    "%s written; resume with --resume %s --out %s",
                    (long long)t->step, where, ckpt_path, q_ckpt, q_out);
    else if (stopped && t->stop_agreed && !t->finished)
        fc_log_info("stopped on signal at step %lld (%s); checkpoint %s written; resume "
                    "with --resume %s --out %s",
                    (long long)t->step, where, ckpt_path, q_ckpt, q_out);
    else if (!t->finished)
        fc_log_info("stopped after --max-steps %lld at step %lld (%s); checkpoint %s written; resume "
                    "with --resume %s --out %s",
                    (long long)cfg->max_steps, (long long)t->step, where, ckpt_path, q_ckpt, q_out);
    /* Finished, its checkpoint complete: nothing is left to save, so from here a Ctrl-C (not yet received; the
     * first one resets the handler itself) ends the final test evaluation at once, 130, as during loading and
     * setup, instead of being swallowed and the process exiting 0 after the evaluation. A hangup likewise (129):
     * its handler is not reset by the first one, and it swallowed the hangup the same way. */
    struct sigaction sa;
    if (t->finished && sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == fc_train_request_stop)
        signal(SIGINT, SIG_DFL);
    if (t->finished && sigaction(SIGHUP, NULL, &sa) == 0 && sa.sa_handler == fc_train_request_stop)
        signal(SIGHUP, SIG_DFL);
    /* One that came during the final save (or the last step) was taken by the handler and would be swallowed the
     * same way: the checkpoint is complete now, so it ends the run here as it would have a moment later. */
    if (t->finished && (stop_signal == SIGINT || stop_signal == SIGHUP)) {
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
        /* Still here: a debugger kept it. The evaluation runs, then main raises it again and exits 128 + N. */
        stopped_by_signal = stop_signal;
    }
    print_profile(t);
    if (t->finished && t->data.test.n > 0) {
        double no_class;
        double final_acc = fc_train_accuracy(t, &t->data.test, NULL, t->data.test.n, &no_class);
        warn_no_class(t, no_class, t->data.test.n, "test (final parameters)");
        if (t->data.val.n > 0) { /* the same on every rank: the accuracy below is collective */
            swap_best(t);
            double best_acc = fc_train_accuracy(t, &t->data.test, NULL, t->data.test.n, &no_class);
            swap_best(t);
            warn_no_class(t, no_class, t->data.test.n, "test (best validation parameters)");
            fc_log_info("test accuracy: %.4f (final parameters), %.4f (best validation parameters, step %lld)",
                        final_acc, best_acc, (long long)t->best_step);
        } else { /* no validation split: the best copy is the final parameters */
            fc_log_info("test accuracy: %.4f (final parameters; no validation split: they are also the best copy)",
                        final_acc);
        }
    }
    return FC_OK;
}
