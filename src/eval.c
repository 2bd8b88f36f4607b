/* fcnet_dist eval: accuracy, per-class accuracy and confusion matrix of a checkpoint on one split of a
 * dataset, in test mode, with the rows divided among the ranks.
 *
 * The model, its hyperparameters and the preprocessing come from the checkpoint, so eval needs nothing
 * but the file; --data defaults to the dataset path the checkpoint recorded. Every rank reads the checkpoint
 * and only its own part of the split (HDF5 is the serial build, read-only opens are safe), so N ranks read
 * and hold each row once; every setup failure is agreed on before any collective, so a bad file on one
 * rank stops all of them with one message. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/ckpt.h"
#include "fcnet/commands.h"
#include "fcnet/config.h"
#include "fcnet/data.h"
#include "fcnet/dist.h"
#include "fcnet/memory_limits.h"
#include "fcnet/net.h"

/* Rows per forward pass: bounds the activation memory whatever the split size. */
#define EVAL_MAX_BATCH 1024

/* Everything eval owns; zero-initialised so cleanup works from any point of a failed setup. */
typedef struct eval_state {
    fc_config ck;      /* the checkpoint's hyperparameters */
    int n_input, n_classes; /* the model's D and C */
    int data_classes;       /* the dataset's class count */
    const char *data;  /* dataset path in use (cfg->data or ck.data), not owned */
    fc_split part;     /* this rank's rows of the split */
    fc_part_info info; /* where they lie in it, and the split's rows in all */
    fc_preprocess pp;
    fc_net net;
    double *confusion; /* owned, C x C counts: row = true class, column = predicted; then C more */
    double *no_class;  /* in confusion's buffer: per true class, the rows with a NaN or infinite score */
} eval_state;

/* Loads this rank's part of the split called name ("test", "val" or "train") of s->data into s->part and its
 * class count into s->data_classes. Training holds out the LAST val_size rows of /train when the file has no
 * /val; "val" and "train" are then cut exactly as training cut them, with the checkpoint's val_size. Only the
 * rows evaluated are read: not the training rows for "val", and on each rank only its own part. */
static fc_status load_split(eval_state *s, const char *name, const fc_dist *dist)
{
    fc_status st = fc_data_load_part(&s->part, &s->info, s->data, name, s->ck.val_size, fc_dist_rank(dist),
                                     fc_dist_size(dist));
    if (st != FC_OK) return st;
    s->data_classes = s->info.n_classes;
    if (s->info.split_rows == 0) /* only a hold-out can be empty: the file's own splits are refused empty */
        return fc_error_set(FC_ERR_INPUT, "%s: no val split: the file has no /val and the checkpoint %s held "
                            "out no training rows (val_size %g of %lld rows)", s->data, s->ck.checkpoint,
                            s->ck.val_size, (long long)s->info.train_rows);
    return FC_OK;
}

/* Every step that can fail because of the user's files, on this rank only (not collective). */
static fc_status eval_setup(eval_state *s, const fc_config *cfg, fc_dist *dist)
{
    /* The copy keeps eval's own options (checkpoint, split, best) while the checkpoint's
     * hyperparameters overwrite the model and data fields. */
    s->ck = *cfg;
    fc_status st = fc_ckpt_read_config(cfg->checkpoint, &s->ck, &s->n_input, &s->n_classes);
    if (st != FC_OK) return st;
    s->data = cfg->data[0] ? cfg->data : s->ck.data;
    if (!cfg->data[0] && (st = fc_ckpt_check_data_path(s->data, cfg->checkpoint)) != FC_OK) return st;
    if ((st = load_split(s, cfg->split, dist)) != FC_OK) return st;
    if (s->part.d != s->n_input)
        return fc_error_set(FC_ERR_INPUT, "%s: %s split has %d features but the model of %s expects %d",
                            s->data, cfg->split, s->part.d, cfg->checkpoint, s->n_input);
    /* Fewer classes is fine (a split may lack some, or num_classes was inferred from its labels);
     * more would index past the model's outputs. Without num_classes each rank checks its own rows' labels. */
    if (s->data_classes > s->n_classes)
        return fc_error_set(FC_ERR_INPUT, "%s: %d classes but the model of %s has %d outputs", s->data,
                            s->data_classes, cfg->checkpoint, s->n_classes);
    /* The confusion matrix and the rows without a class: C*C + C doubles on every rank plus the sum's receive
     * buffer of one per rank, summed in one call that takes an int count. */
    const double cells = (double)s->n_classes * (double)s->n_classes + s->n_classes;
    const double bytes = cells * sizeof(double) * (1.0 + fc_dist_size(dist));
    char why[256] = "more cells than one MPI sum takes (2^31 - 1)";
    if (cells > INT_MAX || fc_memory_exceeded(bytes, why, sizeof why))
        return fc_error_set(FC_ERR_INPUT, "%s: %d classes: the confusion matrix of %.4g cells needs %s per "
                            "rank, %s", cfg->checkpoint, s->n_classes, cells, fc_format_size(bytes).text, why);

    /* The model saw preprocessed inputs: apply the checkpoint's transform, not one refitted here. */
    if ((st = fc_ckpt_load_preprocess(&s->pp, cfg->checkpoint, s->n_input)) != FC_OK) return st;
    fc_preprocess_apply(&s->pp, &s->part);

    const int64_t count = s->part.n;
    int max_batch = count < EVAL_MAX_BATCH ? (int)(count > 0 ? count : 1) : EVAL_MAX_BATCH;
    fc_net_config ncfg = fc_config_net(&s->ck, s->n_input, s->n_classes);
    if ((st = fc_net_init(&s->net, &ncfg, max_batch, dist)) == FC_ERR_INPUT) { /* a model too big for this machine */
        char size_why[1024]; /* a copy: fc_error_set must not read the buffer it writes */
        snprintf(size_why, sizeof size_why, "%s", fc_error_message());
        return fc_error_set(FC_ERR_INPUT, "%s: the model it holds: %s", cfg->checkpoint, size_why);
    }
    if (st != FC_OK) return st;
    return fc_ckpt_load_params(&s->net, cfg->checkpoint, cfg->best);
}

/* Ranks that read different files (a node-local copy of the data or the checkpoint, another --split) would
 * count overlapping or missing rows, or sum confusion matrices of different sizes: compared before
 * counting, the shapes first. The data's values are not compared, only its shape (as in training). */
static fc_status check_same_eval_inputs(const eval_state *s, const fc_config *cfg, const fc_dist *dist)
{
    const int64_t shape[5] = {s->info.split_rows, s->part.d, s->n_input, s->n_classes, cfg->best};
    const int64_t model[2] = {s->ck.n_hidden, s->ck.norm};
    const char *const options = "the split's shape or the eval options (--split, --best, rows, features, classes)";
    const char *const hyper = "the model's hyperparameters from --checkpoint";
    char split[sizeof cfg->split] = {0}; /* the name only: bytes after its end may differ */
    snprintf(split, sizeof split, "%s", cfg->split);
    fc_tensor_ref refs[7] = {{options, shape, sizeof shape},
                             {options, split, sizeof split},
                             {hyper, model, sizeof model},
                             {hyper, s->ck.hidden, (size_t)s->ck.n_hidden * sizeof s->ck.hidden[0]},
                             {"the parameters from --checkpoint", s->net.params, s->net.layout.n_total * sizeof(fc_real)}};
    int n = 5;
    if (s->net.bn_stats)
        refs[n++] = (fc_tensor_ref){"the batchnorm statistics from --checkpoint", s->net.bn_stats,
                                    s->net.bn_layout.n_total * sizeof(fc_real)};
    if (s->pp.mean)
        refs[n++] = (fc_tensor_ref){"the preprocessing from --checkpoint", s->pp.mean, (size_t)s->pp.d * sizeof(double)};
    int rank, index;
    if (!fc_dist_find_mismatch(dist, refs, n, &rank, &index)) return FC_OK;
    fc_status st = fc_error_set(FC_ERR_INPUT,
                                "rank %d read %s differently from rank 0: every rank must see the same --data and "
                                "--checkpoint files",
                                rank, index < n ? refs[index].name : "the model's structure");
    if (fc_dist_rank(dist) == 0) fc_log_error("%s", fc_error_message());
    return st;
}

/* Counts this rank's part into s->confusion (test mode: running statistics, no dropout, so every row's
 * prediction is independent of how the rows are divided among the ranks). */
static void eval_count(eval_state *s)
{
    const fc_split *sp = &s->part;
    const int C = s->n_classes;
    for (int64_t at = 0; at < sp->n; at += s->net.max_batch) {
        int chunk = (int)(sp->n - at < s->net.max_batch ? sp->n - at : s->net.max_batch);
        const fc_real *x = sp->x + (size_t)at * (size_t)sp->d;
        const int32_t *y = sp->y + at;
        fc_net_forward(&s->net, x, chunk, FC_MODE_TEST, NULL);
        /* fc_net_count_correct's rule, so eval's accuracy is the one training reports for the same parameters */
        for (int i = 0; i < chunk; i++) {
            const int predicted = fc_net_predict(&s->net, i);
            if (predicted == FC_NET_NO_CLASS) s->no_class[y[i]] += 1.0;
            else s->confusion[(size_t)y[i] * (size_t)C + (size_t)predicted] += 1.0;
        }
    }
}

/* Number of decimal digits of v >= 0. */
static int digits(double v)
{
    int d = 1;
    for (double p = 10; v >= p; p *= 10) d++;
    return d;
}

/* Rank 0: the report. Counts are exact in double up to 2^53 rows. */
static void eval_print(const eval_state *s, const fc_config *cfg, const fc_dist *dist)
{
    const int C = s->n_classes;
    const double *m = s->confusion;
#define CELL(t, p) m[(size_t)(t) * (size_t)C + (size_t)(p)] /* true class t, predicted p */
    double total = 0, correct = 0, biggest = 0, no_class = 0;
    for (int t = 0; t < C; t++) {
        total += s->no_class[t];
        no_class += s->no_class[t];
        for (int p = 0; p < C; p++) {
            total += CELL(t, p);
            if (CELL(t, p) > biggest) biggest = CELL(t, p);
        }
        correct += CELL(t, t);
    }
    /* The dataset's classes, not the model's outputs (it may have fewer): its num_classes, the same on every
     * rank, else its largest label + 1, which rank 0 knows for its own rows only; the summed matrix's last
     * true class with rows covers the other ranks' rows. */
    int data_classes = s->data_classes;
    for (int t = data_classes; t < C; t++)
        for (int p = 0; p < C; p++)
            if (CELL(t, p) > 0 || s->no_class[t] > 0) data_classes = t + 1;
    char of_model[48] = "";
    if (data_classes != C) snprintf(of_model, sizeof of_model, " of the model's %d", C);
    fc_print("checkpoint: %s (%s parameters)\n", cfg->checkpoint, cfg->best ? "best-validation" : "last");
    fc_print("data:       %s, split %s: %.0f rows, %d features, %d classes%s (%d rank%s)\n", s->data, cfg->split,
             total, s->n_input, data_classes, of_model, fc_dist_size(dist), fc_dist_size(dist) == 1 ? "" : "s");
    fc_print("accuracy:   %.4f (%.0f/%.0f)\n", total > 0 ? correct / total : 0.0, correct, total);
    /* Never silently: such a row has no predicted class, so it is in no column of the matrix. */
    if (no_class > 0)
        fc_print("no class:   %.0f rows with NaN or infinite scores, counted as wrong (in no column of the matrix)\n",
                 no_class);
    fc_print("\n");

    int w = digits(total);
    if (w < 7) w = 7; /* as wide as "correct" */
    fc_print("per-class accuracy:\n  %5s  %*s  %*s  %8s\n", "class", w, "rows", w, "correct", "accuracy");
    for (int t = 0; t < C; t++) {
        double rows = s->no_class[t];
        for (int p = 0; p < C; p++) rows += CELL(t, p);
        if (rows > 0)
            fc_print("  %5d  %*.0f  %*.0f  %8.4f\n", t, w, rows, w, CELL(t, t), CELL(t, t) / rows);
        else /* a class absent from the split has no accuracy */
            fc_print("  %5d  %*.0f  %*.0f  %8s\n", t, w, rows, w, CELL(t, t), "-");
    }

    /* Columns as wide as the largest count (or the class label), so the matrix stays aligned. */
    int cw = digits(biggest) > 4 ? digits(biggest) : 4;
    if (digits(C - 1) > cw) cw = digits(C - 1);
    fc_print("\nconfusion matrix (rows: true class, columns: predicted class):\n  %9s", "true\\pred");
    for (int p = 0; p < C; p++) fc_print(" %*d", cw, p);
    fc_print("\n");
    for (int t = 0; t < C; t++) {
        fc_print("  %9d", t);
        for (int p = 0; p < C; p++) fc_print(" %*.0f", cw, CELL(t, p));
        fc_print("\n");
    }
#undef CELL
    fc_flush_stdout();
}

static void eval_free(eval_state *s)
{
    fc_net_free(&s->net);
    fc_preprocess_free(&s->pp);
    fc_split_free(&s->part);
    fc_free(s->confusion);
}

int fc_cmd_eval(const fc_config *cfg, fc_dist *dist)
{
    /* fc_config holds several path buffers: keep it off the stack. */
    eval_state *s = calloc(1, sizeof *s);
    FC_ASSERT(s != NULL);
    fc_status st = fc_dist_agree(dist, eval_setup(s, cfg, dist), 1);
    if (st == FC_OK) st = check_same_eval_inputs(s, cfg, dist);
    int rc = 0;
    if (st != FC_OK) {
        rc = FC_ERR_INPUT; /* all of eval's failures are about its input files or options */
    } else {
        const int C = s->n_classes;
        /* The matrix and the rows without a class are summed in one gather of C*C + C doubles per rank. */
        const size_t cells = (size_t)C * (size_t)C + (size_t)C;
        fc_dist_reserve(dist, 0, cells);
        s->confusion = fc_alloc(cells * sizeof(double));
        s->no_class = s->confusion + (size_t)C * (size_t)C;
        eval_count(s);
        fc_dist_sum_doubles(dist, s->confusion, (int)cells);
        if (fc_dist_rank(dist) == 0) eval_print(s, cfg, dist);
    }
    eval_free(s);
    free(s);
    return rc;
}
